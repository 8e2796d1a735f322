#!/usr/bin/env bash
# Runs INSIDE the VM lane (scripts/vm/run.sh): the real podnet lab on the guest's kernel.
#   lab up (with the given options) -> show the nodes' tunnel devices -> lab verify --json -> lab down
# Each step is bounded and ends with a marker line the tests read:
#   podnet-vm-step NAME rc=N ms=M
# and at the end `podnet-vm-netns-left N` (network namespaces still present in the guest).
# usage (in the guest): scripts/vm/guest-lab.sh LAB [lab up options, e.g. --cross-node ipip]
# State goes to $PODNET_STATE_DIR (default /run/podnet-vm/state, a tmpfs in the guest).
set -u
LAB=${1:?lab name}
shift
cd "$(dirname "$0")/../.."
export PODNET_STATE_DIR=${PODNET_STATE_DIR:-/run/podnet-vm/state}
# The guest's CPU is emulated (TCG, 10-20x slower, and slower still when the host is busy): give containers
# longer to start listening and each probe longer to answer than on real hardware.
export PODNET_READY_TIMEOUT_MS=${PODNET_READY_TIMEOUT_MS:-30000}
export PODNET_PROBE_TIMEOUT_S=${PODNET_PROBE_TIMEOUT_S:-6}
STEP_TIMEOUT=${STEP_TIMEOUT:-150}
step() {
  local name=$1 t0 rc
  shift
  t0=$(date +%s%N)
  if [ -n "${STEP_OUT:-}" ]; then timeout -k 5 "$STEP_TIMEOUT" "$@" > "$STEP_OUT"; else timeout -k 5 "$STEP_TIMEOUT" "$@"; fi
  rc=$?
  echo "podnet-vm-step $name rc=$rc ms=$((($(date +%s%N) - t0) / 1000000))"
  return $rc
}
if step up node bin/podnet.js lab up --name "$LAB" "$@"; then
  for ns in $(/usr/sbin/ip netns list | awk '{print $1}' | grep -E "^$LAB-node-"); do
    echo "== $ns tunnel devices"
    /usr/sbin/ip -n "$ns" -d -o link show type ipip
    /usr/sbin/ip -n "$ns" -d -o link show type vxlan
    /usr/sbin/ip -n "$ns" route show
  done
  STEP_OUT=/tmp/podnet-vm-verify.json step verify node bin/podnet.js lab verify --name "$LAB" --json
  echo "podnet-vm-verify-json $(tr -d '\n' < /tmp/podnet-vm-verify.json)"
  echo
else
  echo "== lab up failed; logs:"
  tail -n 20 "$PODNET_STATE_DIR/$LAB"/logs/* 2>/dev/null
fi
step down node bin/podnet.js lab down --name "$LAB"
echo "podnet-vm-netns-left $(/usr/sbin/ip netns list | grep -c "^$LAB-")"

#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine, as root: the Debian packages podnet and its tests use,
# the npm packages (npm ci), and the build. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the tools podnet drives (iproute2, nftables, iptables, util-linux's unshare/nsenter), what the
# lab runs in pods (busybox-static), what verify and the tests use (python3 for the probe, iperf3, tshark, conntrack).
APT_PACKAGES=(
  iproute2 nftables iptables conntrack util-linux procps hostname kmod
  busybox-static python3 iperf3 tshark socat cpio time
  gcc libc6-dev # the CNI plugin's native netlink addon (native/netlink.c), compiled by `podnet cni install`
  musl-tools # the plugin's client (native/cni-client.c), linked statically with musl: the fastest start
  etcd-server etcd-client # the store of agent clusters, and of the control plane tests (test/e2e/control-plane.test.ts)
  qemu-system-x86 # the VM lane (scripts/vm/, docs/vm-lane.md); with cpio, kmod and busybox-static above
  chromium # the headless browser the `lab ui` page is tested in (test/e2e/ui.test.ts, via playwright-core)
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer once, non-interactively.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
# The VM lane's guest kernel: Debian's linux-image-amd64 as apt offers it now, unpacked into a cache, never installed.
scripts/vm/fetch-kernel.sh >/dev/null
# A real Kubernetes control plane (kube-apiserver, kube-controller-manager, kubectl v1.20.2) built from Debian's
# kubernetes source package, cached in /var/cache/podnet-k8s: minutes on a fresh machine, nothing afterwards.
scripts/k8s/build-control-plane.sh >/dev/null
echo "bootstrap: ready"

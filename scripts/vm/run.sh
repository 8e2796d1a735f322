#!/usr/bin/env bash
# Runs one command inside a throwaway VM: Debian's own kernel (scripts/vm/fetch-kernel.sh) under
# `qemu-system-x86_64 -accel tcg`, with THIS machine's root filesystem shared read-only over virtio-9p and a tmpfs
# overlay on top (so every tool and the checkout are there, and nothing the guest writes reaches the host).
# The guest has no network card (-nic none) and its own /run, /tmp and network namespaces.
#
# usage: scripts/vm/run.sh [options] -- COMMAND [ARG...]
#   --timeout S    kill the VM after S seconds (default 300); exit status 124
#   --mem MB       guest memory (default 1536)      --cpus N   guest CPUs (default 2, multi-threaded TCG)
#   --modules LIST comma-separated modules the guest loads before the command (default: what podnet labs use;
#                  anything else is loaded on demand by the guest kernel, e.g. `ip link add type ipip`)
#   --env K=V      environment for the command (repeatable; the command otherwise gets PATH and HOME only)
#   --io DIR       keep the exchange directory: DIR/cmd.sh, DIR/output, DIR/rc, DIR/console.log
#   --verbose      copy the serial console to stderr while the VM runs
# Prints the command's output (stdout and stderr merged) and exits with its status; 124 on timeout,
# 125 when the VM did not report a status (see the console log printed to stderr).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${PODNET_VM_CACHE:-/var/cache/podnet-vm}
TIMEOUT=300 MEM=1536 CPUS=2 IO= VERBOSE=0 CPU=${PODNET_VM_CPU:-max}
MODULES=veth,bridge,br_netfilter,vxlan,ipip,nf_tables,nft_chain_nat,nft_ct,nft_masq,nft_nat,nft_fib_inet,nft_compat,iptable_nat,xt_MASQUERADE,xt_comment,xt_conntrack,xt_addrtype
ENVS=()
while [ $# -gt 0 ]; do
  case $1 in
    --timeout) TIMEOUT=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --cpus) CPUS=$2; shift 2 ;;
    --cpu) CPU=$2; shift 2 ;;
    --modules) MODULES=$2; shift 2 ;;
    --env) ENVS+=("$2"); shift 2 ;;
    --io) IO=$2; shift 2 ;;
    --verbose) VERBOSE=1; shift ;;
    --) shift; break ;;
    *) echo "run.sh: unknown option $1 (usage: run.sh [options] -- COMMAND [ARG...])" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "run.sh: no command given" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "run.sh: qemu-system-x86_64 not installed (Debian package qemu-system-x86; scripts/bootstrap.sh installs it)" >&2; exit 127; }

KDIR=$("$HERE/fetch-kernel.sh" --offline 2>/dev/null || "$HERE/fetch-kernel.sh")
KVER=$(basename "$KDIR")
# The initramfs depends only on the kernel and on mkinitrd.sh itself: build it once per pair.
INITRD="$KDIR/initrd-$(sha256sum "$HERE/mkinitrd.sh" | cut -c1-12).cpio.gz"
if [ ! -f "$INITRD" ]; then
  (
    flock 9
    [ -f "$INITRD" ] || { "$HERE/mkinitrd.sh" "$INITRD" "$KDIR" "$KVER" && find "$KDIR" -maxdepth 1 -name 'initrd-*.cpio.gz' ! -path "$INITRD" -delete; }
  ) 9>"$CACHE/.lock"
fi

if [ -z "$IO" ]; then
  IO=$(mktemp -d /tmp/podnet-vm-io.XXXXXX)
  trap 'rm -rf "$IO"' EXIT
fi
mkdir -p "$IO"
rm -f "$IO/output" "$IO/rc" "$IO/console.log"
{
  echo "cd $(printf '%q' "$PWD") || { echo 'run.sh: the working directory is not in the guest (its /tmp and /run are its own)' >&2; exit 1; }"
  for e in "${ENVS[@]}"; do echo "export $(printf '%q' "$e")"; done
  printf 'exec'; printf ' %q' "$@"; echo
} > "$IO/cmd.sh"

# Share the working directory (the checkout) at the same path: CI may clone under /tmp, the guest's own.
WORK=(); WORK_ARG=""
case "$PWD" in
  *[[:space:]]*) ;;  # the kernel command line cannot carry it; the guest's `cd` reports it
  /) ;;
  *) WORK=(-virtfs "local,path=$PWD,mount_tag=work,security_model=none,readonly=on,multidevs=remap"); WORK_ARG=" podnet.work=$PWD" ;;
esac

set +e
# TCG: the KVM device here is a paravirtual flavour (kvm_pvm) that stock kernels cannot boot on.
timeout --foreground -k 5 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu "$CPU" -m "$MEM" -smp "$CPUS" \
  -nodefaults -no-user-config -display none -nic none -no-reboot -serial stdio \
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
  -virtfs "local,path=$IO,mount_tag=io,security_model=none" \
  "${WORK[@]}" \
  -kernel "$KDIR/boot/vmlinuz-$KVER" -initrd "$INITRD" \
  -append "console=ttyS0 quiet panic=-1 podnet.kdir=$KDIR podnet.modules=$MODULES${WORK_ARG}" \
  < /dev/null 2>&1 | if [ "$VERBOSE" = 1 ]; then tee "$IO/console.log" >&2; else cat > "$IO/console.log"; fi
qrc=${PIPESTATUS[0]}
set -e
[ -f "$IO/output" ] && cat "$IO/output"
if [ -s "$IO/rc" ]; then
  rc=$(cat "$IO/rc")
elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  echo "run.sh: VM killed after ${TIMEOUT}s; console:" >&2; tail -n 20 "$IO/console.log" >&2; rc=124
else
  echo "run.sh: the VM reported no exit status (qemu exit $qrc); console:" >&2; tail -n 20 "$IO/console.log" >&2; rc=125
fi
exit "$rc"

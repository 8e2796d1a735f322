#!/usr/bin/env bash
# Builds the VM lane's initramfs: busybox-static, the guest kernel's modules for virtio-9p and overlayfs, and an
# /init that mounts THIS machine's root filesystem read-only over virtio-9p, lays a tmpfs overlay on top, makes that
# the root (switch_root) and runs the command the host left in the shared io directory (io/cmd.sh). The command's output goes to
# io/output, its exit status to io/rc; then the guest powers off.
#
# usage: scripts/vm/mkinitrd.sh OUT.cpio.gz KERNEL_DIR KVER
#   KERNEL_DIR is what fetch-kernel.sh prints (it holds lib/modules/KVER with modules.dep).
set -euo pipefail
OUT=$1 KDIR=$2 KVER=$3
# Only what is needed to reach the host root; everything else is loaded later with the guest's own modprobe.
BOOT_MODULES="virtio_pci 9pnet_virtio 9p overlay"
R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/{bin,sbin,proc,sys,dev,run,tmp,host,newroot,ov}
cp /bin/busybox "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"; done
: > "$R/modules.list"
for m in $BOOT_MODULES; do
  modprobe -d "$KDIR" -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}' | while read -r ko; do
    rel=${ko#"$KDIR"}
    mkdir -p "$R$(dirname "$rel")"
    cp "$ko" "$R$rel"
    grep -qxF "$rel" "$R/modules.list" || echo "$rel" >> "$R/modules.list"
  done
done
cat > "$R/init" <<'INIT'
#!/bin/busybox sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
arg() { sed -n "s/.*podnet\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
say() { echo "podnet-vm: T+$(cut -d' ' -f1 /proc/uptime)s $*"; }
fail() { say "FAILED: $*"; poweroff -f; }
say "init"
while read -r ko; do insmod "$ko" || say "insmod $ko failed"; done < /modules.list
KDIR=$(arg kdir); KVER=$(uname -r); PRELOAD=$(arg modules | tr ',' ' ')
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /host || fail "9p host root"
mount -t tmpfs -o mode=0755 ov /ov && mkdir -p /ov/u /ov/w
mount -t overlay overlay -o lowerdir=/host,upperdir=/ov/u,workdir=/ov/w /newroot || fail "overlay"
N=/newroot
mount -t proc proc $N/proc
mount -t sysfs sys $N/sys
mount -t devtmpfs dev $N/dev
mkdir -p $N/dev/pts $N/dev/shm
mount -t devpts devpts $N/dev/pts
mount -t tmpfs shm $N/dev/shm
mount -t tmpfs -o mode=0755 run $N/run
mount -t tmpfs -o mode=1777 tmp $N/tmp
mount -t cgroup2 cgroup2 $N/sys/fs/cgroup 2>/dev/null
mkdir -p $N/run/podnet-vm/io
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none io $N/run/podnet-vm/io || fail "9p io"
# The caller's working directory (the checkout), shared at the same path: it may live under /tmp or /run,
# which are the guest's own.
W=$(arg work)
if [ -n "$W" ]; then
  mkdir -p "$N$W" && mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 work "$N$W" || fail "9p work $W"
fi
mkdir -p $N/lib/modules/$KVER
mount --bind $N$KDIR/lib/modules/$KVER $N/lib/modules/$KVER || fail "modules of $KVER under $KDIR"
# Stage 2 runs as PID 1 in the host root made the real root (switch_root, not chroot: `nsenter --mount` and
# `ip netns exec` re-enter a mount namespace at its root, which must be the overlay, not this initramfs).
cat > $N/run/podnet-vm/stage2.sh <<STAGE2
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ip link set lo up
[ -n "$PRELOAD" ] && { modprobe -a $PRELOAD || echo "podnet-vm: modprobe -a $PRELOAD failed"; }
echo "podnet-vm: T+\$(cut -d' ' -f1 /proc/uptime)s root ready"
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \\
  /bin/bash /run/podnet-vm/io/cmd.sh > /run/podnet-vm/io/output 2>&1 < /dev/null
rc=\$?
echo \$rc > /run/podnet-vm/io/rc
echo "podnet-vm: T+\$(cut -d' ' -f1 /proc/uptime)s command exited \$rc"
sync
/bin/busybox poweroff -f
STAGE2
say "switch_root"
exec switch_root $N /bin/bash /run/podnet-vm/stage2.sh
INIT
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"

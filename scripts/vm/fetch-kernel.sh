#!/usr/bin/env bash
# Fetches Debian's own kernel (the version `linux-image-amd64` resolves to now) into a cache directory, for the
# VM lane. The package is downloaded with `apt-get download` and unpacked with `dpkg-deb -x`: it is NEVER
# installed on this machine. Prints the directory of the unpacked kernel (boot/vmlinuz-KVER, lib/modules/KVER
# with modules.dep) on stdout; progress goes to stderr. Idempotent and safe to run concurrently (flock).
#
# usage: scripts/vm/fetch-kernel.sh [--offline]
#   --offline  use the newest kernel already in the cache; never touch apt
# env:   PODNET_VM_CACHE (default /var/cache/podnet-vm)
set -euo pipefail
CACHE=${PODNET_VM_CACHE:-/var/cache/podnet-vm}
log() { echo "fetch-kernel: $*" >&2; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

if [ "${1:-}" = "--offline" ]; then
  [ -f "$CACHE/current" ] && d="$CACHE/$(cat "$CACHE/current")" && [ -f "$d/.ready" ] && { echo "$d"; exit 0; }
  log "no kernel in $CACHE yet (run scripts/vm/fetch-kernel.sh with apt reachable)"; exit 1
fi

# The concrete image package behind the metapackage, at apt's candidate version (e.g. linux-image-6.1.0-56-amd64).
resolve() {
  local cand
  cand=$(apt-cache policy linux-image-amd64 2>/dev/null | awk '/Candidate:/{print $2}')
  [ -n "$cand" ] && [ "$cand" != "(none)" ] || return 1
  apt-cache show "linux-image-amd64=$cand" 2>/dev/null |
    awk -F': ' '/^Depends:/{print $2; exit}' | tr ',' '\n' | grep -oE 'linux-image-[0-9][^ ]*-amd64' | head -1
}
pkg=$(resolve || true)
if [ -z "$pkg" ]; then
  log "apt knows no linux-image-amd64 candidate: apt-get update"
  apt-get update -qq >&2
  pkg=$(resolve)
fi
kver=${pkg#linux-image-}
dir="$CACHE/$kver"
if [ -f "$dir/.ready" ]; then
  echo "$kver" > "$CACHE/current"
  echo "$dir"
  exit 0
fi

log "downloading $pkg (kernel $kver) into $CACHE (not installing it)"
dl="$CACHE/download"
rm -rf "$dl" "$dir.tmp"
mkdir -p "$dl"
chmod 0777 "$dl" # apt-get download drops privileges to _apt when it can write the directory
if ! (cd "$dl" && apt-get download -qq "$pkg" >&2); then
  log "download failed; refreshing apt lists and retrying"
  apt-get update -qq >&2
  (cd "$dl" && apt-get download -qq "$pkg" >&2)
fi
deb=$(ls "$dl"/*.deb)
dpkg-deb -x "$deb" "$dir.tmp"
[ -f "$dir.tmp/boot/vmlinuz-$kver" ] || { log "no boot/vmlinuz-$kver in $deb"; exit 1; }
# Compressed modules (.ko.xz) need nothing special: the guest's own modprobe (kmod, from this machine) reads them.
depmod -b "$dir.tmp" "$kver"
touch "$dir.tmp/.ready"
mv "$dir.tmp" "$dir"
rm -rf "$dl"
echo "$kver" > "$CACHE/current"
# Older kernels (unpacked, ~400 MB each) are not used any more.
find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name '*-amd64' ! -name "$kver" -exec rm -rf {} +
log "kernel $kver ready in $dir"
echo "$dir"

#!/usr/bin/env bash
# Idempotent set-up for the CNI real-client tests (test/e2e/cni-*.test.ts), as root, offline except for Debian apt:
#   - Debian packages: containerd, runc, the reference CNI plugins, Go (to build cnitool);
#   - Debian source packages (through a private apt config, /etc/apt untouched): cnitool's source and the
#     CRI api.proto from containerd's vendored k8s.io/cri-api (gogoproto lines stripped);
#   - cnitool built in GOPATH mode with no network;
#   - two OCI image tarballs made from busybox-static: the sandbox (pause) image and an app image.
# Everything lands under $PODNET_CNI_CACHE (default /var/cache/podnet-cni); a second run only checks.
# Prints `cni-testenv: ready <cache>` on success.
set -euo pipefail
CACHE=${PODNET_CNI_CACHE:-/var/cache/podnet-cni}
mkdir -p "$CACHE/bin" "$CACHE/img" "$CACHE/cri"

APT_PACKAGES=(containerd runc containernetworking-plugins golang-go golang-github-appc-cni-dev busybox-static iptables)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "cni-testenv: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Source packages through a private apt configuration (deb-src is not in the machine's sources).
A=$CACHE/apt
if [ ! -f "$CACHE/cri/api.proto" ] || [ ! -x "$CACHE/bin/cnitool" ]; then
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/src"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bookworm main" > "$A/sources.list"
  APTO=(-o "Dir::Etc::sourcelist=$A/sources.list" -o Dir::Etc::sourceparts=/nonexistent
        -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache")
  if ! ls "$A"/src/containerd_*.orig.tar.* >/dev/null 2>&1 || ! ls "$A"/src/golang-github-appc-cni_*.orig.tar.* >/dev/null 2>&1; then
    apt-get "${APTO[@]}" update -qq
    (cd "$A/src" && apt-get "${APTO[@]}" source --download-only -qq golang-github-appc-cni containerd >/dev/null)
  fi
fi

if [ ! -f "$CACHE/cri/api.proto" ]; then
  T=$(ls "$A"/src/containerd_*.orig.tar.* | head -1)
  P=$({ tar tf "$T" || true; } | grep 'vendor/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto$' | head -1)
  tar xf "$T" -C "$A/src" "$P"
  grep -v gogoproto "$A/src/$P" > "$CACHE/cri/api.proto.tmp" && mv "$CACHE/cri/api.proto.tmp" "$CACHE/cri/api.proto"
fi

if [ ! -x "$CACHE/bin/cnitool" ]; then
  T=$(ls "$A"/src/golang-github-appc-cni_*.orig.tar.* | head -1)
  D=$({ tar tf "$T" || true; } | head -1 | cut -d/ -f1)
  tar xf "$T" -C "$A/src"
  (cd "$A/src/$D/cnitool" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$CACHE/gocache" \
     go build -o "$CACHE/bin/cnitool.tmp" cnitool.go) && mv "$CACHE/bin/cnitool.tmp" "$CACHE/bin/cnitool"
fi

# OCI image layout tarballs from busybox-static (no registry): NAME FILE ENTRYPOINT CMD
mkimage() {
  local name=$1 file=$2 entry=$3 cmd=$4
  [ -f "$CACHE/img/$file" ] && return 0
  local W; W=$(mktemp -d); local R=$W/rootfs L=$W/oci
  mkdir -p "$R/bin" "$R/etc" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/run" "$L/blobs/sha256"
  cp /bin/busybox "$R/bin/busybox"
  for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
  echo 'root:x:0:0:root:/:/bin/sh' > "$R/etc/passwd"; echo 'root:x:0:' > "$R/etc/group"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$R" -cf "$W/layer.tar" .
  put() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$L/blobs/sha256/$d"; echo "$d"; }
  local LD LS CD CS MD MS
  LD=$(put "$W/layer.tar"); LS=$(stat -c %s "$W/layer.tar")
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Entrypoint":%s,"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entry" "$cmd" "$LD" > "$W/config.json"
  CD=$(put "$W/config.json"); CS=$(stat -c %s "$W/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$CD" "$CS" "$LD" "$LS" > "$W/manifest.json"
  MD=$(put "$W/manifest.json"); MS=$(stat -c %s "$W/manifest.json")
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"latest"}}]}' \
    "$MD" "$MS" "$name" > "$L/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$L/oci-layout"
  tar -C "$L" -cf "$CACHE/img/$file.tmp" oci-layout index.json blobs && mv "$CACHE/img/$file.tmp" "$CACHE/img/$file"
  rm -rf "$W"
}
mkimage docker.io/library/bb:latest bb-oci.tar null '["/bin/sh"]'
mkimage registry.k8s.io/pause:3.6 pause-oci.tar '["/bin/sleep"]' '["2147483647"]'

for t in containerd runc ctr; do command -v "$t" >/dev/null || { echo "cni-testenv: $t missing" >&2; exit 1; }; done
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/portmap ] && [ -x /usr/lib/cni/host-local ] || { echo "cni-testenv: reference plugins missing" >&2; exit 1; }
echo "cni-testenv: ready $CACHE"

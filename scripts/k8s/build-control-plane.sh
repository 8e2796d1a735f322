#!/usr/bin/env bash
# Builds a real Kubernetes control plane — kube-apiserver, kube-controller-manager and kubectl v1.20.2 — from
# Debian 12's `kubernetes` SOURCE package, offline, with Debian's Go 1.19 (Debian ships no kube-apiserver binary).
# Recipe: ../shared/env-notes.md §6 (private apt config, GOPATH mode, reflect2 replacement, openapi-gen,
# -tags providerless). The binaries are cached in $CACHE/v$VERSION; a second run only checks they are there.
# Prints that directory on stdout; progress goes to stderr (only when stderr is a terminal, unless -v).
# Idempotent and safe to run concurrently (flock). Needs root (apt-get) and ~2 GB of scratch disk for a build.
#
# usage: scripts/k8s/build-control-plane.sh [-v] [--check]
#   -v       progress on stderr even without a terminal
#   --check  exit 0 and print the directory when the binaries are cached, exit 1 otherwise; never build
# env:   PODNET_K8S_CACHE (default /var/cache/podnet-k8s)
set -euo pipefail
VERSION=1.20.2
CACHE=${PODNET_K8S_CACHE:-/var/cache/podnet-k8s}
OUT="$CACHE/v$VERSION"
BINARIES=(kube-apiserver kube-controller-manager kubectl)
verbose=0
check=0
for a in "$@"; do
  case "$a" in
  -v) verbose=1 ;;
  --check) check=1 ;;
  *) echo "build-control-plane: unknown argument '$a' (allowed: -v, --check)" >&2; exit 2 ;;
  esac
done
[ -t 2 ] && verbose=1
log() { [ "$verbose" = 1 ] && echo "build-control-plane: $*" >&2 || true; }
ready() { [ -f "$OUT/.ready" ] && for b in "${BINARIES[@]}"; do [ -x "$OUT/$b" ] || return 1; done; }

if ready; then echo "$OUT"; exit 0; fi
[ "$check" = 1 ] && exit 1
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if ready; then echo "$OUT"; exit 0; fi # built by a concurrent run while we waited for the lock

start=$(date +%s)
W="$CACHE/build-$VERSION"
LOG="$CACHE/build-$VERSION.log"
rm -rf "$W"
mkdir -p "$W"
: >"$LOG"
# Every step's output goes to the log; on failure its tail is shown.
run() {
  if ! "$@" >>"$LOG" 2>&1; then
    echo "build-control-plane: failed: $*" >&2
    tail -n 30 "$LOG" >&2
    echo "build-control-plane: full log in $LOG" >&2
    exit 1
  fi
}

# Build dependencies from Debian: Go 1.19 and a reflect2 that works under Go >= 1.18 (the vendored v1.0.1 faults).
need=()
for p in golang-go golang-github-modern-go-reflect2-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# The source package via a private apt configuration: /etc/apt is not touched (no deb-src line is added there).
log "downloading Debian's kubernetes source package"
A="$W/apt"
mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bookworm main" >"$A/sources.list"
APTO=(-o "Dir::Etc::sourcelist=$A/sources.list" -o Dir::Etc::sourceparts=/nonexistent
  -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache")
run apt-get "${APTO[@]}" update -qq
chmod 0777 "$W" # apt-get source drops privileges to _apt when it can write the directory
run bash -c 'cd "$1" && shift && exec apt-get "$@" source --download-only kubernetes' _ "$W" "${APTO[@]}"
orig=$(ls "$W"/kubernetes_*.orig.tar.gz | head -1)
run tar -C "$W" -xzf "$orig"
src=$(ls -d "$W"/kubernetes-*/ | head -1)
src=${src%/}
[ -f "$src/cmd/kube-apiserver/apiserver.go" ] || { echo "build-control-plane: no cmd/kube-apiserver in $orig" >&2; exit 1; }

# GOPATH mode (-mod=vendor fails on Go 1.19 with "updates to go.mod needed").
mkdir -p "$W/gopath/src/k8s.io"
ln -sfn "$src" "$W/gopath/src/k8s.io/kubernetes"
K="$W/gopath/src/k8s.io/kubernetes"
export GO111MODULE=off GOPATH="$W/gopath" CGO_ENABLED=0 GOCACHE="$W/gocache" GOFLAGS= GOTOOLCHAIN=local
cd "$K"

# reflect2 v1.0.1 (vendored) crashes the apiserver under Go >= 1.18: use Debian's packaged copy.
rm -f vendor/github.com/modern-go/reflect2/*.go vendor/github.com/modern-go/reflect2/*.s
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go vendor/github.com/modern-go/reflect2/
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.s vendor/github.com/modern-go/reflect2/ 2>/dev/null || true
rm -f vendor/github.com/modern-go/reflect2/*_test.go

# The OpenAPI definitions are generated code, absent from the tarball: what `make generated_files` does.
log "generating pkg/generated/openapi (openapi-gen)"
run go build -o "$W/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
pkgs=$(grep -rl --include='*.go' '+k8s:openapi-gen=' --exclude-dir=vendor --exclude-dir=third_party \
  --exclude-dir=_output --exclude-dir=.git . | xargs -n1 dirname | LC_ALL=C sort -u |
  sed -e 's|^\./staging/src/|./vendor/|' -e 's|^\./|k8s.io/kubernetes/|' | paste -sd, -)
[ -n "$pkgs" ] || { echo "build-control-plane: no +k8s:openapi-gen packages found" >&2; exit 1; }
run "$W/openapi-gen" -i "$pkgs" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
  -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$W/api-violations.report" -o "$W/gopath/src"
[ -f pkg/generated/openapi/zz_generated.openapi.go ] ||
  { echo "build-control-plane: openapi-gen wrote no pkg/generated/openapi/zz_generated.openapi.go" >&2; exit 1; }

V=k8s.io/kubernetes/vendor/k8s.io
MAJOR=${VERSION%%.*}
MINOR=$(echo "$VERSION" | cut -d. -f2)
ldflags="-s -w"
for p in component-base/version client-go/pkg/version; do
  ldflags+=" -X $V/$p.gitVersion=v$VERSION -X $V/$p.gitMajor=$MAJOR -X $V/$p.gitMinor=$MINOR"
  ldflags+=" -X $V/$p.gitTreeState=clean -X $V/$p.buildDate=1970-01-01T00:00:00Z"
done
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp"
for b in "${BINARIES[@]}"; do
  log "building $b v$VERSION"
  run go build -tags providerless -ldflags "$ldflags" -o "$OUT.tmp/$b" "./cmd/$b"
done
"$OUT.tmp/kube-apiserver" --version >>"$LOG" 2>&1
secs=$(($(date +%s) - start))
echo "built in ${secs}s from $(basename "$orig") with $(go version)" >"$OUT.tmp/.ready"
cd /
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
rm -rf "$W"
log "ready in $OUT (${secs}s)"
echo "$OUT"

#!/usr/bin/env bash
# Builds the control-plane tools (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, helm) and upstream's DaemonSet conformance
# tests (e2e-apps.test) from the pinned Go modules next to this script, into a
# cache outside the clone, and links them into bin/.
#
# A cold build takes tens of minutes on 2 cores, so each module's binaries are
# cached under $EVERYNODE_CACHE/tools/<module>-<key>, where <key> hashes the
# module's go.mod, go.sum, the version stamps below and the Go version: a pin
# change rebuilds, anything else is reused.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${EVERYNODE_CACHE:-$HOME/.cache/everynode}
bin=$root/bin
min_go=1.26

K8S_VERSION=v1.37.2
HELM_VERSION=v3.21.4
KWOK_VERSION=v0.8.0
BUILD_DATE=2026-01-01T00:00:00Z   # fixed, so the same pins give the same binaries

die() { echo "tools: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not installed; install Go >= $min_go (the control-plane tools are built from Go modules)."
go_ver=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$min_go" "$go_ver" | sort -V | head -n1)" != "$min_go" ]; then
  die "Go $go_ver is too old; k8s.io/kubernetes $K8S_VERSION needs Go >= $min_go."
fi

# Keep Go's own caches outside the clone too, so a fresh clone builds warm.
export GOMODCACHE=${GOMODCACHE:-$(go env GOMODCACHE)}
export GOCACHE=${GOCACHE:-$(go env GOCACHE)}
export CGO_ENABLED=0

want=${1:-all}
case "$want" in
  all | cluster | kubernetes | kwok | helm | conformance) ;;
  *) die "unknown target '$want'; use all, cluster (all but conformance), kubernetes, kwok, helm or conformance" ;;
esac

# One build at a time per cache: a second `make tools` (another shell, a test
# run) waits for the first and then finds the binaries built, instead of
# compiling the same 20 minutes again in parallel on the same cores.
mkdir -p "$cache/tools"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache/tools/.lock"
  if ! flock -n 9; then
    echo "tools: another build is running (lock $cache/tools/.lock); waiting for it to finish" >&2
    flock 9
  fi
fi

key_of() { # module dir -> cache key
  { cat "$here/$1/go.mod" "$here/$1/go.sum"; echo "$K8S_VERSION $HELM_VERSION $KWOK_VERSION $BUILD_DATE $(go env GOVERSION)"; } | sha256sum | cut -c1-16
}

build_module() { # name, binaries..., then "--", go build args
  local name=$1; shift
  local bins=()
  while [ "$1" != "--" ]; do bins+=("$1"); shift; done; shift
  local dir="$cache/tools/$name-$(key_of "$name")"
  local missing=0
  for b in "${bins[@]}"; do [ -x "$dir/$b" ] || missing=1; done
  if [ "$missing" = 1 ]; then
    echo "tools: building $name (${bins[*]}) into $dir; a cold build can take 20+ minutes on 2 cores" >&2
    local start=$SECONDS tmp="$dir.tmp.$$"
    rm -rf "$tmp"; mkdir -p "$tmp"
    (cd "$here/$name" && go build -trimpath -o "$tmp/" "$@") || { rm -rf "$tmp"; die "building $name failed (see the go output above)"; }
    rm -rf "$dir"; mv "$tmp" "$dir"
    echo "tools: built $name in $((SECONDS - start))s" >&2
  fi
  mkdir -p "$bin"
  for b in "${bins[@]}"; do ln -sfn "$dir/$b" "$bin/$b"; done
}

kv() { # -X flags for one version package
  local p=$1
  echo "-X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=37 -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.gitTreeState=clean -X $p.buildDate=$BUILD_DATE"
}

if [ "$want" = all ] || [ "$want" = cluster ] || [ "$want" = kubernetes ]; then
  # etcd's main package sits at the module root, so its binary would be named
  # "server"; it is built on its own with an explicit output name.
  build_module kubernetes kube-apiserver kube-controller-manager kube-scheduler kubectl -- \
    -tags selinux,notest,grpcnotrace \
    -ldflags "-s -w $(kv k8s.io/component-base/version) $(kv k8s.io/client-go/pkg/version)" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  edir="$cache/tools/etcd-$(key_of kubernetes)"
  if [ ! -x "$edir/etcd" ]; then
    echo "tools: building etcd into $edir" >&2
    mkdir -p "$edir"
    (cd "$here/kubernetes" && go build -trimpath -ldflags "-s -w" -o "$edir/etcd.tmp" go.etcd.io/etcd/server/v3) ||
      { rm -f "$edir/etcd.tmp"; die "building etcd failed (see the go output above)"; }
    mv "$edir/etcd.tmp" "$edir/etcd"
  fi
  mkdir -p "$bin"; ln -sfn "$edir/etcd" "$bin/etcd"
fi
if [ "$want" = all ] || [ "$want" = cluster ] || [ "$want" = kwok ]; then
  build_module kwok kwok -- -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
fi
if [ "$want" = all ] || [ "$want" = cluster ] || [ "$want" = helm ]; then
  build_module helm helm -- -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" helm.sh/helm/v3/cmd/helm
fi
if [ "$want" = all ] || [ "$want" = conformance ]; then
  # Upstream's test/e2e/apps specs as one ginkgo test binary (go test -c), from
  # hack/tools/conformance/suite_test.go; run by test/e2e/conformance.test.ts
  # and hack/conformance.ts. The suite file is part of the key too.
  ckey=$({ key_of conformance; cat "$here/conformance/suite_test.go"; } | sha256sum | cut -c1-16)
  cdir="$cache/tools/conformance-$ckey"
  if [ ! -x "$cdir/e2e-apps.test" ]; then
    echo "tools: building conformance (e2e-apps.test) into $cdir; a cold build can take 10+ minutes on 2 cores" >&2
    start=$SECONDS
    mkdir -p "$cdir"
    (cd "$here/conformance" && go test -c -trimpath -tags selinux,grpcnotrace \
      -ldflags "-s -w $(kv k8s.io/component-base/version) $(kv k8s.io/client-go/pkg/version)" \
      -o "$cdir/e2e-apps.test.tmp" .) ||
      { rm -f "$cdir/e2e-apps.test.tmp"; die "building conformance failed (see the go output above)"; }
    mv "$cdir/e2e-apps.test.tmp" "$cdir/e2e-apps.test"
    echo "tools: built conformance in $((SECONDS - start))s" >&2
  fi
  mkdir -p "$bin"; ln -sfn "$cdir/e2e-apps.test" "$bin/e2e-apps.test"
fi

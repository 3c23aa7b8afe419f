#!/usr/bin/env bash
# Builds the real Kubernetes control plane the tests run against: kube-apiserver,
# kube-controller-manager, kube-scheduler and kubectl from the pinned
# k8s.io/kubernetes module, kwok from sigs.k8s.io/kwok, and etcd from
# go.etcd.io/etcd (Debian's etcd-server is 3.4, older than Kubernetes 1.36 supports).
#
# The binaries land in a cache outside the repository, keyed by a hash of the
# three pinned go.mod/go.sum pairs and the Go version, so a second run costs
# nothing. Prints the bin directory on stdout; progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${HARK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hark}"

k8s_version="$(awk '$1=="k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$here/kubernetes/go.mod")"
helm_mod="$here/../helm/helm"
key="$( (go version; cat "$here"/*/go.mod "$here"/*/go.sum "$helm_mod/go.mod" "$helm_mod/go.sum" "$here/build.sh") | sha256sum | cut -c1-16)"
out="$cache_root/controlplane/$k8s_version-$key"
bin="$out/bin"

if [[ -f "$out/.complete" ]]; then
  echo "$bin"
  exit 0
fi

log() { echo "[controlplane] $*" >&2; }
mkdir -p "$bin"
start=$(date +%s)

# The same version stamps hack/lib/version.sh sets, so the binaries report
# their true version rather than v0.0.0 (kubectl version, /version, emulation).
minor="$(echo "$k8s_version" | cut -d. -f2)"
stamp=""
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  stamp+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  stamp+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

export CGO_ENABLED=0
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  if [[ ! -x "$bin/$cmd" ]]; then
    log "building $cmd $k8s_version (cold builds take several minutes on 2 cores)"
    (cd "$here/kubernetes" && go build -trimpath -ldflags "-s -w $stamp" -o "$bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
    mv "$bin/$cmd.tmp" "$bin/$cmd"
  fi
done

if [[ ! -x "$bin/kwok" ]]; then
  log "building kwok"
  (cd "$here/kwok" && go build -trimpath -ldflags "-s -w" -o "$bin/kwok.tmp" sigs.k8s.io/kwok/cmd/kwok)
  mv "$bin/kwok.tmp" "$bin/kwok"
fi

if [[ ! -x "$bin/etcd" ]]; then
  log "building etcd"
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
fi

# kwok simulates nothing without stages; take the upstream defaults from the
# same pinned module: nodes become Ready and renew their leases, pods run.
kwok_dir="$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
             pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
  echo "---"
  cat "$kwok_dir/kustomize/stage/$stage.yaml"
done > "$out/kwok-stages.yaml"

# helm, for the chart tests (test/helm): the pinned upstream helm.sh/helm/v4
# module from test/helm/helm/go.mod, stamped with its version as Helm's
# Makefile does, so `helm version` reports it.
if [[ ! -x "$bin/helm" ]]; then
  helm_version="$(awk '$1=="helm.sh/helm/v4" {print $2; exit}' "$helm_mod/go.mod")"
  log "building helm $helm_version"
  (cd "$helm_mod" && go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    -o "$bin/helm.tmp" helm.sh/helm/v4/cmd/helm)
  mv "$bin/helm.tmp" "$bin/helm"
fi

echo "$k8s_version" > "$out/version"
touch "$out/.complete"
log "control plane $k8s_version ready in $(( $(date +%s) - start ))s: $bin"
echo "$bin"

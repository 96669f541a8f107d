# everynode — kubebuilder-style targets. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The project's own Node.js (24 LTS) and the Go-built control-plane tools in bin/
# come first on PATH for every target.
NODE_BIN := $(shell hack/ensure-node.sh)
export PATH := $(CURDIR)/bin:$(NODE_BIN):$(PATH)

NODES ?= 4
CONTROL_PLANE ?= 1
# on: kube-controller-manager runs its own DaemonSet controller, as on a managed cluster (CRD mode).
KCM_DAEMONSET ?= off
KUBECONFIG_FILE := $(CURDIR)/.cluster/kubeconfig

##@ General
.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: node_modules/.package-lock.json ## Install the pinned npm packages.

.PHONY: fmt
fmt: deps ## Format the code with prettier.
	npx prettier --write .

.PHONY: lint
lint: deps ## Type-check, lint and check formatting.
	npx tsc --noEmit -p tsconfig.json
	npx eslint .
	npx prettier --check .

.PHONY: build
build: deps ## Compile TypeScript into dist/; install the kubectl plugin as bin/kubectl-everynode.
	npx tsc -p tsconfig.build.json
	chmod +x dist/plugin/main.js
	install -D -m 0755 src/plugin/kubectl-everynode.sh bin/kubectl-everynode

.PHONY: test-unit
test-unit: deps ## Unit tests only (no cluster).
	npx vitest run --project unit

.PHONY: test
test: deps tools lint build ## Everything: lint, unit tests, e2e tests on a real control plane.
	npx vitest run

.PHONY: crd
crd: deps tools ## Regenerate charts/everynode/crds/ from kube-apiserver's OpenAPI (a throwaway control plane; ARGS="--kubeconfig PATH" to use one).
	node hack/crd/generate.ts $(ARGS)

##@ Benchmarks
BENCH_NODES ?= 100,1000
BENCH_UPDATE_MODES ?= Recreate,InPlaceIfPossible
BENCH_UNMANAGED_PODS ?= 0
BENCH_PLANNER_NODES ?= 1000
.PHONY: bench-controller
bench-controller: deps tools build ## DaemonSet create + rolling updates on kwok nodes: everynode vs KCM's controller (BENCH_NODES=100,1000 BENCH_UPDATE_MODES=Recreate,InPlaceIfPossible BENCH_UNMANAGED_PODS=0).
	node bench/controller/run.ts --nodes $(BENCH_NODES) --update-mode $(BENCH_UPDATE_MODES) --unmanaged-pods $(BENCH_UNMANAGED_PODS) $(ARGS)

.PHONY: bench-planner
bench-planner: deps ## CPU per planner sync of one DaemonSet mid in-place rollout, no API server (BENCH_PLANNER_NODES=1000; a few seconds).
	node bench/controller/planner.ts --nodes $(BENCH_PLANNER_NODES) $(ARGS)

##@ Conformance
.PHONY: conformance
conformance: deps tools ## Upstream's DaemonSet conformance tests against everynode on a fresh kwok cluster (also in make test).
	node hack/conformance.ts --controller everynode $(ARGS)

.PHONY: conformance-kcm
conformance-kcm: deps tools ## The same tests against kube-controller-manager's own DaemonSet controller (the baseline).
	node hack/conformance.ts --controller kcm $(ARGS)

##@ Tools and local cluster
.PHONY: tools
tools: ## Build etcd, kube-*, kubectl, kwok, helm and the conformance tests from Go modules into bin/ (cached).
	hack/tools/build.sh all

.PHONY: cluster-up
cluster-up: deps tools ## Start a local control plane with kwok nodes (NODES=4 CONTROL_PLANE=1 KCM_DAEMONSET=off).
	node hack/cluster.ts up --nodes $(NODES) --control-plane $(CONTROL_PLANE) --kcm-daemonset $(KCM_DAEMONSET)

.PHONY: cluster-down
cluster-down: deps ## Stop the local control plane and remove its state.
	node hack/cluster.ts down

.PHONY: cluster-status
cluster-status: deps ## Show the local control plane's components and kubeconfig.
	node hack/cluster.ts status

##@ Run
.PHONY: demo
demo: deps ## The main job: local cluster + everynode (Helm, dev mode) + nginx DaemonSet tutorial and a rolling update.
	hack/demo.sh

.PHONY: down
down: ## Stop everything `make demo` started (webhook, controller, cluster).
	hack/demo.sh down

.PHONY: run-webhook
run-webhook: build ## Run the webhook on the host (ARGS="--tls-cert-file=... ...").
	node dist/webhook/main.js $(ARGS)

.PHONY: bench-webhook
bench-webhook: deps ## Benchmark the webhook: max admissions/s on one core, p50/p99 at 1,000/s (loopback, ~1 min).
	node bench/webhook/run.ts $(ARGS)

.PHONY: run-controller
run-controller: build ## Run the controller on the host against .cluster/kubeconfig.
	node dist/controller/main.js --kubeconfig $(KUBECONFIG_FILE) $(ARGS)

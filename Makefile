# Hoist — run `make help` for the targets.
GO        ?= go
BIN       := bin/hoist
DATA      ?= hoist-data
# -p 1: the packages that use the engine share one dockerd and its build
# cache; a test removing its images while another package builds on a
# cached layer made builds fail with "unable to find image".
TESTFLAGS ?= -race -count=1 -timeout 40m -p 1

.PHONY: help run build test test-podman test-k8s lint bench fuzz e2e faults k3s-test clean

help: ## show the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/hoist
	$(GO) build -o $(BIN) ./cmd/hoist

run: build ## build, test and deliver the example index to the embedded registry
	@scripts/deps.sh engine
	$(BIN) run --index examples/index.d --data $(DATA)
	@echo; $(BIN) images --data $(DATA)

# The suites run once more against Podman's Docker-compatible service: the
# engine adapter's, and the end-to-end tests that build, test (checks,
# structure tests, test-script, compose autotest), scan, re-scan and deliver.
PODMAN_TESTS := -run 'TestExamples$$|TestCascade$$|TestChecks$$' ./e2e/
PODMAN_ENV   := HOIST_TEST_ENGINE=podman DOCKER_HOST=unix:///run/hoist-podman.sock
# Without -race: the main run had it on the same code; this one checks the engine.
PODMAN_FLAGS ?= -count=1 -timeout 20m -p 1

test: ## run every test, with a real engine, registry, git and Kubernetes (installs what is missing), then the Podman and Kubernetes subsets
	@scripts/deps.sh test
	@scripts/k3s.sh up
	$(GO) test $(TESTFLAGS) ./...
	@$(MAKE) --no-print-directory test-podman
	@$(MAKE) --no-print-directory test-k8s

test-podman: ## the engine and end-to-end subset against Podman (installs and starts it)
	@scripts/deps.sh test
	@scripts/deps.sh podman
	$(PODMAN_ENV) $(GO) test $(PODMAN_FLAGS) ./internal/engine/
	$(PODMAN_ENV) $(GO) test $(PODMAN_FLAGS) $(PODMAN_TESTS)

# The end-to-end tests again with --executor kubernetes, on the single-node
# k3s of scripts/k3s.sh (built once from its Go module, 6-18 min, then
# cached in /var/cache/hoist): the examples, failing builds and tests, a
# cancel in every stage, timeouts of a checkout (on the host) and of
# a prebuild- and a test-script (in pods), and a checkout in a pod. The
# executor's own suite (internal/kube) ran in test.
K8S_TESTS := -run 'TestExamples$$|TestFailures$$|TestServeCancelsEveryStage$$|TestCheckoutTimeout$$|TestScriptTimeouts$$|TestKubernetesCheckoutInAPod$$' ./e2e/
K8S_ENV   := HOIST_TEST_EXECUTOR=kubernetes

test-k8s: ## the end-to-end subset with --executor kubernetes, on scripts/k3s.sh's cluster (builds and starts it)
	@scripts/deps.sh test
	@scripts/k3s.sh up
	$(K8S_ENV) $(GO) test $(PODMAN_FLAGS) $(K8S_TESTS)

lint: ## gofmt, go vet, go mod tidy: fail when any would change something
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@cp go.mod /tmp/hoist-go.mod.bak; cp go.sum /tmp/hoist-go.sum.bak; $(GO) mod tidy; \
	if ! cmp -s go.mod /tmp/hoist-go.mod.bak || ! cmp -s go.sum /tmp/hoist-go.sum.bak; then \
	  echo "go mod tidy changes go.mod/go.sum: run it and commit"; cp /tmp/hoist-go.mod.bak go.mod; cp /tmp/hoist-go.sum.bak go.sum; exit 1; fi

e2e: ## only the end-to-end tests
	@scripts/deps.sh test
	$(GO) test $(TESTFLAGS) -run . ./e2e/

# The reduced form (6 pipelines) runs in test; this is the full one. Both
# restart, once mid-build, a dockerd of the harness's own (never the shared
# one). Needs root (network namespaces, iptables, dockerd) and PostgreSQL.
faults: ## the fault harness: 30 pipelines on workers in network namespaces, kill -9 of workers and servers, an engine restart, a faulty registry proxy
	@scripts/deps.sh test
	HOIST_FAULTS=full $(GO) test -race -count=1 -timeout 40m -v -run 'TestFaults$$' ./e2e/

# Not part of test: the first run builds k3s (6-18 min), and it needs root.
k3s-test: ## scripts/k3s.sh end to end: up, a toolbox pod, a pod pulled through registries.yaml, down, nothing left
	@scripts/deps.sh test
	HOIST_K3S_TEST=1 $(GO) test -count=1 -timeout 40m -v -run 'TestK3s$$' ./e2e/k3s/

fuzz: ## fuzz the index parser for a while (FUZZTIME=3m)
	$(GO) test -run '^$$' -fuzz FuzzParseFile -fuzztime $${FUZZTIME:-3m} ./internal/index/

bench: build ## benchmarks against hand-run baselines, printed as ratios
	@scripts/deps.sh test
	@scripts/k3s.sh up
	$(GO) run ./bench

clean: ## remove the binary and the data folder
	rm -rf bin $(DATA)

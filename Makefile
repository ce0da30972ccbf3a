# Two commands matter: `make run` serves the whole API locally, `make test` runs every test. Neither needs Docker or
# an AWS account: the Python tools go into .venv, the emulator runs on 127.0.0.1.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
CARGO ?= cargo
VENV := .venv
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
STACK := $(TARGET_DIR)/debug/local-stack
export PROJECT_ROOT := $(CURDIR)
export LOCAL_STACK_BIN_DIR := $(TARGET_DIR)/debug

# `make build` and `make bench`: cargo-lambda (with zig, for the arm64 cross-build); `make build` only: the SAM CLI.
LAMBDA_TOOLS := $(VENV)/.lambda-tools-installed
BUILD_TOOLS := $(VENV)/.build-tools-installed
FUNCTIONS := $(notdir $(patsubst %/,%,$(wildcard functions/*/)))
# cargo-lambda finds zig through the first `python3` on PATH, and SAM finds `cargo lambda` on PATH.
BUILD_PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# The release flags of `make build` and `make bench` (see the release profile in Cargo.toml): no unwind tables (panics
# abort) and no position-independent code. They apply with an explicit --target only, so build scripts and proc
# macros are built as usual.
RELEASE_RUSTFLAGS := -C force-unwind-tables=no -C relocation-model=static
HOST := $(shell rustc -vV | sed -n 's/^host: //p')
ARM64_DIR := $(TARGET_DIR)/lambda-arm64

.PHONY: run test soak bench venv bins build validate invoke token account outbox events command lint fmt clippy clean

$(VENV)/.installed: local/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r local/requirements.txt
	touch $@

## venv: the Python tools (moto server, cfn-lint, openapi-spec-validator, schemathesis) in .venv
venv: $(VENV)/.installed

$(LAMBDA_TOOLS): local/requirements-lambda.txt | $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r local/requirements-lambda.txt
	touch $@

$(BUILD_TOOLS): local/requirements-build.txt | $(LAMBDA_TOOLS)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r local/requirements-build.txt
	touch $@

## bins: every function binary and the local stack (dev profile), for `make run` and `make test`
bins:
	$(CARGO) build --bins

## build: `sam build` for AWS (release, arm64): every function in ONE cargo-lambda run (shared dependencies
## compiled once, links in parallel), then `sam build` of a generated template whose functions point at those
## artefacts (SkipBuild), so SAM does not run cargo once per function; result in .aws-sam/build
build: $(BUILD_TOOLS)
	-rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1
	RUSTFLAGS="$(RELEASE_RUSTFLAGS)" PATH="$(BUILD_PATH)" $(CARGO) lambda build --release --arm64 \
		--lambda-dir $(ARM64_DIR) $(addprefix -p ,$(FUNCTIONS))
	mkdir -p .aws-sam
	awk -v dir="$(ARM64_DIR)" -f local/prebuilt_template.awk template.yaml > .aws-sam/template.prebuilt.yaml
	PATH="$(BUILD_PATH)" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} \
		$(VENV)/bin/sam build -t .aws-sam/template.prebuilt.yaml

## run: the emulator, the table, a seeded admin and the API at http://127.0.0.1:3000, with publish-events fed from
## the table's stream and command-handler from the command queue; Ctrl-C stops it
run: venv bins
	$(STACK) run --port 3000 --moto-port 5005

## test: unit, handler, integration and end-to-end tests, with their own emulator; then schemathesis on its own
## emulator (a few examples per operation, a fixed seed); then the template lint and the OpenAPI document's validation
test: venv bins
	$(STACK) with-emulator -- $(CARGO) test --workspace
	$(STACK) with-emulator -- $(CARGO) test -p api-tests --test suite schemathesis:: -- --ignored
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/openapi-spec-validator openapi.yaml

## invoke: one function's built binary with one event, through the local Lambda Runtime API, against a fresh seeded
## emulator; prints the answer (the Docker-free `sam local invoke FN -e EVENT`). FN=<function> EVENT=<file>; the dev
## build is used unless BIN_DIR=<dir> names another (target/lambda from cargo-lambda, .aws-sam/build from sam build)
invoke: venv
	$(if $(FN),,$(error FN=<function> is required, for example FN=get-user EVENT=events/get-user.json))
	$(if $(EVENT),,$(error EVENT=<file> is required, for example EVENT=events/$(FN).json))
	@$(CARGO) build --quiet --bin local-stack $(if $(BIN_DIR),,--bin $(FN))
	@$(STACK) invoke $(FN) $(EVENT) $(if $(BIN_DIR),--bin-dir $(BIN_DIR))

## bench: release builds for x86_64 (measured here) and arm64 (cargo-lambda and zig, for size), then every function's
## size, cold start, peak memory, warm latency and AWS calls per request next to a hello-function floor, against the
## budgets; writes bench/results.md and bench/results.json, and fails on a missed budget. BENCH_REQUESTS= (1000)
bench: venv $(LAMBDA_TOOLS)
	-rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1
	RUSTFLAGS="$(RELEASE_RUSTFLAGS)" $(CARGO) build --release --target $(HOST) \
		$(addprefix -p ,$(FUNCTIONS)) -p floor -p local-stack
	RUSTFLAGS="$(RELEASE_RUSTFLAGS)" PATH="$(BUILD_PATH)" $(CARGO) lambda build --release --arm64 \
		--lambda-dir $(ARM64_DIR) $(addprefix -p ,$(FUNCTIONS)) -p floor
	$(TARGET_DIR)/$(HOST)/release/local-stack bench --bin-dir $(TARGET_DIR)/$(HOST)/release \
		--arm64-dir $(ARM64_DIR) --out bench --requests $${BENCH_REQUESTS:-1000}

## soak: the long load (32 clients for 60 s; LOAD_CLIENTS=, LOAD_SECONDS=), reported in bench/load.md; the lost-answer
## faults over and over (FAULT_ROUNDS=, 10 unless set); then schemathesis with 200 examples per operation (SCHEMATHESIS_MAX_EXAMPLES=) and a new seed each time
## (SCHEMATHESIS_SEED= repeats a run; each run's log and JUnit report are under target/schemathesis/)
soak: venv bins
	$(STACK) with-emulator -- $(CARGO) test -p api-tests --test suite load::soak -- --ignored --nocapture
	$(STACK) with-emulator -- $(CARGO) test -p api-tests --test suite faults::soak_lost_answers -- --ignored --nocapture
	SCHEMATHESIS_MAX_EXAMPLES=$${SCHEMATHESIS_MAX_EXAMPLES:-200} SCHEMATHESIS_SEED=$${SCHEMATHESIS_SEED:-$$(date +%s)} \
		$(STACK) with-emulator -- $(CARGO) test -p api-tests --test suite schemathesis:: -- --ignored --nocapture

## token: a bearer token for the seeded admin, or for USER=<uuid>; ACCOUNT=<uuid> names a QI account in its claims
token:
	@$(CARGO) build --quiet --bin local-stack
	@$(STACK) token $(if $(filter command line,$(origin USER)),--user $(USER)) $(if $(ACCOUNT),--account $(ACCOUNT))

## account: a QI Tech account in the running `make run` (STATUS=active|blocked|closed|hub, DOCUMENT, PHONE, EMAIL)
account:
	@$(CARGO) build --quiet --bin local-stack
	@$(STACK) account $(if $(STATUS),--status $(STATUS)) $(if $(DOCUMENT),--document $(DOCUMENT)) \
		$(if $(PHONE),--phone $(PHONE)) $(if $(EMAIL),--email $(EMAIL))

## outbox: the SMS and emails that went out through the emulator of a running `make run`
outbox:
	@$(CARGO) build --quiet --bin local-stack
	@$(STACK) outbox --moto-port 5005

## events: the domain events a running `make run` published to its events topic since the last `make events`
events:
	@$(CARGO) build --quiet --bin local-stack
	@$(STACK) events --moto-port 5005

## command: one JSON command to the command queue of a running `make run`: BODY='<json>' or FILE=<file>
command:
	$(if $(BODY)$(FILE),,$(error BODY='<json>' or FILE=<file> is required, for example BODY='{"command":"enableUser","userId":"<uuid>"}'))
	@$(CARGO) build --quiet --bin local-stack
	@$(STACK) command --moto-port 5005 $(if $(BODY),--body "$$BODY") $(if $(FILE),--file $(FILE))

lint: venv
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/openapi-spec-validator openapi.yaml

## validate: `sam validate --lint` (needs the build tools)
validate: $(BUILD_TOOLS)
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/sam validate --lint

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf target .aws-sam $(VENV)

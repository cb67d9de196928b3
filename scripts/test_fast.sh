#!/usr/bin/env bash
# `make test-fast`: the edit–test loop. Ruff, then pytest on two workers without Rasa, Chromium
# or the tests that start other processes or train the real model (markers rasa, browser, slow,
# serial: tests/conftest.py). SQLite only, unless XIAOBAO_TEST_POSTGRES_URL is set. `make test`
# runs everything; this is not a substitute for it before a commit lands.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test_env.sh
say() { printf '\033[1;34m[test-fast]\033[0m %s\n' "$*"; }

bash scripts/ensure_redis.sh
say "ruff check"
.venv/bin/ruff check .
say "pytest: unit and in-process tests on ${XIAOBAO_TEST_WORKERS:-2} workers"
exec .venv/bin/python -m pytest -n "${XIAOBAO_TEST_WORKERS:-2}" \
  -m "not rasa and not browser and not slow and not serial" -q "$@"

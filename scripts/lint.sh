#!/usr/bin/env bash
# Static checks that `make lint` and `make test` run: ruff on the whole tree, then mypy on the
# packages that are typed (which ones, and how strictly: pyproject.toml, [tool.mypy]).
# Both always run, so one report shows every finding; the exit status fails if either failed.
set -uo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1;34m[lint]\033[0m %s\n' "$*"; }

status=0
say "ruff check"
.venv/bin/ruff check . || status=1
say "mypy"
.venv/bin/mypy || status=1
exit $status

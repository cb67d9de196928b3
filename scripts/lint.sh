#!/usr/bin/env bash
# Static checks that `make lint` and `make test` run: ruff on the whole tree, then mypy on the
# packages that are typed (which ones, and how strictly: pyproject.toml, [tool.mypy]), then
# ESLint on the pages' modules (eslint.config.js) and the unit tests of their pure functions
# under Node's own runner (tests/js/, well under a second; docs/frontend.md).
# All always run, so one report shows every finding; the exit status fails if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1;34m[lint]\033[0m %s\n' "$*"; }

status=0
say "ruff check"
.venv/bin/ruff check . || status=1
say "mypy"
.venv/bin/mypy || status=1
if [ -x node_modules/.bin/eslint ] && command -v node >/dev/null 2>&1; then
  say "eslint"
  node_modules/.bin/eslint . || status=1
  say "node --test tests/js/"
  node --test --test-reporter=dot tests/js/ || status=1
else
  say "eslint and node --test need Node and the npm devDependencies: make setup"
  status=1
fi
exit $status

#!/usr/bin/env bash
# The test run that `make test` and CI execute: services, lint, data gates, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test_env.sh
say() { printf '\033[1;34m[test]\033[0m %s\n' "$*"; }
# finish PID LOG PATTERN WHAT: wait for a job started in the background, show the lines of its
# log that match PATTERN, and its last 40 lines when it failed; returns its status.
finish() {
  local rc=0
  wait "$1" || rc=$?
  grep -aE "$3" "$2" | tail -20 || true
  if [ "$rc" != 0 ]; then
    tail -40 "$2" >&2
    say "$4 failed ($2)"
  fi
  return "$rc"
}

bash scripts/ensure_redis.sh
# Browser tests drive Debian's Chromium (never a downloaded browser); the CJK fonts make
# Chinese readable in their screenshots. The two-machine test (tests/deploy) runs Debian's nginx
# as its own process with deploy/nginx.conf.example (the system service is not used).
if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1 || [ ! -x /usr/sbin/nginx ]; then
  say "installing Debian's chromium, fonts-noto-cjk and nginx for the browser and layout tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium fonts-noto-cjk nginx >/dev/null
fi
# The same database tests run on PostgreSQL when one answers (CI has one on 5432).
if [ -z "${XIAOBAO_TEST_POSTGRES_URL:-}" ] && .venv/bin/python -c \
  "import psycopg2; psycopg2.connect(host='127.0.0.1', port=5432, user='postgres', dbname='test', connect_timeout=2)" 2>/dev/null; then
  export XIAOBAO_TEST_POSTGRES_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/test
  say "PostgreSQL answers: database tests run on SQLite and PostgreSQL"
fi

# Three jobs side by side, each about a minute or two of CPU on the 2 cores: training the bot's
# model when its inputs changed (scripts/train.sh; the Rasa tests need it), the bot's data checks
# (rasa data validate, then the NLU gate, which trains a model of its own on 80% of the data),
# and the lint. All three must pass before pytest starts.
mkdir -p results
XIAOBAO_TRAIN_DICT_ONLY=1 bash scripts/train.sh  # the jieba dictionary both trainings read
say "training the bot when its inputs changed (log: results/train.log)"
bash scripts/train.sh > results/train.log 2>&1 &
train=$!
say "rasa data validate and the NLU gate (log: results/bot_checks.log)"
( .venv-rasa/bin/rasa data validate --config config.yml --domain bot/domain.yml --data bot/data \
    --fail-on-warnings && bash scripts/rasa_nlu_gate.sh ) > results/bot_checks.log 2>&1 &
bot_checks=$!
say "lint: ruff, mypy, eslint, node --test"
lint_status=0
bash scripts/lint.sh || lint_status=$?
train_status=0
finish "$train" results/train.log '\[train\]' "training the bot" || train_status=$?
bot_status=0
finish "$bot_checks" results/bot_checks.log 'macro-F1|FAILED' \
  "rasa data validate or the NLU gate" || bot_status=$?
[ "$lint_status" = 0 ] && [ "$train_status" = 0 ] && [ "$bot_status" = 0 ] || exit 1
# Two workers (pytest-xdist): much of the suite waits on servers starting (rasa run, gateways,
# Chromium) and on timers, so a single run leaves the second core idle. tests/conftest.py keeps
# each file on one worker and the browser files together (they share one stack). Beside them, in
# a third process, the schema fuzz (tests/api/test_schema.py): schemathesis gives its items one
# node id, which xdist cannot tell apart, so it runs without xdist, and the workers leave about
# a core idle while they wait. The tests that gate a duration (latency, start-up and edit-to-answer
# budgets, marked serial) run afterwards, alone, so no other load decides them.
# --tb=short: CI shows a bounded excerpt of the output; a failure's own line must fit in it.
# XIAOBAO_TEST_SHARED: what the passes of this run build once and share (the seed index).
XIAOBAO_TEST_SHARED=$(mktemp -d -t xiaobao-tests-XXXXXX)
export XIAOBAO_TEST_SHARED
trap 'rm -rf "$XIAOBAO_TEST_SHARED"' EXIT
SCHEMA=tests/api/test_schema.py
status=0
say "pytest: the schema fuzz in its own process (log: results/schema_fuzz.log)"
.venv/bin/python -m pytest -p no:xdist "$SCHEMA" -q "$@" > results/schema_fuzz.log 2>&1 &
schema_fuzz=$!
say "pytest: the suite on ${XIAOBAO_TEST_WORKERS:-2} workers"
.venv/bin/python -m pytest -n "${XIAOBAO_TEST_WORKERS:-2}" -m "not serial" --ignore="$SCHEMA" \
  --durations=30 --tb=short "$@" || status=$?
finish "$schema_fuzz" results/schema_fuzz.log '^(FAILED|ERROR)|passed|failed' \
  "the schema fuzz" || status=$?
say "pytest: the serial tests (duration gates), alone"
.venv/bin/python -m pytest -m serial --ignore="$SCHEMA" --durations=10 "$@" \
  || { rc=$?; [ "$rc" = 5 ] || status=$rc; }
exit "$status"

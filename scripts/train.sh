#!/usr/bin/env bash
# Trains 小宝's Rasa model into models/xiaobao.tar.gz when its inputs changed; does
# nothing otherwise (a second run with nothing changed takes well under a second).
#
# Rasa's own fingerprint (its training cache in .rasa/cache) retrains only the
# components whose inputs changed, but it does not see the jieba dictionary: this
# script copies retrieval's domain dictionaries into models/jieba_dict/ (the
# JiebaTokenizer's dictionary_path), records their sha256 in
# models/jieba_dict.sha256, and forces a full retrain when it differs.
set -euo pipefail
cd "$(dirname "$0")/.."
RASA=.venv-rasa/bin/rasa
MODEL=models/xiaobao.tar.gz
DICT_DIR=models/jieba_dict
DICT_STAMP=models/jieba_dict.sha256
INPUTS_STAMP=models/xiaobao.inputs.sha256

say() { printf '\033[1;34m[train]\033[0m %s\n' "$*"; }

mkdir -p "$DICT_DIR"
shopt -s nullglob
dicts=(retrieval/data/domain_dict*.txt)
shopt -u nullglob

# Mirror the dictionaries (a removed one must disappear from the directory too).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "${dicts[@]}"; do cp "$f" "$tmp/"; done
if ! diff -qr "$tmp" "$DICT_DIR" >/dev/null 2>&1; then
  rm -f "$DICT_DIR"/*
  for f in "${dicts[@]}"; do cp "$f" "$DICT_DIR/"; done
fi
dict_sha=$( (cd "$DICT_DIR" && for f in $(ls | LC_ALL=C sort); do sha256sum "$f"; done) | sha256sum | cut -c1-64)
# XIAOBAO_TRAIN_DICT_ONLY=1: only mirror the dictionary (scripts/test.sh does this first, so the
# NLU gate, which reads the same folder, can train beside this script's training).
[ "${XIAOBAO_TRAIN_DICT_ONLY:-}" = 1 ] && exit 0

# Everything the model is made of: data, domain, config, the dictionary, Rasa's version.
inputs_hash() {
  { sha256sum config.yml bot/domain.yml;
    find bot/data -type f | LC_ALL=C sort | xargs sha256sum;
    echo "$dict_sha";
    sha256sum .venv-rasa/lib/python3.10/site-packages/rasa/version.py; } | sha256sum | cut -c1-64
}
inputs_sha=$(inputs_hash)
if [ -f "$MODEL" ] && [ -f "$INPUTS_STAMP" ] && [ "$(cat "$INPUTS_STAMP")" = "$inputs_sha" ]; then
  say "model up to date: $MODEL"
  exit 0
fi

force=()
if [ ! -f "$MODEL" ]; then
  say "no model yet: training (a few minutes on 2 cores)"
elif [ ! -f "$DICT_STAMP" ] || [ "$(cat "$DICT_STAMP")" != "$dict_sha" ]; then
  say "jieba dictionary changed since the last model: forcing a full retrain"
  force=(--force)
else
  say "training data changed: retraining what changed"
fi

export TF_CPP_MIN_LOG_LEVEL=3 SQLALCHEMY_SILENCE_UBER_WARNING=1 RASA_TELEMETRY_ENABLED=false
rm -f "$INPUTS_STAMP"
"$RASA" train --config config.yml --domain bot/domain.yml --data bot/data --out models \
  --fixed-model-name xiaobao "${force[@]}"
echo "$dict_sha" > "$DICT_STAMP"
# Inputs edited while it trained: no stamp, so the next run trains again.
if [ "$(inputs_hash)" = "$inputs_sha" ]; then
  echo "$inputs_sha" > "$INPUTS_STAMP"
else
  say "the training data changed while training: the next run retrains"
fi

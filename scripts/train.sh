#!/usr/bin/env bash
# Trains 小宝's Rasa model into models/ when its data changed, reuses it otherwise.
# Rasa's own fingerprint covers config.yml, bot/domain.yml and bot/data; it does
# not see the jieba dictionary, so this script copies retrieval's domain
# dictionaries into models/jieba_dict/ (the JiebaTokenizer's dictionary_path),
# records their sha256 beside the model, and forces a retrain when it differs.
set -euo pipefail
cd "$(dirname "$0")/.."
RASA=.venv-rasa/bin/rasa
DICT_DIR=models/jieba_dict
STAMP=models/jieba_dict.sha256

say() { printf '\033[1;34m[train]\033[0m %s\n' "$*"; }

mkdir -p "$DICT_DIR"
shopt -s nullglob
dicts=(retrieval/data/domain_dict_*.txt)
shopt -u nullglob

# Mirror the dictionaries (a removed one must disappear from the directory too).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "${dicts[@]}"; do cp "$f" "$tmp/"; done
if ! diff -qr "$tmp" "$DICT_DIR" >/dev/null 2>&1; then
  rm -f "$DICT_DIR"/*
  for f in "${dicts[@]}"; do cp "$f" "$DICT_DIR/"; done
fi
dict_sha=$( (cd "$DICT_DIR" && for f in $(ls | LC_ALL=C sort); do echo "$f $(sha256sum "$f" | cut -c1-64)"; done) | sha256sum | cut -c1-64)

force=()
latest=$(ls -t models/*.tar.gz 2>/dev/null | head -n1 || true)
if [ -z "$latest" ]; then
  say "no model yet: training (about 2 minutes on 2 cores)"
elif [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$dict_sha" ]; then
  say "jieba dictionary changed since the last model: forcing a retrain"
  force=(--force)
fi

export TF_CPP_MIN_LOG_LEVEL=3 SQLALCHEMY_SILENCE_UBER_WARNING=1 RASA_TELEMETRY_ENABLED=false
"$RASA" train --config config.yml --domain bot/domain.yml --data bot/data --out models \
  --fixed-model-name xiaobao "${force[@]}"
echo "$dict_sha" > "$STAMP"

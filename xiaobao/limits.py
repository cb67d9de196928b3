"""Abuse limits: sliding windows in Redis, one small Lua script, shared by every gateway.

``hit(redis, name, key, limit, window_s)`` counts one request of ``key`` (a visitor, a client
address, a phone number, a username) against ``limit`` per ``window_s`` and answers whether it
may go on and, if not, after how many seconds. Each key is a sorted set of request times that
expires with its window, so no key an anonymous request creates lives without a TTL. Keys are
hashed: a phone number is never stored in Redis in the clear. When Redis is down the limiter
lets traffic through and logs it — the chat keeps answering.
"""
from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from dataclasses import dataclass

import redis as redis_lib

log = logging.getLogger(__name__)

# KEYS[1] the window's set; ARGV: now (ms), window (ms), limit, a unique member.
# Drops what fell out of the window, then counts; admits and records when under the limit,
# else returns the ms until the oldest entry leaves the window.
_SLIDING_WINDOW = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
redis.call('PEXPIRE', key, window)
return {0, math.max(1, tonumber(oldest[2]) + window - now)}
"""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0


class LimitExceeded(Exception):
    """Over a limit: the gateway answers 429 with ``Retry-After``."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


def limit_key(name: str, key: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"xiaobao:limit:{name}:{digest}"


def hit(r: redis_lib.Redis, name: str, key: str, limit: int, window_s: float) -> Verdict:
    """Count one request of ``key`` in the ``name`` window; a limit of 0 or less is no limit."""
    if limit <= 0 or not key:
        return Verdict(True)
    now_ms = int(time.time() * 1000)
    try:
        allowed, wait_ms = r.eval(_SLIDING_WINDOW, 1, limit_key(name, key), now_ms,
                                  int(window_s * 1000), limit,
                                  f"{now_ms}-{secrets.token_hex(4)}")
    except redis_lib.RedisError as exc:
        log.warning("rate limiter: Redis unavailable (%s); letting %s through", exc, name)
        return Verdict(True)
    return Verdict(bool(allowed), int(math.ceil(int(wait_ms) / 1000)) if not allowed else 0)


def enforce(r: redis_lib.Redis, name: str, key: str, limit: int, window_s: float,
            what: str) -> None:
    """:func:`hit`, raising :class:`LimitExceeded` with a Chinese/English message when over."""
    verdict = hit(r, name, key, limit, window_s)
    if not verdict.allowed:
        raise LimitExceeded(f"{what}过于频繁，请{_wait_text(verdict.retry_after_s)}后再试。"
                            f" / Too many requests ({name}); retry in {verdict.retry_after_s} s.",
                            verdict.retry_after_s)


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}秒"
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)}分钟"
    return f"{math.ceil(seconds / 3600)}小时"

"""Abuse limits: sliding windows in Redis, one small Lua script, shared by every gateway.

``hit(redis, name, key, limit, window_s)`` counts one request of ``key`` (a visitor, a client
address, a phone number, a username) against ``limit`` per ``window_s`` and answers whether it
may go on and, if not, after how many seconds. Each key is a sorted set of request times that
expires with its window, so no key an anonymous request creates lives without a TTL. Keys are
hashed: a phone number is never stored in Redis in the clear. When Redis is down the limiter
lets traffic through and logs it — the chat keeps answering.

``failure_delay_s`` / ``record_failure`` / ``reset_failures`` are the other kind of limit: a
delay after repeated failures (the console's login) that doubles with each further failure, up
to a cap, and is forgotten on success or some time after the last failure.
"""
from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from dataclasses import dataclass

import redis as redis_lib

from xiaobao.errors import XiaobaoError

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


# KEYS[1] the key's hash; ARGV: now (ms), failures without delay, first delay (ms), cap (ms),
# how long the count is remembered after the delay ends (ms). Returns the delay now imposed.
_FAILURE = """
local key, now, free = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local first, cap, memory = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local n = redis.call('HINCRBY', key, 'failures', 1)
local delay = 0
if n >= free then delay = math.min(cap, first * 2 ^ math.min(n - free, 40)) end
redis.call('HSET', key, 'until', string.format('%d', now + delay))
redis.call('PEXPIRE', key, string.format('%d', delay + memory))
return delay
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0
    degraded: bool = False  # Redis was unavailable: let through without counting


class LimitExceeded(XiaobaoError):
    """Over a limit: the gateway answers 429 with ``Retry-After``."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_s))})
        self.retry_after_s = retry_after_s


def limit_key(name: str, key: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"xiaobao:limit:{name}:{digest}"


def hit(r: redis_lib.Redis, name: str, key: str, limit: int, window_s: float) -> Verdict:
    """Count one request of ``key`` in the ``name`` window; a limit of 0 or less is no limit."""
    if limit <= 0 or not key:
        return Verdict(True)
    now_ms = _now_ms()
    try:
        allowed, wait_ms = r.eval(_SLIDING_WINDOW, 1, limit_key(name, key), now_ms,
                                  int(window_s * 1000), limit,
                                  f"{now_ms}-{secrets.token_hex(4)}")
    except redis_lib.RedisError as exc:
        log.warning("rate limiter: Redis unavailable (%s); letting %s through", exc, name)
        return Verdict(True, degraded=True)
    return Verdict(bool(allowed), int(math.ceil(int(wait_ms) / 1000)) if not allowed else 0)


def enforce(r: redis_lib.Redis, name: str, key: str, limit: int, window_s: float,
            what: str) -> Verdict:
    """:func:`hit`, raising :class:`LimitExceeded` with a Chinese/English message when over."""
    verdict = hit(r, name, key, limit, window_s)
    if not verdict.allowed:
        raise LimitExceeded(f"{what}过于频繁，请{wait_text(verdict.retry_after_s)}后再试。"
                            f" / Too many requests ({name}); retry in {verdict.retry_after_s} s.",
                            verdict.retry_after_s)
    return verdict


def wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}秒"
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)}分钟"
    return f"{math.ceil(seconds / 3600)}小时"


# --- a doubling delay after repeated failures ------------------------------------------------

def failure_delay_s(r: redis_lib.Redis, name: str, key: str) -> int:
    """Seconds ``key`` must still wait before its next attempt (0: it may go on now)."""
    try:
        until = r.hget(limit_key(name, key), "until")
    except redis_lib.RedisError as exc:
        log.warning("failure delay: Redis unavailable (%s); letting %s through", exc, name)
        return 0
    remaining_ms = int(until or 0) - _now_ms()
    return math.ceil(remaining_ms / 1000) if remaining_ms > 0 else 0


def record_failure(r: redis_lib.Redis, name: str, key: str, *, free: int, first_s: float = 1.0,
                   cap_s: float = 900.0, memory_s: float = 24 * 3600) -> int:
    """Count one failure of ``key``: from the ``free``-th on, the next attempt must wait
    ``first_s``, then twice that after each further failure, at most ``cap_s``. The count is
    forgotten ``memory_s`` after the delay ends (the key's TTL). Returns the delay in seconds."""
    try:
        delay_ms = r.eval(_FAILURE, 1, limit_key(name, key), _now_ms(), max(1, free),
                          int(first_s * 1000), int(cap_s * 1000), int(memory_s * 1000))
    except redis_lib.RedisError as exc:
        log.warning("failure delay: Redis unavailable (%s); %s not counted", exc, name)
        return 0
    return math.ceil(int(delay_ms) / 1000)


def reset_failures(r: redis_lib.Redis, name: str, key: str) -> None:
    """A success: ``key`` starts afresh."""
    try:
        r.delete(limit_key(name, key))
    except redis_lib.RedisError as exc:
        log.warning("failure delay: Redis unavailable (%s); %s not reset", exc, name)

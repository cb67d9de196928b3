"""Every Redis client of the project is made here, so one place knows how we connect.

The gateway's clients fail fast while Redis is down (a short connect and read timeout, one
retry with jittered backoff): a turn degrades to the database instead of hanging. The command
line and the background listeners take longer timeouts of their own. A Sentinel-aware
client, when the deployment has one, is one more branch here; no caller changes.
"""
from __future__ import annotations

import redis
import redis.asyncio as aredis
import redis.asyncio.retry
import redis.retry
from redis.backoff import ExponentialWithJitterBackoff

GATEWAY_CONNECT_TIMEOUT_S = 0.5
GATEWAY_READ_TIMEOUT_S = 2.0  # no gateway call blocks in Redis; pub/sub reads pass their own


def _backoff() -> ExponentialWithJitterBackoff:
    return ExponentialWithJitterBackoff(base=0.05, cap=0.25)


def client(url: str, *, text: bool = True, connect_timeout_s: float | None = None,
           read_timeout_s: float | None = None) -> redis.Redis:
    """A blocking client. ``text``: replies as ``str`` (the queue, the purge); bytes otherwise
    (pub/sub announcements). No timeout unless given: a pub/sub listener waits for ever."""
    return redis.Redis.from_url(url, decode_responses=text,
                                socket_connect_timeout=connect_timeout_s,
                                socket_timeout=read_timeout_s)


def gateway_clients(url: str) -> tuple[redis.Redis, aredis.Redis]:
    """The gateway's clients (blocking and asyncio), failing fast while Redis is down."""
    blocking = redis.Redis.from_url(
        url, decode_responses=True, retry=redis.retry.Retry(_backoff(), 1),
        socket_connect_timeout=GATEWAY_CONNECT_TIMEOUT_S, socket_timeout=GATEWAY_READ_TIMEOUT_S)
    asynchronous = aredis.Redis.from_url(
        url, decode_responses=True, retry=redis.asyncio.retry.Retry(_backoff(), 1),
        socket_connect_timeout=GATEWAY_CONNECT_TIMEOUT_S, socket_timeout=GATEWAY_READ_TIMEOUT_S)
    return blocking, asynchronous

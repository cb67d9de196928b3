"""Every Redis client of the project is made here, so one place knows how we connect.

The gateway's clients fail fast while Redis is down (a short connect and read timeout, one
retry with jittered backoff): a turn degrades to the database instead of hanging. The command
line and the background listeners take longer timeouts of their own.

An address is a ``redis://`` URL or, behind Sentinel, ``redis+sentinel://`` (built by the
settings from ``XIAOBAO_REDIS_SENTINELS``): the client then asks the Sentinels which server is
the primary at every (re)connect, so after a failover its retry lands on the promoted replica
and no caller changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

import redis
import redis.asyncio as aredis
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.retry
import redis.sentinel
from redis.backoff import ExponentialWithJitterBackoff

GATEWAY_CONNECT_TIMEOUT_S = 0.5
GATEWAY_READ_TIMEOUT_S = 2.0  # no gateway call blocks in Redis; pub/sub reads pass their own
SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_TIMEOUT_S = 0.5  # a Sentinel answers from memory; a dead one is skipped quickly


def _backoff() -> ExponentialWithJitterBackoff:
    return ExponentialWithJitterBackoff(base=0.05, cap=0.25)


@dataclass(frozen=True)
class SentinelAddress:
    """Where the Sentinels are and which primary to ask them for."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    password: str = ""
    sentinel_password: str = ""


def parse_sentinels(text: str) -> tuple[tuple[str, int], ...]:
    """``"h1:26379, h2:26379"`` → ``(("h1", 26379), ("h2", 26379))``."""
    found = []
    for part in text.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a Sentinel must be host:port, not {part.strip()!r}")
        found.append((host, int(port)))
    return tuple(found)


def sentinel_url(sentinels: str, master: str, *, db: int = 0, password: str = "",
                 sentinel_password: str = "") -> str:
    """The one-string address of a primary behind Sentinel (what the settings hand out)."""
    hosts = ",".join(f"{h}:{p}" for h, p in parse_sentinels(sentinels))
    auth = f":{quote(sentinel_password, safe='')}@" if sentinel_password else ""
    query = f"?password={quote(password, safe='')}" if password else ""
    return f"{SENTINEL_SCHEME}://{auth}{hosts}/{quote(master, safe='')}/{db}{query}"


def plain_url_with_password(url: str, password: str) -> str:
    """``url`` with ``password`` added when it carries none of its own."""
    parts = urlsplit(url)
    if not password or parts.password or "@" in parts.netloc:
        return url
    netloc = f":{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def sentinel_address(url: str) -> SentinelAddress | None:
    """The Sentinel address a ``redis+sentinel://`` URL names; None for any other URL."""
    scheme, _, rest = url.partition("://")
    if scheme != SENTINEL_SCHEME:
        return None
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    auth, _, hosts = netloc.rpartition("@")
    master, _, db = path.partition("/")
    params = parse_qs(query)
    return SentinelAddress(
        sentinels=parse_sentinels(hosts), master=unquote(master),
        db=int(db.strip("/") or 0), password=params.get("password", [""])[0],
        sentinel_password=unquote(auth.partition(":")[2]))


def _sentinel_kwargs(address: SentinelAddress) -> dict[str, Any]:
    return {"password": address.sentinel_password or None,
            "socket_connect_timeout": SENTINEL_TIMEOUT_S, "socket_timeout": SENTINEL_TIMEOUT_S}


def _master(address: SentinelAddress, **kwargs: Any) -> redis.Redis:
    sentinel = redis.sentinel.Sentinel(list(address.sentinels),
                                       sentinel_kwargs=_sentinel_kwargs(address))
    return sentinel.master_for(address.master, db=address.db,
                               password=address.password or None, **kwargs)


def _async_master(address: SentinelAddress, **kwargs: Any) -> aredis.Redis:
    sentinel = redis.asyncio.sentinel.Sentinel(list(address.sentinels),
                                               sentinel_kwargs=_sentinel_kwargs(address))
    return sentinel.master_for(address.master, db=address.db,
                               password=address.password or None, **kwargs)


def client(url: str, *, text: bool = True, connect_timeout_s: float | None = None,
           read_timeout_s: float | None = None) -> redis.Redis:
    """A blocking client. ``text``: replies as ``str`` (the queue, the purge); bytes otherwise
    (pub/sub announcements). No timeout unless given: a pub/sub listener waits for ever."""
    kwargs: dict[str, Any] = {"decode_responses": text,
                              "socket_connect_timeout": connect_timeout_s,
                              "socket_timeout": read_timeout_s}
    address = sentinel_address(url)
    if address is not None:
        return _master(address, **kwargs)
    return redis.Redis.from_url(url, **kwargs)


def gateway_clients(url: str) -> tuple[redis.Redis, aredis.Redis]:
    """The gateway's clients (blocking and asyncio), failing fast while Redis is down."""
    common: dict[str, Any] = {"decode_responses": True,
                              "socket_connect_timeout": GATEWAY_CONNECT_TIMEOUT_S,
                              "socket_timeout": GATEWAY_READ_TIMEOUT_S}
    blocking_retry = redis.retry.Retry(_backoff(), 1)
    async_retry = redis.asyncio.retry.Retry(_backoff(), 1)
    address = sentinel_address(url)
    if address is not None:
        return (_master(address, retry=blocking_retry, **common),
                _async_master(address, retry=async_retry, **common))
    return (redis.Redis.from_url(url, retry=blocking_retry, **common),
            aredis.Redis.from_url(url, retry=async_retry, **common))

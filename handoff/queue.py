"""Redis Streams: the work queue (SQL is the record; see :mod:`handoff.store`).

Layout ("1+N": one request function routes in SQL, N department streams carry the work):
- ``xiaobao:queue:<channel>:<department>:<high|normal>``: department streams, group ``helpers``,
  one consumer per helper. ``high`` is read before ``normal``.
- ``xiaobao:ticket:<id>``: which stream entry currently carries a ticket, so anyone can ack it.
- ``xiaobao:helper:<username>:alive``: a helper's heartbeat, with a TTL.
- ``xiaobao:mode:<conversation>``: a cache of who answers the conversation (SQL's
  ``conversation_modes`` is the record), kept ``MODE_TTL_S``: a miss re-reads SQL, and a visitor
  who never returns leaves nothing behind.

The idle-time trap: ``XAUTOCLAIM`` measures idle time from the last delivery, not from the
helper's last word, so an entry left pending through a long live chat would be stolen from a
helper who is answering. We acknowledge the entry at the helper's first response; from then on
the helper's liveness is the heartbeat key, and a helper who vanishes mid-conversation is
handled by :func:`handoff.duty.sweep_gone_helpers`, not by XAUTOCLAIM.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

import redis as redis_lib

from xiaobao import redis_clients

HELPER_GROUP = "helpers"
MODE_TTL_S = 24 * 3600

T = TypeVar("T")


def connect(url: str) -> redis_lib.Redis:
    """A client for ``url`` answering ``str`` (the gateway builds one; the CLI builds its own)."""
    return redis_clients.client(url)


def _s(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def queue_key(channel: str, department: str, high: bool) -> str:
    return f"xiaobao:queue:{channel}:{department}:{'high' if high else 'normal'}"


def ticket_key(ticket_id: str) -> str:
    return f"xiaobao:ticket:{ticket_id}"


def alive_key(username: str) -> str:
    return f"xiaobao:helper:{username}:alive"


def mode_key(conversation_id: str) -> str:
    return f"xiaobao:mode:{conversation_id}"


def set_mode(r: redis_lib.Redis, conversation_id: str, mode: str, ticket_id: str) -> None:
    """Cache the conversation's mode (``mode|ticket``) for ``MODE_TTL_S``."""
    r.set(mode_key(conversation_id), f"{mode}|{ticket_id}", ex=MODE_TTL_S)


def ensure_group(r: redis_lib.Redis, key: str, group: str) -> None:
    try:
        r.xgroup_create(key, group, id="0", mkstream=True)
    except redis_lib.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _with_group(r: redis_lib.Redis, key: str, group: str, op: Callable[[], T]) -> T:
    """Run ``op``; if the group is missing (first use, or Redis lost its data) create it and
    retry."""
    try:
        return op()
    except redis_lib.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        ensure_group(r, key, group)
        return op()


# --- the department streams ------------------------------------------------------------------

def enqueue(r: redis_lib.Redis, ticket_id: str, channel: str, department: str, high: bool) -> str:
    """Put a ticket at the tail of its department stream and remember where it is."""
    key = queue_key(channel, department, high)
    ensure_group(r, key, HELPER_GROUP)
    entry = _s(r.xadd(key, {"ticket_id": ticket_id}))
    r.hset(ticket_key(ticket_id), mapping={"stream": key, "entry": entry})
    return entry



# --- helpers' side ------------------------------------------------------------------------------

def reclaim_one(r: redis_lib.Redis, key: str, consumer: str, min_idle_ms: int
                ) -> tuple[str, str] | None:
    """An entry pending longer than ``min_idle_ms`` on any consumer, now this consumer's."""
    res = _with_group(r, key, HELPER_GROUP, lambda: r.xautoclaim(
        key, HELPER_GROUP, consumer, min_idle_ms, "0-0", count=1))
    for entry_id, fields in (res[1] if res else []):
        if fields:
            return _s(entry_id), _s(fields.get("ticket_id", ""))
    return None


def read_one(r: redis_lib.Redis, key: str, consumer: str) -> tuple[str, str] | None:
    """The next never-delivered entry, delivered to this consumer only (XREADGROUP)."""
    # The client speaks RESP2: a list of [stream, [(entry id, fields), …]].
    res = cast("list[list[Any]] | None", _with_group(r, key, HELPER_GROUP, lambda: r.xreadgroup(
        HELPER_GROUP, consumer, {key: ">"}, count=1)))
    for _stream, items in res or []:
        for entry_id, fields in items:
            return _s(entry_id), _s((fields or {}).get("ticket_id", ""))
    return None


def done(r: redis_lib.Redis, key: str, entry_id: str) -> None:
    """Acknowledge and delete an entry: the ticket no longer needs the queue's delivery."""
    pipe = r.pipeline(transaction=False)
    pipe.xack(key, HELPER_GROUP, entry_id)
    pipe.xdel(key, entry_id)
    pipe.execute()


def release_ticket(r: redis_lib.Redis, ticket_id: str) -> None:
    """Ack whatever entry carries ``ticket_id`` (first response, close, leader take-over)."""
    meta = r.hgetall(ticket_key(ticket_id))
    if meta:
        done(r, _s(meta["stream"]), _s(meta["entry"]))
        r.delete(ticket_key(ticket_id))


def is_enqueued(r: redis_lib.Redis, ticket_id: str) -> bool:
    """True when the entry recorded for the ticket still exists in its stream."""
    meta = r.hgetall(ticket_key(ticket_id))
    if not meta:
        return False
    entry = _s(meta["entry"])
    return bool(r.xrange(_s(meta["stream"]), entry, entry))


def head_age_key(r: redis_lib.Redis, keys: Iterable[str]) -> list[str]:
    """``keys`` ordered by their oldest undelivered entry, so a helper of several departments
    takes the longest-waiting ticket first (a hint only: the read itself is atomic)."""
    order = []
    for key in keys:
        try:
            groups = r.xinfo_groups(key)
        except redis_lib.ResponseError:
            continue
        last = next((_s(g["last-delivered-id"]) for g in groups
                     if _s(g["name"]) == HELPER_GROUP), "0-0")
        nxt = r.xrange(key, f"({last}", "+", count=1)
        if nxt:
            ms, seq = _s(nxt[0][0]).split("-")
            order.append(((int(ms), int(seq)), key))
    return [key for _age, key in sorted(order)]


def heartbeat(r: redis_lib.Redis, username: str, ttl_s: float) -> None:
    r.set(alive_key(username), "1", px=max(1, int(ttl_s * 1000)))


def clear_heartbeat(r: redis_lib.Redis, username: str) -> None:
    r.delete(alive_key(username))


def alive(r: redis_lib.Redis, usernames: Iterable[str]) -> set[str]:
    names = list(dict.fromkeys(usernames))
    if not names:
        return set()
    values = r.mget([alive_key(n) for n in names])
    return {n for n, v in zip(names, values) if v is not None}

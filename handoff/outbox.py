"""The outbox: what a committed ticket change still has to tell Redis (and the bot).

A state change writes its SQL rows and, in the same transaction, outbox rows saying what to
publish: put the ticket in a stream, acknowledge its entry, cache the conversation's mode,
send a live event, hand the conversation back to the bot. After the commit the same caller
publishes them (:func:`transaction`), and the gateway's timer drains whatever is left
(:func:`drain`): while Redis is down, changes wait here and nothing is lost.

Rows are published in primary-key order. A row being published is "claimed" for a short
while (``claimed_until``), so two gateways draining at once do not both publish it.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import redis as redis_lib
from sqlalchemy import (
    JSON,
    CursorResult,
    DateTime,
    Integer,
    String,
    and_,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from handoff import queue
from handoff.context import HandoffContext, Returned
from xiaobao.clock import utcnow
from xiaobao.db import Base, session_scope

log = logging.getLogger(__name__)

ENQUEUE, RELEASE, HOLD, MODE, RELAY, RETURNED = ("enqueue", "release", "hold", "mode", "relay",
                                                 "returned")
KINDS = (ENQUEUE, RELEASE, HOLD, MODE, RELAY, RETURNED)
CLAIM_S = 5.0  # a publisher that died mid-way: its rows are taken over after this
_SESSION_KEY = "handoff_outbox_pks"


class OutboxRow(Base):
    __tablename__ = "handoff_outbox"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(96))
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                    index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)


def relay_channel(conversation_id: str) -> str:
    return f"xiaobao:relay:{conversation_id}"


def add(session: Session, conversation_id: str, kind: str, /, **payload: object) -> None:
    """Queue one publication in the caller's transaction (claimed by the caller)."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    row = OutboxRow(conversation_id=conversation_id, kind=kind, payload=payload,
                    created_at=utcnow(), attempts=0,
                    claimed_until=utcnow() + dt.timedelta(seconds=CLAIM_S))
    session.add(row)
    session.flush()
    session.info.setdefault(_SESSION_KEY, []).append(row.pk)


@contextmanager
def transaction(ctx: HandoffContext) -> Iterator[Session]:
    """A transaction whose outbox rows are published right after it commits."""
    with session_scope(ctx.engine) as session:
        yield session
        pks = list(session.info.pop(_SESSION_KEY, []))
    if pks:
        publish(ctx, pks)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _apply(ctx: HandoffContext, row: OutboxRow) -> bool:
    """Publish one row; False when it must wait (no bot hook here, or the bot said not yet)."""
    r, p = ctx.redis, row.payload
    if row.kind == ENQUEUE:
        queue.enqueue(r, p["ticket_id"], p["channel"], p["department"], bool(p["high"]))
    elif row.kind == RELEASE:
        queue.release_ticket(r, p["ticket_id"])
    elif row.kind == HOLD:
        r.hset(queue.ticket_key(p["ticket_id"]), mapping={"stream": p["stream"],
                                                           "entry": p["entry"]})
    elif row.kind == MODE:
        queue.set_mode(r, row.conversation_id, p["mode"], p["ticket_id"])
    elif row.kind == RELAY:
        r.publish(relay_channel(row.conversation_id), json.dumps(p, ensure_ascii=False))
    elif row.kind == RETURNED:
        if ctx.on_returned is None:
            return False
        return bool(ctx.on_returned(Returned(row.conversation_id, p["ticket_id"], p["status"])))
    return True


def publish(ctx: HandoffContext, pks: list[int]) -> int:
    """Publish these rows (this caller's, just committed); returns how many went out.

    On a Redis failure the rest stay for :func:`drain`: later rows of a conversation never
    overtake an earlier one that failed.
    """
    with session_scope(ctx.engine) as s:
        rows = list(s.scalars(select(OutboxRow).where(OutboxRow.pk.in_(pks))
                              .order_by(OutboxRow.pk)))
        for row in rows:
            s.expunge(row)
    return _publish_rows(ctx, rows)


def _publish_rows(ctx: HandoffContext, rows: list[OutboxRow]) -> int:
    done: list[int] = []
    later: list[OutboxRow] = []
    blocked: set[str] = set()
    for row in rows:
        if row.conversation_id in blocked:
            continue
        try:
            ok = _apply(ctx, row)
        except redis_lib.RedisError as exc:
            log.warning("outbox: Redis unavailable (%s); %d rows wait", exc, len(rows) - len(done))
            break
        except Exception:  # the bot hook: retried later, never lost
            log.exception("outbox: %s for %s failed", row.kind, row.conversation_id)
            ok = False
        if ok:
            done.append(row.pk)
        elif row.kind == RETURNED:
            later.append(row)
        else:
            blocked.add(row.conversation_id)
    waiting = [row.pk for row in rows if row.pk not in done and row not in later]
    with session_scope(ctx.engine) as s:
        if done:
            s.execute(delete(OutboxRow).where(OutboxRow.pk.in_(done)))
        if waiting:
            # We are no longer publishing these (Redis failed): release them for the next
            # drain at once instead of holding them until the claim runs out.
            s.execute(update(OutboxRow).where(OutboxRow.pk.in_(waiting))
                      .values(claimed_until=None))
        for row in later:
            if ctx.on_returned is None:
                # Nobody here can hand it back: leave it for a gateway, at once.
                s.execute(update(OutboxRow).where(OutboxRow.pk == row.pk)
                          .values(claimed_until=None))
                continue
            wait = min(60, 2 ** min(row.attempts, 6))
            s.execute(update(OutboxRow).where(OutboxRow.pk == row.pk).values(
                attempts=row.attempts + 1,
                claimed_until=utcnow() + dt.timedelta(seconds=wait)))
    return len(done)


def drain(ctx: HandoffContext, *, conversation_id: str | None = None, limit: int = 500,
          retry_now: bool = False) -> int:
    """Publish rows nobody is publishing (their claim ran out); the gateway's timer calls this.

    With ``conversation_id``: that conversation's rows only (a user retrying their own change
    should not wait for a timer). Rows another caller is publishing right now stay theirs, so
    a row is never published twice; rows a failed publish left behind are free at once.
    With ``retry_now`` too: that conversation's hand-backs waiting out a back-off after a
    failure are tried at once (the caller has just seen the bot answer again). Such a row is
    told from one a timer is publishing at that very moment only by its failed attempts, so
    in that rare race the hand-back is delivered twice; the rating is still asked once
    (:mod:`handoff.rating_prompt`).
    """
    now = utcnow()
    free = or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now)
    if retry_now and conversation_id is not None:
        free = or_(free, and_(OutboxRow.kind == RETURNED, OutboxRow.attempts > 0))
    with session_scope(ctx.engine) as s:
        q = (select(OutboxRow.pk).order_by(OutboxRow.pk).limit(limit).where(free))
        if conversation_id is not None:
            q = q.where(OutboxRow.conversation_id == conversation_id)
        if ctx.on_returned is None:
            q = q.where(OutboxRow.kind != RETURNED)
        candidates = list(s.scalars(q))
        mine = []
        for pk in candidates:
            cond = [OutboxRow.pk == pk, free]
            got = cast("CursorResult[Any]", s.execute(update(OutboxRow).where(*cond).values(
                claimed_until=now + dt.timedelta(seconds=CLAIM_S))
                .execution_options(synchronize_session=False))).rowcount
            if got == 1:
                mine.append(pk)
    if not mine:
        return 0
    return publish(ctx, mine)


def pending(ctx: HandoffContext, conversation_id: str | None = None, kind: str | None = None
            ) -> int:
    """Rows not yet published (all, or of one conversation): a gauge and a test's check."""
    with session_scope(ctx.engine) as s:
        q = select(OutboxRow.pk)
        if conversation_id is not None:
            q = q.where(OutboxRow.conversation_id == conversation_id)
        if kind is not None:
            q = q.where(OutboxRow.kind == kind)
        return len(list(s.scalars(q)))

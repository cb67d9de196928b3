"""Rebuild Redis from SQL after Redis lost its data (it keeps nothing on disk here).

The gateway runs :func:`recover` at start-up; running it again changes nothing. Afterwards a
waiting user is still waiting (their ticket is back in its stream, in its old order), a user
with a helper is still with that helper (ownership lives in SQL; the conversation mode is
restored), and helpers who hold tickets get one heartbeat period of grace to reconnect before
:func:`handoff.duty.sweep_gone_helpers` treats them as gone.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select

from handoff import outbox, queue
from handoff.context import HandoffContext
from handoff.store import ConversationMode, HelperStatus, Ticket
from handoff.tickets import OWNED_STATES, WAITING_STATES
from xiaobao.db import session_scope
from xiaobao.enums import CHANNELS

LOCK_KEY = "xiaobao:recovery:lock"
# Set when recovery finishes. Redis losing its data loses this key too, which is how a gateway
# that kept running through a Redis restart notices and recovers (see ensure_recovered).
EPOCH_KEY = "xiaobao:recovered"


@dataclass(frozen=True)
class RecoveryReport:
    requeued: int  # waiting tickets that were missing from their stream and were put back
    already_queued: int
    owned: int  # tickets held by a helper (nothing to queue; mode and heartbeat restored)
    modes_restored: int
    helpers_restored: int
    outbox_published: int
    skipped: bool = False  # another process held the recovery lock


def recover(ctx: HandoffContext, *, lock_timeout_s: float = 60) -> RecoveryReport:
    """Re-queue every open waiting ticket from SQL and restore conversation modes; idempotent.

    Two gateways starting together: one recovers, the other waits for it and returns
    ``skipped=True`` (entries are never doubled by a concurrent run).
    """
    r = ctx.redis
    token = secrets.token_hex(8)
    if not r.set(LOCK_KEY, token, nx=True, px=int(lock_timeout_s * 1000)):
        deadline = time.monotonic() + lock_timeout_s
        while r.exists(LOCK_KEY) and time.monotonic() < deadline:
            time.sleep(0.1)
        return RecoveryReport(0, 0, 0, 0, 0, 0, skipped=True)
    try:
        return _recover(ctx)
    finally:
        if queue._s(r.get(LOCK_KEY) or "") == token:
            r.delete(LOCK_KEY)


def _recover(ctx: HandoffContext) -> RecoveryReport:
    r, config = ctx.redis, ctx.config
    for channel in CHANNELS:
        for dept in config.departments:
            for high in (True, False):
                queue.ensure_group(r, queue.queue_key(channel, dept, high), queue.HELPER_GROUP)
    # What committed changes had still to publish (Redis was down) goes out first.
    published = outbox.drain(ctx)

    with session_scope(ctx.engine) as s:
        waiting = s.execute(select(Ticket.id, Ticket.channel, Ticket.department, Ticket.priority)
                            .where(Ticket.status.in_(WAITING_STATES))
                            .order_by(Ticket.priority.desc(), Ticket.queued_at, Ticket.id)).all()
        owned = s.execute(select(Ticket.id, Ticket.helper)
                          .where(Ticket.status.in_(OWNED_STATES))).all()
        modes = s.execute(select(ConversationMode.conversation_id, ConversationMode.mode,
                                 ConversationMode.ticket_id)
                          .where(ConversationMode.mode != "bot")).all()
        on_duty = list(s.scalars(select(HelperStatus.username)
                                 .where(HelperStatus.status == "on_duty")))

    requeued = already = 0
    for ticket_id, channel, department, priority in waiting:
        if queue.is_enqueued(r, ticket_id):
            already += 1
            continue
        queue.enqueue(r, ticket_id, channel, department, bool(priority))
        requeued += 1

    for conversation_id, mode, ticket_id in modes:
        queue.set_mode(r, conversation_id, mode, ticket_id)

    # Grace: heartbeats were lost with everything else. Holders of tickets and helpers on duty
    # get one period to reconnect, so nobody's live chat is taken away by the flush itself.
    helpers = {h for _t, h in owned if h} | set(on_duty)
    restored = 0
    for name in helpers:
        if r.set(queue.alive_key(name), "1", nx=True, px=int(config.heartbeat_ttl_s * 1000)):
            restored += 1
    r.set(EPOCH_KEY, str(time.time()))
    return RecoveryReport(requeued=requeued, already_queued=already, owned=len(owned),
                          modes_restored=len(modes), helpers_restored=restored,
                          outbox_published=published)


def ensure_recovered(ctx: HandoffContext) -> bool:
    """Run :func:`recover` if Redis has lost its data since the last recovery; True if it ran.

    One EXISTS per call: claims and queue overviews call this, so a Redis restart under a
    running gateway heals itself at the next claim instead of waiting for a gateway restart.
    """
    if ctx.redis.exists(EPOCH_KEY):
        return False
    recover(ctx)
    return True

"""Helpers on duty: status, heartbeats, who is live, load against the cap, and the sweep that
puts back the tickets of helpers who went away."""
from __future__ import annotations

import threading
import time

import redis as redis_lib
from sqlalchemy import func, select

from handoff import outbox, queue, transitions
from handoff.context import HandoffContext
from handoff.store import HelperStatus, Ticket
from handoff.tickets import CLAIMED, OWNED_STATES, QUEUED, HandoffError, NotAllowed
from xiaobao import policy
from xiaobao.accounts import Account
from xiaobao.clock import aware, utcnow
from xiaobao.db import session_scope

ON_DUTY, AWAY = "on_duty", "away"


def departments_of(helper: policy.Actor) -> list[str]:
    """The departments a helper claims from; NotAllowed when they cannot claim at all."""
    try:
        return policy.ticket_departments(helper)
    except policy.Denied as exc:
        raise NotAllowed(exc.message) from None


def set_helper_status(helper: policy.Actor, status: str, *, ctx: HandoffContext,
                      cap: int | None = None) -> None:
    """On duty (``on_duty``) or away (``away``); an away helper is offered no ticket."""
    if status not in (ON_DUTY, AWAY):
        raise HandoffError(f"未知状态：{status}。 / Unknown status {status!r}.")
    departments_of(helper)
    with session_scope(ctx.engine) as s:
        row = s.get(HelperStatus, helper.username)
        if row is None:
            row = HelperStatus(username=helper.username)
            s.add(row)
        row.status, row.updated_at = status, utcnow()
        if cap is not None:
            row.cap = max(1, int(cap))
    if status == ON_DUTY:
        queue.heartbeat(ctx.redis, helper.username, ctx.config.heartbeat_ttl_s)
    else:
        queue.clear_heartbeat(ctx.redis, helper.username)


def helper_state(helper: policy.Actor, *, ctx: HandoffContext) -> dict:
    """``{"status", "cap"}`` as the console shows it."""
    with session_scope(ctx.engine) as s:
        row = s.get(HelperStatus, helper.username)
        return {"status": row.status if row else AWAY,
                "cap": row.cap if row and row.cap else ctx.config.concurrency_cap}


def helper_heartbeat(helper: policy.Actor, *, ctx: HandoffContext) -> None:
    """Call every ~heartbeat_ttl_s/3 while the console is open; silence means "gone away"."""
    queue.heartbeat(ctx.redis, helper.username, ctx.config.heartbeat_ttl_s)


def helpers_on_duty(department: str, *, ctx: HandoffContext) -> list[str]:
    """Usernames of active helpers of ``department`` marked on duty and with a live heartbeat."""
    with session_scope(ctx.engine) as s:
        names = list(s.scalars(select(HelperStatus.username)
                               .where(HelperStatus.status == ON_DUTY)))
        if not names:
            return []
        accounts = list(s.scalars(select(Account).where(Account.username.in_(names),
                                                        Account.active.is_(True))))
        members = [a.username for a in accounts
                   if department in (a.departments or []) and policy.works_tickets(a)]
    try:
        live = queue.alive(ctx.redis, members)
    except redis_lib.RedisError:
        # Redis is down: nobody can claim (claims go through Redis), so nobody counts as on
        # duty, and a request committed meanwhile still gets its receipt (offering 留言).
        return []
    return [n for n in members if n in live]


def cap_and_load(helper: str, *, ctx: HandoffContext) -> tuple[str, int, int]:
    """(status, cap, tickets held now)."""
    with session_scope(ctx.engine) as s:
        row = s.get(HelperStatus, helper)
        load = s.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.helper == helper, Ticket.status.in_(OWNED_STATES)))
    status = row.status if row else AWAY
    cap = row.cap if row and row.cap else ctx.config.concurrency_cap
    return status, cap, int(load or 0)


_sweep_lock = threading.Lock()
_last_sweep: dict[int, float] = {}


def sweep_gone_helpers(*, ctx: HandoffContext, min_interval_s: float = 0.0) -> list[str]:
    """Put back in the queue (ahead of normal) every open ticket whose helper has no heartbeat,
    and every claimed ticket unanswered past its service level with no stream entry left.

    Claiming runs this at most once a second; the gateway also runs it on a timer.
    """
    with _sweep_lock:
        key = id(ctx.engine)
        if time.monotonic() - _last_sweep.get(key, 0.0) < min_interval_s:
            return []
        _last_sweep[key] = time.monotonic()
    with session_scope(ctx.engine) as s:
        owned = s.execute(select(Ticket.id, Ticket.helper, Ticket.status, Ticket.channel,
                                 Ticket.claimed_at, Ticket.first_response_at)
                          .where(Ticket.status.in_(OWNED_STATES))).all()
    live = queue.alive(ctx.redis, {row.helper for row in owned if row.helper})
    now = utcnow()
    requeued = []
    for row in owned:
        if row.helper not in live:
            note = f"帮办人员{row.helper}已离线，重新排队 / helper gone"
        elif (row.status == CLAIMED and row.first_response_at is None and row.claimed_at
              and (now - aware(row.claimed_at)).total_seconds() > ctx.config.level(row.channel)
              and not queue.is_enqueued(ctx.redis, row.id)):
            # Claimed but unanswered with no stream entry (taken by name, or Redis was
            # rebuilt): XAUTOCLAIM cannot see it, so the service level is enforced here.
            note = "未在服务时限内首次响应，重新排队 / no first response within service level"
        else:
            continue
        try:
            with outbox.transaction(ctx) as s:
                moved = transitions.move(s, row.id, QUEUED, actor="system", reason=note,
                                         expect=OWNED_STATES, expect_helper=row.helper,
                                         helper=None, claimed_at=None, first_response_at=None,
                                         priority=1)
            if moved is not None:
                requeued.append(row.id)
        except HandoffError:
            continue
    return requeued

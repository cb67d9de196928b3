"""Claiming: a helper takes the next ticket of their departments, or one ticket by name.

Priority streams first; within a priority, tickets another helper claimed but did not answer
within the service level (XAUTOCLAIM) before new ones (XREADGROUP). Redis proposes, SQL
decides: :func:`handoff.transitions.move` is a conditional UPDATE, so of two helpers racing
for one ticket exactly one wins.
"""
from __future__ import annotations

import time
from typing import Literal

import redis as redis_lib
from redis.typing import KeyT, StreamIdT

from handoff import duty, outbox, queue, transitions
from handoff.context import HandoffContext
from handoff.store import Ticket, get_ticket
from handoff.tickets import CLAIMED, QUEUED, WAITING_STATES, HandoffError, NotAllowed
from handoff.views import TicketInfo, ticket_info
from xiaobao import policy
from xiaobao.clock import utcnow
from xiaobao.enums import CHANNELS, Channel


def _take(ctx: HandoffContext, username: str, depts: list[str], channel: str, key: str,
          entry_id: str, ticket_id: str, reclaimed: bool) -> Ticket | Literal[False] | None:
    """Try to own the ticket an entry carries. Returns the ticket, None (stale entry, dropped),
    or False (the entry is still valid for someone else: leave it)."""
    with outbox.transaction(ctx) as s:
        t = s.get(Ticket, ticket_id) if ticket_id else None
        moved = None
        if t is None or t.department not in depts or t.channel != channel:
            pass
        elif t.status in WAITING_STATES:
            moved = transitions.move(s, t.id, CLAIMED, actor=username, expect=WAITING_STATES,
                                     stream_entry=(key, entry_id),
                                     event_data={"reclaimed": reclaimed},
                                     helper=username, claimed_at=utcnow())
        elif reclaimed and t.status == CLAIMED and t.first_response_at is None:
            if t.helper == username:
                return False
            moved = transitions.move(
                s, t.id, CLAIMED, actor=username, via=QUEUED, expect={CLAIMED},
                expect_helper=t.helper, stream_entry=(key, entry_id),
                reason=f"{t.helper}未在服务时限内首次响应，收回 / no first response within "
                       f"service level", event_data={"reclaimed": True},
                helper=username, claimed_at=utcnow())
        if moved is not None:
            s.flush()
            s.expunge(moved)
    if moved is None:
        queue.done(ctx.redis, key, entry_id)
        return None
    return moved


def claim_next_ticket(helper: policy.Actor, *, ctx: HandoffContext,
                      channel: str = Channel.ONLINE_HELPER, block_ms: int = 0
                      ) -> TicketInfo | None:
    """Give ``helper`` the next ticket of their departments, or None (empty queue, or at cap).

    With ``block_ms`` the call waits that long for a ticket to arrive.
    """
    depts = duty.departments_of(helper)
    if channel not in CHANNELS:
        raise HandoffError(f"未知渠道：{channel}。 / Unknown channel {channel!r}.")
    status, cap, load = duty.cap_and_load(helper.username, ctx=ctx)
    if status != duty.ON_DUTY:
        raise NotAllowed("请先将状态设为「在岗」再领取工单。 / Set your status to on duty first.")
    if load >= cap:
        return None
    from handoff.recovery import ensure_recovered

    ensure_recovered(ctx)
    queue.heartbeat(ctx.redis, helper.username, ctx.config.heartbeat_ttl_s)
    duty.sweep_gone_helpers(ctx=ctx, min_interval_s=1.0)
    min_idle_ms = int(ctx.config.level(channel) * 1000)
    deadline = time.monotonic() + block_ms / 1000
    keys_by_priority = [[queue.queue_key(channel, dept, high) for dept in depts]
                        for high in (True, False)]
    while True:
        last_ids: dict[KeyT, StreamIdT] = {k: _last_id(ctx.redis, k) for keys in keys_by_priority
                                           for k in keys}
        for keys in keys_by_priority:
            for key in keys:
                while (got := queue.reclaim_one(ctx.redis, key, helper.username, min_idle_ms)):
                    taken = _take(ctx, helper.username, depts, channel, key, *got,
                                  reclaimed=True)
                    if taken is False:
                        break
                    if taken is not None:
                        return ticket_info(taken, helper.username)
            for key in queue.head_age_key(ctx.redis, keys):
                while (got := queue.read_one(ctx.redis, key, helper.username)):
                    taken = _take(ctx, helper.username, depts, channel, key, *got,
                                  reclaimed=False)
                    if taken:
                        return ticket_info(taken, helper.username)
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            return None
        # Wake on any new entry (plain XREAD delivers nothing to anyone), then claim properly.
        ctx.redis.xread(last_ids, block=remaining_ms, count=1)


def _last_id(r: redis_lib.Redis, key: str) -> str:
    last = r.xrevrange(key, "+", "-", count=1)
    return queue._s(last[0][0]) if last else "0-0"


def claim_ticket(ticket_id: str, helper: policy.Actor, *, ctx: HandoffContext) -> TicketInfo:
    """Take one named ticket: a leader taking an escalated ticket, or a helper picking from a list.

    A waiting ticket, or (for a leader) a claimed one nobody has answered, may be taken; a live
    conversation is not taken from a helper who is answering.
    """
    if not policy.works_tickets(helper):
        raise NotAllowed(f"账号 {helper.username} 不是帮办人员。 / {helper.username} is not a "
                         f"helper or leader.")
    with outbox.transaction(ctx) as s:
        t = get_ticket(s, ticket_id)
        if not policy.can_work_department(helper, t.department):
            raise NotAllowed(f"工单{ticket_id}属于{t.department}，不在您的部门范围内。 / "
                             f"Ticket {ticket_id} belongs to another department.")
        if t.status in WAITING_STATES:
            moved = transitions.move(s, t.id, CLAIMED, actor=helper.username,
                                     expect=WAITING_STATES, event_data={"direct": True},
                                     helper=helper.username, claimed_at=utcnow())
        elif (t.status == CLAIMED and t.first_response_at is None and policy.is_leader(helper)
              and t.helper != helper.username):
            moved = transitions.move(s, t.id, CLAIMED, actor=helper.username, via=QUEUED,
                                     expect={CLAIMED}, expect_helper=t.helper,
                                     reason=f"由领导{helper.username}接手",
                                     event_data={"direct": True},
                                     helper=helper.username, claimed_at=utcnow())
        else:
            moved = transitions.move(s, t.id, CLAIMED, actor=helper.username,
                                     expect=WAITING_STATES)
        if moved is None:
            raise HandoffError(f"工单{ticket_id}已被他人领取。 / Ticket {ticket_id} was taken by "
                               f"someone else.")
        s.flush()
        s.expunge(moved)
    queue.heartbeat(ctx.redis, helper.username, ctx.config.heartbeat_ttl_s)
    return ticket_info(moved, helper.username)

"""领导干部+工作人员帮办: what the department leader's queue shows.

A ticket is escalated while nobody has answered it for longer than ``escalation_factor`` x its
service level since it was queued, or at once when it is a complaint. Escalation does not move
the ticket: it stays in the helpers' queue too, and whoever takes it first owns it (a leader
takes it with :func:`handoff.claims.claim_ticket`).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from handoff.config import HandoffConfig
from handoff.context import HandoffContext
from handoff.store import Ticket, history
from handoff.tickets import OPEN_STATES, NotAllowed
from handoff.views import ticket_info
from xiaobao import policy
from xiaobao.clock import aware, utcnow
from xiaobao.db import session_scope


def is_escalated(ticket: Ticket, config: HandoffConfig, now: dt.datetime | None = None) -> bool:
    if ticket.status not in OPEN_STATES or ticket.first_response_at is not None:
        return False
    if ticket.complaint:
        return True
    waited = ((now or utcnow()) - aware(ticket.queued_at)).total_seconds()
    return waited > config.escalation_factor * config.level(ticket.channel)


def leader_queue(leader: policy.Actor, *, ctx: HandoffContext, now: dt.datetime | None = None
                 ) -> list[dict]:
    """Escalated tickets of the leader's departments, longest waiting first, with history."""
    if not policy.is_leader(leader):
        raise NotAllowed("只有部门领导可以查看升级队列。 / Only leaders see the escalation "
                         "queue.")
    now = now or utcnow()
    departments = policy.visible_departments(leader, ctx.config.departments)
    out = []
    with session_scope(ctx.engine) as s:
        rows = s.scalars(select(Ticket).where(Ticket.status.in_(OPEN_STATES),
                                              Ticket.department.in_(departments),
                                              Ticket.first_response_at.is_(None))
                         .order_by(Ticket.queued_at))
        for t in rows:
            if not is_escalated(t, ctx.config, now):
                continue
            info = ticket_info(t, leader.username)
            out.append({
                "ticket": info.to_dict(),
                "reason": "complaint" if t.complaint else "waiting",
                "waited_s": int((now - aware(t.queued_at)).total_seconds()),
                "history": [{"from": h.from_status, "to": h.to_status, "actor": h.actor,
                             "note": h.note, "at": aware(h.at).isoformat()}
                            for h in history(s, t.id)],
            })
    return out

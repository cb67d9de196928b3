"""What consoles and users see of the queue: tickets, places in line, overviews, context packs.

Read-only: nothing here changes a ticket. Phone numbers are masked unless the viewer handles
the ticket (:func:`xiaobao.phone.visible_phone`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import func, select

from handoff import duty
from handoff.context import HandoffContext
from handoff.store import Ticket, get_ticket, history, open_ticket_for
from handoff.tickets import OPEN_STATES, OWNED_STATES, RESOLVED, WAITING_STATES, NotAllowed
from xiaobao import conversations, policy
from xiaobao.accounts import Account
from xiaobao.clock import aware, utcnow
from xiaobao.db import session_scope
from xiaobao.enums import CHANNELS
from xiaobao.phone import visible_phone
from xiaobao.redact import mask_personal_text

CONTEXT_TURNS = 20  # turns before the handoff shown to the helper


@dataclass(frozen=True)
class TicketInfo:
    """A ticket as a console shows it; ``phone`` is masked unless the viewer handles the ticket."""

    id: str
    conversation_id: str
    channel: str
    department: str
    status: str
    priority: bool
    complaint: bool
    helper: str | None
    topic: str
    company: str
    phone: str
    time_window: str
    summary: str
    note: str
    context: dict
    created_at: dt.datetime
    queued_at: dt.datetime
    claimed_at: dt.datetime | None
    first_response_at: dt.datetime | None
    closed_at: dt.datetime | None

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, dt.datetime):
                out[key] = value.isoformat()
        return out


@dataclass(frozen=True)
class QueueStatus:
    """What a waiting user sees: their place and an estimate, or who is helping them."""

    ticket_id: str
    status: str
    department: str
    position: int  # 1 = next; 0 once a helper has the ticket
    estimated_wait_s: int
    helper: str | None = None
    helpers_on_duty: int = 0
    channel: str = "online_helper"


@dataclass(frozen=True)
class QueueSummary:
    channel: str
    department: str
    waiting: int
    waiting_priority: int
    oldest_wait_s: int
    in_progress: int
    escalated: int
    helpers_on_duty: int


def masked_context(context: dict) -> dict:
    """The ticket's context as someone who does not handle it sees it: the recent turns' texts
    and the entities' values through :func:`xiaobao.redact.mask_personal_text`."""
    out = dict(context)
    if isinstance(out.get("last_turns"), list):
        out["last_turns"] = [
            {**t, "text": mask_personal_text(t["text"])}
            if isinstance(t, dict) and isinstance(t.get("text"), str) else t
            for t in out["last_turns"]]
    if isinstance(out.get("entities"), list):
        out["entities"] = [
            {**e, "value": mask_personal_text(e["value"])}
            if isinstance(e, dict) and isinstance(e.get("value"), str) else e
            for e in out["entities"]]
    return out


def ticket_info(ticket: Ticket, viewer: str | None = None) -> TicketInfo:
    clear = policy.sees_full_phone(viewer, ticket.helper)
    context = dict(ticket.context or {})
    return TicketInfo(
        id=ticket.id, conversation_id=ticket.conversation_id, channel=ticket.channel,
        department=ticket.department, status=ticket.status, priority=bool(ticket.priority),
        complaint=bool(ticket.complaint), helper=ticket.helper, topic=ticket.topic,
        company=ticket.company, phone=visible_phone(ticket.phone, viewer, ticket.helper),
        time_window=ticket.time_window,
        summary=ticket.summary if clear else mask_personal_text(ticket.summary),
        note=ticket.note, context=context if clear else masked_context(context),
        created_at=aware(ticket.created_at),
        queued_at=aware(ticket.queued_at), claimed_at=aware(ticket.claimed_at),
        first_response_at=aware(ticket.first_response_at), closed_at=aware(ticket.closed_at))


def _average_handle_s(ctx: HandoffContext) -> float:
    """Mean first-response-to-close time of the last 50 resolved tickets, or the configured
    guess."""
    with session_scope(ctx.engine) as s:
        rows = s.execute(select(Ticket.first_response_at, Ticket.closed_at)
                         .where(Ticket.status == RESOLVED, Ticket.first_response_at.is_not(None))
                         .order_by(Ticket.closed_at.desc()).limit(50)).all()
    spans = [(aware(b) - aware(a)).total_seconds() for a, b in rows if a and b]
    if len(spans) >= 5:
        return max(30.0, sum(spans) / len(spans))
    return ctx.config.average_handle_s


def queue_status(ticket_id: str, *, ctx: HandoffContext) -> QueueStatus:
    """Place in line (1 = next) and estimated wait for a ticket; 0 once a helper has it."""
    with session_scope(ctx.engine) as s:
        t = get_ticket(s, ticket_id)
        position = 0
        if t.status in WAITING_STATES:
            ahead = s.scalar(select(func.count()).select_from(Ticket).where(
                Ticket.channel == t.channel, Ticket.department == t.department,
                Ticket.status.in_(WAITING_STATES), Ticket.id != t.id,
                (Ticket.priority > t.priority)
                | ((Ticket.priority == t.priority) & (Ticket.queued_at <= t.queued_at))))
            position = int(ahead or 0) + 1
        status, department, helper, channel = t.status, t.department, t.helper, t.channel
    on_duty = len(duty.helpers_on_duty(department, ctx=ctx))
    wait = 0
    if position:
        wait = int(math.ceil(position / max(1, on_duty)) * _average_handle_s(ctx))
    return QueueStatus(ticket_id=ticket_id, status=status, department=department,
                       position=position, estimated_wait_s=wait, helper=helper,
                       helpers_on_duty=on_duty, channel=channel)


def queue_position(conversation_id: str, *, ctx: HandoffContext) -> QueueStatus | None:
    """The conversation's open ticket's place in line, or None when it has no open ticket."""
    with session_scope(ctx.engine) as s:
        t = open_ticket_for(s, conversation_id)
        ticket_id = t.id if t else None
    if ticket_id is None:
        return None
    return queue_status(ticket_id, ctx=ctx)


def queue_overview(departments: list[str] | None = None, *, ctx: HandoffContext,
                   channels: tuple[str, ...] = CHANNELS) -> list[QueueSummary]:
    """Counts and oldest wait per channel and department (all configured departments if None)."""
    from handoff.recovery import ensure_recovered

    ensure_recovered(ctx)
    depts = departments if departments is not None else ctx.config.departments
    now = utcnow()
    out = []
    with session_scope(ctx.engine) as s:
        rows = s.execute(select(Ticket.channel, Ticket.department, Ticket.status, Ticket.priority,
                                Ticket.complaint, Ticket.queued_at, Ticket.first_response_at)
                         .where(Ticket.status.in_(OPEN_STATES),
                                Ticket.department.in_(depts))).all()
    on_duty = {dept: len(duty.helpers_on_duty(dept, ctx=ctx)) for dept in depts}
    for channel in channels:
        for dept in depts:
            mine = [r for r in rows if r.channel == channel and r.department == dept]
            waiting = [r for r in mine if r.status in WAITING_STATES]
            oldest = min((aware(r.queued_at) for r in waiting), default=None)
            level = ctx.config.level(channel) * ctx.config.escalation_factor
            escalated = [r for r in mine if r.first_response_at is None and (
                r.complaint or (now - aware(r.queued_at)).total_seconds() > level)]
            out.append(QueueSummary(
                channel=channel, department=dept, waiting=len(waiting),
                waiting_priority=sum(1 for r in waiting if r.priority),
                oldest_wait_s=int((now - oldest).total_seconds()) if oldest else 0,
                in_progress=sum(1 for r in mine if r.status in OWNED_STATES),
                escalated=len(escalated), helpers_on_duty=on_duty[dept]))
    return out


def my_tickets(helper: policy.Actor, *, ctx: HandoffContext) -> list[TicketInfo]:
    """The helper's open tickets, oldest first."""
    with session_scope(ctx.engine) as s:
        rows = list(s.scalars(select(Ticket).where(Ticket.helper == helper.username,
                                                   Ticket.status.in_(OWNED_STATES))
                              .order_by(Ticket.claimed_at)))
        return [ticket_info(t, helper.username) for t in rows]


def ticket(ticket_id: str, *, ctx: HandoffContext, viewer: str | None = None) -> TicketInfo:
    """One ticket as ``viewer`` may see it (UnknownTicket when there is none)."""
    with session_scope(ctx.engine) as s:
        return ticket_info(get_ticket(s, ticket_id), viewer)


def is_closed_ticket_of(conversation_id: str, ticket_id: str, *, ctx: HandoffContext) -> bool:
    """True when ``ticket_id`` is a closed ticket of this conversation: the only ticket a
    rating of human service may name (a forged slot names anything)."""
    if not ticket_id or len(ticket_id) > 32:
        return False
    with session_scope(ctx.engine) as s:
        t = s.get(Ticket, ticket_id)
        return bool(t is not None and t.conversation_id == conversation_id
                    and t.closed_at is not None)


def ticket_department(ticket_id: str, *, ctx: HandoffContext) -> str:
    """The ticket's department (UnknownTicket when there is none): for permission checks."""
    with session_scope(ctx.engine) as s:
        return get_ticket(s, ticket_id).department


def message_view(m: conversations.Message, names: dict[str, str], masked: bool) -> dict:
    return {"id": m.pk, "pk": m.pk, "role": m.role, "author": m.author,
            "author_name": names.get(m.author, ""),
            "text": mask_personal_text(m.text) if masked else m.text,
            "ticket_id": m.ticket_id or "", "at": aware(m.at).isoformat()}


def display_names(s, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    return {u: d for u, d in s.execute(select(Account.username, Account.display_name)
                                       .where(Account.username.in_(list(usernames))))}


def context_pack(ticket_id: str, viewer: policy.Actor, *, ctx: HandoffContext) -> dict:
    """What the helper sees: ticket, the conversation (the turns before the handoff and every
    turn since), history, intent, entities, top candidates.

    A viewer outside the ticket's department gets NotAllowed; phone numbers are shown in full
    only to the helper handling the ticket.
    """
    with session_scope(ctx.engine) as s:
        t = get_ticket(s, ticket_id)
        if not policy.can_see_department(viewer, t.department):
            raise NotAllowed(f"工单{ticket_id}不在您的部门范围内。 / Ticket {ticket_id} belongs "
                             f"to another department.")
        info = ticket_info(t, viewer.username)
        first = s.scalar(select(func.min(conversations.Message.pk))
                         .where(conversations.Message.ticket_id == ticket_id))
        earlier = conversations.before(s, t.conversation_id, first, CONTEXT_TURNS) if first \
            else conversations.before(s, t.conversation_id, None, CONTEXT_TURNS)
        turns = earlier + conversations.of_ticket(s, ticket_id)
        names = display_names(s, {m.author for m in turns if m.author})
        masked = not policy.sees_full_phone(viewer.username, info.helper)
        transcript = [message_view(m, names, masked) for m in turns]
        steps = [{"from": h.from_status, "to": h.to_status, "actor": h.actor, "note": h.note,
                  "at": aware(h.at).isoformat()} for h in history(s, ticket_id)]
    c = info.context
    return {"ticket": info.to_dict(), "transcript": transcript, "history": steps,
            "intent": c.get("intent", ""), "entities": c.get("entities", []),
            "candidates": c.get("candidates", []), "company": info.company}


def ticket_messages(ticket_id: str, viewer: policy.Actor, *, after_pk: int = 0,
                    ctx: HandoffContext) -> list[dict]:
    """The ticket's turns after ``after_pk``, in order, as the context pack shows them: what a
    console that was away re-reads (the same department rule and masking)."""
    with session_scope(ctx.engine) as s:
        t = get_ticket(s, ticket_id)
        if not policy.can_see_department(viewer, t.department):
            raise NotAllowed(f"工单{ticket_id}不在您的部门范围内。 / Ticket {ticket_id} belongs "
                             f"to another department.")
        masked = not policy.sees_full_phone(viewer.username, t.helper)
        turns = conversations.of_ticket(s, ticket_id, after_pk=after_pk)
        names = display_names(s, {m.author for m in turns if m.author})
        return [message_view(m, names, masked) for m in turns]

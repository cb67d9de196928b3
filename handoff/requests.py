"""The structured handoff request the bot creates, and the one function that takes it.

The bot's actions call :func:`request_handoff`: the ticket, its mode, its event and what to
publish are written in one SQL transaction, then the department's Redis stream hears of it
(:mod:`handoff.outbox`). A retried request with the same ``request_id`` returns the same
ticket.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from handoff import outbox, phone_codes, transitions
from handoff.context import HandoffContext
from handoff.routing import Candidate, route_department
from handoff.store import Call, Ticket, new_id, open_ticket_for
from handoff.tickets import QUEUED, UNRESOLVED, HandoffError
from xiaobao import limits
from xiaobao.clock import is_open, utcnow
from xiaobao.db import session_scope
from xiaobao.enums import CHANNELS, Channel
from xiaobao.phone import is_callable

TRIGGERS = ("user", "unhelpful", "abstention")  # why a conversation went to people


@dataclass(frozen=True)
class HandoffRequest:
    request_id: str  # idempotency key: the same id never makes two tickets
    conversation_id: str  # Rasa sender id == the portal's conversation id
    channel: str  # a xiaobao.enums.Channel
    topic: str = ""
    company: str = ""
    phone: str = ""
    time_window: str = ""
    summary: str = ""
    last_turns: list[dict] = field(default_factory=list)  # [{"role": "user"|"bot", "text": ...}]
    candidates: list[Candidate] = field(default_factory=list)
    intent: str = ""
    entities: list[dict] = field(default_factory=list)
    complaint: bool = False
    # The portal visitor's conversation id (derived from the cookie, never the cookie's
    # secret): a returning user finds their 留言 answers.
    visitor_id: str = ""
    # The client's address as the gateway resolved it (api.deps.client_ip; the bot gets it in
    # the message metadata): per-address abuse limits on new tickets. Never stored.
    client_ip: str = ""
    # Why the conversation goes to people (recorded on the handoff_requested event): the user
    # asked ("user"), repeated 没帮助 ("unhelpful"), or the bot could not answer ("abstention").
    trigger: str = ""


@dataclass(frozen=True)
class HandoffReceipt:
    ticket_id: str
    status: str
    department: str
    queue_position: int
    estimated_wait_s: int
    in_service_hours: bool
    created: bool  # False when the request had been made before
    # Optional additions (the dispatch queue fills them; older callers may ignore them).
    helpers_on_duty: int = 0  # helpers of the department on duty now; 0 -> offer 留言咨询
    priority: bool = False  # queued ahead of normal (previous ticket unresolved, or complaint)
    call_id: str = ""  # the 12345 call created for a hotline_12345 request

    @property
    def offer_message(self) -> bool:
        """Out of hours or nobody on duty: tell the user so and offer 留言咨询."""
        return not self.in_service_hours or self.helpers_on_duty == 0


# --- taking a request --------------------------------------------------------------------------

def _validate(req: HandoffRequest, max_chars: int) -> None:
    if req.channel not in CHANNELS:
        raise HandoffError(f"未知的转人工渠道：{req.channel}。 / Unknown channel {req.channel!r}.")
    if not req.request_id or len(req.request_id) > 128:
        raise HandoffError("缺少或过长的请求编号。 / request_id is missing or too long.")
    if not req.conversation_id or len(req.conversation_id) > 96:
        raise HandoffError("缺少或过长的会话编号。 / conversation_id is missing or too long.")
    for name in ("topic", "company", "time_window", "summary"):
        if len(getattr(req, name)) > max_chars:
            raise HandoffError(f"字段 {name} 超过{max_chars}字。 / {name} is too long.")
    if len(req.visitor_id) > 96:
        raise HandoffError("访客编号过长。 / visitor_id is too long.")
    if req.channel == Channel.HOTLINE_12345 and not is_callable(req.phone):
        raise HandoffError("12345回电需要手机号或上海固定电话。 / A 12345 call-back needs a "
                           "mainland mobile or a Shanghai landline.")
    if req.phone and not is_callable(req.phone):
        raise HandoffError("电话号码格式不正确。 / That phone number is not valid.")


def _context(req: HandoffRequest) -> dict:
    return {
        "last_turns": list(req.last_turns)[-20:],
        "candidates": [dataclasses.asdict(c) for c in req.candidates],
        "intent": req.intent,
        "entities": list(req.entities),
    }


def request_handoff(req: HandoffRequest, *, ctx: HandoffContext,
                    now: dt.datetime | None = None) -> HandoffReceipt:
    """Create (or find) the ticket for ``req`` and queue it: one transaction, then Redis.

    Idempotent per ``request_id``; a conversation with an open ticket gets that ticket back.
    Routing ("1+N") is decided here, in SQL: the ticket goes straight to its department's
    stream. Out of hours the ticket is still queued (``in_service_hours`` says so and the
    caller offers 留言咨询 through :func:`handoff.left_messages.leave_message`).
    """
    _validate(req, ctx.max_chars)
    _enforce_limits(req, ctx)
    created = False
    try:
        with outbox.transaction(ctx) as s:
            ticket = (s.scalar(select(Ticket).where(Ticket.request_id == req.request_id))
                      or open_ticket_for(s, req.conversation_id))
            if ticket is None:
                ticket = _create(s, req, ctx, now)
                created = True
            s.flush()
            s.expunge(ticket)
    except IntegrityError:
        # Another process created it first (same request id, or an open ticket for this
        # conversation): theirs is the one.
        with session_scope(ctx.engine) as s:
            ticket = (s.scalar(select(Ticket).where(Ticket.request_id == req.request_id))
                      or open_ticket_for(s, req.conversation_id))
            if ticket is None:
                raise
            s.expunge(ticket)
    if not created:
        # A retry after a Redis failure lands here too: publish what still waits.
        outbox.drain(ctx, conversation_id=ticket.conversation_id)
    return _receipt(ctx, ticket, created, now)


def _enforce_limits(req: HandoffRequest, ctx: HandoffContext) -> None:
    """A new ticket counts against the visitor's hourly handoffs and, for a 12345 call-back,
    the phone's daily call-backs (LimitExceeded: 429); where the centre requires it, a 12345
    call-back's number must have been proved by an SMS code (PhoneCodeError: 403). A retry of
    an existing request, or a conversation that already has its open ticket, costs nothing."""
    with session_scope(ctx.engine) as s:
        if (s.scalar(select(Ticket.id).where(Ticket.request_id == req.request_id))
                or open_ticket_for(s, req.conversation_id) is not None):
            return
    if req.channel == Channel.HOTLINE_12345 and ctx.sms_verification:
        phone_codes.require_verified(ctx.redis, req.conversation_id, req.phone)
    limits.enforce(ctx.redis, "handoff_visitor", req.visitor_id or req.conversation_id,
                   ctx.handoffs_per_visitor_per_hour, 3600, "转人工请求")
    if req.channel == Channel.HOTLINE_12345:
        limits.enforce(ctx.redis, "callback_phone", req.phone, ctx.callbacks_per_phone_per_day,
                       86400, "同一号码的回电预约")
    # Per address as well: a visitor who drops the cookie is still the same client. The
    # call-back window is the one the portal's 留言 call-back route counts in.
    limits.enforce(ctx.redis, "handoff_ip", req.client_ip, ctx.handoffs_per_ip_per_hour, 3600,
                   "转人工请求")
    if req.channel == Channel.HOTLINE_12345:
        limits.enforce(ctx.redis, "callback_ip", req.client_ip, ctx.callbacks_per_ip_per_hour,
                       3600, "回电预约")


def _create(s, req: HandoffRequest, ctx: HandoffContext, now: dt.datetime | None) -> Ticket:
    department = route_department(req.candidates, ctx.config)
    previous = s.scalar(select(Ticket.status).where(
        Ticket.conversation_id == req.conversation_id, Ticket.closed_at.is_not(None))
        .order_by(Ticket.closed_at.desc()).limit(1))
    priority = 1 if (req.complaint or previous == UNRESOLVED) else 0
    stamp = utcnow()
    ticket = Ticket(
        id=new_id(), request_id=req.request_id, conversation_id=req.conversation_id,
        visitor_id=req.visitor_id, open_conversation_id=req.conversation_id,
        channel=req.channel, department=department, priority=priority,
        complaint=req.complaint, status=QUEUED, topic=req.topic, company=req.company,
        phone=req.phone, time_window=req.time_window, summary=req.summary,
        context=_context(req), created_at=stamp, queued_at=stamp)
    s.add(ticket)
    s.flush()
    reason = "complaint" if req.complaint else ("after unresolved ticket" if priority else "")
    clock_from = None
    if req.channel == Channel.HOTLINE_12345:
        from handoff.calls import window_start

        clock_from = window_start(req.time_window, ctx.config)
    transitions.open_ticket(s, ticket, actor="bot", reason=reason, clock_from=clock_from,
                            trigger=req.trigger if req.trigger in TRIGGERS else "")
    if req.channel == Channel.HOTLINE_12345:
        from handoff.calls import create_call

        create_call(s, ticket, ctx.config, now)
    return ticket


def _receipt(ctx: HandoffContext, ticket: Ticket, created: bool,
             now: dt.datetime | None) -> HandoffReceipt:
    from handoff.views import queue_status

    status = queue_status(ticket.id, ctx=ctx)
    call_id = ""
    if ticket.channel == Channel.HOTLINE_12345:
        with session_scope(ctx.engine) as s:
            call_id = s.scalar(select(Call.id).where(Call.ticket_id == ticket.id)
                               .order_by(Call.created_at.desc()).limit(1)) or ""
    return HandoffReceipt(
        ticket_id=ticket.id, status=status.status, department=ticket.department,
        queue_position=status.position, estimated_wait_s=status.estimated_wait_s,
        in_service_hours=is_open(now, ctx.config), created=created,
        helpers_on_duty=status.helpers_on_duty, priority=bool(ticket.priority), call_id=call_id)

"""留言咨询: leave a message when the centre is closed or nobody is on duty; answered later.

The answer is shown in the user's conversation when they come back (same conversation, or the
same long-lived visitor id), and a user who left a phone number can ask for a call-back, which
goes through the 12345 three-way call flow.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update

from handoff import relay
from handoff.closing import abandon_ticket
from handoff.context import HandoffContext
from handoff.requests import Candidate, HandoffReceipt, HandoffRequest, request_handoff
from handoff.store import Call, LeftMessage, Ticket, new_id, open_ticket_for
from handoff.tickets import HandoffError, NotAllowed
from xiaobao import policy
from xiaobao.clock import aware, utcnow
from xiaobao.db import session_scope
from xiaobao.enums import Channel
from xiaobao.events import EventKind, record_event
from xiaobao.phone import mask_phone, parse_phone


@dataclass(frozen=True)
class LeftMessageInfo:
    id: str
    conversation_id: str
    department: str
    text: str
    phone: str  # masked unless shown to the user who left it
    status: str  # open | answered
    answer: str
    answered_by: str
    created_at: dt.datetime
    answered_at: dt.datetime | None

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for k, v in out.items():
            if isinstance(v, dt.datetime):
                out[k] = v.isoformat()
        return out


def _info(m: LeftMessage, *, unmasked: bool = False) -> LeftMessageInfo:
    return LeftMessageInfo(m.id, m.conversation_id, m.department, m.text,
                           m.phone if unmasked else mask_phone(m.phone), m.status, m.answer,
                           m.answered_by, aware(m.created_at), aware(m.answered_at))


def leave_message(conversation_id: str, text: str, *, ctx: HandoffContext, phone: str = "",
                  visitor_id: str = "", department: str | None = None) -> LeftMessageInfo:
    """Record a 留言. An open ticket of the conversation is closed (the user chose to leave a
    message instead of waiting) and lends its department; otherwise ``department`` or the
    central desk. The phone number, if any, is asked for only after the privacy notice
    (:data:`xiaobao.phone.PHONE_NOTICE`): a mainland mobile or a Shanghai landline."""
    config = ctx.config
    if not text or not text.strip():
        raise HandoffError("留言内容不能为空。 / The message is empty.")
    if len(text) > ctx.max_chars:
        raise HandoffError(f"留言不能超过{ctx.max_chars}字。 / Messages are limited to "
                           f"{ctx.max_chars} characters.")
    if phone.strip():
        number, reason = parse_phone(phone)
        if number is None:
            raise HandoffError(f"电话号码格式不正确：{reason}。 / That phone number is not valid.")
        phone = number
    else:
        phone = ""
    with session_scope(ctx.engine) as s:
        open_ticket = open_ticket_for(s, conversation_id)
        ticket_id = open_ticket.id if open_ticket else ""
        dept = open_ticket.department if open_ticket else (department or
                                                           config.central_department)
    if dept not in config.departments:
        raise HandoffError(f"未知部门：{dept}。 / Unknown department {dept!r}.")
    if ticket_id:
        abandon_ticket(ticket_id, "user", "改为留言 / left a message instead", ctx=ctx)
    with session_scope(ctx.engine) as s:
        m = LeftMessage(id=new_id(), conversation_id=conversation_id, visitor_id=visitor_id,
                        department=dept, text=text, phone=phone, status="open",
                        ticket_id=ticket_id, created_at=utcnow())
        s.add(m)
        record_event(s, EventKind.MESSAGE_LEFT, conversation_id=conversation_id,
                     ticket_id=ticket_id,
                     actor="user", department=dept, message_id=m.id)
        s.flush()
        return _info(m, unmasked=True)


def open_messages(departments: list[str], *, ctx: HandoffContext) -> list[LeftMessageInfo]:
    """Unanswered 留言 of these departments, oldest first (phone numbers masked)."""
    with session_scope(ctx.engine) as s:
        rows = s.scalars(select(LeftMessage).where(LeftMessage.status == "open",
                                                   LeftMessage.department.in_(departments))
                         .order_by(LeftMessage.created_at))
        return [_info(m) for m in rows]


def message_department(message_id: str, *, ctx: HandoffContext) -> tuple[str, str, str]:
    """(department, status, answered_by) of a 留言, for permission checks before the route."""
    with session_scope(ctx.engine) as s:
        m = s.get(LeftMessage, message_id)
        if m is None:
            raise UnknownLeftMessage(f"找不到留言 {message_id}。 / Unknown message {message_id!r}.")
        return m.department, m.status, m.answered_by


def answer_message(message_id: str, helper: policy.Actor, answer: str, *,
                   ctx: HandoffContext) -> LeftMessageInfo:
    """A helper's written answer; shown to the user at once if connected, else on return."""
    if not answer or not answer.strip():
        raise HandoffError("答复不能为空。 / The answer is empty.")
    if len(answer) > ctx.max_chars:
        raise HandoffError(f"答复不能超过{ctx.max_chars}字。 / Answers are limited to "
                           f"{ctx.max_chars} characters.")
    username = helper.username
    with session_scope(ctx.engine) as s:
        m = s.get(LeftMessage, message_id)
        if m is None:
            raise UnknownLeftMessage(f"找不到留言 {message_id}。 / Unknown message {message_id!r}.")
        if not policy.can_work_department(helper, m.department):
            raise NotAllowed("该留言不在您的部门范围内。 / This message belongs to another "
                             "department.")
        done = cast("CursorResult[Any]", s.execute(
            update(LeftMessage).where(LeftMessage.id == message_id, LeftMessage.status == "open")
            .values(status="answered", answer=answer, answered_by=username, answered_at=utcnow())
            .execution_options(synchronize_session=False))).rowcount
        if done != 1:
            raise HandoffError("该留言已答复。 / This message has already been answered.")
        record_event(s, EventKind.MESSAGE_ANSWERED, conversation_id=m.conversation_id,
                     actor=username,
                     message_id=message_id, department=m.department)
        s.expire(m)
        m = s.get_one(LeftMessage, message_id)
        info = _info(m)
    relay.publish_event(ctx, info.conversation_id, {"type": "message_answered",
                                                  "message_id": message_id,
                                                  "answer": answer})
    return info


def answers_for(conversation_id: str = "", *, ctx: HandoffContext, visitor_id: str = "",
                mark_seen: bool = True) -> list[LeftMessageInfo]:
    """A returning user's 留言 with any answers (by conversation or visitor id), newest last."""
    if not conversation_id and not visitor_id:
        return []
    conds = []
    if conversation_id:
        conds.append(LeftMessage.conversation_id == conversation_id)
    if visitor_id:
        conds.append(LeftMessage.visitor_id == visitor_id)
    with session_scope(ctx.engine) as s:
        rows = list(s.scalars(select(LeftMessage).where(or_(*conds))
                              .order_by(LeftMessage.created_at)))
        out = [_info(m, unmasked=True) for m in rows]
        if mark_seen:
            for m in rows:
                if m.status == "answered" and m.seen_at is None:
                    m.seen_at = utcnow()
        return out


def request_callback(message_id: str, *, ctx: HandoffContext) -> HandoffReceipt:
    """Ask for a 12345 call-back about a 留言 that has a phone number (idempotent)."""
    with session_scope(ctx.engine) as s:
        m = s.get(LeftMessage, message_id)
        if m is None:
            raise UnknownLeftMessage(f"找不到留言 {message_id}。 / Unknown message {message_id!r}.")
        if not m.phone:
            raise HandoffError("留言中没有电话号码，无法回电。 / No phone number to call back.")
        conv, dept, phone, text, visitor = (m.conversation_id, m.department, m.phone, m.text,
                                            m.visitor_id)
    category = next((c for c, d in ctx.config.routing.items() if d == dept), "")
    req = HandoffRequest(request_id=callback_request_id(message_id), conversation_id=conv,
                         channel=Channel.HOTLINE_12345, topic=text[:200], phone=phone,
                         summary=f"留言回电：{text}"[:ctx.max_chars], visitor_id=visitor,
                         candidates=[Candidate(id="", question="", category=category,
                                               score=1.0)] if category else [])
    return request_handoff(req, ctx=ctx)


def callback_request_id(message_id: str) -> str:
    return f"callback-{message_id}"


def for_visitor(visitor_id: str, *, ctx: HandoffContext) -> list[dict]:
    """The visitor's 留言 as the portal shows them: ``callback`` is the 12345 call-back's
    ticket (id, status, call status) once one was asked for, else None."""
    found = [m.to_dict() for m in answers_for(visitor_id, ctx=ctx, visitor_id=visitor_id)]
    by_request = {callback_request_id(m["id"]): m for m in found}
    for m in found:
        m["callback"] = None
    if by_request:
        with session_scope(ctx.engine) as s:
            rows = s.execute(
                select(Ticket.request_id, Ticket.id, Ticket.status, Call.status)
                .outerjoin(Call, Call.ticket_id == Ticket.id)
                .where(Ticket.request_id.in_(list(by_request)))).all()
        for request_id, ticket_id, ticket_status, call_status in rows:
            by_request[request_id]["callback"] = {
                "ticket_id": ticket_id, "status": ticket_status, "call_status": call_status or ""}
    return found


def own_message(visitor_id: str, message_id: str, *, ctx: HandoffContext) -> LeftMessageInfo:
    """The visitor's own 留言 (unmasked); someone else's is as unknown as a made-up id."""
    with session_scope(ctx.engine) as s:
        m = s.get(LeftMessage, message_id)
        if m is None or visitor_id not in (m.visitor_id, m.conversation_id):
            raise UnknownLeftMessage(f"找不到该留言：{message_id}。 / Unknown message "
                                     f"{message_id!r}.")
        return _info(m, unmasked=True)


class UnknownLeftMessage(HandoffError):
    code = "unknown_message"
    status = 404

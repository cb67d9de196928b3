"""留言咨询: leave a message when the centre is closed or nobody is on duty; answered later.

The answer is shown in the user's conversation when they come back (same conversation, or the
same long-lived visitor id), and a user who left a phone number can ask for a call-back, which
goes through the 12345 three-way call flow.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass

import redis as redis_lib
from sqlalchemy import Engine, or_, select, update

from handoff import queue, relay
from handoff.config import HandoffConfig, default_config
from handoff.privacy import PHONE_NOTICE, mask_phone  # noqa: F401 (PHONE_NOTICE re-exported)
from handoff.requests import HandoffReceipt, HandoffRequest
from handoff.store import LeftMessage, aware, new_id, open_ticket_for, utcnow
from handoff.tickets import HandoffError, NotAllowed
from xiaobao.db import get_engine, session_scope
from xiaobao.events import record_event

MAX_CHARS = 2000
_PHONE_OK = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$")


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


def leave_message(conversation_id: str, text: str, *, phone: str = "", visitor_id: str = "",
                  department: str | None = None, engine: Engine | None = None,
                  redis: redis_lib.Redis | None = None,
                  config: HandoffConfig | None = None) -> LeftMessageInfo:
    """Record a 留言. An open ticket of the conversation is closed (the user chose to leave a
    message instead of waiting) and lends its department; otherwise ``department`` or the
    central desk. The phone number, if any, is asked for only after :data:`PHONE_NOTICE`."""
    if not text or not text.strip():
        raise HandoffError("留言内容不能为空。 / The message is empty.")
    if len(text) > MAX_CHARS:
        raise HandoffError(f"留言不能超过{MAX_CHARS}字。 / Messages are limited to {MAX_CHARS} "
                           f"characters.")
    phone = phone.strip().replace(" ", "")
    if phone and not _PHONE_OK.match(phone):
        raise HandoffError("电话号码格式不正确。 / That phone number is not valid.")
    engine = engine or get_engine()
    r = redis if redis is not None else queue.connect()
    config = config or default_config()
    with session_scope(engine) as s:
        open_ticket = open_ticket_for(s, conversation_id)
        ticket_id = open_ticket.id if open_ticket else ""
        dept = open_ticket.department if open_ticket else (department or
                                                           config.central_department)
    if dept not in config.departments:
        raise HandoffError(f"未知部门：{dept}。 / Unknown department {dept!r}.")
    if ticket_id:
        from handoff.dispatch import abandon_ticket

        abandon_ticket(ticket_id, "user", "改为留言 / left a message instead", engine=engine,
                       redis=r, config=config)
    with session_scope(engine) as s:
        m = LeftMessage(id=new_id(), conversation_id=conversation_id, visitor_id=visitor_id,
                        department=dept, text=text, phone=phone, status="open",
                        ticket_id=ticket_id, created_at=utcnow())
        s.add(m)
        record_event(s, "message_left", conversation_id=conversation_id, ticket_id=ticket_id,
                     actor="user", department=dept, message_id=m.id)
        s.flush()
        return _info(m, unmasked=True)


def open_messages(departments: list[str], *, engine: Engine | None = None
                  ) -> list[LeftMessageInfo]:
    """Unanswered 留言 of these departments, oldest first (phone numbers masked)."""
    with session_scope(engine or get_engine()) as s:
        rows = s.scalars(select(LeftMessage).where(LeftMessage.status == "open",
                                                   LeftMessage.department.in_(departments))
                         .order_by(LeftMessage.created_at))
        return [_info(m) for m in rows]


def answer_message(message_id: str, helper: object, answer: str, *,
                   engine: Engine | None = None,
                   redis: redis_lib.Redis | None = None) -> LeftMessageInfo:
    """A helper's written answer; shown to the user at once if connected, else on return."""
    if not answer or not answer.strip():
        raise HandoffError("答复不能为空。 / The answer is empty.")
    if len(answer) > MAX_CHARS:
        raise HandoffError(f"答复不能超过{MAX_CHARS}字。 / Answers are limited to {MAX_CHARS} "
                           f"characters.")
    engine = engine or get_engine()
    r = redis if redis is not None else queue.connect()
    username = getattr(helper, "username", str(helper))
    with session_scope(engine) as s:
        m = s.get(LeftMessage, message_id)
        if m is None:
            raise HandoffError(f"找不到留言 {message_id}。 / Unknown message {message_id!r}.")
        if m.department not in (getattr(helper, "departments", None) or []):
            raise NotAllowed("该留言不在您的部门范围内。 / This message belongs to another "
                             "department.")
        done = s.execute(update(LeftMessage).where(LeftMessage.id == message_id,
                                                   LeftMessage.status == "open")
                         .values(status="answered", answer=answer, answered_by=username,
                                 answered_at=utcnow())
                         .execution_options(synchronize_session=False)).rowcount
        if done != 1:
            raise HandoffError("该留言已答复。 / This message has already been answered.")
        record_event(s, "message_answered", conversation_id=m.conversation_id, actor=username,
                     message_id=message_id, department=m.department)
        s.expire(m)
        m = s.get(LeftMessage, message_id)
        info = _info(m)
    relay.publish_event(r, info.conversation_id, {"type": "message_answered",
                                                  "message_id": message_id,
                                                  "answer": answer})
    return info


def answers_for(conversation_id: str = "", *, visitor_id: str = "",
                engine: Engine | None = None, mark_seen: bool = True) -> list[LeftMessageInfo]:
    """A returning user's 留言 with any answers (by conversation or visitor id), newest last."""
    if not conversation_id and not visitor_id:
        return []
    conds = []
    if conversation_id:
        conds.append(LeftMessage.conversation_id == conversation_id)
    if visitor_id:
        conds.append(LeftMessage.visitor_id == visitor_id)
    with session_scope(engine or get_engine()) as s:
        rows = list(s.scalars(select(LeftMessage).where(or_(*conds))
                              .order_by(LeftMessage.created_at)))
        out = [_info(m, unmasked=True) for m in rows]
        if mark_seen:
            for m in rows:
                if m.status == "answered" and m.seen_at is None:
                    m.seen_at = utcnow()
        return out


def request_callback(message_id: str, *, engine: Engine | None = None,
                     redis: redis_lib.Redis | None = None,
                     config: HandoffConfig | None = None) -> HandoffReceipt:
    """Ask for a 12345 call-back about a 留言 that has a phone number (idempotent)."""
    engine = engine or get_engine()
    with session_scope(engine) as s:
        m = s.get(LeftMessage, message_id)
        if m is None:
            raise HandoffError(f"找不到留言 {message_id}。 / Unknown message {message_id!r}.")
        if not m.phone:
            raise HandoffError("留言中没有电话号码，无法回电。 / No phone number to call back.")
        conv, dept, phone, text, visitor = (m.conversation_id, m.department, m.phone, m.text,
                                            m.visitor_id)
    config = config or default_config()
    category = next((c for c, d in config.routing.items() if d == dept), "")
    from handoff.dispatch import request_handoff
    from handoff.requests import Candidate

    req = HandoffRequest(request_id=f"callback-{message_id}", conversation_id=conv,
                         channel="hotline_12345", topic=text[:200], phone=phone,
                         summary=f"留言回电：{text}"[:2000], visitor_id=visitor,
                         candidates=[Candidate(id="", question="", category=category,
                                               score=1.0)] if category else [])
    return request_handoff(req, engine=engine, redis=redis, config=config)

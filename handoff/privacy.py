"""Personal information: masked phone numbers and the transcript retention period (个人信息保护)."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import Engine, delete, select, update

from handoff.store import LeftMessage, Ticket, TranscriptMessage, utcnow
from xiaobao.db import session_scope

# Mainland mobile numbers (optionally +86), and fixed lines such as 021-12345678.
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_FIXED = re.compile(r"(?<!\d)(0\d{2,3})-?(\d{4})(\d{3,4})(?!\d)")

PHONE_NOTICE = ("为便于工作人员回电，需要您提供手机号码。号码仅用于本次咨询回访，"
                "工作人员界面和日志中会做脱敏处理，并在保存期满后删除。")


def mask_phone(text: str) -> str:
    """``13812341234`` -> ``138****1234`` wherever a phone number appears in ``text``."""
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text or "")
    return _FIXED.sub(lambda m: f"{m.group(1)}-****{m.group(3)[-4:]}", text)


def visible_phone(phone: str, viewer: str | None, owner: str | None) -> str:
    """The full number only for the helper handling the ticket."""
    if viewer and owner and viewer == owner:
        return phone
    return mask_phone(phone)


def purge_expired_transcripts(retention_days: int, *, engine: Engine,
                              now: dt.datetime | None = None) -> dict[str, int]:
    """Delete transcripts of tickets closed more than ``retention_days`` ago, and their numbers.

    Open tickets keep everything whatever their age: a conversation in progress is not expired.
    """
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    with session_scope(engine) as s:
        ids = list(s.scalars(select(Ticket.id).where(Ticket.closed_at.is_not(None),
                                                     Ticket.closed_at < cutoff)))
        removed = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            removed += s.execute(delete(TranscriptMessage)
                                 .where(TranscriptMessage.ticket_id.in_(chunk))).rowcount or 0
            s.execute(update(Ticket).where(Ticket.id.in_(chunk), Ticket.phone != "")
                      .values(phone=""))
        msgs = s.execute(update(LeftMessage).where(LeftMessage.created_at < cutoff,
                                                   LeftMessage.status == "answered",
                                                   LeftMessage.phone != "")
                         .values(phone="")).rowcount or 0
    return {"tickets": len(ids), "messages_deleted": removed, "left_message_phones_cleared": msgs}

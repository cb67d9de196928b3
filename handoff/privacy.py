"""Personal information: the retention period of what was said (个人信息保护).

Masking lives in :mod:`xiaobao.phone`; this module deletes. Open tickets keep everything
whatever their age: a conversation in progress is not expired.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, exists, select, update

from handoff.context import HandoffContext
from handoff.store import LeftMessage, Ticket, utcnow
from xiaobao import conversations
from xiaobao.db import session_scope


def purge_expired_transcripts(retention_days: int, *, ctx: HandoffContext,
                              now: dt.datetime | None = None) -> dict[str, int]:
    """Delete the turns of tickets closed more than ``retention_days`` ago and their phone
    numbers, bot-mode turns older than that in conversations with no open ticket, and the
    numbers of answered 留言."""
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    Message = conversations.Message
    with session_scope(ctx.engine) as s:
        ids = list(s.scalars(select(Ticket.id).where(Ticket.closed_at.is_not(None),
                                                     Ticket.closed_at < cutoff)))
        removed = conversations.delete_of_tickets(s, ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            s.execute(update(Ticket).where(Ticket.id.in_(chunk), Ticket.phone != "")
                      .values(phone=""))
        open_here = exists().where(Ticket.open_conversation_id == Message.conversation_id)
        removed += s.execute(delete(Message).where(Message.ticket_id.is_(None),
                                                   Message.at < cutoff, ~open_here)
                             .execution_options(synchronize_session=False)).rowcount or 0
        msgs = s.execute(update(LeftMessage).where(LeftMessage.created_at < cutoff,
                                                   LeftMessage.status == "answered",
                                                   LeftMessage.phone != "")
                         .values(phone="")).rowcount or 0
    return {"tickets": len(ids), "messages_deleted": removed, "left_message_phones_cleared": msgs}

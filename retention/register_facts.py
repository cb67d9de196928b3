"""The register's retention rule: facts an enterprise gave in a conversation (对话中填报) are
personal data of that conversation, deleted ``register_conversation_retention_days`` after
they were given. Facts from an authority, and what the enterprise filed itself (企业自报),
are the register's record and stay."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.orm import Session

from enterprises.models import EnterpriseFact
from enterprises.sources import CONVERSATION
from xiaobao.settings import get_settings


def purge_declared(session: Session, now: dt.datetime, days: int | None = None) -> int:
    """Delete the conversation facts loaded before ``now`` less the retention; how many.
    Running it again at the same ``now`` deletes nothing more."""
    keep = days if days is not None else get_settings().register_conversation_retention_days
    cutoff = now - dt.timedelta(days=keep)
    result = session.execute(delete(EnterpriseFact).where(
        EnterpriseFact.source == CONVERSATION, EnterpriseFact.loaded_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

"""The register's audit log: who read one enterprise's record, exported or imported the
register, when and why. Written in the same transaction as the work it records."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from enterprises.models import RegisterAudit
from xiaobao.clock import utcnow

ACTIONS = ("read", "export", "import")


def record(session: Session, actor: str, action: str, *, uscc: str | None = None,
           reason: str = "", detail: dict[str, Any] | None = None,
           at: dt.datetime | None = None) -> RegisterAudit:
    if action not in ACTIONS:
        raise ValueError(action)
    row = RegisterAudit(at=at or utcnow(), actor=actor[:64], action=action, uscc=uscc,
                        reason=reason, detail=json.dumps(detail or {}, ensure_ascii=False,
                                                         sort_keys=True, default=str))
    session.add(row)
    session.flush()
    return row


def entries(session: Session, *, uscc: str | None = None,
            action: str | None = None) -> list[dict[str, Any]]:
    """The log, oldest first (optionally of one enterprise or one action)."""
    q = select(RegisterAudit).order_by(RegisterAudit.id)
    if uscc is not None:
        q = q.where(RegisterAudit.uscc == uscc)
    if action is not None:
        q = q.where(RegisterAudit.action == action)
    return [{"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action,
             "uscc": r.uscc, "reason": r.reason, "detail": json.loads(r.detail or "{}")}
            for r in session.scalars(q)]

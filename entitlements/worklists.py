"""The departments' 免申即享 work lists: confirm or decline each enterprise (with a note), the
enterprise's 一键确认 once notified, then the grant. Every step is recorded on the item, and a
step out of order is refused (409) rather than guessed."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from entitlements.errors import EntitlementError
from entitlements.models import ACCEPTED, CONFIRMED, DECLINED, GRANTED, PENDING, WorkItem
from notifications.models import MIANSHEN
from notifications.outbox import NotificationItem, enqueue
from policies.store import get_item
from xiaobao.clock import utcnow

MAX_NOTE = 500


def item_dict(item: WorkItem, *, with_why: bool = True) -> dict[str, Any]:
    out = {"id": item.id, "policy_id": item.policy_id, "policy_version": item.policy_version,
           "rule_version": item.rule_version, "department": item.department,
           "uscc": item.uscc, "status": item.status, "note": item.note,
           "created_at": item.created_at.isoformat(), "decided_by": item.decided_by,
           "decided_at": item.decided_at.isoformat() if item.decided_at else None,
           "accepted_at": item.accepted_at.isoformat() if item.accepted_at else None,
           "granted_at": item.granted_at.isoformat() if item.granted_at else None}
    if with_why:
        out["why"] = json.loads(item.why)
    return out


def work_list(session: Session, *, departments: list[str] | None = None,
              policy_id: str | None = None, status: str | None = None,
              limit: int = 200, offset: int = 0) -> list[WorkItem]:
    """Work items, oldest first; ``departments`` None: every department."""
    q = select(WorkItem).order_by(WorkItem.id)
    if departments is not None:
        q = q.where(WorkItem.department.in_(departments))
    if policy_id:
        q = q.where(WorkItem.policy_id == policy_id)
    if status:
        q = q.where(WorkItem.status == status)
    return list(session.scalars(q.limit(limit).offset(offset)))


def titles(session: Session, policy_ids: set[str]) -> dict[str, str]:
    """Each policy's title, for the lists people read (a removed item: its id)."""
    from policies.store import PolicyStoreError

    out = {}
    for pid in policy_ids:
        try:
            out[pid] = (get_item(session, pid).data or {}).get("title") or pid
        except PolicyStoreError:
            out[pid] = pid
    return out


def get_work_item(session: Session, item_id: int) -> WorkItem:
    item = session.get(WorkItem, item_id)
    if item is None:
        raise EntitlementError("没有这条免申即享待办。 / No such work item.", status=404,
                               code="work_item_not_found")
    return item


def _require(item: WorkItem, status: str, doing: str) -> None:
    if item.status != status:
        raise EntitlementError(f"这条待办当前为“{item.status}”，不能{doing}。 / The item is "
                               f"{item.status}; it cannot be {doing}.", status=409,
                               code="work_item_state")


def decide(session: Session, item_id: int, *, actor: str, confirm: bool,
           note: str = "") -> WorkItem:
    """The department's decision; a confirmed item is notified to the enterprise (once)."""
    item = get_work_item(session, item_id)
    _require(item, PENDING, "再次审核")
    note = (note or "").strip()
    if not confirm and not note:
        raise EntitlementError("不予确认须填写说明。 / A decline needs a note.",
                               code="note_required")
    if len(note) > MAX_NOTE:
        raise EntitlementError(f"说明不超过{MAX_NOTE}字。 / The note is too long.",
                               code="note_too_long")
    item.status = CONFIRMED if confirm else DECLINED
    item.decided_by, item.decided_at, item.note = actor, utcnow(), note
    if confirm:
        title = (get_item(session, item.policy_id).data or {}).get("title") or item.policy_id
        enqueue(session, [NotificationItem(item.uscc, item.policy_id, item.policy_version,
                                           MIANSHEN, title)])
    session.flush()
    return item


def accept(session: Session, item_id: int, *, uscc: str) -> WorkItem:
    """The enterprise's 一键确认 of a confirmed item — its own items only (404 otherwise, so an
    id reveals nothing)."""
    item = get_work_item(session, item_id)
    if item.uscc != uscc:
        raise EntitlementError("没有这条免申即享待办。 / No such work item.", status=404,
                               code="work_item_not_found")
    if item.status == ACCEPTED:
        return item  # a second click is the same click
    _require(item, CONFIRMED, "确认")
    item.status, item.accepted_at = ACCEPTED, utcnow()
    session.flush()
    return item


def grant(session: Session, item_id: int, *, actor: str) -> WorkItem:
    """The department records that the benefit was granted."""
    item = get_work_item(session, item_id)
    _require(item, ACCEPTED, "登记兑现")
    item.status, item.granted_at, item.granted_by = GRANTED, utcnow(), actor
    session.flush()
    return item

"""我的政策 — what a signed-in enterprise sees: what it qualifies for now, what needs more
facts (and which), what it was notified of, and its 免申即享 items to confirm or confirmed.
Only for the enterprise itself: the caller has checked who is signed in."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from enterprises.register import Profile, RegisterError, profile
from entitlements.models import WorkItem
from entitlements.worklists import item_dict
from notifications.models import Notification
from policies.evaluator import check
from policies.fields import default_dictionary
from policies.store import published_policies
from xiaobao.clock import today


def my_policies(session: Session, uscc: str, day: dt.date | None = None) -> dict[str, Any]:
    day = day or today()
    try:
        found = profile(session, uscc, day)
    except RegisterError as exc:
        if exc.status != 404:
            raise
        found = Profile(uscc, "", day, {})  # not in the register (yet): every fact unknown
    pairs = list(published_policies(session))
    stored = {p.id: d for p, d in pairs}
    result = check([p for p, _ in pairs], found.facts, day)
    labels = default_dictionary().fields

    def brief(pid: str) -> dict[str, Any]:
        d = stored[pid]
        return {"id": pid, "title": d.get("title") or pid, "mode": d.get("mode") or "",
                "department": d.get("department") or "", "benefit": d.get("benefit") or "",
                # 智能填表: an application to pre-fill (免申即享 needs none)
                "has_form": bool(d.get("form")) and d.get("mode") != "免申即享"}

    items = list(session.scalars(select(WorkItem).where(WorkItem.uscc == found.uscc)
                                 .order_by(WorkItem.id)))
    notified = list(session.scalars(select(Notification).where(Notification.uscc == found.uscc)
                                    .order_by(Notification.created_at)))
    return {
        "uscc": found.uscc, "name": found.name, "day": day.isoformat(),
        "in_register": bool(found.name or found.fields),
        "eligible": [brief(r.id) for r in result.of("eligible")],
        "possible": [{**brief(r.id), "needed": [labels[u].label if u in labels else u
                                                for u in r.unknown]}
                     for r in result.of("possible")],
        "work_items": [{**item_dict(i, with_why=False), "title": stored.get(i.policy_id, {})
                        .get("title") or i.policy_id} for i in items
                       if i.status in ("confirmed", "accepted", "granted")],
        "notified": [{"policy_id": n.policy_id, "kind": n.kind, "status": n.status,
                      "at": (n.sent_at or n.created_at).isoformat()} for n in notified],
    }

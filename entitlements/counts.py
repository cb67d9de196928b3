"""What supervisors read of 免申即享 and 政策推送, per policy and per department: enterprises
qualifying (work items), notified, confirmed by the department, accepted by the enterprise,
granted, declined; and the times from publishing to notification and from the enterprise's
confirmation to the grant."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entitlements.models import ACCEPTED, CONFIRMED, DECLINED, GRANTED, WorkItem
from notifications.counts import counts as notification_counts
from notifications.counts import percentile
from notifications.models import SENT, Notification
from policies.store import published_versions
from xiaobao.clock import aware


@dataclass
class PolicyOutcome:
    policy_id: str
    department: str
    qualifying: int = 0  # 免申即享 work items, every status
    confirmed: int = 0  # by the department (then accepted, granted count here too)
    accepted: int = 0  # 一键确认 by the enterprise
    granted: int = 0
    declined: int = 0
    notified: int = 0  # notifications sent, every kind
    publish_to_notify_median_s: float | None = None
    accept_to_grant_median_s: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def outcomes(session: Session) -> list[PolicyOutcome]:
    """One row per policy with work items or notifications, by policy id."""
    rows: dict[str, PolicyOutcome] = {}
    for pid, dept, status, n in session.execute(
            select(WorkItem.policy_id, WorkItem.department, WorkItem.status, func.count())
            .group_by(WorkItem.policy_id, WorkItem.department, WorkItem.status)):
        row = rows.setdefault(pid, PolicyOutcome(pid, dept))
        row.qualifying += n
        if status in (CONFIRMED, ACCEPTED, GRANTED):
            row.confirmed += n
        if status in (ACCEPTED, GRANTED):
            row.accepted += n
        row.granted += n if status == GRANTED else 0
        row.declined += n if status == DECLINED else 0
    for c in notification_counts(session):
        rows.setdefault(c.policy_id, PolicyOutcome(c.policy_id, "")).notified = c.notified
    published = published_versions(session)
    waits: dict[str, list[float]] = {}
    for pid, version, sent in session.execute(
            select(Notification.policy_id, Notification.policy_version, Notification.sent_at)
            .where(Notification.status == SENT)):
        live = published.get(pid)
        if live and live[0] == version and sent is not None:
            waits.setdefault(pid, []).append((aware(sent) - aware(live[1])).total_seconds())
    grants: dict[str, list[float]] = {}
    for pid, accepted, granted in session.execute(
            select(WorkItem.policy_id, WorkItem.accepted_at, WorkItem.granted_at)
            .where(WorkItem.status == GRANTED)):
        if accepted and granted:
            grants.setdefault(pid, []).append((aware(granted) - aware(accepted)).total_seconds())
    for pid, row in rows.items():
        row.publish_to_notify_median_s = percentile(waits.get(pid, []), 0.5)
        row.accept_to_grant_median_s = percentile(grants.get(pid, []), 0.5)
    return [rows[k] for k in sorted(rows)]


def by_department(rows: list[PolicyOutcome]) -> dict[str, dict[str, int]]:
    """The same counts summed per department."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        d = out.setdefault(r.department or "未指定", {k: 0 for k in (
            "qualifying", "confirmed", "accepted", "granted", "declined", "notified")})
        for k in d:
            d[k] += getattr(r, k)
    return out

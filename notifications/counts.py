"""What supervisors see of 政策推送, per policy: notified, pending, failed, skipped because
the enterprise opted out, and how long from queueing to sending (median, p90)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifications.models import FAILED, PENDING, SENT, SKIPPED, Notification
from xiaobao.clock import aware


@dataclass(frozen=True)
class PolicyCounts:
    policy_id: str
    notified: int
    pending: int
    failed: int
    opted_out: int
    median_s: float | None  # queued → sent, of the sent ones
    p90_s: float | None


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (the value below which ``share`` of them lie)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def counts(session: Session, policy_id: str | None = None) -> list[PolicyCounts]:
    """Every policy with a notification (or the one asked for), by policy id."""
    by_status = select(Notification.policy_id, Notification.status, func.count())
    waits = select(Notification.policy_id, Notification.created_at, Notification.sent_at
                   ).where(Notification.status == SENT)
    if policy_id is not None:
        by_status = by_status.where(Notification.policy_id == policy_id)
        waits = waits.where(Notification.policy_id == policy_id)
    tally: dict[str, dict[str, int]] = {}
    for pid, status, n in session.execute(by_status.group_by(Notification.policy_id,
                                                             Notification.status)):
        tally.setdefault(pid, {})[status] = int(n)
    seconds: dict[str, list[float]] = {}
    for pid, created, sent in session.execute(waits):
        if sent is not None:
            seconds.setdefault(pid, []).append((aware(sent) - aware(created)).total_seconds())
    return [PolicyCounts(policy_id=pid, notified=t.get(SENT, 0), pending=t.get(PENDING, 0),
                         failed=t.get(FAILED, 0), opted_out=t.get(SKIPPED, 0),
                         median_s=percentile(seconds.get(pid, []), 0.5),
                         p90_s=percentile(seconds.get(pid, []), 0.9))
            for pid, t in sorted(tally.items())]

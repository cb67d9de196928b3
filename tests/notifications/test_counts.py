"""Counts per policy for supervisors: notified, pending, failed, opted out, and the times
from queueing to sending."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from notifications.counts import PolicyCounts, counts, percentile
from notifications.dispatch import dispatch
from notifications.models import FAILED, PENDING, Notification
from notifications.notifier import Simulator
from notifications.optouts import opt_out
from notifications.outbox import enqueue

from .conftest import ALWAYS, MONDAY_10, PORTAL, item, uscc


def test_percentile_is_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    values = [float(v) for v in range(1, 11)]
    assert (percentile(values, 0.5), percentile(values, 0.9)) == (5.0, 9.0)


def test_counts_per_policy(session):
    opt_out(session, uscc(9), "staff")
    enqueue(session, [item(n) for n in range(10)], now=MONDAY_10, portal_url=PORTAL)
    enqueue(session, [item(1, policy="pol-002")], now=MONDAY_10 + dt.timedelta(hours=1),
            portal_url=PORTAL)  # not due yet
    session.commit()
    simulator = Simulator()
    for minutes in range(1, 6):  # one a minute: waits of 60 … 300 s
        dispatch(session, simulator, MONDAY_10 + dt.timedelta(minutes=minutes), limit=1,
                 rules=ALWAYS)
    one_pending = session.scalars(select(Notification.id).where(
        Notification.policy_id == "pol-001", Notification.status == PENDING)).first()
    session.execute(update(Notification).where(Notification.id == one_pending)
                    .values(status=FAILED))
    session.commit()
    assert counts(session) == [
        PolicyCounts("pol-001", notified=5, pending=3, failed=1, opted_out=1,
                     median_s=180.0, p90_s=300.0),
        PolicyCounts("pol-002", notified=0, pending=1, failed=0, opted_out=0,
                     median_s=None, p90_s=None)]
    assert [c.policy_id for c in counts(session, "pol-002")] == ["pol-002"]

"""Supervisors' counts: qualifying, confirmed, accepted, granted, declined, notified."""
from __future__ import annotations

from entitlements.counts import by_department, outcomes
from entitlements.runs import run_batch
from entitlements.worklists import accept, decide, grant, work_list
from tests.entitlements.conftest import DAY, code


def test_each_step_is_counted_per_policy_and_department(session):
    run_batch(session, day=DAY)
    items = work_list(session)
    assert items, "the seed register qualifies someone for a 免申即享 policy"
    first = items[0]
    decide(session, first.id, actor="c", confirm=True)
    accept(session, first.id, uscc=code(1))
    grant(session, first.id, actor="c")
    rows = {r.policy_id: r for r in outcomes(session)}
    row = rows[first.policy_id]
    assert (row.qualifying, row.confirmed, row.accepted, row.granted) == (
        sum(i.policy_id == first.policy_id for i in items), 1, 1, 1)
    assert row.accept_to_grant_median_s is not None and row.accept_to_grant_median_s >= 0
    totals = by_department(list(rows.values()))
    assert totals["区税务局"]["granted"] == 1
    assert totals["区税务局"]["qualifying"] == len(items)

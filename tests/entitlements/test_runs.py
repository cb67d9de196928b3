"""A batch run over the register: 免申即享 work items only from authoritative, fresh facts;
notifications for the other eligible and possible pairs; nothing new when run again."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

from enterprises.register import profile
from entitlements.models import BatchRun, WorkItem
from entitlements.runs import run_batch
from notifications.models import Notification
from policies.evaluator import check
from policies.store import published_policies
from tests.entitlements.conftest import DAY, code

SMALL_PROFIT = "tax-small-profit-cit"  # 免申即享, 区税务局


def test_only_the_authority_backed_enterprise_gets_a_work_item(session):
    summary = run_batch(session, day=DAY, by="t")
    items = list(session.scalars(select(WorkItem).where(WorkItem.policy_id == SMALL_PROFIT)))
    assert [i.uscc for i in items] == [code(1)]
    [item] = items
    assert item.department == "区税务局" and item.status == "pending"
    why = json.loads(item.why)
    assert why["facts"]["employees"] == 20 and why["sources"]["employees"]["source"] == "税务"
    assert why["rule_version"] == item.rule_version and why["mianshen_ready"] is True
    assert summary.work_items == len(list(session.scalars(select(WorkItem))))


def test_a_declared_fact_makes_it_eligible_and_notified_but_never_a_work_item(session):
    run_batch(session, day=DAY)
    kinds = dict(session.execute(select(Notification.policy_id, Notification.kind)
                                 .where(Notification.uscc == code(2))).all())
    assert kinds[SMALL_PROFIT] == "eligible"
    assert session.scalar(select(func.count()).select_from(WorkItem)
                          .where(WorkItem.uscc == code(2))) == 0
    # the work-item enterprise is not told before its department confirms
    assert session.scalar(select(func.count()).select_from(Notification).where(
        Notification.uscc == code(1), Notification.policy_id == SMALL_PROFIT)) == 0


def test_the_run_agrees_with_the_single_profile_evaluator(session):
    summary = run_batch(session, day=DAY)
    policies = [p for p, _ in published_policies(session)]
    expected = {}
    for n in (1, 2, 3, 4):
        for r in check(policies, profile(session, code(n), DAY).facts, DAY).results:
            if r.status in ("eligible", "possible"):
                expected[(code(n), r.id)] = r.status
    got = {(r["uscc"], r["policy"]): r["status"] for r in summary.result.rows()}
    assert got == expected
    assert summary.eligible == sum(v == "eligible" for v in expected.values())


def test_running_twice_creates_nothing_new(session):
    first = run_batch(session, day=DAY)
    before = (session.scalar(select(func.count()).select_from(WorkItem)),
              session.scalar(select(func.count()).select_from(Notification)))
    second = run_batch(session, day=DAY)
    assert first.work_items + first.notifications > 0
    assert (second.work_items, second.notifications) == (0, 0)
    assert (session.scalar(select(func.count()).select_from(WorkItem)),
            session.scalar(select(func.count()).select_from(Notification))) == before
    assert session.scalar(select(func.count()).select_from(BatchRun)) == 2


def test_a_stale_authoritative_fact_is_not_enough_for_mianshen(session):
    late = DAY + dt.timedelta(days=400)  # the 税务 facts are now past the one-year window
    run_batch(session, day=late, policy_id=SMALL_PROFIT)
    assert session.scalar(select(func.count()).select_from(WorkItem)) == 0


def test_one_policy_and_a_missing_one(session):
    summary = run_batch(session, day=DAY, policy_id=SMALL_PROFIT)
    assert summary.policies == 1 and summary.enterprises == 4
    try:
        run_batch(session, day=DAY, policy_id="no-such-policy")
    except Exception as exc:  # noqa: BLE001 - the error's own fields are the assertion
        assert getattr(exc, "status", None) == 404 and "没有已发布的政策" in str(exc)
    else:
        raise AssertionError("a missing policy was accepted")


def test_a_run_for_the_changed_enterprises_only(session):
    summary = run_batch(session, day=DAY, trigger="facts_changed", usccs=[code(2)])
    assert summary.enterprises == 1
    assert {r["uscc"] for r in summary.result.rows()} == {code(2)}

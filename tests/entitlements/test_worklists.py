"""The department's confirm or decline, the enterprise's 一键确认, the grant: in that order
only, each recorded, the confirmation notified once."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from entitlements.errors import EntitlementError
from entitlements.models import WorkItem
from entitlements.runs import run_batch
from entitlements.worklists import accept, decide, grant, item_dict, work_list
from notifications.models import MIANSHEN, Notification
from tests.entitlements.conftest import DAY, code


def _item(session) -> WorkItem:
    run_batch(session, day=DAY)
    return work_list(session, departments=["区税务局"], policy_id="tax-small-profit-cit")[0]


def _mianshen_notes(session, uscc: str) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.uscc == uscc, Notification.kind == MIANSHEN))


def test_confirm_accept_grant_in_order_and_notified_once(session):
    item = _item(session)
    decide(session, item.id, actor="tax-clerk", confirm=True, note="核对无误")
    assert item.status == "confirmed" and item.decided_by == "tax-clerk"
    assert _mianshen_notes(session, code(1)) == 1
    with pytest.raises(EntitlementError) as again:
        decide(session, item.id, actor="tax-clerk", confirm=True)
    assert again.value.status == 409
    run_batch(session, day=DAY)  # a later run neither re-opens nor re-notifies it
    assert _mianshen_notes(session, code(1)) == 1 and item.status == "confirmed"
    with pytest.raises(EntitlementError):
        grant(session, item.id, actor="tax-clerk")  # not accepted yet
    accept(session, item.id, uscc=code(1))
    accept(session, item.id, uscc=code(1))  # a second click changes nothing
    grant(session, item.id, actor="tax-clerk")
    shown = item_dict(item)
    assert shown["status"] == "granted" and shown["accepted_at"] and shown["granted_at"]
    assert shown["why"]["facts"]["taxable_income"] == 100


def test_a_decline_needs_a_note_and_notifies_nobody(session):
    item = _item(session)
    with pytest.raises(EntitlementError) as bare:
        decide(session, item.id, actor="c", confirm=False)
    assert bare.value.code == "note_required" and item.status == "pending"
    decide(session, item.id, actor="c", confirm=False, note="已注销")
    assert item.status == "declined" and item.note == "已注销"
    assert _mianshen_notes(session, code(1)) == 0


def test_another_enterprise_cannot_accept_it(session):
    item = _item(session)
    decide(session, item.id, actor="c", confirm=True)
    with pytest.raises(EntitlementError) as other:
        accept(session, item.id, uscc=code(2))
    assert other.value.status == 404 and item.status == "confirmed"


def test_the_list_filters_by_department_and_status(session):
    item = _item(session)
    assert work_list(session, departments=["区人社局"]) == []
    assert item in work_list(session, status="pending")
    assert work_list(session, status="granted") == []

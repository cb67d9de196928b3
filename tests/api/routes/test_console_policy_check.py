"""The helper's context pack carries the conversation's 政策体检 (issue 23): the facts the user
gave in the chat with their labels and units, the declined ones, and what the published
policies decide on the day — under the ticket view's department rule and masking."""
from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from policies import store
from policies.checkups import record_checkup
from policies.evaluator import CheckResult
from tests.api.support import DEPT, OTHER, SAME_ORIGIN, conversation_of, hand_off
from xiaobao import clock
from xiaobao.db import session_scope

FACTS = {"employees": 25, "taxpayer_type": "小规模纳税人", "district": "宝山区 13812345678",
         "revenue": {"gte": 100, "lt": 300}, "taxable_income": 500}


@pytest.fixture
def user(client, rasa):
    """The user's browser: has chatted with the bot once, so it has a visitor cookie."""
    client.post("/api/chat/messages", json={"text": "你好"})
    return client


@pytest.fixture
def helper_client(app, make_account):
    """``helper_client("ann", departments=[...])``: a staff browser, logged in, on duty."""
    opened = []

    def make(username: str, *, departments=(DEPT,)) -> TestClient:
        password = make_account(username, roles=["helper"], departments=list(departments))
        staff = TestClient(app, headers=SAME_ORIGIN)
        opened.append(staff)
        assert staff.post("/api/auth/login",
                          json={"username": username, "password": password}).status_code == 200
        assert staff.post("/api/helper/status", json={"status": "on_duty"}).status_code == 200
        return staff

    yield make
    for staff in opened:
        staff.close()


@pytest.fixture
def seeded(app, client):
    with session_scope(app.state.services.engine) as s:
        store.import_files(s, sorted(store.SEED.glob("*.yaml")), "seed")


def checked_up(browser, facts=FACTS, declined=("high_tech",)) -> str:
    """What the chat's check-up records for this browser's conversation; its id."""
    conversation_id = conversation_of(browser)
    with session_scope(browser.app.state.services.engine) as s:
        record_checkup(s, conversation_id, facts, list(declined), dt.date(2026, 12, 1),
                       CheckResult([]))
    return conversation_id


def test_the_ticket_view_shows_the_facts_given_and_what_they_decide_today(seeded, user,
                                                                          helper_client):
    checked_up(user, facts={"employees": 10}, declined=())  # an earlier turn: superseded
    checked_up(user)
    ticket_id = hand_off(user)
    ann = helper_client("ann")
    assert ann.post(f"/api/helper/tickets/{ticket_id}/claim").status_code == 200
    check = ann.get(f"/api/helper/tickets/{ticket_id}").json()["policy_check"]
    assert check["given_on"] == "2026-12-01"
    assert check["date"] == clock.today().isoformat()  # recomputed on the day
    facts = {f["field"]: f for f in check["facts"]}
    assert facts["employees"] == {"field": "employees", "label": "从业人数", "type": "integer",
                                  "unit": "人", "value": 25, "declined": False}
    assert facts["revenue"]["label"] == "上年营业收入" and facts["revenue"]["unit"] == "万元"
    assert facts["revenue"]["value"] == {"gte": 100, "lt": 300}
    assert facts["district"]["value"] == "宝山区 13812345678"  # the handling helper: in clear
    assert facts["high_tech"]["declined"] is True and facts["high_tech"]["value"] is None
    assert facts["high_tech"]["label"] == "有效期内高新技术企业"
    eligible = {r["id"]: r for r in check["eligible"]}
    assert "fee-disability-fund-exemption" in eligible
    assert eligible["fee-disability-fund-exemption"]["title"].startswith("在职职工30人")
    possible = {r["id"]: r for r in check["possible"]}
    assert possible["tax-high-tech-cit"]["needed"] == ["有效期内高新技术企业"]
    failed = {r["id"]: r for r in check["ineligible"]}["tax-small-profit-cit"]["failed"]
    assert any("500万元" in why for why in failed), failed


def test_another_helper_of_the_department_sees_it_masked_and_another_department_not_at_all(
        seeded, user, helper_client):
    checked_up(user)
    ticket_id = hand_off(user)
    ann, bob = helper_client("ann"), helper_client("bob")
    unclaimed = bob.get(f"/api/helper/tickets/{ticket_id}").json()["policy_check"]
    assert {f["field"]: f["value"] for f in unclaimed["facts"]}["district"] == "宝山区 138****5678"
    assert ann.post(f"/api/helper/tickets/{ticket_id}/claim").status_code == 200
    masked = bob.get(f"/api/helper/tickets/{ticket_id}").json()["policy_check"]
    assert "13812345678" not in str(masked)
    assert {f["field"]: f["value"] for f in masked["facts"]}["employees"] == 25  # numbers stay
    tax = helper_client("tom", departments=(OTHER,))
    response = tax.get(f"/api/helper/tickets/{ticket_id}")
    assert response.status_code == 403 and "policy_check" not in response.text


def test_a_conversation_without_a_check_up_has_none(seeded, user, helper_client):
    ticket_id = hand_off(user)
    ann = helper_client("ann")
    assert ann.get(f"/api/helper/tickets/{ticket_id}").json()["policy_check"] is None


def test_another_conversations_check_up_is_not_shown(seeded, user, helper_client, app):
    with session_scope(app.state.services.engine) as s:
        record_checkup(s, "someone-else", FACTS, [], dt.date(2026, 12, 1), CheckResult([]))
    ticket_id = hand_off(user)
    ann = helper_client("ann")
    assert ann.get(f"/api/helper/tickets/{ticket_id}").json()["policy_check"] is None

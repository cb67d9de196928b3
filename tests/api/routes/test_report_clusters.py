"""GET /api/reports/clusters through HTTP: tickets made by the handoff package and a 差评 opened
by rating one, grouped by meaning with the real model; the window is the centre's calendar
days (Asia/Shanghai), both included. Who may call it: tests/api/test_authorization.py."""
from __future__ import annotations

import datetime as dt

import pytest

from handoff.requests import request_handoff
from handoff.store import Ticket
from ratings.record import record_rating
from retrieval.embedder import get_embedder
from retrieval.service import build_retriever
from tests.api.support import DEPT, handoff_request
from xiaobao.db import session_scope

DOG = ["宠物犬登记在哪里办", "养狗要办什么证", "狗证在哪里办"]


@pytest.fixture
def supervisor(client, services, login):
    """The client logged in as a supervisor; the app embeds with the real model."""
    services.use_retriever(build_retriever(services.settings, services.engine,
                                           embedder=get_embedder()))
    return login("sam", roles=["supervisor"], departments=[])


def ticket(services, topic: str, created: dt.datetime | None = None) -> str:
    ticket_id = request_handoff(handoff_request(f"c-{topic}-{created}", topic=topic),
                                ctx=services.handoff).ticket_id
    if created is not None:
        with session_scope(services.engine) as s:
            s.get(Ticket, ticket_id).created_at = created
    return ticket_id


def test_tickets_and_a_bad_rating_about_one_problem_are_one_row(supervisor, services):
    ids = [ticket(services, text) for text in DOG]
    ticket(services, "增值税发票怎么开")
    with session_scope(services.engine) as s:
        conversation = s.get(Ticket, ids[0]).conversation_id
        record_rating(s, conversation, "不满意", ticket_id=ids[0], reason="狗证在哪里办没人说清楚",
                      department=DEPT)

    response = supervisor.get("/api/reports/clusters")

    assert response.status_code == 200, response.text
    body = response.json()
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    assert (body["from"], body["to"]) == ((today - dt.timedelta(days=29)).isoformat(),
                                          today.isoformat())
    assert (body["items"], body["tickets"], body["bad_ratings"], body["truncated"]) == \
        (5, 4, 1, False)
    dog, invoice = body["clusters"]
    assert (dog["size"], dog["tickets"], dog["bad_ratings"]) == (4, 3, 1)
    assert set(dog["examples"]) == {*DOG, "狗证在哪里办没人说清楚"}
    assert dog["departments"] == {DEPT: 4}
    assert invoice["examples"] == ["增值税发票怎么开"] and invoice["size"] == 1
    assert dt.datetime.fromisoformat(dog["first_seen"]) <= \
        dt.datetime.fromisoformat(dog["last_seen"])


def test_the_window_is_the_centres_calendar_days(supervisor, services):
    # 23:30 in Shanghai on 1 March is 15:30 UTC: a ticket of 1 March, not of the 2nd.
    ticket(services, DOG[0], dt.datetime(2026, 3, 1, 15, 30, tzinfo=dt.UTC))
    ticket(services, DOG[1], dt.datetime(2026, 3, 1, 16, 0, tzinfo=dt.UTC))  # 2 March, 00:00

    def texts(first: str, last: str) -> set[str]:
        response = supervisor.get("/api/reports/clusters", params={"from": first, "to": last})
        assert response.status_code == 200, response.text
        return {t for c in response.json()["clusters"] for t in c["examples"]}

    assert texts("2026-03-01", "2026-03-01") == {DOG[0]}
    assert texts("2026-03-02", "2026-03-02") == {DOG[1]}
    assert texts("2026-02-28", "2026-03-02") == {DOG[0], DOG[1]}
    assert texts("2026-03-03", "2026-03-31") == set()


@pytest.mark.parametrize("params", [
    {"from": "2026-03-02", "to": "2026-03-01"},  # ends before it starts
    {"from": "2024-01-01", "to": "2026-03-01"},  # more than a year: the rates' rule too
    {"to": "0001-01-02"},  # the default start would leave the calendar
])
def test_a_window_the_rates_refuse_is_refused(supervisor, params):
    response = supervisor.get("/api/reports/clusters", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_window"


def test_a_department_leader_sees_only_its_own_departments_examples(client, services, login):
    services.use_retriever(build_retriever(services.settings, services.engine,
                                           embedder=get_embedder()))
    other = "区税务局"
    ticket(services, DOG[0])
    invoice = ticket(services, "增值税发票怎么开")
    with session_scope(services.engine) as s:
        s.get(Ticket, invoice).department = other
    seen = {}
    for name, department in (("lead-a", DEPT), ("lead-b", other)):
        leader = login(name, roles=["leader"], departments=[department])
        response = leader.get("/api/reports/clusters")
        assert response.status_code == 200, response.text
        seen[department] = [e for c in response.json()["clusters"] for e in c["examples"]]
    assert seen == {DEPT: [DOG[0]], other: ["增值税发票怎么开"]}

"""GET /api/exports/conversations, /tickets and /complaints through HTTP: the files streamed with
their Content-Disposition, formula cells neutralised, a leader's export limited to their
departments, other roles refused with 403, bad windows and formats with 422, and each export
in the event log under the account that made it."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.reports import scenario
from xiaobao import conversations
from xiaobao.db import session_scope
from xiaobao.enums import Speaker
from xiaobao.events import Event, EventKind

DAY = {"from": "2026-12-01", "to": "2026-12-01"}


@pytest.fixture
def built(client, services):
    """The scripted day, in the started app's database (its schema migrated)."""
    return scenario.build(services.engine, services.handoff.redis)


def exported(services) -> list[tuple[str, dict]]:
    with session_scope(services.engine) as s:
        return [(e.actor, e.data) for e in s.scalars(
            select(Event).where(Event.kind == EventKind.DATA_EXPORTED.value).order_by(Event.pk))]


def test_tickets_as_csv_for_a_supervisor(built, services, staff):
    got = staff("sam", "supervisor").get("/api/exports/tickets", params={**DAY, "format": "csv"})
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    assert got.headers["content-disposition"] == \
        'attachment; filename="tickets-20261201-20261201.csv"'
    assert got.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert {r["ticket_id"] for r in rows} == {built.tickets[n] for n in (
        "T1", "T2", "T3", "T4", "T5", "T7", "T8")}
    assert exported(services) == [("sam", {
        "what": "tickets", "first": "2026-12-01", "last": "2026-12-01", "format": "csv",
        "encoding": "utf-8", "departments": None, "rows": 7, "complete": True})]


def test_a_leader_gets_their_departments_complaints_as_xlsx(built, services, staff):
    leader = staff("lea", "leader", [scenario.TAX])
    got = leader.get("/api/exports/complaints", params={**DAY, "format": "xlsx"})
    assert got.status_code == 200, got.text
    assert got.headers["content-disposition"].endswith('complaints-20261201-20261201.xlsx"')
    values = list(load_workbook(io.BytesIO(got.content)).active.values)
    cases = [dict(zip(values[0], row)) for row in values[1:]]
    assert [(c["department"], c["case_id"]) for c in cases] == [
        (scenario.TAX, built.cases["T2"])]  # T2 ended in 区税务局; the others are not theirs
    assert exported(services)[-1][1]["departments"] == [scenario.TAX]


def test_conversations_neutralised_in_csv_as_stored_in_jsonl(client, services, staff):
    with session_scope(services.engine) as s:
        conversations.append(s, "v-route-1", Speaker.USER, "=1+2")
        conversations.append(s, "v-route-2", Speaker.USER, "@SUM(A1)")
    today = dt.datetime.now(scenario.SH).date()
    window = {"from": (today - dt.timedelta(days=1)).isoformat(),
              "to": (today + dt.timedelta(days=1)).isoformat()}
    supervisor = staff("sam", "supervisor")
    sheet = supervisor.get("/api/exports/conversations",
                           params={**window, "format": "csv", "encoding": "gb18030"})
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["content-type"] == "text/csv; charset=gb18030"
    rows = list(csv.DictReader(io.StringIO(sheet.content.decode("gb18030"))))
    assert {r["conversation_id"]: r["first_message"] for r in rows} == {
        "v-route-1": "'=1+2", "v-route-2": "'@SUM(A1)"}
    lines = supervisor.get("/api/exports/conversations", params={**window, "format": "jsonl"})
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    objects = [json.loads(line) for line in lines.text.splitlines()]
    assert [(o["conversation_id"], o["first_message"], o["channel"]) for o in objects] == [
        ("v-route-1", "=1+2", "portal"), ("v-route-2", "@SUM(A1)", "portal")]


@pytest.mark.parametrize("role", ["helper", "editor", "registrar"])
def test_other_roles_are_refused(client, services, staff, role):
    got = staff(f"x-{role}", role, ["区市场监管局"] if role == "helper" else None).get(
        "/api/exports/conversations", params=DAY)
    assert got.status_code == 403
    assert " / " in got.json()["error"]["message"]
    assert exported(services) == []


@pytest.mark.parametrize("params,code,words", [
    ({"from": "2026-12-02", "to": "2026-12-01"}, "invalid_window", "晚于"),
    ({"from": "2025-01-01", "to": "2026-12-01"}, "invalid_window", "366"),
    ({"from": "2026-13-01", "to": "2026-12-01"}, "invalid_request", "from"),
    ({**DAY, "format": "pdf"}, "invalid_request", "format"),
    ({**DAY, "format": "xlsx", "encoding": "gb18030"}, "invalid_export", "Only a CSV"),
])
def test_bad_requests_get_422_with_the_error_shape(client, services, staff, params, code,
                                                   words):
    got = staff("sam", "supervisor").get("/api/exports/tickets", params=params)
    assert got.status_code == 422
    error = got.json()["error"]
    assert error["code"] == code and words in error["message"] and " / " in error["message"]
    assert exported(services) == []

"""The scripted day (tests/reports/scenario.py), every rate worked out by hand, on SQLite and
PostgreSQL. Each fraction below is counted from the scenario's table, not from the code."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from reports import facts, rates
from tests.reports import scenario
from tests.reports.scenario import CONFIG, DAY, NOW, PERMITS, SOCIAL, TAX
from xiaobao.db import session_scope
from xiaobao.events import Event, EventKind


def fraction(numerator: int, denominator: int) -> dict:
    return {"value": numerator / denominator, "numerator": numerator,
            "denominator": denominator}


NOT_AVAILABLE = {"value": None, "numerator": 0, "denominator": 0}

EXPECTED = {
    # T1 120 s, T3 1,800 s from its window's start (≤ 3,600), T5 120 s, T8 150 s of service
    # time across the night: in time. T2 360 s and T7 (abandoned after 300 s, never
    # answered): late. T4 abandoned after 120 s: left out.
    "response_rate": fraction(4, 6),
    "abandoned_before_service_level": 1,
    # Closed: T1 T2 T3 T4 T5 T7 T8; resolved: T1 T2 T3 T8.
    "resolution_rate": fraction(4, 7),
    # Visits with a question: V1 (有帮助) ✓, V2 (suggestion chosen, no handoff) ✓,
    # V3 (handoff) ✗, V4 (没帮助, handoff) ✗, V5 (没帮助) ✗. V6 asked no question.
    "bot_resolution_rate": fraction(2, 5),
    # Latest ratings: V1 非常满意, V5 基本满意, T1 满意 (replaced 不满意), T3 不满意,
    # T5 非常不满意 (its 不属实 overturned); T2's 非常不满意 is upheld 不属实: out.
    "satisfaction_rate": fraction(3, 5),
    # 差评 reviewed: T2 不属实 (upheld), T3 属实, T5 不属实 overturned.
    "unfounded_rate": fraction(1, 3),
    # Resolved: T1 ✓, T8 ✓, T2 transferred ✗, T3 same visitor and topic again 3 days later ✗.
    "first_contact_resolution_rate": fraction(2, 4),
    # Questions: V1 ✓, V2 ✓ (suggestion chosen), V3 abstained ✗, V4's first ✓ (no handoff
    # before the second), V4's second ✗ (handoff), V5 ✓.
    "containment_rate": fraction(4, 6),
    # Completed cases: 7 closed tickets + V1, V2, V5; rated: T1 T2 T3 T5 V1 V5.
    "active_rating_rate": fraction(6, 10),
    # 差评 counting: T3 (contacted the same day, fixed the next) ✓, T5 never contacted ✗.
    "rectified_in_time_rate": fraction(1, 2),
    # T3 followed up, T5 not.
    "follow_up_rate": fraction(1, 2),
    # T1 120, T2 360, T3 1,800, T5 120, T8 150 → p50 is the 3rd of 5, p90 the 5th.
    "first_response_s": {"p50": 150.0, "p90": 1800.0, "n": 5},
    # First response to close: T1 480, T2 2,040, T3 600, T5 1,080, T8 540.
    "handling_s": {"p50": 600.0, "p90": 2040.0, "n": 5},
    # To the first claim: T1 60, T2 300, T3 1,860 (claimed by 12345 at 14:31), T5 60, T8 120.
    "queue_wait_s": {"p50": 120.0, "p90": 1860.0, "n": 5},
}


@pytest.fixture
def built(engine, r):
    return scenario.build(engine, r)


def test_every_rate_of_the_day_matches_the_hand_count(built, engine):
    got = rates.summary(engine, DAY, DAY, config=CONFIG, now=NOW)
    assert set(got) == set(EXPECTED)
    for key, expected in EXPECTED.items():
        assert got[key] == expected, key


def test_the_breakdown_by_department(built, engine):
    got = rates.summary(engine, DAY, DAY, config=CONFIG, now=NOW, by="department")
    rows = {row["key"]: row for row in got["breakdown"]["rows"]}
    assert got["breakdown"]["by"] == "department"
    # Tickets: T1 T4 T5 T7 T8 in 区市场监管局, T2 transferred to 区税务局, T3 in 区社保中心.
    # Visits by the department their category goes to: V3 V4 → 区市场监管局, V1 V5 → 区税务局,
    # V2 → 区社保中心.
    assert rows[PERMITS]["response_rate"] == fraction(3, 4)  # T1 T5 T8 ✓, T7 ✗, T4 left out
    assert rows[PERMITS]["abandoned_before_service_level"] == 1
    assert rows[PERMITS]["resolution_rate"] == fraction(2, 5)  # T1 T8 of T1 T4 T5 T7 T8
    assert rows[PERMITS]["bot_resolution_rate"] == fraction(0, 2)
    assert rows[TAX]["response_rate"] == fraction(0, 1)
    assert rows[TAX]["bot_resolution_rate"] == fraction(1, 2)  # V1 ✓, V5 ✗
    assert rows[TAX]["satisfaction_rate"] == fraction(2, 2)  # V1, V5 (T2 is out)
    assert rows[SOCIAL]["response_rate"] == fraction(1, 1)
    assert rows[SOCIAL]["first_contact_resolution_rate"] == fraction(0, 1)
    assert rows[SOCIAL]["containment_rate"] == fraction(1, 1)  # V2
    assert set(rows) == {PERMITS, TAX, SOCIAL}


def test_the_breakdown_by_channel_and_helper(built, engine):
    by_channel = {row["key"]: row for row in rates.summary(
        engine, DAY, DAY, config=CONFIG, now=NOW, by="channel")["breakdown"]["rows"]}
    assert by_channel["hotline_12345"]["response_rate"] == fraction(1, 1)
    assert by_channel["online_helper"]["response_rate"] == fraction(3, 5)
    assert by_channel[facts.BOT_CHANNEL]["containment_rate"] == fraction(4, 6)
    assert by_channel[facts.BOT_CHANNEL]["response_rate"] == NOT_AVAILABLE
    by_helper = {row["key"]: row for row in rates.summary(
        engine, DAY, DAY, config=CONFIG, now=NOW, by="helper")["breakdown"]["rows"]}
    # ann holds T1 T5 T8 at the end; bob T2; 12345 T3; T4 and T7 were never claimed.
    assert by_helper["ann"]["resolution_rate"] == fraction(2, 3)
    assert by_helper["bob"]["first_contact_resolution_rate"] == fraction(0, 1)
    assert by_helper[facts.NO_HELPER]["abandoned_before_service_level"] == 1
    assert by_helper[facts.NO_HELPER]["response_rate"] == fraction(0, 1)  # T7


def test_days_around_midnight_and_the_series(built, engine):
    first, last = dt.date(2026, 11, 30), dt.date(2026, 12, 2)
    series = rates.series(engine, first, last, "response_rate", config=CONFIG, now=NOW)
    # 11-30: T0, answered at night (0 s of service time). 12-01: the day. 12-02: T9 only
    # (created 16:10 UTC on 12-01), abandoned outside hours: nothing to count.
    assert series == {"metric": "response_rate", "points": [
        {"day": "2026-11-30", **fraction(1, 1)},
        {"day": "2026-12-01", **fraction(4, 6)},
        {"day": "2026-12-02", **NOT_AVAILABLE}]}
    by_day = rates.summary(engine, first, last, config=CONFIG, now=NOW, by="day")
    assert [row["abandoned_before_service_level"] for row in by_day["breakdown"]["rows"]] == \
        [0, 1, 1]
    assert by_day["response_rate"] == fraction(5, 7)
    waits = rates.series(engine, first, last, "queue_wait_s", config=CONFIG, now=NOW)
    assert waits["points"][1] == {"day": "2026-12-01", "value": 120.0, "numerator": None,
                                  "denominator": 5, "p90": 1860.0}
    assert waits["points"][2]["value"] is None and waits["points"][2]["denominator"] == 0


def test_the_events_of_the_scenario(built, engine):
    """The steps left their events: why each handoff happened, when each clock started, the
    call's dialling and connection, the suggestion clicked."""
    with session_scope(engine) as s:
        events = list(s.scalars(select(Event).order_by(Event.pk)))
    requested = {e.ticket_id: e.data["trigger"] for e in events
                 if e.kind == EventKind.HANDOFF_REQUESTED}
    assert requested[built.tickets["T1"]] == "abstention"
    assert requested[built.tickets["T2"]] == "unhelpful"
    assert requested[built.tickets["T3"]] == "user"
    queued = {e.ticket_id: e.data["clock_from"] for e in events
              if e.kind == EventKind.TICKET_QUEUED}
    assert queued[built.tickets["T3"]] == "2026-12-01T06:00:00+00:00"  # 14:00 Shanghai
    assert queued[built.tickets["T1"]] == "2026-12-01T02:00:00+00:00"  # its queueing
    statuses = [e.data["status"] for e in events if e.kind == EventKind.CALL_STATUS]
    assert statuses == ["dialling", "ringing", "answered", "three_way_connected", "completed"]
    assert sum(e.kind == EventKind.SUGGESTION_CLICKED for e in events) == 1

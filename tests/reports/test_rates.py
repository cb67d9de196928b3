"""The rates' pieces and edge cases: percentiles, the service-hours clock, a call-back's window,
windows refused, no ratings, a window that crosses midnight (Shanghai is UTC+8), a response
across closing time, a night and a holiday, open tickets, a 1-5-15 timer over a holiday."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from handoff import claims, closing, relay
from handoff.calls import window_start
from handoff.context import HandoffContext
from ratings import cases
from reports import collect, rates, window
from tests.reports.scenario import (
    CONFIG,
    PERMITS,
    SH,
    SUPERVISOR,
    Clock,
    case_step,
    category_of,
    feedback,
    hand_off,
    helper,
    question,
    rate,
)
from xiaobao.clock import open_seconds


def local(y, m, d, hh, mm=0, ss=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=SH)


# --- pure pieces ----------------------------------------------------------------------------------

def test_a_rate_without_denominator_is_not_available():
    assert rates.rate(0, 0) == {"value": None, "numerator": 0, "denominator": 0}
    assert rates.rate(0, 3) == {"value": 0.0, "numerator": 0, "denominator": 3}
    assert rates.rate(3, 3)["value"] == 1.0


@pytest.mark.parametrize("values,p50,p90", [
    ([], None, None),
    ([7.0], 7.0, 7.0),
    ([4.0, 1.0], 1.0, 4.0),  # nearest rank: ⌈0.5·2⌉ = 1st, ⌈0.9·2⌉ = 2nd
    ([float(v) for v in range(1, 11)], 5.0, 9.0),
    ([float(v) for v in range(1, 12)], 6.0, 10.0),  # ⌈5.5⌉ = 6th, ⌈9.9⌉ = 10th
])
def test_percentiles_are_nearest_rank(values, p50, p90):
    assert rates.percentiles(values) == {"p50": p50, "p90": p90, "n": len(values)}


@pytest.mark.parametrize("start,end,seconds", [
    (local(2026, 12, 1, 10), local(2026, 12, 1, 10, 3), 180),  # plain
    (local(2026, 12, 1, 11, 59), local(2026, 12, 1, 13, 1), 120),  # lunch does not count
    (local(2026, 12, 1, 16, 58, 30), local(2026, 12, 2, 9, 1), 150),  # across the night
    (local(2026, 12, 1, 20), local(2026, 12, 2, 9, 2, 59), 179),  # queued at night
    (local(2026, 12, 5, 11, 59), local(2026, 12, 7, 9, 1), 120),  # Saturday noon to Monday
    (local(2026, 9, 30, 16, 59), local(2026, 10, 8, 9, 1), 120),  # over 国庆
    (local(2026, 10, 9, 16, 59), local(2026, 10, 10, 13, 1), 3 * 3600 + 120),  # 调休 Saturday
    (local(2026, 12, 1, 10), local(2026, 12, 1, 9), 0),  # backwards: nothing
    (local(2026, 12, 1, 2), local(2026, 12, 1, 3), 0),  # all at night
])
def test_the_service_hours_clock(start, end, seconds):
    assert open_seconds(start, end, CONFIG) == seconds
    assert open_seconds(start.astimezone(dt.UTC), end.astimezone(dt.UTC), CONFIG) == seconds


def test_a_call_back_window_starts_the_clock():
    assert window_start("2026-12-01（周二）14:00–16:00", CONFIG) == local(2026, 12, 1, 14)
    assert window_start("2026-12-03（周四）9:30–11:00", CONFIG) == local(2026, 12, 3, 9, 30)
    assert window_start("明天上午", CONFIG) is None
    assert window_start("", CONFIG) is None
    assert window_start("2026-13-01（周二）14:00–16:00", CONFIG) is None


@pytest.mark.parametrize("first,last,words", [
    (dt.date(2026, 12, 2), dt.date(2026, 12, 1), "晚于"),
    (dt.date(2025, 1, 1), dt.date(2026, 1, 2), "366"),
    (dt.date(1999, 12, 31), dt.date(2000, 1, 1), "超出范围"),
    (dt.date(9999, 12, 30), dt.date(9999, 12, 31), "超出范围"),
])
def test_windows_refused(first, last, words):
    with pytest.raises(window.WindowError) as refused:
        window.check_window(first, last)
    assert words in refused.value.message and " / " in refused.value.message


def test_a_year_is_accepted():
    window.check_window(dt.date(2025, 12, 2), dt.date(2026, 12, 2))  # 366 days


# --- on the database ------------------------------------------------------------------------------

@pytest.fixture
def ctx(engine, r) -> HandoffContext:
    return HandoffContext(engine=engine, redis=r, config=CONFIG)


@pytest.fixture
def clock(engine) -> Clock:
    return Clock(engine)


@pytest.fixture
def ann(engine):
    return helper(engine, "ann", [PERMITS])


def conversation() -> str:
    return f"v-{uuid.uuid4().hex}"


def answered_ticket(ctx, clock, ann, queued: dt.datetime, responded: dt.datetime,
                    closed: dt.datetime | None = None) -> str:
    """An online handoff queued, claimed and answered at the given times (resolved when
    ``closed`` is given)."""
    conv = conversation()
    ticket_id = hand_off(ctx, conv, category_of(PERMITS), trigger="user")
    clock.at(queued)
    claims.claim_ticket(ticket_id, ann, ctx=ctx)
    clock.at(responded)
    relay.send_helper_message(ticket_id, ann, "您好", ctx=ctx)
    clock.at(responded)
    if closed is not None:
        closing.resolve_ticket(ticket_id, ann, "已解答", ctx=ctx)
        clock.at(closed)
    return ticket_id


def test_no_ratings_leave_the_rating_rates_not_available(engine, ctx, clock, ann):
    answered_ticket(ctx, clock, ann, local(2026, 12, 1, 10), local(2026, 12, 1, 10, 1),
                    local(2026, 12, 1, 10, 5))
    got = rates.summary(engine, dt.date(2026, 12, 1), dt.date(2026, 12, 1), config=CONFIG)
    for key in ("satisfaction_rate", "unfounded_rate", "rectified_in_time_rate",
                "follow_up_rate"):
        assert got[key] == {"value": None, "numerator": 0, "denominator": 0}, key
    assert got["active_rating_rate"] == {"value": 0.0, "numerator": 0, "denominator": 1}
    assert got["resolution_rate"]["value"] == 1.0
    # Nothing at all on another day: every rate not available, every duration empty.
    empty = rates.summary(engine, dt.date(2026, 12, 2), dt.date(2026, 12, 2), config=CONFIG)
    assert all(empty[k]["value"] is None for k in rates.RATES)
    assert all(empty[k] == {"p50": None, "p90": None, "n": 0} for k in rates.DURATIONS)


def test_a_window_crossing_midnight_counts_shanghai_days(engine, clock):
    """23:59:30 on 11-30 and 00:00:30 on 12-01 in Shanghai are both 11-30 in UTC: two visits
    of one conversation, one on each Shanghai day."""
    conv = conversation()
    question(engine, conv, "answer", category_of(PERMITS))
    clock.at(local(2026, 11, 30, 23, 59, 30))
    question(engine, conv, "abstain", category_of(PERMITS))
    clock.at(local(2026, 12, 1, 0, 0, 30))
    feedback(engine, conv, True)
    clock.at(local(2026, 12, 1, 0, 1))
    nov30 = rates.summary(engine, dt.date(2026, 11, 30), dt.date(2026, 11, 30), config=CONFIG)
    dec1 = rates.summary(engine, dt.date(2026, 12, 1), dt.date(2026, 12, 1), config=CONFIG)
    both = rates.summary(engine, dt.date(2026, 11, 30), dt.date(2026, 12, 1), config=CONFIG,
                         by="day")
    assert nov30["containment_rate"] == {"value": 1.0, "numerator": 1, "denominator": 1}
    assert dec1["containment_rate"] == {"value": 0.0, "numerator": 0, "denominator": 1}
    assert dec1["bot_resolution_rate"]["numerator"] == 1  # 有帮助 after midnight
    assert both["bot_resolution_rate"] == {"value": 1.0, "numerator": 2, "denominator": 2}
    assert [row["key"] for row in both["breakdown"]["rows"]] == ["2026-11-30", "2026-12-01"]


@pytest.mark.parametrize("queued,responded,in_time", [
    # Closing is 17:00: 90 s before it and 60 s after 09:00 the next morning is 150 s.
    (local(2026, 12, 1, 16, 58, 30), local(2026, 12, 2, 9, 1), True),
    (local(2026, 12, 1, 16, 58), local(2026, 12, 2, 9, 2, 1), False),  # 120 + 121 s
    (local(2026, 12, 1, 20), local(2026, 12, 2, 9, 2, 59), True),  # queued at night: 179 s
    (local(2026, 9, 30, 16, 59), local(2026, 10, 8, 9, 1), True),  # a week of 国庆 between
])
def test_the_response_clock_stops_outside_service_hours(engine, ctx, clock, ann, queued,
                                                        responded, in_time):
    answered_ticket(ctx, clock, ann, queued, responded)
    day = queued.date()
    got = rates.summary(engine, day, day, config=CONFIG)
    assert got["response_rate"] == {"value": float(in_time), "numerator": int(in_time),
                                    "denominator": 1}
    assert got["first_response_s"]["n"] == 1
    assert (got["first_response_s"]["p50"] <= 180) is in_time


def test_an_open_ticket_counts_once_its_service_level_has_passed(engine, ctx, clock):
    ticket_id = hand_off(ctx, conversation(), category_of(PERMITS), trigger="user")
    clock.at(local(2026, 12, 1, 10))
    day = dt.date(2026, 12, 1)

    def response(now):
        return rates.summary(engine, day, day, config=CONFIG, now=now)["response_rate"]

    assert response(local(2026, 12, 1, 10, 2)) == {"value": None, "numerator": 0,
                                                   "denominator": 0}
    assert response(local(2026, 12, 1, 10, 3)) == {"value": 0.0, "numerator": 0,
                                                   "denominator": 1}
    closing.abandon_ticket(ticket_id, ctx=ctx)
    clock.at(local(2026, 12, 1, 10, 2, 59))  # left before the level: out, counted apart
    got = rates.summary(engine, day, day, config=CONFIG)
    assert got["response_rate"]["denominator"] == 0
    assert got["abandoned_before_service_level"] == 1
    assert got["resolution_rate"] == {"value": 0.0, "numerator": 0, "denominator": 1}


def test_a_bad_rating_timer_runs_over_a_holiday(engine, ctx, clock, ann):
    """A 差评 on the eve of 国庆 (Wednesday 09-30): contact due by the end of 10-08, a simple
    fix by the end of 10-13 (10-08, 10-09, the 调休 Saturday 10-10, 10-12, 10-13)."""
    ticket_id = answered_ticket(ctx, clock, ann, local(2026, 9, 30, 10),
                                local(2026, 9, 30, 10, 1), local(2026, 9, 30, 10, 5))
    conv = ticket_conversation(engine, ticket_id)
    case_id = rate(engine, conv, "不满意", ticket_id=ticket_id, reason="答复太慢")
    clock.at(local(2026, 9, 30, 16))
    day = dt.date(2026, 9, 30)

    def figures(now):
        got = rates.summary(engine, day, day, config=CONFIG, now=now)
        return got["rectified_in_time_rate"], got["follow_up_rate"]

    pending = {"value": None, "numerator": 0, "denominator": 0}
    assert figures(local(2026, 10, 8, 12)) == (pending, {"value": 0.0, "numerator": 0,
                                                         "denominator": 1})
    case_step(clock, local(2026, 10, 8, 15), cases.record_rectification, case_id,
              SUPERVISOR, "contacted", "已联系")
    assert figures(local(2026, 10, 13, 12))[0] == pending  # the fix is not due yet
    case_step(clock, local(2026, 10, 13, 16), cases.record_rectification, case_id,
              SUPERVISOR, "fixed", "已整改")
    case_step(clock, local(2026, 10, 14, 9), cases.record_rectification, case_id,
              SUPERVISOR, "followed_up", "已回访")
    done = {"value": 1.0, "numerator": 1, "denominator": 1}
    assert figures(local(2026, 12, 1, 0)) == (done, done)


def test_an_unfixed_bad_rating_is_late_once_its_fix_is_due(engine, ctx, clock, ann):
    ticket_id = answered_ticket(ctx, clock, ann, local(2026, 9, 30, 10),
                                local(2026, 9, 30, 10, 1), local(2026, 9, 30, 10, 5))
    rate(engine, ticket_conversation(engine, ticket_id), "非常不满意", ticket_id=ticket_id,
         reason="没有解决")
    clock.at(local(2026, 9, 30, 16))
    day = dt.date(2026, 9, 30)
    got = rates.summary(engine, day, day, config=CONFIG, now=local(2026, 10, 9, 0))
    # Not contacted by the end of 10-08: late already, though the fix is due later.
    assert got["rectified_in_time_rate"] == {"value": 0.0, "numerator": 0, "denominator": 1}
    assert got["satisfaction_rate"] == {"value": 0.0, "numerator": 0, "denominator": 1}
    assert got["unfounded_rate"] == {"value": None, "numerator": 0, "denominator": 0}


def ticket_conversation(engine, ticket_id: str) -> str:
    from handoff.store import Ticket
    from xiaobao.db import session_scope

    with session_scope(engine) as s:
        return s.get(Ticket, ticket_id).conversation_id


def test_unknown_breakdown_and_metric_are_refused(engine):
    facts = collect.collect(engine, dt.date(2026, 12, 1), dt.date(2026, 12, 1), config=CONFIG)
    with pytest.raises(ValueError):
        rates.breakdown(facts, "weekday", dt.date(2026, 12, 1), dt.date(2026, 12, 1))
    with pytest.raises(ValueError):
        rates.series(engine, dt.date(2026, 12, 1), dt.date(2026, 12, 1), "speed",
                     config=CONFIG)


def test_an_older_event_without_a_category_takes_its_entrys(engine, clock):
    """Events written before ``bot_answer`` carried the category: the entry's own is used."""
    from knowledge_base.schema import EntryData
    from knowledge_base.store import save_entry
    from tests.reports.scenario import bot_event
    from xiaobao.db import session_scope
    from xiaobao.events import EventKind

    with session_scope(engine) as s:
        save_entry(s, EntryData(id="kb-fund-1", question="公积金怎么缴", answer="到网上办。",
                                category="住房公积金"), "test")
    bot_event(engine, EventKind.BOT_ANSWER, conversation(), decision="answer",
              entry_id="kb-fund-1", query="公积金", score=0.7)
    clock.at(local(2026, 12, 1, 10))
    day = dt.date(2026, 12, 1)
    rows = rates.summary(engine, day, day, config=CONFIG, by="category")["breakdown"]["rows"]
    assert [(row["key"], row["containment_rate"]["numerator"]) for row in rows] == [
        ("住房公积金", 1)]
    by_department = rates.summary(engine, day, day, config=CONFIG,
                                  by="department")["breakdown"]["rows"]
    assert [row["key"] for row in by_department] == [CONFIG.routing["住房公积金"]]

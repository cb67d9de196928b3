"""The 1、5、15 timers on the project's calendar (handoff/config.yaml): working days after the
day of opening in Shanghai, holidays skipped, 调休 Saturdays counted; late steps flagged."""
from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from handoff.config import packaged_config
from ratings import deadlines as wd
from ratings.cases import BadRatingCase
from xiaobao import clock
from xiaobao.clock import ServiceCalendar

SH = ZoneInfo("Asia/Shanghai")
CAL = packaged_config().hours


def sh(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def end_of(day: str) -> dt.datetime:
    """The exclusive end of ``day`` in Shanghai: the next midnight."""
    return dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time.min,
                               tzinfo=SH)


def case(opened_at: dt.datetime, **kw) -> BadRatingCase:
    fields = {"status": "open", "complexity": "simple", "verdict": "", "overturned": False}
    return BadRatingCase(opened_at=opened_at.astimezone(dt.UTC), **{**fields, **kw})


def test_the_calendar_is_the_projects():
    assert dt.date(2026, 10, 1) in CAL.holidays and dt.date(2026, 10, 10) in CAL.workdays


@pytest.mark.parametrize(("day", "working"), [
    ("2026-12-04", True),    # a Friday
    ("2026-12-05", False),   # a Saturday with morning service: still not a working day
    ("2026-12-06", False),   # a Sunday
    ("2026-10-01", False),   # 国庆节, a Thursday
    ("2026-10-10", True),    # 调休: a Saturday that is a working day
    ("2026-09-20", True),    # 调休: a Sunday
])
def test_working_days(day, working):
    assert clock.is_working_day(dt.date.fromisoformat(day), CAL) is working


def test_opening_on_a_friday_evening():
    due = wd.rectification_due(sh(2026, 12, 4, 20, 30), CAL)
    assert due == {"contact_due": end_of("2026-12-07"),        # Monday
                   "fix_due_simple": end_of("2026-12-11"),     # the next Friday
                   "fix_due_complex": end_of("2026-12-25")}    # three weeks on
    assert due["contact_due"].isoformat() == "2026-12-08T00:00:00+08:00"


def test_the_day_of_opening_is_shanghais_not_utcs():
    """Thursday 23:30 and Friday 00:30 in Shanghai are both Thursday in UTC."""
    thursday_night = sh(2026, 12, 3, 23, 30)
    friday_early = sh(2026, 12, 4, 0, 30)
    assert thursday_night.astimezone(dt.UTC).date() == friday_early.astimezone(dt.UTC).date()
    assert clock.due_after(thursday_night.astimezone(dt.UTC), 1, CAL) == end_of("2026-12-04")
    assert clock.due_after(friday_early.astimezone(dt.UTC), 1, CAL) == end_of("2026-12-07")


def test_a_holiday_inside_the_timers_and_a_tiaoxiu_saturday():
    """Opened on the eve of 国庆 (1–7 October off; Saturday 10 October worked)."""
    due = wd.rectification_due(sh(2026, 9, 30, 18, 0), CAL)
    assert due["contact_due"] == end_of("2026-10-08")
    # 8, 9, 10 (调休 Saturday), 12, 13 October
    assert due["fix_due_simple"] == end_of("2026-10-13")
    # … 14, 15, 16, 19, 20, 21, 22, 23, 26, 27 October
    assert due["fix_due_complex"] == end_of("2026-10-27")


def test_opening_on_a_tiaoxiu_saturday_counts_from_the_next_working_day():
    assert clock.due_after(sh(2026, 10, 10, 10, 0), 1, CAL) == end_of("2026-10-12")


def test_a_holiday_on_the_monday_after_a_friday():
    calendar = dataclasses.replace(CAL, holidays=CAL.holidays | {dt.date(2026, 12, 7)})
    assert clock.due_after(sh(2026, 12, 4, 20, 0), 1, calendar) == end_of("2026-12-08")


def test_timers_of_a_case_in_progress():
    opened = sh(2026, 12, 4, 20, 0)  # contact due end of Monday 7th, simple fix end of 11th
    c = case(opened, status="contacted", contacted_at=sh(2026, 12, 7, 16, 0))
    state = wd.timer_state(c, sh(2026, 12, 9, 9, 0), CAL)
    assert state["contacted"] == {"due": end_of("2026-12-07"),
                                  "done_at": sh(2026, 12, 7, 16, 0), "overdue": False}
    assert state["fixed"] == {"due": end_of("2026-12-11"), "done_at": None, "overdue": False}
    assert state["followed_up"] == {"due": None, "done_at": None, "overdue": False}
    assert (state["overdue"], state["late_now"], state["stopped"]) == (False, False, False)
    # At Friday 23:59:59 the fix is still in time; at midnight it is late.
    assert not wd.timer_state(c, sh(2026, 12, 11, 23, 59, 59), CAL)["fixed"]["overdue"]
    late = wd.timer_state(c, sh(2026, 12, 12, 0, 0), CAL)
    assert late["fixed"]["overdue"] and late["late_now"] and late["overdue"]


def test_a_step_done_late_stays_flagged():
    opened = sh(2026, 12, 4, 20, 0)
    c = case(opened, status="contacted", contacted_at=sh(2026, 12, 8, 0, 0))  # Tuesday 00:00
    state = wd.timer_state(c, sh(2026, 12, 8, 9, 0), CAL)
    assert state["contacted"]["overdue"] and state["overdue"] and not state["late_now"]
    assert not wd.rectified_in_time(c, CAL)


def test_not_contacted_past_due_is_late_now():
    state = wd.timer_state(case(sh(2026, 12, 4, 20, 0)), sh(2026, 12, 8, 0, 1), CAL)
    assert state["contacted"]["overdue"] and state["late_now"]
    assert not state["fixed"]["overdue"]


def test_complexity_chooses_the_fix_timer():
    opened = sh(2026, 12, 4, 20, 0)
    now = sh(2026, 12, 14, 9, 0)  # past the 5-day fix, within the 15-day one
    simple = wd.timer_state(case(opened, status="contacted",
                                 contacted_at=sh(2026, 12, 7, 9, 0)), now, CAL)
    complex_ = wd.timer_state(case(opened, status="contacted", complexity="complex",
                                   contacted_at=sh(2026, 12, 7, 9, 0)), now, CAL)
    assert simple["fixed"]["overdue"] and not complex_["fixed"]["overdue"]
    assert complex_["fixed"]["due"] == end_of("2026-12-25")


@pytest.mark.parametrize("kw", [{"status": "superseded"},
                                {"verdict": "不属实"}])
def test_superseded_or_unfounded_cases_stop_their_timers(kw):
    state = wd.timer_state(case(sh(2026, 12, 4, 20, 0), **kw), sh(2027, 1, 31), CAL)
    assert state["stopped"] and not state["overdue"] and not state["late_now"]


def test_an_overturned_review_restarts_nothing():
    c = case(sh(2026, 12, 4, 20, 0), verdict="不属实", overturned=True)
    state = wd.timer_state(c, sh(2026, 12, 20), CAL)
    assert not state["stopped"] and state["contacted"]["overdue"] and state["late_now"]


def test_rectified_in_time():
    opened = sh(2026, 12, 4, 20, 0)
    on_time = case(opened, status="fixed", contacted_at=sh(2026, 12, 7, 23, 0),
                   fixed_at=sh(2026, 12, 11, 17, 0))
    assert wd.rectified_in_time(on_time, CAL)
    fixed_late = case(opened, status="fixed", contacted_at=sh(2026, 12, 7, 9, 0),
                      fixed_at=sh(2026, 12, 14, 9, 0))
    assert not wd.rectified_in_time(fixed_late, CAL)
    fixed_late.complexity = "complex"
    assert wd.rectified_in_time(fixed_late, CAL)
    assert not wd.rectified_in_time(case(opened), CAL)  # nothing done


def test_timers_json_is_plain():
    c = case(sh(2026, 12, 4, 20, 0))
    out = wd.timers_json(wd.timer_state(c, sh(2026, 12, 5), CAL))
    assert out["contacted"] == {"due": "2026-12-08T00:00:00+08:00", "done_at": None,
                                "overdue": False}
    assert set(out) == {"contacted", "fixed", "followed_up", "overdue", "late_now", "stopped"}


def test_a_calendar_without_working_days_is_an_error():
    closed = ServiceCalendar(holidays=frozenset(dt.date(2026, 1, 1) + dt.timedelta(days=i)
                                                for i in range(800)))
    with pytest.raises(ValueError, match="working days"):
        clock.due_after(sh(2026, 1, 1, 9, 0), 1, closed)
    with pytest.raises(ValueError):
        clock.nth_working_day_after(dt.date(2026, 1, 1), 0, CAL)

"""Time, in one place: "now", aware datetimes, and the centre's calendar in Asia/Shanghai.

Everything stored is timezone-aware UTC (SQLite hands back naive values, read as UTC by
:func:`aware`); everything shown or counted in days — service hours, working days, the 差评
deadlines, a report's window, a policy's validity — is Shanghai time. The calendar itself
(weekly hours, public holidays, 调休 make-up working days) is configured in
``handoff/config.yaml`` and parsed by :mod:`handoff.config` into a :class:`ServiceCalendar`;
the rules for reading it are here, so every timer and report counts the same days.

A holiday closes a day whatever its weekday; a make-up working day opens a weekend day with
the ordinary working-day hours. Times given without a zone are taken as Shanghai time.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol, overload
from zoneinfo import ZoneInfo

SHANGHAI_ZONE = "Asia/Shanghai"
SHANGHAI = ZoneInfo(SHANGHAI_ZONE)
MAX_SCAN_DAYS = 400  # a calendar with no working day in this many days is a mistake

Spans = tuple[tuple[dt.time, dt.time], ...]


def utcnow() -> dt.datetime:
    """Timestamps are stored timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def now_local() -> dt.datetime:
    """The time on the centre's wall clock."""
    return dt.datetime.now(SHANGHAI)


def today() -> dt.date:
    """Today in Shanghai (a policy's validity, a report's default last day)."""
    return now_local().date()


@overload
def aware(value: dt.datetime) -> dt.datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class ServiceCalendar:
    timezone: str = SHANGHAI_ZONE
    weekly: dict[int, Spans] = field(default_factory=dict)  # 1 = Monday
    workday: Spans = ()
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()  # 调休 make-up working days


class HasCalendar(Protocol):
    """A configuration carrying the calendar as ``hours`` (``handoff.config.HandoffConfig``)."""

    @property
    def hours(self) -> ServiceCalendar: ...


CalendarLike = ServiceCalendar | HasCalendar


def calendar_of(config: CalendarLike) -> ServiceCalendar:
    return config if isinstance(config, ServiceCalendar) else config.hours


def local(at: dt.datetime | None, config: CalendarLike) -> dt.datetime:
    """``at`` (now when None) in the calendar's zone; a naive ``at`` is taken as local."""
    tz = ZoneInfo(calendar_of(config).timezone)
    if at is None:
        return dt.datetime.now(tz)
    if at.tzinfo is None:
        return at.replace(tzinfo=tz)
    return at.astimezone(tz)


# --- service hours (the 响应率's clock, call-backs, the bot's "在线人工" offer) ---

def opening_spans(day: dt.date, config: CalendarLike) -> Spans:
    """The day's opening spans: none on a holiday, working-day hours on a 调休 day."""
    cal = calendar_of(config)
    if day in cal.holidays:
        return ()
    if day in cal.workdays:
        return cal.workday
    return cal.weekly.get(day.isoweekday(), ())


def is_open(at: dt.datetime | None, config: CalendarLike) -> bool:
    cal = calendar_of(config)
    moment = local(at, cal)
    t = moment.time().replace(tzinfo=None)
    return any(start <= t < end for start, end in opening_spans(moment.date(), cal))


def next_open(at: dt.datetime | None, config: CalendarLike) -> dt.datetime:
    """``at`` itself when open, else the start of the next opening span (Shanghai time)."""
    cal = calendar_of(config)
    moment = local(at, cal)
    if is_open(moment, cal):
        return moment
    tz = moment.tzinfo
    for offset in range(MAX_SCAN_DAYS):
        day = moment.date() + dt.timedelta(days=offset)
        for start, _end in opening_spans(day, cal):
            candidate = dt.datetime.combine(day, start, tzinfo=tz)
            if candidate > moment:
                return candidate
    raise ValueError(f"no opening hours within {MAX_SCAN_DAYS} days: "
                     "check handoff/config.yaml 'hours'")


def open_seconds(start: dt.datetime, end: dt.datetime, config: CalendarLike) -> float:
    """Seconds of opening hours between ``start`` and ``end`` (0 when ``end`` is not later):
    the clock of the 响应率, which does not run while the centre is closed."""
    cal = calendar_of(config)
    begin, finish = local(start, cal), local(end, cal)
    if finish <= begin:
        return 0.0
    tz = begin.tzinfo
    total = 0.0
    day = begin.date()
    while day <= finish.date():
        for open_at, close_at in opening_spans(day, cal):
            lo = max(begin, dt.datetime.combine(day, open_at, tzinfo=tz))
            hi = min(finish, dt.datetime.combine(day, close_at, tzinfo=tz))
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
    return total


# --- working days (the 差评 deadlines: 1 working day to contact, 5 or 15 to fix) ---

def is_working_day(day: dt.date, config: CalendarLike) -> bool:
    cal = calendar_of(config)
    if day in cal.holidays:
        return False
    return day in cal.workdays or day.isoweekday() <= 5


def nth_working_day_after(day: dt.date, n: int, config: CalendarLike) -> dt.date:
    """The ``n``-th working day strictly after ``day`` (n ≥ 1)."""
    if n < 1:
        raise ValueError("n counts from 1")
    cal = calendar_of(config)
    found, current = 0, day
    for _ in range(MAX_SCAN_DAYS):
        current += dt.timedelta(days=1)
        if is_working_day(current, cal):
            found += 1
            if found == n:
                return current
    raise ValueError(f"no {n} working days within {MAX_SCAN_DAYS} days after {day}: "
                     "check handoff/config.yaml 'hours'")


def due_after(opened_at: dt.datetime, days: int, config: CalendarLike) -> dt.datetime:
    """The end (next midnight, local) of the ``days``-th working day after ``opened_at``."""
    cal = calendar_of(config)
    tz = ZoneInfo(cal.timezone)
    opened_day = aware(opened_at).astimezone(tz).date()
    last = nth_working_day_after(opened_day, days, cal)
    return dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)

"""Service hours in Asia/Shanghai: weekly hours, public holidays, and 调休 make-up working days.

A holiday closes a day whatever its weekday; a make-up working day opens a weekend day with
the ordinary working-day hours. Times given without a zone are taken as Shanghai time.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from handoff.config import HandoffConfig, ServiceCalendar


def _calendar(config: HandoffConfig | ServiceCalendar) -> ServiceCalendar:
    return config.hours if isinstance(config, HandoffConfig) else config


def _local(at: dt.datetime | None, cal: ServiceCalendar) -> dt.datetime:
    tz = ZoneInfo(cal.timezone)
    if at is None:
        return dt.datetime.now(tz)
    if at.tzinfo is None:
        return at.replace(tzinfo=tz)
    return at.astimezone(tz)


def opening_spans(day: dt.date, config: HandoffConfig | ServiceCalendar
                  ) -> tuple[tuple[dt.time, dt.time], ...]:
    """The day's opening spans: none on a holiday, working-day hours on a 调休 day."""
    cal = _calendar(config)
    if day in cal.holidays:
        return ()
    if day in cal.workdays:
        return cal.workday
    return cal.weekly.get(day.isoweekday(), ())


def is_open(at: dt.datetime | None, config: HandoffConfig | ServiceCalendar) -> bool:
    cal = _calendar(config)
    local = _local(at, cal)
    t = local.time().replace(tzinfo=None)
    return any(start <= t < end for start, end in opening_spans(local.date(), cal))


def next_open(at: dt.datetime | None, config: HandoffConfig | ServiceCalendar) -> dt.datetime:
    """``at`` itself when open, else the start of the next opening span (Shanghai time)."""
    cal = _calendar(config)
    local = _local(at, cal)
    if is_open(local, cal):
        return local
    tz = local.tzinfo
    for offset in range(400):
        day = local.date() + dt.timedelta(days=offset)
        for start, _end in opening_spans(day, cal):
            candidate = dt.datetime.combine(day, start, tzinfo=tz)
            if candidate > local:
                return candidate
    raise ValueError("no opening hours within 400 days: check handoff/config.yaml 'hours'")


def open_seconds(start: dt.datetime, end: dt.datetime,
                 config: HandoffConfig | ServiceCalendar) -> float:
    """Seconds of opening hours between ``start`` and ``end`` (0 when ``end`` is not later):
    the clock of the 响应率, which does not run while the centre is closed."""
    cal = _calendar(config)
    begin, finish = _local(start, cal), _local(end, cal)
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

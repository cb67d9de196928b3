"""A report's window: dates ``[first, last]``, both included, in the service calendar's zone,
checked once (no longer than a year, within sane dates) and compared in UTC."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from xiaobao.clock import aware
from xiaobao.errors import XiaobaoError

MAX_WINDOW_DAYS = 366
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2999, 12, 31)


class WindowError(XiaobaoError, ValueError):
    """A window the reports refuse; ``message`` is Chinese / English."""

    status = 422
    code = "invalid_window"


def check_window(first: dt.date, last: dt.date) -> None:
    """Raise WindowError unless ``first`` ≤ ``last``, at most a year apart, in 2000–2999."""
    for day in (first, last):
        if not EARLIEST <= day <= LATEST:
            raise WindowError(f"日期 {day} 超出范围（{EARLIEST} 至 {LATEST}）。 / {day} is "
                              f"outside {EARLIEST}..{LATEST}.")
    if first > last:
        raise WindowError(f"开始日期 {first} 晚于结束日期 {last}。 / The window starts ({first}) "
                          f"after it ends ({last}).")
    if (last - first).days + 1 > MAX_WINDOW_DAYS:
        raise WindowError(f"统计区间最长 {MAX_WINDOW_DAYS} 天。 / A window is at most "
                          f"{MAX_WINDOW_DAYS} days.")


def days_of(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class Window:
    first: dt.date
    last: dt.date
    tz: ZoneInfo

    @property
    def start(self) -> dt.datetime:
        """The first instant, in UTC (SQLite keeps UTC wall time: always compare in UTC)."""
        return dt.datetime.combine(self.first, dt.time.min, tzinfo=self.tz).astimezone(dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """The instant after the last day (exclusive), in UTC."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time.min,
                                   tzinfo=self.tz).astimezone(dt.UTC)

    def day(self, at: dt.datetime) -> dt.date:
        return aware_utc(at).astimezone(self.tz).date()

    def holds(self, at: dt.datetime) -> bool:
        return self.start <= aware_utc(at) < self.end


def aware_utc(value: dt.datetime) -> dt.datetime:
    return aware(value).astimezone(dt.UTC)  # clock.aware keeps a datetime a datetime



"""Checks on what users type into the forms: 统一社会信用代码 and call-back times.

Plain functions returning ``(value, reason)``: ``value`` is the normalised form
when the input is valid, else ``None`` with ``reason`` saying why in Chinese, so
the form can ask again with the reason. Phone numbers are :mod:`xiaobao.phone`'s.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from handoff.config import HandoffConfig
from xiaobao.clock import SHANGHAI, ServiceCalendar, opening_spans

if TYPE_CHECKING:
    from bot.actions.deps import ActionServices

# --- 统一社会信用代码 (GB 32100-2015) -----------------------------------------------

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def parse_uscc(text: str) -> tuple[str | None, str]:
    code = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).upper()
    if len(code) != 18:
        return None, f"统一社会信用代码应为18位，您输入的是{len(code)}位"
    bad = [c for c in code if c not in _USCC_ALPHABET]
    if bad:
        return None, f"统一社会信用代码里不会出现“{bad[0]}”（不使用 I、O、S、V、Z）"
    if uscc_check_char(code[:17]) != code[17]:
        return None, "统一社会信用代码校验位不对，可能有字符输错了"
    return code, ""


# --- call-back time windows ------------------------------------------------------

Span = tuple[dt.time, dt.time]


@dataclass(frozen=True)
class ServiceHours:
    """Opening spans by weekday (Monday = 0). The default is a plain placeholder calendar,
    09:00–17:00 Monday to Friday, for tests of the parsing alone; the forms use
    :func:`service_hours`, the handoff queue's own calendar."""

    weekly: tuple[tuple[Span, ...], ...] = (((dt.time(9), dt.time(17)),),) * 5 + ((), ())

    def spans(self, day: dt.date) -> tuple[Span, ...]:
        return self.weekly[day.weekday()]

    def describe(self) -> str:
        def fmt(spans: tuple[Span, ...]) -> str:
            return "、".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in spans)

        text = f"工作日 {fmt(self.weekly[0])}"
        if self.weekly[5]:
            text += f"，周六 {fmt(self.weekly[5])}"
        return text + "，节假日除外"


@dataclass(frozen=True)
class HandoffServiceHours(ServiceHours):
    """The dispatch queue's calendar (``HandoffConfig.hours``): holidays and 调休 included."""

    calendar: ServiceCalendar = field(default_factory=ServiceCalendar)

    @classmethod
    def of(cls, calendar: ServiceCalendar) -> HandoffServiceHours:
        weekly = tuple(tuple(calendar.weekly.get(d, ())) for d in range(1, 8))
        return cls(weekly=weekly, calendar=calendar)

    def spans(self, day: dt.date) -> tuple[Span, ...]:
        return tuple(opening_spans(day, self.calendar))


def service_hours(source: ActionServices | HandoffConfig | ServiceCalendar) -> ServiceHours:
    """12345's call-back hours: the calendar of the services' handoff configuration
    (``services.handoff.config.hours``), or of a configuration or calendar given directly."""
    if isinstance(source, ServiceCalendar):
        return HandoffServiceHours.of(source)
    if isinstance(source, HandoffConfig):
        return HandoffServiceHours.of(source.hours)
    return HandoffServiceHours.of(source.handoff.config.hours)


@dataclass(frozen=True)
class TimeWindow:
    day: dt.date
    start: dt.time
    end: dt.time

    def label(self) -> str:
        week = "一二三四五六日"[self.day.weekday()]
        return f"{self.day.isoformat()}（周{week}）{self.start:%H:%M}–{self.end:%H:%M}"


_CN_NUM = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9, "十": 10}
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_ANY_TIME = re.compile(r"随时|都可以|都行|尽快|越快越好|什么时候都|任何时间|马上|立刻")
_NIGHT = re.compile(r"晚上|夜里|半夜|凌晨|深夜|傍晚")
_CLOCK = re.compile(r"(\d{1,2}|[一二两三四五六七八九十]{1,3})"
                    r"\s*(?:[:：](\d{2})|点\s*(半|\d{1,2}分?)?)")


def _cn_to_int(s: str) -> int:
    if s.isdigit():
        return int(s)
    if s.startswith("十"):
        return 10 + (_CN_NUM.get(s[1:], 0) if len(s) > 1 else 0)
    if len(s) == 2 and s[1] == "十":
        return _CN_NUM[s[0]] * 10
    if len(s) == 3 and s[1] == "十":
        return _CN_NUM[s[0]] * 10 + _CN_NUM[s[2]]
    return _CN_NUM.get(s, 0)


def _clock_times(text: str, afternoon: bool) -> list[dt.time]:
    times = []
    for hour_s, minute_s, tail in _CLOCK.findall(text):
        hour = _cn_to_int(hour_s)
        minute = int(minute_s) if minute_s else 0
        if tail == "半":
            minute = 30
        elif tail:
            minute = int(tail.rstrip("分"))
        if afternoon and hour < 12 or not afternoon and 1 <= hour <= 6:
            hour += 12
        if hour > 23 or minute > 59:
            continue
        times.append(dt.time(hour, minute))
    return times


def _day_of(text: str, today: dt.date) -> dt.date | None:
    if "大后天" in text:
        return today + dt.timedelta(days=3)
    if "后天" in text:
        return today + dt.timedelta(days=2)
    if "明天" in text or "明日" in text:
        return today + dt.timedelta(days=1)
    if "今天" in text or "今日" in text:
        return today
    m = re.search(r"(\d{1,2})月(\d{1,2})[日号]", text)
    if m:
        try:
            day = dt.date(today.year, int(m.group(1)), int(m.group(2)))
        except ValueError:
            return None
        return day if day >= today else day.replace(year=today.year + 1)
    m = re.search(r"(下+)?(?:周|星期|礼拜)([一二三四五六日天末])", text)
    if m:
        target = _WEEKDAY[m.group(2)]
        weeks_ahead = len(m.group(1) or "")
        monday = today - dt.timedelta(days=today.weekday())
        day = monday + dt.timedelta(days=7 * weeks_ahead + target)
        if weeks_ahead == 0 and day < today:
            day += dt.timedelta(days=7)
        return day
    return None


def _overlap(day: dt.date, start: dt.time, end: dt.time,
             hours: ServiceHours) -> tuple[dt.time, dt.time] | None:
    """The part of [start, end) that the day's opening spans cover, first to last."""
    parts = [(max(start, a), min(end, b)) for a, b in hours.spans(day)
             if max(start, a) < min(end, b)]
    if not parts:
        return None
    return parts[0][0], parts[-1][1]


def parse_time_window(text: str, now: dt.datetime | None,
                      hours: ServiceHours) -> tuple[TimeWindow | None, str]:
    """A call-back window inside service hours, or the reason it cannot be one.

    Understands 今天/明天/后天/周X/下周X, 上午/中午/下午, clock times and ranges
    (``下午2点到4点``, ``14:00-16:00``, ``3点以后``) and "随时". A window that runs past
    service hours is clipped to them; one entirely outside is refused. ``now`` None is now.
    """
    now = (now or dt.datetime.now(SHANGHAI)).astimezone(SHANGHAI)
    t = unicodedata.normalize("NFKC", text or "").strip()
    if not t:
        return None, "没有听清您方便的时间"
    if _NIGHT.search(t):
        return None, f"晚上不在回电服务时间（{hours.describe()}）内"

    day = _day_of(t, now.date())
    if day is None and "周末" in t:
        return None, f"周末不提供回电服务（{hours.describe()}）"

    start, end = dt.time(0), dt.time(23, 59)
    afternoon = "下午" in t or "午后" in t
    if "上午" in t or "早上" in t or "上班" in t:
        start, end = dt.time(8), dt.time(12)
    elif "中午" in t:
        start, end = dt.time(12, 0), dt.time(13, 30)
    elif afternoon:
        start, end = dt.time(13), dt.time(18)

    times = _clock_times(t, afternoon)
    if len(times) >= 2:
        start, end = min(times[:2]), max(times[:2])
    elif len(times) == 1:
        if re.search(r"以前|之前|点前|分前", t):
            end = times[0]
        elif re.search(r"以后|之后|点后|分后|起|开始", t):
            start = times[0]
        else:  # one clock time: an hour from then
            start = times[0]
            end = (dt.datetime.combine(dt.date.today(), start) + dt.timedelta(hours=1)).time()
    elif not (_ANY_TIME.search(t) or day or afternoon or "上午" in t or "中午" in t
              or "早上" in t or "工作日" in t or "上班" in t):
        return None, "没有听出具体时间"

    if day is not None:
        if day < now.date():
            return None, "这个时间已经过了"
        if not hours.spans(day):
            return None, f"那天不提供回电服务（{hours.describe()}）"
        days = [day]
    else:  # no day named: today if time is left, else the next open day
        days = [now.date() + dt.timedelta(days=n) for n in range(30)]
    for candidate in days:
        lower = start
        if candidate == now.date():
            lower = max(start, now.time().replace(second=0, microsecond=0))
        window = _overlap(candidate, lower, end, hours) if lower < end else None
        if window:
            return TimeWindow(candidate, *window), ""
    if day is not None and day == now.date() and _overlap(day, start, end, hours):
        return None, "这个时间已经过了"
    return None, f"{start:%H:%M}–{end:%H:%M} 不在回电服务时间（{hours.describe()}）内"

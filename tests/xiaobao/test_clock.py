"""xiaobao.clock's service hours: weekdays, lunch, weekends, a holiday, a 调休 Saturday."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from handoff.config import packaged_config
from xiaobao.clock import is_open, next_open

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def config():
    """The centre's calendar as packaged (handoff/config.yaml ``hours``)."""
    return packaged_config()


def at(y, m, d, hh, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


@pytest.mark.parametrize("moment,expected", [
    (at(2026, 3, 10, 10), True),  # Tuesday morning
    (at(2026, 3, 10, 12, 30), False),  # lunch
    (at(2026, 3, 10, 17), False),  # closing time is closed
    (at(2026, 3, 10, 8, 59), False),
    (at(2026, 3, 14, 10), True),  # ordinary Saturday morning
    (at(2026, 3, 14, 14), False),  # ordinary Saturday afternoon
    (at(2026, 3, 15, 10), False),  # Sunday
    (at(2026, 10, 5, 10), False),  # 国庆 holiday, a Monday
    (at(2026, 2, 16, 10), False),  # 春节
    (at(2026, 10, 10, 15), True),  # 调休 Saturday: working-day hours, afternoon too
    (at(2026, 9, 20, 10), True),  # 调休 Sunday
    (at(2026, 1, 4, 14), True),  # 调休 Sunday after 元旦
    (at(2027, 2, 5, 10), False),  # 2027 春节 (statutory days)
])
def test_is_open(config, moment, expected):
    assert is_open(moment, config) is expected


def test_utc_input_is_converted_to_shanghai(config):
    # 02:00 UTC is 10:00 in Shanghai on a Tuesday
    assert is_open(dt.datetime(2026, 3, 10, 2, tzinfo=dt.UTC), config)
    assert not is_open(dt.datetime(2026, 3, 10, 10, tzinfo=dt.UTC), config)


def test_next_open_skips_holidays_to_the_make_up_day(config):
    # Evening of 30 September 2026: 1-7 October are holidays, 8 October (Thursday) opens
    assert next_open(at(2026, 9, 30, 18), config) == at(2026, 10, 8, 9)
    # Friday evening before the 调休 Saturday 10 October opens on Saturday
    assert next_open(at(2026, 10, 9, 18), config) == at(2026, 10, 10, 9)
    assert next_open(at(2026, 3, 10, 12, 15), config) == at(2026, 3, 10, 13)
    moment = at(2026, 3, 10, 10)
    assert next_open(moment, config) == moment

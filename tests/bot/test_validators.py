import datetime as dt

import pytest

from bot.actions import validators
from bot.actions.validators import (
    SHANGHAI,
    HandoffServiceHours,
    ServiceHours,
    parse_time_window,
    parse_uscc,
    service_hours,
    uscc_check_char,
)
from handoff.config import packaged_config
from tests.bot.conftest import FakeServices, HoursOnly
from xiaobao.phone import is_callable, mask_phone, parse_phone


@pytest.mark.parametrize("text, expected", [
    ("13812345678", "13812345678"),
    ("我的手机是 138 1234 5678", "13812345678"),
    ("１３８１２３４５６７８", "13812345678"),  # full-width digits
    ("+86 139-1765-4321", "13917654321"),
    ("021-66781234", "021-66781234"),
    ("02156601234", "021-56601234"),
    ("座机 5660 1234", "021-56601234"),
])
def test_valid_phones_are_normalised(text, expected):
    assert parse_phone(text) == (expected, "")


@pytest.mark.parametrize("text, reason_part", [
    ("1381234567", "11位"),
    ("12812345678", "第二位"),
    ("010-12345678", "021"),
    ("5660123", "8位"),
    ("x", "没有识别"),
    ("", "没有识别"),
])
def test_invalid_phones_say_why(text, reason_part):
    value, reason = parse_phone(text)
    assert value is None
    assert reason_part in reason


def test_the_forms_use_the_one_phone_module():
    assert not hasattr(validators, "parse_phone") and not hasattr(validators, "mask_phone")


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("021-62345678") == "021****5678"


@pytest.mark.parametrize("phone, callable_", [
    ("13812345678", True), ("021-62345678", True),
    ("138 1234 5678", False), ("02162345678", False), ("010-12345678", False),
    ("1381234567", False), ("", False),
])
def test_only_canonical_numbers_are_callable(phone, callable_):
    assert is_callable(phone) is callable_


def test_uscc_check_digit():
    assert parse_uscc("91310113AY4CL12TH0") == ("91310113AY4CL12TH0", "")
    assert parse_uscc(" 91310113ay4cl12th0 ") == ("91310113AY4CL12TH0", "")
    assert uscc_check_char("91310113AY4CL12TH") == "0"


@pytest.mark.parametrize("text, reason_part", [
    ("91310113AY4CL12TH1", "校验位"),
    ("91310113AY4CL12TH", "18位"),
    ("91310113AY4CL12TIO", "I"),
])
def test_bad_uscc(text, reason_part):
    value, reason = parse_uscc(text)
    assert value is None and reason_part in reason


# Wednesday 2025-06-11, 10:30 in Shanghai.
NOW = dt.datetime(2025, 6, 11, 10, 30, tzinfo=SHANGHAI)
HOURS = ServiceHours()


@pytest.mark.parametrize("text, label", [
    ("明天上午", "2025-06-12（周四）09:00–12:00"),
    ("周五下午2点到4点", "2025-06-13（周五）14:00–16:00"),
    ("明天下午三点以后", "2025-06-12（周四）15:00–17:00"),
    ("下周一 10:00-11:30", "2025-06-16（周一）10:00–11:30"),
    ("今天下午", "2025-06-11（周三）13:00–17:00"),
    ("随时都可以", "2025-06-11（周三）10:30–17:00"),
    ("明天下午3点到6点", "2025-06-12（周四）15:00–17:00"),  # clipped to service hours
])
def test_time_windows_inside_service_hours(text, label):
    window, reason = parse_time_window(text, NOW, HOURS)
    assert reason == ""
    assert window.label() == label


@pytest.mark.parametrize("text, reason_part", [
    ("周六上午", "不提供"),
    ("周末", "不提供"),
    ("明天晚上", "晚上"),
    ("明天早上7点到8点", "不在"),
    ("今天上午9点前", "不在"),
    ("嗯", "没有听出"),
])
def test_time_windows_outside_service_hours(text, reason_part):
    window, reason = parse_time_window(text, NOW, HOURS)
    assert window is None
    assert reason_part in reason


def test_today_after_hours_moves_to_next_working_day():
    friday_evening = dt.datetime(2025, 6, 13, 17, 30, tzinfo=SHANGHAI)
    window, _ = parse_time_window("尽快", friday_evening, HOURS)
    assert window.label() == "2025-06-16（周一）09:00–17:00"


def test_the_services_handoff_calendar_is_used():
    """handoff/config.yaml closes 2026-10-01 (国庆) and the lunch hour."""
    config = packaged_config()
    hours = service_hours(FakeServices(handoff=HoursOnly(config)))
    assert isinstance(hours, HandoffServiceHours) and hours.calendar is config.hours
    assert service_hours(config) == hours
    before = dt.datetime(2026, 9, 28, 8, 0, tzinfo=SHANGHAI)
    window, reason = parse_time_window("10月1日上午", before, hours)
    assert window is None and "不提供" in reason
    after, _ = parse_time_window("10月8日上午", before, hours)
    assert after.label() == "2026-10-08（周四）09:00–12:00"
    tuesday = dt.datetime(2026, 9, 29, 8, tzinfo=SHANGHAI)
    holiday, reason = parse_time_window("周四上午", tuesday, hours)
    assert holiday is None and "不提供" in reason
    lunch, _ = parse_time_window("周一中午", before, hours)
    assert lunch.label() == "2026-09-28（周一）13:00–13:30"

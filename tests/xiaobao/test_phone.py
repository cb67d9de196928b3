"""The one phone module: parse, check, mask — every format the parser reads is also masked."""
from __future__ import annotations

import pytest

from xiaobao.phone import (
    is_callable,
    mask_phone,
    mask_phones_in,
    normalize_phone,
    parse_phone,
    visible_phone,
)

WRITTEN = [
    "13812345678", "138 1234 5678", "138-1234-5678", "138.1234.5678", "+86 138 1234 5678",
    "008613812345678", "８６１３８１２３４５６７８"[2:], "１３８－１２３４－５６７８",
    "021-62345678", "02162345678", "62345678", "021 6234 5678",
]


@pytest.mark.parametrize("written", WRITTEN)
def test_every_written_form_parses_and_is_masked_in_text(written):
    number, reason = parse_phone(written)
    assert number is not None, reason
    assert is_callable(number)
    masked = mask_phones_in(f"我的电话是{written}，请回电")
    digits = "".join(ch for ch in number if ch.isdigit())
    assert digits not in masked.replace(" ", "").replace("-", "").replace(".", "")
    assert "****" in masked and masked.startswith("我的电话是") and masked.endswith("，请回电")


def test_one_mask_format():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("021-62345678") == "021****5678"
    assert mask_phone("") == ""
    assert mask_phones_in("call +8613812345678 now") == "call 138****5678 now"


def test_text_without_numbers_is_unchanged():
    text = "营业执照怎么办理？需要3个工作日，费用0元。"
    assert mask_phones_in(text) == text


@pytest.mark.parametrize("bad", ["+882130000000", "12345", "0755-12345678", "1381234567",
                                 "12812345678", "", "abc"])
def test_numbers_12345_does_not_call_are_refused(bad):
    assert parse_phone(bad)[0] is None or not is_callable(bad)
    assert not is_callable(bad)
    if bad and parse_phone(bad)[0] is None:
        with pytest.raises(ValueError):
            normalize_phone(bad)


def test_full_number_only_for_the_holder():
    assert visible_phone("13812345678", "ann", "ann") == "13812345678"
    assert visible_phone("13812345678", "bob", "ann") == "138****5678"
    assert visible_phone("13812345678", None, None) == "138****5678"

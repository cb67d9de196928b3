"""Phone numbers: the one place that parses, checks and masks them.

小宝 calls back mainland mobiles and Shanghai landlines only (the 12345 hotline serves
Shanghai): ``parse_phone`` normalises what a user typed to ``13812345678`` or
``021-12345678`` and says why in Chinese when it cannot; ``is_callable`` re-checks a number
that arrives from anywhere else (a slot, a form field) before anything dials it. Masks keep
the first three and last four digits — ``138****5678``, ``021****5678`` — in every view.
"""
from __future__ import annotations

import re
import unicodedata

_MOBILE = re.compile(r"1[3-9]\d{9}")
# Shanghai landlines: eight digits not starting with 0/1, optionally after 021.
_LANDLINE = re.compile(r"(?:0?21)?([2-9]\d{7})")
_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\s\-－—_.·]+(?=\d)")
_CANONICAL = re.compile(r"^(?:1[3-9]\d{9}|021-[2-9]\d{7})$")
# A run of digits (half- or full-width) with single separators between them, optionally after
# a plus sign: every way of writing a number that parse_phone reads.
_DIGIT = r"[0-9０-９]"
# Only a token on its own: not inside a longer run of letters or digits (a hex id, an order
# number with a prefix), which a number never is.
_WORD = "0-9A-Za-z０-９Ａ-Ｚａ-ｚ"
_RUN = re.compile(rf"(?<![{_WORD}])[+＋]?{_DIGIT}(?:{_DIGIT}|[\s\-－—_.·](?={_DIGIT}))*"
                  rf"(?![{_WORD}])")
# An eight-digit calendar date (20261207, 2026-12-07) is a date, not a landline.
_DATE = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
_MOBILE_RUN = re.compile(r"(?:0{0,2}86)?(1[3-9]\d{9})")
_LANDLINE_RUN = re.compile(r"(?:0?21)?[2-9]\d{7}|0[3-9]\d{1,2}[2-9]\d{6,7}")

PHONE_NOTICE = ("为便于工作人员回电，需要您提供手机号码。号码仅用于本次咨询回访，"
                "工作人员界面和日志中会做脱敏处理，并在保存期满后删除。")


def parse_phone(text: str) -> tuple[str | None, str]:
    """``(number, "")`` for a mobile or a Shanghai landline, else ``(None, reason)``."""
    t = unicodedata.normalize("NFKC", text or "")
    t = _BETWEEN_DIGITS.sub("", t)
    t = re.sub(r"\+?(?:00)?86(?=1[3-9]\d{9}(?!\d))", "", t)  # country code before a mobile
    runs = re.findall(r"\d+", t)
    if not runs:
        return None, "没有识别到电话号码"
    run = max(runs, key=len)
    if _MOBILE.fullmatch(run):
        return run, ""
    landline = _LANDLINE.fullmatch(run)
    if landline:
        return f"021-{landline.group(1)}", ""
    if run.startswith("1"):
        if len(run) != 11:
            return None, f"手机号应为11位数字，您输入的是{len(run)}位"
        return None, "手机号第二位应为3–9，这个号码不存在"
    if run.startswith("0"):
        return None, "只支持手机号或上海的固定电话（区号021）"
    if len(run) != 8:
        return None, f"上海固定电话应为8位数字，您输入的是{len(run)}位"
    return None, "这个号码格式不对"


def is_callable(phone: str) -> bool:
    """True only for a number in the canonical form :func:`parse_phone` returns."""
    return bool(_CANONICAL.match(phone or ""))


def normalize_phone(text: str) -> str:
    """The canonical number, or ValueError with the Chinese reason."""
    number, reason = parse_phone(text)
    if number is None:
        raise ValueError(reason)
    return number


def _mask_digits(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    if len(digits) < 7:
        return number
    return f"{digits[:3]}****{digits[-4:]}"


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``; ``021-12345678`` → ``021****5678``; '' stays ''."""
    return _mask_digits(phone) if phone else ""


def _mask_run(match: re.Match) -> str:
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", match.group(0)))
    mobile = _MOBILE_RUN.fullmatch(digits)
    if mobile:
        return _mask_digits(mobile.group(1))
    if _LANDLINE_RUN.fullmatch(digits) and not _DATE.fullmatch(digits):
        return _mask_digits(digits)
    return match.group(0)


def mask_phones_in(text: str) -> str:
    """Every phone number inside ``text`` masked the same way (for what others see, and logs):
    mobiles with or without +86, landlines with or without area code, in half- or full-width
    digits, with spaces, dots or dashes between them. An eight-digit figure is masked too: it
    could be a landline, and a masked figure costs less than a leaked number; but not one that
    reads as a calendar date (``20261207``), nor a run of digits inside a longer token of
    letters or digits (a hex id)."""
    return _RUN.sub(_mask_run, text or "")


def visible_phone(phone: str, viewer: str | None, owner: str | None) -> str:
    """The full number only for the helper handling the ticket."""
    if viewer and owner and viewer == owner:
        return phone
    return mask_phone(phone)

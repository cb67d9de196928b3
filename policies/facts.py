"""The facts an enterprise gives, checked and typed by the field dictionary.

A fact not given is *unknown* — absent from the mapping, never false or zero. A number may be
given exactly or as a band (:class:`Interval`: "300–1000人", ``{"gte": 300, "lt": 1000}``), which
decides every threshold it can without the exact figure.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from policies.fields import NUMERIC, Dictionary, Field
from xiaobao.errors import XiaobaoError


class FactError(XiaobaoError, ValueError):
    """A value that does not fit its field; ``message`` says why in Chinese, then English."""

    status = 422
    code = "invalid_fact"

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.field = name


@dataclass(frozen=True)
class Interval:
    """A number known only to lie in [low, high) (``high`` None: no end); ends as given."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = False

    def above(self, value: float, *, inclusive: bool) -> bool | None:
        """Whether every number in it is ≥ (``inclusive``) or > ``value``; None: some are."""
        if self.low is not None and (self.low > value or (
                self.low == value and (inclusive or not self.low_inclusive))):
            return True
        if self.high is not None and (self.high < value or (
                self.high == value and not (inclusive and self.high_inclusive))):
            return False
        return None

    def below(self, value: float, *, inclusive: bool) -> bool | None:
        """Whether every number in it is ≤ (``inclusive``) or < ``value``; None: some are."""
        above = self.above(value, inclusive=not inclusive)
        return None if above is None else not above


Facts = dict[str, Any]  # field name → typed value (or Interval); absent = unknown
_TRUE = {"true", "yes", "y", "1", "是", "对", "有", "√"}
_FALSE = {"false", "no", "n", "0", "否", "不是", "没有", "无", "×"}


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = unicodedata.normalize("NFKC", str(raw)).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(raw)


def parse_date(raw: Any) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)
    if not match:
        raise ValueError(raw)
    return dt.date(*(int(g) for g in match.groups()))


def normalise_code(raw: Any) -> str:
    """An industry code as GB/T 4754 writes it: a section letter, then digits (C3921)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(raw))).upper()


def _interval(raw: dict) -> Interval:
    keys = set(raw)
    if not keys or keys - {"gte", "gt", "lt", "lte"} or ({"gte", "gt"} <= keys) \
            or ({"lt", "lte"} <= keys):
        raise ValueError(raw)
    low = raw.get("gte", raw.get("gt"))
    high = raw.get("lt", raw.get("lte"))
    interval = Interval(None if low is None else _finite(float(low)), None if high is None
                        else _finite(float(high)), "gt" not in raw, "lte" in raw)
    if interval.low is not None and interval.high is not None and interval.low > interval.high:
        raise ValueError(raw)
    return interval


def _finite(value: float) -> float:
    """A number a person can have given: "inf" and "nan" are not (nor could JSON carry them)."""
    if not math.isfinite(value):
        raise ValueError(value)
    return value


def parse_value(f: Field, raw: Any) -> Any:
    """``raw`` as ``f``'s type; FactError with the reason when it does not fit."""
    try:
        if f.type in NUMERIC:
            if isinstance(raw, dict):
                return _interval(raw)
            if isinstance(raw, bool):
                raise ValueError(raw)
            value = _finite(float(unicodedata.normalize("NFKC", str(raw)).replace(",", "")
                                  .strip()))
            if f.type == "integer" and not value.is_integer():
                raise ValueError(raw)
            return int(value) if f.type == "integer" else value
        if f.type == "boolean":
            return parse_bool(raw)
        if f.type == "date":
            return parse_date(raw)
        if f.type == "code":
            code = normalise_code(raw)
            if not re.fullmatch(r"[A-T]\d{0,4}", code):
                raise ValueError(raw)
            return code
        text = str(raw).strip()
        if not text or isinstance(raw, (dict, list)):
            raise ValueError(raw)
        if f.type == "choice" and f.choices and text not in f.choices:
            raise FactError(f.name, f"{f.label}应为：{'、'.join(f.choices)}之一。 / "
                                    f"{f.name} must be one of {list(f.choices)}.")
        return text
    except FactError:
        raise
    except (ValueError, TypeError, OverflowError):
        shown = str(raw)[:40] if not isinstance(raw, (dict, list)) else type(raw).__name__
        raise FactError(f.name, f"{f.label}的值“{shown}”不符合格式（{f.type}）。 / "
                                f"{f.name}: not a valid {f.type}.") from None


def fact_json(value: Any) -> Any:
    """A typed fact as JSON, the inverse of parse_value (slots, events, API bodies): dates as
    YYYY-MM-DD, a band as {"gte", "lt"}."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Interval):
        out = {}
        if value.low is not None:
            out["gte" if value.low_inclusive else "gt"] = value.low
        if value.high is not None:
            out["lte" if value.high_inclusive else "lt"] = value.high
        return out
    return value


def parse_facts(raw: dict, dictionary: Dictionary) -> Facts:
    """Every given fact typed; null and "" are not given (unknown). Unknown names and bad
    values raise FactError, the first one found."""
    if not isinstance(raw, dict):
        raise FactError("facts", "facts 应为对象。 / facts must be an object.")
    out: Facts = {}
    for name, value in raw.items():
        if name not in dictionary:
            raise FactError(str(name)[:40], f"未知字段：{str(name)[:40]}。 / Unknown field.")
        if value is None or value == "":
            continue
        out[name] = parse_value(dictionary[name], value)
    return out

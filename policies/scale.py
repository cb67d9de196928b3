"""企业规模 by 工信部联企业〔2011〕300号: 大型/中型/小型/微型 from industry and size figures.

The thresholds are dated data (``policies/data/scale.yaml``): the standard in force on the
check date applies. Three-valued like the rest: with a figure unknown (or known only as a
band) the class is decided whenever that figure cannot change it, else unknown with the
figures that would decide it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from policies.facts import Interval, parse_date
from policies.fields import DATA

SIZES = ("大型", "中型", "小型", "微型")
INDICATORS = ("employees", "revenue", "total_assets")


@dataclass(frozen=True)
class Group:
    name: str
    codes: tuple[str, ...]
    large: dict[str, float]
    medium: dict[str, float]
    small: dict[str, float]

    @property
    def indicators(self) -> list[str]:
        return [i for i in INDICATORS if i in self.large or i in self.medium or i in self.small]


@dataclass(frozen=True)
class Standard:
    name: str
    valid_from: dt.date
    groups: tuple[Group, ...]

    def group_of(self, industry: str) -> Group:
        """The group whose longest code prefix matches; the catch-all (no codes) else."""
        best, length = None, -1
        for group in self.groups:
            for code in group.codes:
                if industry.startswith(code) and len(code) > length:
                    best, length = group, len(code)
        if best is None:
            best = next(g for g in self.groups if not g.codes)
        return best


@dataclass(frozen=True)
class ScaleResult:
    value: str | None  # None: unknown
    missing: tuple[str, ...] = ()  # the facts that would decide it


@lru_cache(maxsize=1)
def standards() -> tuple[Standard, ...]:
    raw = yaml.safe_load((DATA / "scale.yaml").read_text("utf-8"))
    out = []
    for s in raw["standards"]:
        groups = tuple(Group(g["group"], tuple(g.get("codes") or ()), dict(g["large"]),
                             dict(g["medium"]), dict(g["small"])) for g in s["groups"])
        out.append(Standard(s["name"], parse_date(s["valid_from"]), groups))
    return tuple(sorted(out, key=lambda s: s.valid_from))


def standard_on(day: dt.date) -> Standard:
    in_force = [s for s in standards() if s.valid_from <= day]
    return in_force[-1] if in_force else standards()[0]


def _at_least(value: Any, threshold: float) -> bool | None:
    if value is None:
        return None
    if isinstance(value, Interval):
        return value.above(threshold, inclusive=True)
    return float(value) >= threshold


def _reaches(facts: dict, thresholds: dict[str, float]) -> bool | None:
    """Every indicator at or above its threshold (three-valued AND)."""
    result: bool | None = True
    for name, threshold in thresholds.items():
        part = _at_least(facts.get(name), threshold)
        if part is False:
            return False
        if part is None:
            result = None
    return result


def classify(facts: dict, day: dt.date) -> ScaleResult:
    """The size class of the enterprise ``facts`` describe (industry, employees, revenue,
    total_assets), by the standard in force on ``day``."""
    industry = facts.get("industry")
    if not industry:
        return ScaleResult(None, ("industry",))
    group = standard_on(day).group_of(str(industry))
    missing = tuple(i for i in group.indicators if facts.get(i) is None
                    or isinstance(facts.get(i), Interval))
    steps = [("大型", group.large), ("中型", group.medium), ("小型", group.small)]
    reached = [_reaches(facts, thresholds) for _, thresholds in steps]
    # Each size's thresholds include the next one's: not reaching a lower size rules out
    # every higher one, whatever is unknown about it.
    for i in range(len(reached) - 1, 0, -1):
        if reached[i] is False:
            reached[i - 1] = False
    for (size, thresholds), reach in zip(steps, reached, strict=True):
        if reach is True:
            return ScaleResult(size)
        if reach is None:
            undecided = tuple(name for name, threshold in thresholds.items()
                              if _at_least(facts.get(name), threshold) is None)
            return ScaleResult(None, undecided or missing)
    return ScaleResult("微型")

"""The register as columns: one array per field over every enterprise, built once per batch.

The batch (:mod:`policies.batch`) evaluates each condition atom on a whole column at a time, so
the values are laid out as numpy arrays with a ``known`` mask (a fact not given is unknown,
never zero): numbers as float64 with their bands (:class:`~policies.facts.Interval`) as
low/high arrays beside them, dates as day ordinals, and every other type (text, choices,
codes, booleans) as codes into the column's distinct values. A :meth:`ProfileTable.view`
resolves the derived fields (``years_since_founded``, ``scale``) as
:class:`policies.evaluator.Resolver` does, on all the facts or on the authoritative, fresh ones
only (the 免申即享 decision).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from policies import scale
from policies.facts import Interval
from policies.fields import NUMERIC, Dictionary, default_dictionary
from xiaobao.errors import XiaobaoError

_EPOCH = dt.date(1970, 1, 1).toordinal()


class BatchError(XiaobaoError, ValueError):
    """Input the batch cannot take (a fact of the wrong type, an unknown policy)."""

    status = 422
    code = "invalid_batch"


@dataclass(frozen=True)
class NumberColumn:
    """Exact numbers in ``values``; where ``band`` is set, the number lies in [low, high]
    instead (an end not given is ∓inf, which decides every finite threshold as None does)."""

    known: np.ndarray
    values: np.ndarray
    band: np.ndarray
    low: np.ndarray
    high: np.ndarray
    low_inclusive: np.ndarray
    high_inclusive: np.ndarray

    @property
    def has_bands(self) -> bool:
        return bool((self.band & self.known).any())

    @cached_property
    def unknown8(self) -> np.ndarray:
        """-1 where unknown, 0 where known: OR-ed onto a comparison's 0/1 it gives the
        three-valued result in one operation."""
        return -(~self.known).view(np.int8)

    def keep(self, mask: np.ndarray) -> NumberColumn:
        return replace(self, known=self.known & mask)


@dataclass(frozen=True)
class DateColumn:
    known: np.ndarray
    values: np.ndarray  # proleptic Gregorian ordinals (date.toordinal)

    @cached_property
    def unknown8(self) -> np.ndarray:
        return -(~self.known).view(np.int8)

    def keep(self, mask: np.ndarray) -> DateColumn:
        return replace(self, known=self.known & mask)


@dataclass(frozen=True)
class CategoryColumn:
    """Codes into ``vocab`` (the distinct values), -1 where unknown: an atom is evaluated
    once per distinct value by the evaluator's own comparison, then looked up."""

    codes: np.ndarray
    vocab: tuple

    @property
    def known(self) -> np.ndarray:
        return self.codes >= 0

    @cached_property
    def words(self) -> np.ndarray:
        """The distinct values as a numpy string array (for string operations at once)."""
        return np.array(self.vocab, dtype=str)

    def keep(self, mask: np.ndarray) -> CategoryColumn:
        return replace(self, codes=np.where(mask, self.codes, -1))


Column = NumberColumn | DateColumn | CategoryColumn


def _numbers(n: int, index: np.ndarray, values: list, name: str) -> NumberColumn:
    known = np.zeros(n, bool)
    known[index] = True
    exact = np.full(n, np.nan)
    band = np.zeros(n, bool)
    low, high = np.full(n, -np.inf), np.full(n, np.inf)
    low_inc, high_inc = np.ones(n, bool), np.zeros(n, bool)
    kinds = set(map(type, values))
    if not kinds <= {int, float, Interval}:
        raise _wrong_type(name, kinds - {int, float, Interval})
    if Interval in kinds:
        given = np.empty(len(values), dtype=object)
        given[:] = values
        is_band = np.array(list(map(type, values)), dtype=object) == Interval
        at, bands = index[is_band], given[is_band].tolist()
        band[at] = True
        low[at] = [-np.inf if v.low is None else v.low for v in bands]
        high[at] = [np.inf if v.high is None else v.high for v in bands]
        low_inc[at] = [v.low_inclusive for v in bands]
        high_inc[at] = [v.high_inclusive for v in bands]
        index, values = index[~is_band], given[~is_band].tolist()
    exact[index] = np.array(values, np.float64)
    return NumberColumn(known, exact, band, low, high, low_inc, high_inc)


def _dates(n: int, index: np.ndarray, values: list, name: str) -> DateColumn:
    kinds = set(map(type, values))
    if not kinds <= {dt.date}:
        raise _wrong_type(name, kinds - {dt.date})
    known = np.zeros(n, bool)
    known[index] = True
    ordinals = np.zeros(n, np.int64)
    ordinals[index] = np.fromiter((d.toordinal() for d in values), np.int64, len(values))
    return DateColumn(known, ordinals)


def _categories(n: int, index: np.ndarray, values: list, name: str,
                kind: type) -> CategoryColumn:
    kinds = set(map(type, values))
    if not kinds <= {kind}:
        raise _wrong_type(name, kinds - {kind})
    vocab: dict = {}
    codes = np.full(n, -1, np.intp)
    codes[index] = [vocab.setdefault(v, len(vocab)) for v in values]
    return CategoryColumn(codes, tuple(vocab))


def _wrong_type(name: str, kinds: set) -> BatchError:
    shown = "、".join(sorted(k.__name__ for k in kinds))
    return BatchError(f"字段 {name} 的值类型不对（{shown}），应为 parse_value 给出的类型。 / "
                      f"{name}: values of type {shown} are not what parse_value gives.")


def _empty(kind: str, n: int) -> Column:
    none = np.zeros(n, bool)
    if kind in NUMERIC:
        return _numbers(n, np.zeros(0, np.int64), [], "")
    if kind == "date":
        return DateColumn(none, np.zeros(n, np.int64))
    return CategoryColumn(np.full(n, -1, np.intp), ())


@dataclass
class ProfileTable:
    """Every enterprise's given facts as columns, with which of them are authoritative and
    fresh; ``records`` kept (not copied) for explaining a result later."""

    usccs: list[str]
    columns: dict[str, Column]
    authoritative: dict[str, np.ndarray]
    dictionary: Dictionary
    records: list[Mapping[str, Any]] = field(default_factory=list)
    _views: dict[tuple, dict[str, Column]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.usccs)

    def view(self, day: dt.date, authoritative_only: bool = False) -> dict[str, Column]:
        """Every field of the dictionary resolved on ``day``: the given facts (only the
        authoritative, fresh ones if asked), with the derived fields computed where not given."""
        key = (day, authoritative_only)
        if key not in self._views:
            given = self.columns
            if authoritative_only:
                none = np.zeros(len(self), bool)
                given = {name: col.keep(self.authoritative.get(name, none))
                         for name, col in given.items()}
            resolved = dict(given)
            resolved["years_since_founded"] = _years_since_founded(
                given.get("years_since_founded"), given.get("founded_on"), day, len(self))
            resolved["scale"] = _scale(given, day, len(self))
            self._views[key] = resolved
        return self._views[key]


def build_table(records: Iterable[Mapping[str, Any]],
                dictionary: Dictionary | None = None) -> ProfileTable:
    """The columns of ``records`` (``{"uscc", "name", "facts", "authoritative_fresh"}``, facts
    typed as :func:`policies.facts.parse_value` gives them). A fact named nowhere in the
    dictionary is not tested by any condition and is left out; None is not given."""
    dictionary = dictionary or default_dictionary()
    records = list(records)
    n = len(records)
    usccs = [str(r.get("uscc", "")) for r in records]
    if len(set(usccs)) < n:  # a row's explanation names its enterprise by the code alone
        twice = sorted(u for u, count in Counter(usccs).items() if count > 1)[:5]
        raise BatchError(f"统一社会信用代码重复：{'、'.join(twice)}。 / Duplicate USCC in the "
                         f"profiles: {', '.join(twice)}.")
    facts = [r.get("facts") or {} for r in records]
    fresh = [r.get("authoritative_fresh") or () for r in records]
    named: set[str] = set().union(*facts) & set(dictionary.fields)
    columns: dict[str, Column] = {}
    masks: dict[str, np.ndarray] = {}
    for name in sorted(named):  # per field, the enterprises in a comprehension each
        raw = np.array([f.get(name) for f in facts], dtype=object)
        index = np.flatnonzero(raw != None)  # noqa: E711 (elementwise, not identity)
        values = raw[index].tolist()
        kind = dictionary[name].type
        if kind in NUMERIC:
            columns[name] = _numbers(n, index, values, name)
        elif kind == "date":
            columns[name] = _dates(n, index, values, name)
        else:
            columns[name] = _categories(n, index, values, name,
                                        bool if kind == "boolean" else str)
    for name in set().union(*fresh) & set(dictionary.fields):
        masks[name] = np.array([name in f for f in fresh], bool)
    return ProfileTable(usccs, columns, masks, dictionary, records)


def column_or_empty(view: Mapping[str, Column], name: str, kind: str, n: int) -> Column:
    """A field's column, or an all-unknown one of its kind when no enterprise gave it."""
    return view[name] if view.get(name) is not None else _empty(kind, n)


# --- derived fields, as policies.evaluator.Resolver computes them ---------------------------

def _years_since_founded(given: Column | None, founded: Column | None, day: dt.date,
                         n: int) -> NumberColumn:
    """Given where given, else whole years since founding (the anniversary counts; 29
    February's is 28 February in other years), vectorised ``years_between``."""
    base = given if isinstance(given, NumberColumn) else _numbers(n, np.zeros(0, np.int64), [],
                                                                 "")
    if not isinstance(founded, DateColumn) or not founded.known.any():
        return base
    days = (founded.values - _EPOCH).astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    mday = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    anniversary = month * 100 + mday
    leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    if not leap:
        anniversary = np.where(anniversary == 229, 228, anniversary)
    whole = day.year - years - (day.month * 100 + day.day < anniversary)
    derive = founded.known & ~base.known
    return replace(base, known=base.known | founded.known,
                   values=np.where(derive, whole.astype(np.float64), base.values),
                   band=base.band & ~derive)


def _at_least(col: NumberColumn, at: np.ndarray, threshold: float) -> np.ndarray:
    """scale._at_least on the enterprises ``at``: 1 / 0 / -1 (unknown)."""
    exact = np.where(col.values[at] >= threshold, 1, 0).astype(np.int8)
    if col.has_bands:
        exact = np.where(col.band[at], above(col, at, threshold, True), exact)
    return np.where(col.known[at], exact, -1).astype(np.int8)


def above(col: NumberColumn, at: Any, value: float, inclusive: bool) -> np.ndarray:
    """Interval.above on the bands at ``at`` (a slice or an index array): 1 every number in
    the band is ≥ (``inclusive``) or > ``value``, 0 none is, -1 some are."""
    low, high = col.low[at], col.high[at]
    yes = (low > value) | ((low == value) & (inclusive | ~col.low_inclusive[at]))
    no = (high < value) | ((high == value) & ~(inclusive & col.high_inclusive[at]))
    # yes first (a band of no width can be both), as Interval.above asks: 2·yes + (no, not
    # yes) − 1 in arithmetic, which numpy does far faster than a where on a random mask
    return (yes.view(np.int8) * np.int8(2) + (no & ~yes).view(np.int8) - np.int8(1))


def _group_of(standard: scale.Standard, codes: np.ndarray) -> np.ndarray:
    """Standard.group_of for every distinct industry code at once: the group of the longest
    matching prefix (the first such in the standard's order), else the catch-all."""
    catch_all = next(g for g, group in enumerate(standard.groups) if not group.codes)
    best = np.full(codes.size, catch_all, np.int32)
    length = np.full(codes.size, -1)
    for g, group in enumerate(standard.groups):
        for prefix in group.codes:
            longer = np.char.startswith(codes, prefix) & (len(prefix) > length)
            best[longer], length[longer] = g, len(prefix)
    return np.where(codes == "", -1, best).astype(np.int32)


def _scale(given: Mapping[str, Column], day: dt.date, n: int) -> CategoryColumn:
    """Given where given, else :func:`policies.scale.classify` over the columns: each
    industry's group looked up once per distinct code, each group's thresholds on its
    enterprises at once."""
    stated = given.get("scale")
    vocab = list(stated.vocab) if isinstance(stated, CategoryColumn) else []
    vocab += [s for s in scale.SIZES if s not in vocab]
    size_code = {s: vocab.index(s) for s in scale.SIZES}
    out = stated.codes.copy() if isinstance(stated, CategoryColumn) else np.full(n, -1, np.intp)
    industry = given.get("industry")
    if not isinstance(industry, CategoryColumn) or not industry.vocab:
        return CategoryColumn(out, tuple(vocab))
    standard = scale.standard_on(day)
    groups = np.append(_group_of(standard, industry.words), -1)[industry.codes]
    groups[out >= 0] = -1  # given: not derived
    indicators = {name: column_or_empty(given, name, "number", n) for name in scale.INDICATORS}
    for g, group in enumerate(standard.groups):
        at = np.flatnonzero(groups == g)
        if not at.size:
            continue
        reached = []
        for thresholds in (group.large, group.medium, group.small):
            reach = np.ones(at.size, np.int8)
            for name, threshold in thresholds.items():
                part = _at_least(indicators[name], at, threshold)  # type: ignore[arg-type]
                reach = np.where((reach == 0) | (part == 0), 0, np.minimum(reach, part))
            reached.append(reach.astype(np.int8))
        large, medium, small = reached
        medium = np.where(small == 0, 0, medium)
        large = np.where(medium == 0, 0, large)
        size = np.full(at.size, size_code["微型"], np.int32)
        # the first size reached decides, the first undecided leaves it unknown
        for reach, name in ((small, "小型"), (medium, "中型"), (large, "大型")):
            size = np.where(reach == 1, size_code[name], np.where(reach == -1, -1, size))
        out[at] = size
    return CategoryColumn(out, tuple(vocab))

"""The field dictionary: what a condition may test, how to ask for it, what answers it takes.

Loaded from ``policies/data/fields.yaml`` (the names there are the contract of import files
and the API). ``derived_from`` marks a field computed from others when not given
(:mod:`policies.evaluator`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent / "data"
TYPES = frozenset({"number", "integer", "date", "text", "choice", "boolean", "code"})
NUMERIC = frozenset({"number", "integer"})


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label: str
    question: str = ""
    unit: str = ""
    help: str = ""
    choices: tuple[str, ...] = ()
    # Answers in bands: [low, high) with None for no end (an interval fact, policies.facts).
    bands: tuple[tuple[float, float | None], ...] = ()
    derived_from: tuple[str, ...] = ()
    # Only the enterprise can say it (no register the centre reads holds it): a 免申即享 policy
    # cannot be granted on it unasked (policies.checks warns).
    declared: bool = False

    @property
    def derived(self) -> bool:
        return bool(self.derived_from)

    def band_label(self, low: float, high: float | None) -> str:
        unit = self.unit
        if high is None:
            return f"{_num(low)}{unit}及以上"
        if low == 0:
            return f"{_num(high)}{unit}以下"
        return f"{_num(low)}–{_num(high)}{unit}"

    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "type": self.type, "label": self.label}
        for key in ("question", "unit", "help"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.choices:
            out["choices"] = list(self.choices)
        if self.bands:
            out["bands"] = [{"low": lo, "high": hi, "label": self.band_label(lo, hi)}
                            for lo, hi in self.bands]
        if self.derived_from:
            out["derived_from"] = list(self.derived_from)
        if self.declared:
            out["declared"] = True
        return out


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Dictionary:
    fields: dict[str, Field] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Field:
        return self.fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def base_fields(self) -> list[Field]:
        return [f for f in self.fields.values() if not f.derived]


def parse_dictionary(raw: dict) -> Dictionary:
    fields = {}
    for name, spec in (raw or {}).items():
        kind = spec.get("type")
        if kind not in TYPES:
            raise ValueError(f"field {name}: unknown type {kind!r}")
        fields[name] = Field(
            name=name, type=kind, label=str(spec.get("label") or name),
            question=str(spec.get("question") or ""), unit=str(spec.get("unit") or ""),
            help=str(spec.get("help") or ""),
            choices=tuple(str(c) for c in spec.get("choices") or ()),
            bands=tuple((float(lo), None if hi is None else float(hi))
                        for lo, hi in spec.get("bands") or ()),
            derived_from=tuple(spec.get("derived_from") or ()),
            declared=bool(spec.get("declared")))
    return Dictionary(fields)


@lru_cache(maxsize=1)
def default_dictionary() -> Dictionary:
    return parse_dictionary(yaml.safe_load((DATA / "fields.yaml").read_text("utf-8")))

"""A policy item (事项) as files, the API and the store hold it, checked field by field."""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from policies.conditions import ConditionError, parse_condition
from policies.facts import FactError, parse_facts
from policies.fields import default_dictionary

STATUSES = ("draft", "in_review", "published", "archived")
CATEGORIES = ("减免", "奖补", "权益", "资质")
MODES = ("免申即享", "快申快享", "依申请", "仅告知")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300)
    doc_no: str = Field(default="", max_length=120)  # 文号
    issuer: str = Field(default="", max_length=200)


class Window(BaseModel):
    """An application window where separate from the policy's validity."""

    model_config = ConfigDict(extra="forbid")
    start: dt.date
    end: dt.date | None = None
    note: str = Field(default="", max_length=200)


class TestCase(BaseModel):
    """A sample enterprise saved with the result the editor expects of it (the test panel's
    "保存为测试用例"); a check before publishing runs every one (policies.checks)."""

    __test__ = False  # not a pytest class
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(default="", max_length=100)
    facts: dict = Field(default_factory=dict, max_length=100)
    declined: list[str] = Field(default_factory=list, max_length=100)
    date: dt.date | None = None
    expected: Literal["eligible", "possible", "ineligible", "not_in_force"]

    @field_validator("facts")
    @classmethod
    def _facts(cls, value: dict) -> dict:
        try:
            parse_facts(value, default_dictionary())
        except FactError as exc:
            raise ValueError(exc.message) from None
        return value


class FormField(BaseModel):
    """One field of the policy's application form (申请表): what 智能填表 fills in from the
    register (``fact``, a field of the dictionary) or leaves for the applicant (``fact``
    empty)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    key: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    label: str = Field(min_length=1, max_length=100)
    fact: str = Field(default="", max_length=64)
    required: bool = False
    help: str = Field(default="", max_length=300)

    @field_validator("fact")
    @classmethod
    def _fact(cls, value: str) -> str:
        dictionary = default_dictionary()
        if value and value not in dictionary:
            raise ValueError(f"字段词典中没有“{value}” / {value!r} is not a dictionary field")
        if value and dictionary[value].derived:  # the register stores base facts only
            raise ValueError(f"“{value}”由其他字段计算，请选用它的来源字段 / {value!r} is "
                             "computed from other fields")
        return value


MAX_FORM_FIELDS = 60


class PolicyData(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    document: Document
    clause: str = Field(default="", max_length=500)
    category: Literal["减免", "奖补", "权益", "资质"]
    mode: Literal["免申即享", "快申快享", "依申请", "仅告知"]
    department: str = Field(default="", max_length=128)
    benefit: str = Field(min_length=1, max_length=2000)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    windows: list[Window] = Field(default_factory=list, max_length=20)
    apply: str = Field(default="", max_length=2000)
    materials: list[str] = Field(default_factory=list, max_length=50)
    unmodelled: list[str] = Field(default_factory=list, max_length=50)
    conditions: dict | None = None
    status: Literal["draft", "in_review", "published", "archived"] = "draft"
    checked_on: dt.date | None = None  # 最近核对
    source_url: str = Field(default="", max_length=500)
    tests: list[TestCase] | None = Field(default=None, max_length=50)
    # The application form's fields (智能填表, entitlements/filling.py); none: not stored.
    form: list[FormField] | None = Field(default=None, max_length=MAX_FORM_FIELDS)

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, value: dict | None) -> dict | None:
        if value:
            try:
                parse_condition(value, default_dictionary())
            except ConditionError as exc:
                raise ValueError("; ".join(f"{p}: {r}" for p, r in exc.problems)) from None
        return value or None

    @field_validator("tests")
    @classmethod
    def _tests(cls, value: list[TestCase] | None) -> list[TestCase] | None:
        return value or None  # none saved: not stored at all

    @field_validator("form")
    @classmethod
    def _form(cls, value: list[FormField] | None) -> list[FormField] | None:
        keys = [f.key for f in value or ()]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"表单字段编号重复：{'、'.join(twice)} / duplicate form keys")
        return value or None  # an empty form is no form: old items stay as stored

    @model_validator(mode="after")
    def _dates(self) -> PolicyData:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to 早于 valid_from / valid_to is before valid_from")
        return self

    def stored(self) -> dict[str, Any]:
        """The JSON the store keeps and export writes (dates as ISO strings)."""
        return self.model_dump(mode="json", exclude_none=True)


def describe_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, reason) for each problem, the field as a dotted path."""
    out = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ())) or "item"
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        out.append((where, message))
    return out

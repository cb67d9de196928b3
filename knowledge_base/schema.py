"""The shape of an entry as editors and files give it, validated once here.

Every importer and API route turns its input into :class:`EntryData` so that a
bad date or a missing answer is reported the same way wherever it came from.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from knowledge_base.models import STATUSES

FIELDS = ("id", "question", "similar_questions", "answer", "category", "department", "source",
          "source_url", "effective_from", "expires_on", "long_term", "reviewed_on", "reviewed_by",
          "tags", "policy_ids", "status")
LIST_FIELDS = ("similar_questions", "tags", "policy_ids")
REQUIRED = ("id", "question", "answer")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def _text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class EntryData(BaseModel):
    """One entry's content (everything but version and who changed it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str
    question: str = Field(min_length=1, max_length=500)
    similar_questions: list[str] = Field(default_factory=list)
    answer: str = Field(min_length=1, max_length=20000)
    category: str = Field(default="", max_length=64)
    department: str = Field(default="", max_length=128)
    source: str = Field(default="", max_length=256)
    source_url: str = Field(default="", max_length=512)
    effective_from: dt.date | None = None
    expires_on: dt.date | None = None
    long_term: bool = False  # says 长期有效: only when the source document says so
    reviewed_on: dt.date | None = None  # last checked against its source by an editor
    reviewed_by: str = Field(default="", max_length=64)
    tags: list[str] = Field(default_factory=list)
    # The 政策体检 items the entry is about (ids in the policy store): the answer card offers
    # 看看我是否符合 for the published ones. Whether each exists is checked where the store is.
    policy_ids: list[str] = Field(default_factory=list)
    status: str = "published"

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> str:
        v = str(_text(v) or "")
        if not _ID.match(v):
            raise ValueError("id 只能含字母、数字和 _ . : -，长度 1-64 / "
                             "id must be 1-64 ASCII letters, digits, _ . : -")
        return v

    @field_validator("similar_questions", "tags", "policy_ids", mode="before")
    @classmethod
    def _list(cls, v: Any) -> list[str]:
        if v is None or v == "":
            return []
        if isinstance(v, str):
            v = v.split("|")
        if not isinstance(v, list):
            raise ValueError("应为列表 / must be a list")
        items = [str(x).strip() for x in v if x is not None and str(x).strip()]
        if any("|" in x for x in items):
            raise ValueError("列表项不能含 “|”（表格中用它分隔） / list items must not contain '|'")
        return list(dict.fromkeys(items))  # keep order, drop duplicates

    @field_validator("long_term", mode="before")
    @classmethod
    def _flag(cls, v: Any) -> Any:
        """Spreadsheets say 是/否, true/false, 1/0 or leave the cell empty."""
        if v is None or (isinstance(v, str) and not v.strip()):
            return False
        if isinstance(v, str):
            word = v.strip().lower()
            if word in ("是", "true", "yes", "y", "1", "长期", "长期有效"):
                return True
            if word in ("否", "false", "no", "n", "0"):
                return False
            raise ValueError(f"应为 是/否（true/false） / must be true or false: {v!r}")
        return v

    @field_validator("effective_from", "expires_on", "reviewed_on", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(v.strip())
            except ValueError:
                raise ValueError(
                    f"日期格式应为 YYYY-MM-DD / date must be YYYY-MM-DD: {v!r}") from None
        return v

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, v: Any) -> str:
        v = (_text(v) or "published")
        if v not in STATUSES:
            raise ValueError(f"状态应为 {'/'.join(STATUSES)} / status must be one of {STATUSES}")
        return v

    @model_validator(mode="after")
    def _dates_in_order(self) -> EntryData:
        if self.effective_from and self.expires_on and self.expires_on < self.effective_from:
            raise ValueError("失效日期早于生效日期 / expires_on is before effective_from")
        if self.long_term and self.expires_on:
            raise ValueError("长期有效的条目不能有失效日期 / a long_term entry has no expires_on")
        return self

    def to_record(self) -> dict:
        """JSON-safe dict (dates as ISO strings): the form versions and exports use."""
        return self.model_dump(mode="json")


def describe_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """[(field, reason)] in plain words for import reports and HTTP errors."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "entry"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "必填字段缺失 / required field missing"
        elif err["type"] == "extra_forbidden":
            msg = "未知字段 / unknown field"
        elif err["type"] == "string_too_short":
            msg = "不能为空 / must not be empty"
        out.append((loc, msg))
    return out

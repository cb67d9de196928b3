"""What the policy editors' API (``/api/policies…``: api/routes/policies_edit.py,
policies_files.py, policies_trial.py) shares: its router, the bodies it reads and an item as an
editor sees it.

Refusals are the store's own errors (:class:`policies.store.PolicyStoreError`), rendered by the
gateway's one handler with every problem listed: ``{"error": {"code", "message", "errors":
[...]}}`` — an import's rows (``file``, ``row``, ``field``, ``reason``), a form's fields
(``field``, ``reason``), the checks before publishing (``level``, ``code``, ``where``,
``message``).
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from api.errors import error_responses
from policies.models import PolicyItem

PolicyStatus = Literal["draft", "in_review", "published", "archived"]
ExportFormat = Literal["yaml", "jsonl", "xlsx"]
MEDIA_TYPES = {"yaml": "application/yaml", "jsonl": "application/x-ndjson",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_VERSION = 1_000_000_000
PolicyId = Annotated[str, Path(max_length=64)]
WHY = Field(default="", max_length=500, description="why (kept in the history)")


def policies_router(tag: str = "政策编辑") -> APIRouter:
    return APIRouter(prefix="/api/policies", tags=[tag],
                     responses=error_responses(400, 401, 403, 404, 409, 413, 422))


def timestamp(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC (SQLite returns stored timestamps without their zone)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def policy_out(item: PolicyItem) -> dict:
    """The item's fields as a file holds them, with its status, version and last change."""
    return {**item.data, "status": item.status, "version": item.version,
            "updated_by": item.updated_by, "updated_at": timestamp(item.updated_at)}


class PolicyIn(BaseModel):
    """A new item: its fields as an import file holds them (checked as a row is)."""

    model_config = ConfigDict(extra="forbid")
    item: dict = Field(max_length=40, description="the item, as a YAML or JSON Lines file "
                                                  "holds it")
    why: str = WHY


class PolicyUpdate(PolicyIn):
    version: int = Field(ge=1, le=MAX_VERSION, description="the version the editor read")


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    why: str = WHY
    date: dt.date | None = Field(default=None, description="the checks' date (default today)")


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=MAX_VERSION, description="the version to bring back")
    expected_version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    why: str = WHY


class SampleIn(BaseModel):
    """A sample enterprise for the test panel, on a date (default today in Shanghai)."""

    model_config = ConfigDict(extra="forbid")
    facts: dict = Field(default_factory=dict, max_length=100)
    declined: list[str] = Field(default_factory=list, max_length=100)
    date: dt.date | None = None


class TrialIn(SampleIn):
    item: dict = Field(max_length=40, description="the item being written (not saved)")

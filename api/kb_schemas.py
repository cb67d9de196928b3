"""What the knowledge editors' API (``/api/kb/*``: api/routes/kb.py, kb_files.py,
kb_hit_test.py, kb_drafts.py) shares: its router with the knowledge base's errors in the error
shape, the entry as an editor sees it, and the bodies it reads.

Errors are the gateway's shape (:mod:`api.errors`); an invalid entry or import also lists
every problem: ``{"error": {"code", "message", "errors": [{"field", "reason"}]}}`` (an import's
rows carry ``row`` too).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.errors import error_responses
from api.services import Services
from knowledge_base import card, io, store
from knowledge_base.schema import EntryData, describe_errors
from policies import links
from xiaobao.db import session_scope

STATUSES = ("draft", "published", "archived")
Status = Literal["draft", "published", "archived"]
ExportFormat = Literal["xlsx", "csv", "yaml", "jsonl"]
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "yaml": "application/yaml",
    "jsonl": "application/x-ndjson",
}
MEANING_TOP_K = 20  # meaning hits a search of the entry list asks the retriever for
HIT_TEST_TOP_K = 5  # as the bot's answer action
MAX_VERSION = 1_000_000_000  # keeps a client's number inside SQL's integers
# What EntryOut adds to an entry's fields: a client may send an entry back as it read it.
_READ_ONLY = ("updated_at", "updated_by", "review_state", "needs_deep_link", "card",
              "answerable", "match", "score")
_TEXT_FIELDS = ("question", "answer", "category", "department", "source", "source_url",
                "reviewed_by")

WARN_HOME_PAGE = ("来源链接是网站首页，回答中只能显示为“办理入口”；"
                  "请换成具体办事页面的链接（深链接）。"
                  " / The link is a site's home page: give a deep link.")
WARN_UNREVIEWED = ("尚未填写最近核对日期：回答将提示“以最新文件和窗口受理意见为准”。"
                   " / Not reviewed yet: the card says to rely on the latest documents.")
WARN_NO_SOURCE = (f"未填写来源：将显示为“{card.DEFAULT_SOURCE}”。"
                  " / No source given: shown as compiled by the centre.")


# --- the knowledge base's errors, with every problem listed ---------------------------------------

class InvalidEntry(Exception):
    """An entry's fields failed validation: 422 ``invalid_entry`` with ``[(field, reason)]``."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__(problems)
        self.problems = problems


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}},
                        status_code=status)


def _invalid_entry(problems: list[tuple[str, str]]) -> JSONResponse:
    said = "; ".join(f"{field}: {reason}" for field, reason in problems)
    return _error(422, "invalid_entry", f"条目内容有误 / Invalid entry — {said}",
                  errors=[{"field": field, "reason": reason} for field, reason in problems])


class KnowledgeBaseRoute(APIRoute):
    """Answers the knowledge base's own errors in the error shape, for every route here:
    a failed import or entry lists every problem; ``KnowledgeBaseError`` subclasses carry their
    status (404 unknown entry or version, 409 version conflict or a decided draft)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_kb_errors(request: Request) -> Response:
            try:
                return await handle(request)
            except io.ImportFailed as exc:
                return _error(422, exc.code, exc.message.split("\n", 1)[0], errors=[
                    {"row": e.row, "field": e.field, "reason": e.reason} for e in exc.errors],
                    total_errors=exc.total)
            except store.KnowledgeBaseError as exc:
                return _error(exc.status, exc.code, exc.message)
            except ValidationError as exc:  # EntryData: the same words as an import's
                return _invalid_entry(describe_errors(exc))
            except InvalidEntry as exc:
                return _invalid_entry(exc.problems)

        return handle_kb_errors


def kb_router(tag: str) -> APIRouter:
    """A router under ``/api/kb`` whose routes answer the knowledge base's errors."""
    return APIRouter(prefix="/api/kb", tags=[tag], route_class=KnowledgeBaseRoute,
                     responses=error_responses(400, 401, 403, 404, 409, 413, 422))


EntryId = Annotated[str, Path(max_length=64)]
DraftId = Annotated[str, Path(max_length=64)]


# --- what the editor sees of an entry -------------------------------------------------------------

def timestamp(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC: stored timestamps are UTC, though SQLite returns them without a zone."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def entry_out(entry: Any, services: Services) -> dict:
    """EntryOut: the entry's fields, its version and last change, and how the bot shows it."""
    record = store.entry_data(entry).to_record()
    return {
        **record,
        "version": entry.version,
        "updated_at": timestamp(entry.updated_at),
        "updated_by": entry.updated_by,
        "review_state": card.review_state(entry.reviewed_on, services.kb.review_max_age_days),
        "needs_deep_link": card.is_home_page(entry.source_url),
        "card": card.answer_card(entry),
        "answerable": store.is_answerable(entry),
    }


class EntryFields(BaseModel):
    """An entry's fields, named as in the import files (``GET /api/kb/meta`` lists them).

    Checked by :class:`knowledge_base.schema.EntryData`, so a bad field is reported as an
    import reports it. ``null`` means empty; for ``id`` and ``status``, not given. An entry
    as read (EntryOut) may be sent back: what the server computes is ignored."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    question: str | None = None
    similar_questions: list[str] | str | None = None
    answer: str | None = None
    category: str | None = None
    department: str | None = None
    source: str | None = None
    source_url: str | None = None
    effective_from: str | None = Field(default=None, description="YYYY-MM-DD")
    expires_on: str | None = Field(default=None, description="YYYY-MM-DD")
    long_term: bool | str | None = None
    reviewed_on: str | None = Field(default=None, description="YYYY-MM-DD")
    reviewed_by: str | None = None
    tags: list[str] | str | None = None
    policy_ids: list[str] | str | None = None
    status: str | None = None

    def given(self) -> dict[str, Any]:
        """The fields the client sent (``version`` aside), ``null`` read as described above."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump(exclude_unset=True).items():
            if name in ("version", *_READ_ONLY) or (value is None and name in ("id", "status")):
                continue
            out[name] = "" if value is None and name in _TEXT_FIELDS else value
        return out


class EntryUpdate(EntryFields):
    version: int = Field(ge=1, le=MAX_VERSION, description="the version the editor read")


class VersionIn(BaseModel):
    version: int = Field(ge=1, le=MAX_VERSION)


class OptionalVersionIn(BaseModel):
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)


class RejectIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=500)


class HitTestIn(BaseModel):
    query: str = Field(max_length=10_000)


# --- the 政策体检 items an entry names ----------------------------------------------------------

def policy_targets(services: Services) -> list[dict]:
    """Every item of the policy store (any status) as a link target."""
    with session_scope(services.engine) as session:
        return links.link_targets(session)


def given_ids(value: Any) -> list[str]:
    """The ids of a form's or file's ``policy_ids`` ("a|b" or a list); a value of another kind
    is left to :class:`EntryData` to refuse."""
    items = value.split("|") if isinstance(value, str) else value if isinstance(value, list) \
        else []
    return [str(i).strip() for i in items if i is not None and str(i).strip()]


def check_policy_ids(services: Services, named: dict[str, list[str]]) -> None:
    """422 ``invalid_entry`` when an entry (``named``: its id → its policy ids; "" for a new
    one) names a policy the store does not hold, listing each. A link the entry has already
    is kept as it is (a knowledge base loaded before its policies, e.g. the seed, still
    exports and imports, and its entries can be edited)."""
    if not any(named.values()):
        return
    known = [t["id"] for t in policy_targets(services)]
    unknown = {entry_id: links.unknown_ids(ids, known) for entry_id, ids in named.items()}
    if not any(unknown.values()):
        return
    kept = {e.id: set(e.policy_ids) for e in services.kb.find()[0] if e.policy_ids}
    problems = [("policy_ids", f"政策库中没有这项政策：{missing[:64]}"
                               f"{f'（条目 {entry_id}）' if entry_id else ''} / "
                               f"no policy with this id in the policy store")
                for entry_id, ids in unknown.items() for missing in ids
                if missing not in kept.get(entry_id, ())]
    if problems:
        raise InvalidEntry(problems[:20])


def policy_links_out(services: Services, data: EntryData) -> dict:
    """The entry's linked items (id, title, status) and the ones its text suggests."""
    targets = policy_targets(services)
    by_id = {t["id"]: t for t in targets}
    linked = [{"id": i, "title": by_id[i].get("title", ""), "status": by_id[i]["status"]}
              for i in data.policy_ids if i in by_id]
    return {"linked": linked,
            "suggestions": links.suggest_links([data.answer, data.source], targets,
                                               linked=data.policy_ids)}

"""The knowledge editors' JSON API (``/api/kb/*``, role ``editor``; ``admin`` too).

Every change goes through :class:`knowledge_base.service.KnowledgeBaseService`
(``services.kb``): a new version and an audit row, committed, then announced so the chat's
retriever refreshes the entry. The actor is always the logged-in account's username.

What an editor sees is what the bot says: an entry's ``card`` is
:func:`knowledge_base.card.answer_card`, the preview runs the same function on the form, and
the hit test runs the chat's own retriever instance and reply code (``bot.actions.deps.search``
and ``bot.replies.reply_for``, as ``action_answer_question`` does).

Errors are the gateway's shape (:mod:`api.errors`); an invalid entry or import also lists
every problem: ``{"error": {"code", "message", "errors": [{"field", "reason"}]}}`` (an import's
rows carry ``row`` too).
"""
from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.deps import EditorAccount, ServicesDep
from api.errors import ApiError, error_responses
from api.services import Services
from bot.actions import deps as bot_deps
from bot.replies import reply_for
from knowledge_base import card, drafts, io, store
from knowledge_base.schema import FIELDS, EntryData, describe_errors
from retrieval.types import QueryError

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
                return _error(exc.status_code, exc.code, exc.message)
            except ValidationError as exc:  # EntryData: the same words as an import's
                return _invalid_entry(describe_errors(exc))
            except InvalidEntry as exc:
                return _invalid_entry(exc.problems)

        return handle_kb_errors


router = APIRouter(prefix="/api/kb", tags=["knowledge base"], route_class=KnowledgeBaseRoute,
                   responses=error_responses(400, 401, 403, 404, 409, 413, 422))

EntryId = Annotated[str, Path(max_length=64)]
DraftId = Annotated[str, Path(max_length=64)]


# --- what the editor sees of an entry -------------------------------------------------------------

def _timestamp(value: dt.datetime | None) -> str | None:
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
        "updated_at": _timestamp(entry.updated_at),
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


# --- listing and reading --------------------------------------------------------------------------

def _passes(entry: Any, services: Services, status: str | None, category: str | None,
            department: str | None, stale: bool | None) -> bool:
    """The list's filters, for an entry found by meaning (the word search applies them in SQL)."""
    if (status and entry.status != status) or (category and entry.category != category) \
            or (department and entry.department != department):
        return False
    if stale is None:
        return True
    state = card.review_state(entry.reviewed_on, services.kb.review_max_age_days)
    return (state != "current") == stale


def _meaning_hits(services: Services, q: str) -> list[tuple[str, float]]:
    """(entry id, score) of what the chat's retriever finds for ``q``, best first."""
    try:
        result = services.retriever.search(q, top_k=MEANING_TOP_K)
    except QueryError:
        return []  # nothing searchable by meaning (e.g. only punctuation): words may still match
    return [(hit.id, hit.score) for hit in result.hits]


@router.get("/entries")
def list_entries(services: ServicesDep, _: EditorAccount,
                 q: Annotated[str, Query(max_length=200)] = "",
                 category: Annotated[str, Query(max_length=64)] = "",
                 status: Status | None = None,
                 department: Annotated[str, Query(max_length=128)] = "",
                 stale: Annotated[bool | None, Query(
                     description="true: never reviewed or reviewed too long ago; "
                                 "false: reviewed recently")] = None,
                 page: Annotated[int, Query(ge=1, le=100_000)] = 1,
                 page_size: Annotated[int, Query(ge=1, le=200)] = 50) -> dict:
    """Entries by filter; ``q`` searches by meaning (the chat's retriever: published entries)
    and by words. Meaning hits come first, best first, then entries matching the words only;
    each carries ``match`` (meaning / words / both) and, when found by meaning, ``score``."""
    filters: dict[str, Any] = {"status": status, "category": category or None,
                               "department": department or None, "needs_review": stale}
    offset = (page - 1) * page_size
    q = q.strip()
    if not q:
        entries, total = services.kb.find(offset=offset, limit=page_size, **filters)
        items = [entry_out(e, services) for e in entries]
        return {"items": items, "total": total, "page": page, "page_size": page_size}

    by_words = {e.id: e for e in services.kb.find(words=q, **filters)[0]}
    found: list[tuple[Any, dict]] = []  # (entry, how it was found)
    for entry_id, score in _meaning_hits(services, q):
        entry = by_words.get(entry_id)
        match = "both" if entry is not None else "meaning"
        if entry is None:
            try:
                entry = services.kb.get(entry_id)
            except store.EntryNotFound:
                continue
            if not _passes(entry, services, status, category, department, stale):
                continue
        if entry.status != "published":  # the index has not heard of a change yet
            continue
        by_words.pop(entry_id, None)
        found.append((entry, {"match": match, "score": round(score, 4)}))
    found += [(e, {"match": "words"}) for e in by_words.values()]
    items = [{**entry_out(e, services), **how} for e, how in found[offset:offset + page_size]]
    return {"items": items, "total": len(found), "page": page, "page_size": page_size}


@router.get("/meta")
def meta(services: ServicesDep, _: EditorAccount) -> dict:
    """What the editor's form and filters offer: categories and departments in use (and every
    department with a helpers' queue), statuses, the review age, the field names."""
    used = services.kb.distinct_values()
    departments = list(dict.fromkeys([*used["departments"], *services.config.departments]))
    return {"categories": used["categories"], "departments": departments,
            "statuses": list(STATUSES), "review_max_age_days": services.kb.review_max_age_days,
            "fields": list(FIELDS)}


@router.get("/entries/{entry_id}")
def get_entry(entry_id: EntryId, services: ServicesDep, _: EditorAccount) -> dict:
    return {"entry": entry_out(services.kb.get(entry_id), services)}


# --- changing entries -----------------------------------------------------------------------------

@router.post("/entries", status_code=201)
def create_entry(body: EntryFields, services: ServicesDep, me: EditorAccount) -> dict:
    """A new entry: the id is assigned when none is given; a draft unless ``status`` says
    otherwise. 409 when the id is taken."""
    return {"entry": entry_out(services.kb.create(body.given(), me.username), services)}


@router.put("/entries/{entry_id}")
def update_entry(entry_id: EntryId, body: EntryUpdate, services: ServicesDep,
                 me: EditorAccount) -> dict:
    """Save the editor's form over ``version`` (the one they read): 409 when someone saved
    since. Fields left out keep their current value."""
    fields = body.given()
    if fields.pop("id", entry_id) != entry_id:
        raise InvalidEntry([("id", "与地址中的条目编号不一致 / differs from the entry in the URL")])
    current = store.entry_data(services.kb.get(entry_id)).to_record()
    entry = services.kb.update(entry_id, {**current, **fields}, me.username,
                               expected_version=body.version)
    return {"entry": entry_out(entry, services)}


@router.post("/entries/{entry_id}/publish")
def publish_entry(entry_id: EntryId, services: ServicesDep, me: EditorAccount,
                  body: OptionalVersionIn | None = None) -> dict:
    """The bot may answer with it (inside its validity dates)."""
    version = body.version if body else None
    return {"entry": entry_out(services.kb.publish(entry_id, me.username, version), services)}


@router.post("/entries/{entry_id}/archive")
def archive_entry(entry_id: EntryId, services: ServicesDep, me: EditorAccount,
                  body: OptionalVersionIn | None = None) -> dict:
    """Taken offline: kept with its history, never answered with."""
    version = body.version if body else None
    return {"entry": entry_out(services.kb.archive(entry_id, me.username, version), services)}


@router.get("/entries/{entry_id}/history")
def entry_history(entry_id: EntryId, services: ServicesDep, _: EditorAccount) -> dict:
    """Every version, newest first, with the action and detail of its audit row."""
    versions = services.kb.history(entry_id)
    audit = {}
    for row in reversed(services.kb.audit(entry_id, limit=len(versions) + 100)):
        audit[row.version] = row  # oldest first: the newest row of a version wins
    out = []
    for v in reversed(versions):
        row = audit.get(v.version)
        out.append({"version": v.version, "changed_by": v.changed_by,
                    "changed_at": _timestamp(v.changed_at),
                    "action": row.action if row else "", "detail": row.detail if row else "",
                    "data": v.data})
    return {"versions": out}


@router.get("/entries/{entry_id}/diff")
def entry_diff(entry_id: EntryId, services: ServicesDep, _: EditorAccount,
               from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION)],
               to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_VERSION)]) -> dict:
    """Two versions: the unified diff, and field by field for a side-by-side view."""
    unified = services.kb.diff(entry_id, from_version, to_version)  # 404: no such version
    data = {v.version: v.data for v in services.kb.history(entry_id)}
    old, new = data[from_version], data[to_version]
    fields = [{"field": name, "from": old.get(name), "to": new.get(name),
               "changed": old.get(name) != new.get(name)} for name in FIELDS]
    return {"from": from_version, "to": to_version, "unified": unified, "fields": fields}


@router.post("/entries/{entry_id}/rollback")
def rollback_entry(entry_id: EntryId, body: VersionIn, services: ServicesDep,
                   me: EditorAccount) -> dict:
    """That version's content becomes current again, as a new version."""
    return {"entry": entry_out(services.kb.rollback(entry_id, body.version, me.username),
                               services)}


@router.post("/preview")
def preview(body: EntryFields, services: ServicesDep, _: EditorAccount) -> dict:
    """The form as the bot would show it (nothing is saved), and what the editor should fix."""
    data = EntryData.model_validate({"status": "draft", **body.given(),
                                     "id": body.id or "preview"})
    warnings = []
    if card.is_home_page(data.source_url):
        warnings.append(WARN_HOME_PAGE)
    if data.reviewed_on is None:
        warnings.append(WARN_UNREVIEWED)
    if not data.source:
        warnings.append(WARN_NO_SOURCE)
    return {"card": card.answer_card(data), "answerable": store.is_answerable(data),
            "review_state": card.review_state(data.reviewed_on,
                                              services.kb.review_max_age_days),
            "needs_deep_link": card.is_home_page(data.source_url), "warnings": warnings}


# --- files ----------------------------------------------------------------------------------------

@router.post("/import")
def import_file(services: ServicesDep, me: EditorAccount,
                file: Annotated[UploadFile, File(description="YAML, JSONL, CSV or XLSX")],
                dry_run: bool = False) -> dict:
    """Import a file, all or nothing: any bad row → 422 listing every row, field and reason,
    and nothing written. ``dry_run``: what would be created, updated or left unchanged."""
    name = FilePath(file.filename or "").name
    try:
        io.detect_format(FilePath(name))
    except store.KnowledgeBaseError as exc:
        raise ApiError(422, "unsupported_file_type", exc.message) from None
    limit = services.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "body_too_large", f"文件过大（上限{limit // 1024} KB）。 / File too "
                                              f"large (at most {limit // 1024} KB).")
    entries = io.parse_entries(FilePath(name), data)
    summary = services.kb.import_entries(entries, me.username, dry_run=dry_run)
    return {"dry_run": dry_run, "rows": len(entries), "created": summary.created,
            "updated": summary.updated, "unchanged": summary.unchanged}


@router.get("/export", response_class=Response, responses={200: {
    "description": "The entries as a file", "content": {t: {} for t in MEDIA_TYPES.values()}}})
def export_file(services: ServicesDep, _: EditorAccount, format: ExportFormat = "xlsx",
                status: Status | None = None) -> Response:
    """Every entry (or those of ``status``) as a file to download, in an import's format."""
    filename = f"knowledge_base-{dt.date.today():%Y%m%d}.{format}"
    with tempfile.TemporaryDirectory() as tmp:
        path = FilePath(tmp) / filename
        services.kb.export(path, status)
        content = path.read_bytes()
    return Response(content, media_type=MEDIA_TYPES[format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- the hit test: what the chat would answer -----------------------------------------------------

@router.post("/hit-test")
def hit_test(body: HitTestIn, services: ServicesDep, _: EditorAccount) -> dict:
    """The chat's decision for ``query``: the same retriever instance and the same reply code as
    the bot's answer action, so the test cannot disagree with the chat."""
    try:
        result = bot_deps.search(services, body.query.strip(), HIT_TEST_TOP_K)
    except QueryError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    top = result.top
    return {
        "query": body.query, "decision": result.decision, "probability": result.probability,
        "plausibility": result.plausibility, "features": result.features,
        "candidates": [{"id": h.id, "question": h.question, "category": h.category,
                        "department": h.department, "score": round(h.score, 4),
                        "dense": round(h.dense, 4), "sparse": round(h.sparse, 4)}
                       for h in result.hits],
        "reply": {k: v for k, v in reply_for(result).items() if k in ("text", "buttons")},
        "entry_id": top.id if result.decision == "answer" and top is not None else None,
    }


# --- helpers' proposals ---------------------------------------------------------------------------

def _ticket_of(entry: Any) -> str:
    return next((t.removeprefix("ticket:") for t in entry.tags if t.startswith("ticket:")), "")


@router.get("/drafts")
def list_drafts(services: ServicesDep, _: EditorAccount) -> dict:
    """Helpers' proposals no editor has decided on, oldest first, each with the entry it would
    amend."""
    items = []
    for draft in services.kb.pending_drafts():
        replaces = drafts.replaces_of(draft)
        try:
            replaced = entry_out(services.kb.get(replaces), services) if replaces else None
        except store.EntryNotFound:
            replaced = None
        items.append({**entry_out(draft, services), "replaces": replaces,
                      "replaces_entry": replaced, "ticket_id": _ticket_of(draft),
                      "proposed_by": draft.updated_by})
    return {"items": items}


@router.post("/drafts/{draft_id}/accept")
def accept_draft(draft_id: DraftId, services: ServicesDep, me: EditorAccount,
                 body: EntryFields | None = None) -> dict:
    """Publish the proposal (with the editor's edits): a new version of the entry it amends,
    or a new entry. 409 when already decided."""
    edits = body.given() if body else None
    return {"entry": entry_out(services.kb.accept_draft(draft_id, me.username, edits), services)}


@router.post("/drafts/{draft_id}/reject")
def reject_draft(draft_id: DraftId, body: RejectIn, services: ServicesDep,
                 me: EditorAccount) -> dict:
    """Decline the proposal; the reason is kept in its history."""
    return {"draft": entry_out(services.kb.reject_draft(draft_id, me.username, body.reason),
                               services)}

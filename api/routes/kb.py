"""The knowledge editors' entries (``/api/kb/entries…``, role ``editor``; ``admin`` too):
list and search, read, create, edit, publish, archive, history, diff, rollback, preview.

Every change goes through :class:`knowledge_base.service.KnowledgeBaseService`
(``services.kb``): a new version and an audit row, committed, then announced so the chat's
retriever refreshes the entry. The actor is always the logged-in account's username. What an
editor sees is what the bot says: an entry's ``card`` is
:func:`knowledge_base.card.answer_card`, and the preview runs the same function on the form.
Files are api/routes/kb_files.py, the hit test kb_hit_test.py, helpers' proposals kb_drafts.py;
what they share is :mod:`api.kb_schemas`.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from api.deps import EditorAccount, ServicesDep
from api.kb_schemas import (
    MAX_VERSION,
    MEANING_TOP_K,
    STATUSES,
    WARN_HOME_PAGE,
    WARN_NO_SOURCE,
    WARN_UNREVIEWED,
    EntryFields,
    EntryId,
    EntryUpdate,
    InvalidEntry,
    OptionalVersionIn,
    Status,
    VersionIn,
    check_policy_ids,
    entry_out,
    given_ids,
    kb_router,
    policy_links_out,
    timestamp,
)
from api.services import Services
from knowledge_base import card, store
from knowledge_base.schema import FIELDS, EntryData
from retrieval.types import QueryError

router = kb_router("knowledge base")


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
    otherwise. 409 when the id is taken; 422 when it names a policy the store does not hold."""
    fields = body.given()
    check_policy_ids(services, {"": given_ids(fields.get("policy_ids"))})
    return {"entry": entry_out(services.kb.create(fields, me.username), services)}


@router.put("/entries/{entry_id}")
def update_entry(entry_id: EntryId, body: EntryUpdate, services: ServicesDep,
                 me: EditorAccount) -> dict:
    """Save the editor's form over ``version`` (the one they read): 409 when someone saved
    since. Fields left out keep their current value."""
    fields = body.given()
    if fields.pop("id", entry_id) != entry_id:
        raise InvalidEntry([("id", "与地址中的条目编号不一致 / differs from the entry in the URL")])
    current = store.entry_data(services.kb.get(entry_id)).to_record()
    if "policy_ids" in fields:
        check_policy_ids(services, {entry_id: given_ids(fields["policy_ids"])})
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
                    "changed_at": timestamp(v.changed_at),
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


@router.get("/entries/{entry_id}/policy-suggestions")
def policy_suggestions(entry_id: EntryId, services: ServicesDep, _: EditorAccount) -> dict:
    """The 政策体检 items the entry names (``linked``: id, title, status) and those its answer
    or source suggests by 文号 or title (``suggestions``: id, title, doc_no, status, matched)."""
    return policy_links_out(services, store.entry_data(services.kb.get(entry_id)))


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
            "policy_links": policy_links_out(services, data),
            "review_state": card.review_state(data.reviewed_on,
                                              services.kb.review_max_age_days),
            "needs_deep_link": card.is_home_page(data.source_url), "warnings": warnings}

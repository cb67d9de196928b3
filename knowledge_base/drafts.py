"""Drafts helpers propose from the console, and an editor's accept or reject.

A helper's proposal is saved as its own ``draft`` entry tagged ``helper_proposal`` (and
``replaces:<id>`` when it amends an entry), so the published entry keeps answering until an
editor decides. Accepting one that amends an entry makes a new version of that entry;
accepting a new one publishes it under an id the server assigns. Either way the draft is
archived with the decision in its tags and audit row, the editor is recorded as the reviewer,
and an event is written, all in the caller's transaction.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from knowledge_base import store
from knowledge_base.models import Entry
from knowledge_base.schema import EntryData
from xiaobao.events import EventKind, record_event

PROPOSAL_TAG = "helper_proposal"
REPLACES = "replaces:"
# Tags that describe the proposal, not the content: never carried into a published entry.
_PROPOSAL_PREFIXES = (PROPOSAL_TAG, REPLACES, "ticket:")
# What an editor may change while accepting.
EDITABLE = ("question", "similar_questions", "answer", "category", "department", "source",
            "source_url", "effective_from", "expires_on", "long_term", "reviewed_on", "tags")


class DraftNotPending(store.KnowledgeBaseError):
    status = 409
    code = "draft_not_pending"


def replaces_of(entry: Entry | EntryData) -> str:
    return next((t.removeprefix(REPLACES) for t in entry.tags if t.startswith(REPLACES)), "")


def is_proposal(entry: Entry | EntryData) -> bool:
    return PROPOSAL_TAG in entry.tags


def pending(session: Session) -> list[Entry]:
    """Helpers' proposals no editor has decided on, oldest first."""
    rows, _ = store.find_entries(session, status="draft", tag=PROPOSAL_TAG)
    return sorted(rows, key=lambda e: e.updated_at)


def _pending_draft(session: Session, draft_id: str) -> Entry:
    draft = store.get_entry(session, draft_id)
    if not is_proposal(draft):
        raise store.EntryNotFound(f"没有这条帮办提议 / no helper proposal {draft_id!r}")
    if draft.status != "draft":
        raise DraftNotPending(f"提议 {draft_id} 已处理过 / proposal {draft_id} was already decided")
    return draft


def _content_tags(tags: list[str]) -> list[str]:
    return [t for t in tags if not t.startswith(_PROPOSAL_PREFIXES)]


def accept(session: Session, draft_id: str, actor: str, edits: dict[str, Any] | None = None,
           today: dt.date | None = None) -> tuple[str, str]:
    """Accept a proposal (with the editor's ``edits``): returns (entry id, ``created``/``updated``).

    The accepted content is published and marked reviewed by ``actor`` today.
    """
    draft = _pending_draft(session, draft_id)
    edits = {k: v for k, v in (edits or {}).items() if k in EDITABLE}
    target_id = replaces_of(draft)
    reviewed = {"status": "published", "reviewed_on": today or dt.date.today(),
                "reviewed_by": actor}
    if target_id:
        target = store.get_entry(session, target_id)
        base = store.entry_data(target).to_record()
        similar = list(base["similar_questions"])
        if draft.question not in (base["question"], *similar):
            similar.append(draft.question)  # the way the user asked it, for retrieval
        content = {**base, "answer": draft.answer, "similar_questions": similar,
                   "category": draft.category or base["category"]}
    else:
        target_id = store.new_entry_id()
        content = {**store.entry_data(draft).to_record(), "id": target_id,
                   "source": "", "tags": _content_tags(draft.tags)}
    data = EntryData.model_validate({**content, **edits, **reviewed, "id": target_id})
    outcome = store.save_entry(session, data, actor, action="accept_draft",
                               detail=f"采纳帮办提议 {draft_id} / accepted proposal {draft_id}")
    decided = store.entry_data(draft).model_copy(update={
        "status": "archived", "tags": [*draft.tags, f"accepted:{target_id}"],
        "reviewed_on": reviewed["reviewed_on"], "reviewed_by": actor})
    store.save_entry(session, decided, actor, action="accept",
                     detail=f"已采纳为 {target_id} / accepted as {target_id}")
    record_event(session, EventKind.KB_DRAFT_ACCEPTED, actor=actor, entry_id=draft_id,
                 target_id=target_id, outcome=outcome)
    return target_id, outcome


def reject(session: Session, draft_id: str, actor: str, reason: str) -> Entry:
    """Decline a proposal: archived, with the reason in its audit row and the event."""
    reason = (reason or "").strip()
    if not reason:
        raise store.KnowledgeBaseError("请填写不采纳的理由 / a reason is required")
    draft = _pending_draft(session, draft_id)
    decided = store.entry_data(draft).model_copy(update={
        "status": "archived", "tags": [*draft.tags, "rejected"], "reviewed_by": actor})
    store.save_entry(session, decided, actor, action="reject", detail=reason[:1000])
    record_event(session, EventKind.KB_DRAFT_REJECTED, actor=actor, entry_id=draft_id,
                 reason=reason[:1000])
    session.refresh(draft)
    return draft

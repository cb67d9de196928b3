"""Helpers' proposals to the knowledge base, for editors to accept (with edits) or reject."""
from __future__ import annotations

from typing import Any

from api.deps import EditorAccount, ServicesDep
from api.kb_schemas import DraftId, EntryFields, RejectIn, entry_out, kb_router
from knowledge_base import drafts, store

router = kb_router("knowledge base")


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

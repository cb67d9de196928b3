"""The one way to change the knowledge base: each change its own transaction, then announced.

``store`` functions run inside a caller's transaction and cannot know when it
commits; announcing from there would tell gateways about changes that might
still roll back. This service owns the transaction, so it announces the changed
ids exactly once, after the commit, and never for a change that failed or
changed nothing. Callers (the CLI, the editor API) pass the announcer they want
(``knowledge_base.changes.redis_announcer``, or ``None`` in tests and tools).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from knowledge_base import drafts, io, store
from knowledge_base.changes import Announce
from knowledge_base.models import Entry, EntryVersion
from knowledge_base.schema import EntryData
from xiaobao.db import session_factory, session_scope

log = logging.getLogger(__name__)


class KnowledgeBaseService:
    def __init__(self, engine: Engine, announce: Announce | None = None,
                 review_max_age_days: int = 180):
        self.engine = engine
        self._announce_to = announce
        self.review_max_age_days = review_max_age_days

    def _announce(self, entry_ids: list[str]) -> None:
        # The change is committed: a failing announcer must not make it look as if it was not.
        if not entry_ids or self._announce_to is None:
            return
        try:
            self._announce_to(entry_ids)
        except Exception:
            log.exception("announcing knowledge-base change of %s failed", entry_ids)

    def _change_entry(self, entry_id: str, change: Callable[[Session], Entry]) -> Entry:
        """Run one change to an existing entry; announce it only if it made a new version."""
        with session_scope(self.engine) as session:
            before = store.get_entry(session, entry_id).version
            entry = change(session)
            changed = entry.version != before
        if changed:
            self._announce([entry_id])
        return entry

    # --- writes ----------------------------------------------------------------------------

    def save(self, data: EntryData, actor: str, expected_version: int | None = None, *,
             action: str | None = None) -> str:
        """Create or update one entry: ``created``, ``updated`` or ``unchanged``.

        ``expected_version`` is the version an editor started from; a save since then
        raises :class:`store.VersionConflict` instead of silently overwriting it.
        """
        with session_scope(self.engine) as session:
            outcome = store.save_entry(session, data, actor, action=action,
                                       expected_version=expected_version)
        if outcome != "unchanged":
            self._announce([data.id])
        return outcome

    def create(self, fields: dict[str, Any], actor: str) -> Entry:
        """A new entry from an editor's form: the server assigns the id when none is given,
        and it starts as a draft unless ``status`` says otherwise."""
        fields = {"status": "draft", **fields}
        if not fields.get("id"):
            fields["id"] = store.new_entry_id()
        data = EntryData.model_validate(fields)
        with session_scope(self.engine) as session:
            if session.get(Entry, data.id) is not None:
                raise store.VersionConflict(
                    f"条目 {data.id} 已存在，请换一个编号或编辑原条目 / entry {data.id} exists")
            store.save_entry(session, data, actor, action="create")
            entry = store.get_entry(session, data.id)
        self._announce([data.id])
        return entry

    def update(self, entry_id: str, fields: dict[str, Any], actor: str,
               expected_version: int) -> Entry:
        """Replace an entry's content, if it is still at ``expected_version`` (else 409)."""
        data = EntryData.model_validate({**fields, "id": entry_id})
        with session_scope(self.engine) as session:
            store.get_entry(session, entry_id)
            outcome = store.save_entry(session, data, actor, expected_version=expected_version)
            entry = store.get_entry(session, entry_id)
        if outcome != "unchanged":
            self._announce([entry_id])
        return entry

    def import_entries(self, items: list[EntryData], actor: str, action: str = "import", *,
                       dry_run: bool = False) -> store.ChangeSummary:
        """Save many entries all-or-nothing (one transaction); idempotent by id.

        ``dry_run``: the same writes in a transaction that is rolled back, so the summary says
        what an import would create, update or leave unchanged; nothing is kept or announced.
        """
        if dry_run:
            with session_factory(self.engine)() as session:
                try:
                    return store.save_entries(session, items, actor, action=action)
                finally:
                    session.rollback()
        with session_scope(self.engine) as session:
            summary = store.save_entries(session, items, actor, action=action)
        self._announce(summary.changed_ids)
        return summary

    def set_status(self, entry_id: str, status: str, actor: str,
                   expected_version: int | None = None) -> Entry:
        return self._change_entry(entry_id, lambda s: store.set_status(
            s, entry_id, status, actor, expected_version=expected_version))

    def publish(self, entry_id: str, actor: str, expected_version: int | None = None) -> Entry:
        return self.set_status(entry_id, "published", actor, expected_version)

    def archive(self, entry_id: str, actor: str, expected_version: int | None = None) -> Entry:
        return self.set_status(entry_id, "archived", actor, expected_version)

    def rollback(self, entry_id: str, version: int, actor: str) -> Entry:
        """Make an earlier version's content current again, as a new version."""
        return self._change_entry(entry_id, lambda s: store.rollback(s, entry_id, version, actor))

    def accept_draft(self, draft_id: str, actor: str,
                     edits: dict[str, Any] | None = None) -> Entry:
        """Accept a helper's proposal: the entry it amends gets a new version, or a new entry
        is published; returns that entry."""
        with session_scope(self.engine) as session:
            target_id, _ = drafts.accept(session, draft_id, actor, edits)
            entry = store.get_entry(session, target_id)
        self._announce([target_id, draft_id])
        return entry

    def reject_draft(self, draft_id: str, actor: str, reason: str) -> Entry:
        with session_scope(self.engine) as session:
            draft = drafts.reject(session, draft_id, actor, reason)
        return draft  # drafts are never indexed: nothing to announce

    # --- reads (no announcement; each in its own short transaction) ------------------------

    def find(self, *, offset: int = 0, limit: int | None = None,
             today: dt.date | None = None, **filters: Any) -> tuple[list[Entry], int]:
        """Entries by filter (see :func:`store.find_entries`) and the number matching."""
        with session_scope(self.engine) as session:
            return store.find_entries(session, offset=offset, limit=limit, today=today,
                                      max_age_days=self.review_max_age_days, **filters)

    def needing_review(self, today: dt.date | None = None,
                       status: str | None = "published") -> list[Entry]:
        """Entries never reviewed or reviewed longer ago than the configured age."""
        return self.find(needs_review=True, status=status, today=today)[0]

    def pending_drafts(self) -> list[Entry]:
        with session_scope(self.engine) as session:
            return drafts.pending(session)

    def audit(self, entry_id: str | None = None, limit: int = 200) -> list:
        with session_scope(self.engine) as session:
            return store.audit_log(session, entry_id, limit)

    def get(self, entry_id: str) -> Entry:
        with session_scope(self.engine) as session:
            return store.get_entry(session, entry_id)

    def history(self, entry_id: str) -> list[EntryVersion]:
        with session_scope(self.engine) as session:
            return store.history(session, entry_id)

    def diff(self, entry_id: str, old: int, new: int) -> str:
        with session_scope(self.engine) as session:
            return store.diff(session, entry_id, old, new)

    def distinct_values(self) -> dict[str, list[str]]:
        """The categories and departments entries use (sorted, empty ones left out)."""
        with session_scope(self.engine) as session:
            return {name: sorted(v for v in session.scalars(select(column).distinct()) if v)
                    for name, column in (("categories", Entry.category),
                                         ("departments", Entry.department))}

    def count(self, status: str | None = None) -> int:
        with session_scope(self.engine) as session:
            return store.count_entries(session, status)

    def export(self, path: Path, status: str | None = None) -> int:
        """Write entries to ``path`` (format from its extension); returns how many."""
        with session_scope(self.engine) as session:
            return io.export_file(session, path, status)

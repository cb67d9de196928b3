"""Reading and changing entries. Every change writes a new version and an audit record.

All functions take an open SQLAlchemy ``Session``; the caller's transaction
(``xiaobao.db.session_scope``) makes a batch all-or-nothing. Concurrent edits
are caught by optimistic locking: an update names the version it was based on
and fails with :class:`VersionConflict` if someone saved in between.
"""
from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from knowledge_base.models import AuditRecord, Entry, EntryVersion
from knowledge_base.schema import FIELDS, EntryData
from xiaobao.clock import utcnow
from xiaobao.errors import XiaobaoError


class KnowledgeBaseError(XiaobaoError):
    """A change that cannot be made; ``message`` is Chinese / English for the user."""

    status = 400
    code = "kb_error"


class EntryNotFound(KnowledgeBaseError):
    status = 404
    code = "entry_not_found"


class VersionConflict(KnowledgeBaseError):
    status = 409
    code = "version_conflict"


@dataclass
class ChangeSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed_ids(self) -> list[str]:
        return self.created + self.updated


def entry_data(entry: Entry) -> EntryData:
    return EntryData.model_validate({name: getattr(entry, name) for name in FIELDS})


def is_answerable(entry: Entry | EntryData, today: dt.date | None = None) -> bool:
    """Published and inside its validity window: the only entries the bot may answer with."""
    today = today or dt.date.today()
    if entry.status != "published":
        return False
    if entry.effective_from and entry.effective_from > today:
        return False
    return not (entry.expires_on and entry.expires_on < today)


def get_entry(session: Session, entry_id: str) -> Entry:
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise EntryNotFound(f"条目不存在 / no entry with id {entry_id!r}")
    return entry


def new_entry_id() -> str:
    """An id for an entry created without one (the editor's form, an accepted draft)."""
    return f"kb-{uuid.uuid4().hex[:10]}"


def list_entries(session: Session, *, status: str | None = None, category: str | None = None,
                 query: str | None = None) -> list[Entry]:
    return find_entries(session, status=status, category=category, words=query)[0]


def _words_match(entry: Entry, terms: list[str]) -> bool:
    text = " ".join([entry.id, entry.question, *entry.similar_questions, entry.answer,
                     entry.source, *entry.tags]).lower()
    return all(t in text for t in terms)


def find_entries(session: Session, *, status: str | None = None, category: str | None = None,
                 department: str | None = None, words: str | None = None,
                 needs_review: bool | None = None, max_age_days: int = 180,
                 today: dt.date | None = None, tag: str | None = None,
                 offset: int = 0, limit: int | None = None) -> tuple[list[Entry], int]:
    """Entries matching every filter given, by id, and how many match in all.

    ``words``: every whitespace-separated term appears in the id, questions, answer, source or
    tags. ``needs_review``: never reviewed, or reviewed more than ``max_age_days`` ago.
    """
    stmt = select(Entry).order_by(Entry.id)
    if status:
        stmt = stmt.where(Entry.status == status)
    if category:
        stmt = stmt.where(Entry.category == category)
    if department:
        stmt = stmt.where(Entry.department == department)
    if needs_review is not None:
        cutoff = (today or dt.date.today()) - dt.timedelta(days=max_age_days)
        overdue = Entry.reviewed_on.is_(None) | (Entry.reviewed_on < cutoff)
        stmt = stmt.where(overdue if needs_review else ~overdue)
    terms = [t for t in (words or "").lower().split() if t]
    if not terms and tag is None:
        total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        if limit is not None:
            stmt = stmt.offset(offset).limit(limit)
        return list(session.scalars(stmt)), total
    # Similar questions and tags are JSON: matched here, the same on SQLite and PostgreSQL.
    rows = [e for e in session.scalars(stmt)
            if (not terms or _words_match(e, terms)) and (tag is None or tag in e.tags)]
    end = None if limit is None else offset + limit
    return rows[offset:end], len(rows)


def _snapshot(session: Session, entry: Entry, actor: str, action: str, detail: str = "") -> None:
    session.add(EntryVersion(entry_id=entry.id, version=entry.version,
                             data=entry_data(entry).to_record(), changed_by=actor,
                             changed_at=entry.updated_at))
    session.add(AuditRecord(entry_id=entry.id, action=action, version=entry.version, actor=actor,
                            detail=detail, at=entry.updated_at))


def save_entry(session: Session, data: EntryData, actor: str, *, action: str | None = None,
               expected_version: int | None = None, detail: str = "") -> str:
    """Create or update one entry. Returns ``created``, ``updated`` or ``unchanged``.

    ``expected_version`` (from an editor's form) guards against overwriting a
    change saved since the editor opened the entry.
    """
    entry = session.get(Entry, data.id, with_for_update=expected_version is not None)
    now = utcnow()
    if entry is None:
        if expected_version not in (None, 0):
            raise EntryNotFound(f"条目不存在 / no entry with id {data.id!r}")
        entry = Entry(**data.model_dump(), version=1, updated_by=actor, updated_at=now)
        session.add(entry)
        session.flush()
        _snapshot(session, entry, actor, action or "create", detail)
        return "created"
    if expected_version is not None and entry.version != expected_version:
        raise VersionConflict(
            f"条目 {data.id} 已被他人修改（当前版本 {entry.version}，"
            f"您编辑的是版本 {expected_version}），请刷新后重试 / "
            f"entry changed since version {expected_version} (now {entry.version})")
    if entry_data(entry) == data:
        return "unchanged"
    new_version = entry.version + 1
    # The WHERE on version makes two concurrent writers conflict instead of both winning.
    result = cast("CursorResult[Any]", session.execute(  # an UPDATE's result has a rowcount
        update(Entry).where(Entry.id == data.id, Entry.version == entry.version)
        .values(**data.model_dump(), version=new_version, updated_by=actor, updated_at=now)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        raise VersionConflict(f"条目 {data.id} 正被他人修改，请重试 / concurrent edit of {data.id}")
    session.refresh(entry)
    _snapshot(session, entry, actor, action or "update", detail)
    return "updated"


def save_entries(session: Session, items: list[EntryData], actor: str,
                 action: str = "import") -> ChangeSummary:
    summary = ChangeSummary()
    for data in items:
        outcome = save_entry(session, data, actor, action=action)
        getattr(summary, outcome).append(data.id)
    return summary


def set_status(session: Session, entry_id: str, status: str, actor: str,
               expected_version: int | None = None) -> Entry:
    entry = get_entry(session, entry_id)
    data = entry_data(entry).model_copy(update={"status": status})
    EntryData.model_validate(data.model_dump())  # status checked like any other input
    action = {"published": "publish", "archived": "archive", "draft": "unpublish"}[status]
    save_entry(session, data, actor, action=action, expected_version=expected_version)
    return entry


def history(session: Session, entry_id: str) -> list[EntryVersion]:
    get_entry(session, entry_id)
    return list(session.scalars(select(EntryVersion).where(EntryVersion.entry_id == entry_id)
                                .order_by(EntryVersion.version)))


def audit_log(session: Session, entry_id: str | None = None, limit: int = 200) -> list[AuditRecord]:
    stmt = select(AuditRecord).order_by(AuditRecord.pk.desc()).limit(limit)
    if entry_id:
        stmt = stmt.where(AuditRecord.entry_id == entry_id)
    return list(session.scalars(stmt))


def _version(session: Session, entry_id: str, version: int) -> EntryVersion:
    row = session.scalar(select(EntryVersion).where(EntryVersion.entry_id == entry_id,
                                                    EntryVersion.version == version))
    if row is None:
        raise EntryNotFound(
            f"条目 {entry_id} 没有版本 {version} / no version {version} of {entry_id}")
    return row


def diff(session: Session, entry_id: str, old: int, new: int) -> str:
    """A unified diff, one field a line, between two versions."""
    def lines(v: EntryVersion) -> list[str]:
        return [f"{k}: {json.dumps(v.data.get(k), ensure_ascii=False)}" for k in FIELDS]

    a, b = _version(session, entry_id, old), _version(session, entry_id, new)
    return "\n".join(difflib.unified_diff(lines(a), lines(b), f"{entry_id}@v{old}",
                                          f"{entry_id}@v{new}", lineterm=""))


def rollback(session: Session, entry_id: str, version: int, actor: str) -> Entry:
    """Make the content of ``version`` current again, as a new version (history is kept)."""
    entry = get_entry(session, entry_id)
    data = EntryData.model_validate(_version(session, entry_id, version).data)
    save_entry(session, data, actor, action="rollback")
    session.refresh(entry)
    return entry


def fingerprint(session: Session) -> str:
    """Changes whenever any entry's content or status changes: the saved index's key."""
    rows = session.execute(select(Entry.id, Entry.version).order_by(Entry.id)).all()
    digest = hashlib.sha256()
    for entry_id, version in rows:
        digest.update(f"{entry_id}\x00{version}\n".encode())
    return digest.hexdigest()


def count_entries(session: Session, status: str | None = None) -> int:
    stmt = select(func.count()).select_from(Entry)
    if status:
        stmt = stmt.where(Entry.status == status)
    return int(session.scalar(stmt) or 0)

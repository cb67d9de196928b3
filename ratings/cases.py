"""差评 work orders: every 不满意 / 非常不满意 opens one, reviewed and rectified step by step.

A rating of 不满意 or 非常不满意 (:mod:`ratings.record`) opens a case in the same transaction.
The latest rating of a case counts, so a later rating of the same ticket or bot conversation
*supersedes* the open case (kept, never deleted; a new 差评 opens a new case).

* Review: a supervisor, leader or admin who is not the ticket's handler says 属实 or 不属实
  (不属实 needs a note). An upheld 不属实 takes the 差评 out of 满意率 and needs no
  rectification; a leader (or admin) may overturn it, and the 差评 counts again.
* Rectification, in order: ``contacted`` → ``fixed`` → ``followed_up`` (回访), each with a
  note; ``complexity`` (simple | complex, said at contact or fix) picks the 5 or 15
  working-day fix timer (:mod:`ratings.deadlines`).

Every step writes an event in the caller's transaction. Free text (the reason, the notes) is
blanked by the retention purge (:mod:`retention.purge`) like every other copy of what
someone wrote.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from xiaobao import policy
from xiaobao.clock import aware, utcnow
from xiaobao.db import Base
from xiaobao.enums import Rating
from xiaobao.errors import XiaobaoError
from xiaobao.events import Event, EventKind, record_event

BAD_RATINGS = frozenset({Rating.DISSATISFIED, Rating.VERY_DISSATISFIED})


class Verdict(StrEnum):
    FOUNDED = "属实"
    UNFOUNDED = "不属实"


class Stage(StrEnum):
    """The rectification steps, in the order they must be recorded."""

    CONTACTED = "contacted"
    FIXED = "fixed"
    FOLLOWED_UP = "followed_up"


class Complexity(StrEnum):
    SIMPLE = "simple"
    COMPLEX = "complex"


class CaseStatus(StrEnum):
    """Where the work stands; ``superseded``: the user rated the case again."""

    OPEN = "open"
    CONTACTED = "contacted"
    FIXED = "fixed"
    FOLLOWED_UP = "followed_up"
    SUPERSEDED = "superseded"


# The status a case must have for each step, and the one it gets.
_STEP_FROM = {Stage.CONTACTED: CaseStatus.OPEN, Stage.FIXED: CaseStatus.CONTACTED,
              Stage.FOLLOWED_UP: CaseStatus.FIXED}
_STAGE_NAMES = {Stage.CONTACTED: "联系用户", Stage.FIXED: "整改完成", Stage.FOLLOWED_UP: "回访"}
# Columns holding what someone wrote: blanked by the retention purge.
TEXT_FIELDS = ("reason", "review_note", "overturn_note", "contact_note", "fix_note",
               "follow_up_note")


class BadRatingCase(Base):
    __tablename__ = "bad_rating_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rating_event_pk: Mapped[int] = mapped_column(ForeignKey("events.pk"), unique=True)
    case_key: Mapped[str] = mapped_column(String(128), index=True)  # ratings.case_of
    conversation_id: Mapped[str] = mapped_column(String(96), index=True)
    ticket_id: Mapped[str] = mapped_column(String(64), default="")  # "" for the bot
    rating: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    department: Mapped[str] = mapped_column(String(64), index=True, default="")
    handler: Mapped[str] = mapped_column(String(64), default="")  # the ticket's helper
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default=CaseStatus.OPEN.value)
    verdict: Mapped[str] = mapped_column(String(8), default="")  # "" until reviewed
    review_note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str] = mapped_column(String(64), default="")
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                            nullable=True)
    overturned: Mapped[bool] = mapped_column(Boolean, default=False)
    overturned_by: Mapped[str] = mapped_column(String(64), default="")
    overturned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    overturn_note: Mapped[str] = mapped_column(Text, default="")
    complexity: Mapped[str] = mapped_column(String(8), default=Complexity.SIMPLE.value)
    contacted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True)
    contacted_by: Mapped[str] = mapped_column(String(64), default="")
    contact_note: Mapped[str] = mapped_column(Text, default="")
    fixed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    fixed_by: Mapped[str] = mapped_column(String(64), default="")
    fix_note: Mapped[str] = mapped_column(Text, default="")
    followed_up_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                               nullable=True)
    followed_up_by: Mapped[str] = mapped_column(String(64), default="")
    follow_up_note: Mapped[str] = mapped_column(Text, default="")
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    superseded_by_event_pk: Mapped[int | None] = mapped_column(Integer, nullable=True)

    @property
    def superseded(self) -> bool:
        return self.status == CaseStatus.SUPERSEDED

    @property
    def unfounded(self) -> bool:
        """Reviewed 不属实 and not overturned: out of 满意率, no rectification needed."""
        return self.verdict == Verdict.UNFOUNDED and not self.overturned

    @property
    def counts(self) -> bool:
        """Still a 差评 the rates count: neither superseded nor upheld 不属实."""
        return not self.superseded and not self.unfounded

    @property
    def closed(self) -> bool:
        """Nothing more to do: followed up, superseded, or upheld 不属实."""
        return self.status in (CaseStatus.FOLLOWED_UP, CaseStatus.SUPERSEDED) or self.unfounded

    def done_at(self, stage: Stage) -> dt.datetime | None:
        value = {Stage.CONTACTED: self.contacted_at, Stage.FIXED: self.fixed_at,
                 Stage.FOLLOWED_UP: self.followed_up_at}[stage]
        return aware(value) if value is not None else None

    def to_dict(self) -> dict:
        def iso(value: dt.datetime | None) -> str | None:
            return aware(value).isoformat() if value is not None else None

        return {
            "id": self.id, "case": self.case_key, "conversation_id": self.conversation_id,
            "ticket_id": self.ticket_id, "rating": self.rating, "reason": self.reason,
            "department": self.department, "handler": self.handler,
            "opened_at": iso(self.opened_at), "status": self.status,
            "verdict": self.verdict or None, "review_note": self.review_note,
            "reviewed_by": self.reviewed_by, "reviewed_at": iso(self.reviewed_at),
            "overturned": self.overturned, "overturned_by": self.overturned_by,
            "overturned_at": iso(self.overturned_at), "overturn_note": self.overturn_note,
            "unfounded": self.unfounded, "counts": self.counts, "closed": self.closed,
            "complexity": self.complexity,
            "contacted_at": iso(self.contacted_at), "contacted_by": self.contacted_by,
            "contact_note": self.contact_note,
            "fixed_at": iso(self.fixed_at), "fixed_by": self.fixed_by, "fix_note": self.fix_note,
            "followed_up_at": iso(self.followed_up_at), "followed_up_by": self.followed_up_by,
            "follow_up_note": self.follow_up_note, "superseded_at": iso(self.superseded_at),
        }


class CaseError(XiaobaoError):
    """A step the case refuses; ``status`` is the HTTP status, ``message`` Chinese / English."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message, status=status, code=code)


def is_bad(rating: Rating | str) -> bool:
    return Rating(rating) in BAD_RATINGS


# --- queries (the rates read these) ---------------------------------------------------------------

def get_case(session: Session, case_id: int) -> BadRatingCase:
    case = session.get(BadRatingCase, case_id)
    if case is None:
        raise CaseError(404, "unknown_case",
                        f"找不到差评工单 {case_id}。 / No 差评 case {case_id}.")
    return case


def cases_for(session: Session, case_keys: Iterable[str]) -> list[BadRatingCase]:
    """Every case (superseded ones too) of these rating cases (``ratings.case_of``), oldest
    first."""
    keys = sorted(set(case_keys))
    out: list[BadRatingCase] = []
    for start in range(0, len(keys), 500):
        out += session.scalars(select(BadRatingCase)
                               .where(BadRatingCase.case_key.in_(keys[start:start + 500])))
    return sorted(out, key=lambda c: c.id)


def cases_opened_between(session: Session, start: dt.datetime, end: dt.datetime
                         ) -> list[BadRatingCase]:
    """Cases opened in ``[start, end)`` (aware datetimes), superseded ones too, oldest first."""
    return list(session.scalars(select(BadRatingCase)
                                .where(BadRatingCase.opened_at >= start,
                                       BadRatingCase.opened_at < end)
                                .order_by(BadRatingCase.id)))


def list_cases(session: Session, departments: Iterable[str] | None = None,
               limit: int = 200) -> list[BadRatingCase]:
    """The newest cases first; ``departments`` narrows to them and the bot's cases (no
    department), None means every department."""
    query = select(BadRatingCase).order_by(BadRatingCase.opened_at.desc(),
                                           BadRatingCase.id.desc()).limit(limit)
    if departments is not None:
        query = query.where(BadRatingCase.department.in_([*departments, ""]))
    return list(session.scalars(query))


# --- opening and superseding (called by ratings.record.record_rating) ----------------------------

def rating_recorded(session: Session, rating_event: Event, *, department: str = "",
                    handler: str = "") -> BadRatingCase | None:
    """Supersede the case's open work order, then open a new one if this rating is a 差评.

    ``rating_event`` is the flushed ``rating`` event; ``department`` and ``handler`` (the
    ticket's helper) are what the caller knows of the ticket, empty for the bot."""
    data = rating_event.data or {}
    at = aware(rating_event.at) if rating_event.at is not None else utcnow()
    for earlier in session.scalars(select(BadRatingCase).where(
            BadRatingCase.case_key == data["case"],
            BadRatingCase.status != CaseStatus.SUPERSEDED.value)):
        earlier.status = CaseStatus.SUPERSEDED.value
        earlier.superseded_at = at
        earlier.superseded_by_event_pk = rating_event.pk
        _event(session, EventKind.BAD_RATING_SUPERSEDED, earlier, actor=rating_event.actor,
               at=at, by_rating=rating_event.pk)
    if not is_bad(data["rating"]):
        return None
    case = BadRatingCase(rating_event_pk=rating_event.pk, case_key=data["case"],
                         conversation_id=rating_event.conversation_id,
                         ticket_id=rating_event.ticket_id or "", rating=data["rating"],
                         reason=str(data.get("reason") or ""), department=department,
                         handler=handler, opened_at=at, status=CaseStatus.OPEN.value)
    session.add(case)
    session.flush()
    _event(session, EventKind.BAD_RATING_OPENED, case, actor=rating_event.actor, at=at,
           rating=case.rating, department=department, handler=handler)
    return case


def reason_given(session: Session, rating_event_pk: int, reason: str) -> None:
    """The reason of a 差评 recorded with it pending, onto its work order."""
    for case in session.scalars(select(BadRatingCase).where(
            BadRatingCase.rating_event_pk == rating_event_pk)):
        case.reason = reason


# --- review, overturn, rectification --------------------------------------------------------------

def review(session: Session, case_id: int, actor: policy.Actor, verdict: Verdict | str,
           note: str = "", *, at: dt.datetime | None = None) -> BadRatingCase:
    """属实 or 不属实, once, by a supervisor, leader or admin who is not the handler."""
    case = _case_for(session, case_id, actor)
    if case.handler and case.handler == actor.username:
        raise policy.Denied(f"不能复核自己处理的工单的差评（工单{case.ticket_id}）。 / You "
                            f"handled ticket {case.ticket_id}: someone else reviews its 差评.",
                            "own_case")
    try:
        verdict = Verdict(verdict)
    except ValueError:
        raise CaseError(422, "invalid_verdict", "复核结论只能是“属实”或“不属实”。 / The verdict "
                        "is 属实 or 不属实.") from None
    note = note.strip()
    if verdict == Verdict.UNFOUNDED and not note:
        raise CaseError(422, "note_required", "认定不属实须写明理由。 / A 不属实 verdict needs "
                        "a note.")
    _not_superseded(case)
    if case.verdict:
        raise CaseError(409, "already_reviewed", f"该差评已复核为“{case.verdict}”。 / This "
                        f"差评 has already been reviewed.")
    at = at or utcnow()
    case.verdict, case.review_note = verdict.value, note
    case.reviewed_by, case.reviewed_at = actor.username, at
    _event(session, EventKind.BAD_RATING_REVIEWED, case, actor=actor.username, at=at,
           verdict=verdict.value, note=note)
    return case


def overturn(session: Session, case_id: int, actor: policy.Actor, note: str, *,
             at: dt.datetime | None = None) -> BadRatingCase:
    """A leader (or admin) overturns a 不属实 review: the 差评 counts again."""
    if not policy.is_leader(actor):
        raise policy.Denied("只有部门领导可以推翻不属实认定。 / Only a leader overturns a 不属实 "
                            "review.", "not_a_leader")
    case = _case_for(session, case_id, actor)
    note = note.strip()
    if not note:
        raise CaseError(422, "note_required", "推翻认定须写明理由。 / Overturning needs a note.")
    _not_superseded(case)
    if case.verdict != Verdict.UNFOUNDED:
        raise CaseError(409, "not_unfounded", "只有认定为不属实的差评可以推翻。 / Only a 不属实 "
                        "review can be overturned.")
    if case.overturned:
        raise CaseError(409, "already_overturned", "该不属实认定已被推翻。 / This review has "
                        "already been overturned.")
    at = at or utcnow()
    case.overturned, case.overturned_by = True, actor.username
    case.overturned_at, case.overturn_note = at, note
    _event(session, EventKind.BAD_RATING_OVERTURNED, case, actor=actor.username, at=at,
           note=note)
    return case


def record_rectification(session: Session, case_id: int, actor: policy.Actor,
                         stage: Stage | str, note: str, *,
                         complexity: Complexity | str | None = None,
                         at: dt.datetime | None = None) -> BadRatingCase:
    """The next step of the work order: contacted, then fixed, then followed_up (回访)."""
    case = _case_for(session, case_id, actor)
    try:
        stage = Stage(stage)
        level = Complexity(complexity) if complexity is not None else None
    except ValueError:
        raise CaseError(422, "invalid_stage", "整改环节只能是 contacted、fixed、followed_up，"
                        "复杂度只能是 simple、complex。 / The stage is contacted, fixed or "
                        "followed_up; the complexity simple or complex.") from None
    if level is not None and stage == Stage.FOLLOWED_UP:
        raise CaseError(422, "invalid_stage", "复杂度在联系用户或整改完成时填写。 / The "
                        "complexity is given when contacting or fixing.")
    note = note.strip()
    if not note:
        raise CaseError(422, "note_required", f"请写明{_STAGE_NAMES[stage]}的情况。 / "
                        f"The {stage.value} step needs a note.")
    _not_superseded(case)
    if case.unfounded:
        raise CaseError(409, "unfounded", "该差评已认定不属实，无需整改。 / This 差评 was "
                        "reviewed 不属实: nothing to rectify.")
    if case.status != _STEP_FROM[stage]:
        expected = next((s for s, before in _STEP_FROM.items() if before == case.status), None)
        wanted = f"“{_STAGE_NAMES[expected]}”" if expected else "无（已回访）"
        raise CaseError(409, "wrong_order", f"整改须按 联系用户 → 整改完成 → 回访 的顺序记录，"
                        f"下一步是{wanted}。 / Steps go contacted → fixed → followed_up; next is "
                        f"{expected.value if expected else 'nothing (followed up)'}.")
    at = at or utcnow()
    if stage == Stage.CONTACTED:
        case.contacted_at, case.contacted_by, case.contact_note = at, actor.username, note
    elif stage == Stage.FIXED:
        case.fixed_at, case.fixed_by, case.fix_note = at, actor.username, note
    else:
        case.followed_up_at, case.followed_up_by, case.follow_up_note = at, actor.username, note
    if level is not None:
        case.complexity = level.value
    case.status = CaseStatus(stage.value).value
    _event(session, EventKind.BAD_RATING_RECTIFIED, case, actor=actor.username, at=at,
           stage=stage.value, complexity=case.complexity, note=note)
    return case


def may_see(actor: policy.Actor, case: BadRatingCase) -> bool:
    """Supervisors and admin see every case; a leader those of their departments and the
    bot's (no department)."""
    return policy.reads_reports(actor) and (
        not case.department or policy.can_see_department(actor, case.department))


def _case_for(session: Session, case_id: int, actor: policy.Actor) -> BadRatingCase:
    if not policy.reads_reports(actor):
        raise policy.Denied("需要督导或部门领导权限。 / Requires the supervisor or leader role.")
    case = get_case(session, case_id)
    if not may_see(actor, case):
        policy.require_see_department(actor, case.department, f"差评工单{case_id}")
    return case


def _not_superseded(case: BadRatingCase) -> None:
    if case.superseded:
        raise CaseError(409, "superseded", "用户已重新评价，该差评工单已被取代。 / The user "
                        "rated again: this case has been superseded.")


def _event(session: Session, kind: EventKind, case: BadRatingCase, *, actor: str,
           at: dt.datetime, **data: Any) -> None:
    event = record_event(session, kind, conversation_id=case.conversation_id,
                         ticket_id=case.ticket_id, actor=actor, case_id=case.id,
                         case=case.case_key, **data)
    event.at = at

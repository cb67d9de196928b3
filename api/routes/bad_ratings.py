"""The 差评 queue: list work orders with their 1、5、15 timers, review them (属实 / 不属实), let a
leader overturn a 不属实, and record rectification (contacted → fixed → followed_up).

Roles: supervisor, leader, admin (``ReportReaderAccount``); overturning needs a leader (or
admin). A leader sees and acts on the 差评 of their own departments and of the bot (no
department); supervisors and admin on every one. The rules are :mod:`ratings.cases`';
the timers :mod:`ratings.deadlines`'.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.deps import ReportReaderAccount, ServicesDep, SessionDep
from api.errors import error_responses
from ratings import cases
from ratings.cases import BadRatingCase, CaseStatus
from ratings.deadlines import timer_state, timers_json
from xiaobao import policy
from xiaobao.clock import ServiceCalendar, utcnow

router = APIRouter(prefix="/api/reports/bad-ratings", tags=["reports"],
                   responses=error_responses(400, 401, 403, 404, 409, 413, 422))
MAX_NOTE_CHARS = 2000
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1)]

# ``?status=``: which cases the queue shows (computed with the timers at the time of asking).
StatusFilter = Literal["all", "active", "open", "unreviewed", "reviewed", "unfounded",
                       "rectifying", "overdue", "closed"]
FILTERS: dict[str, Callable[[BadRatingCase, dict], bool]] = {
    "all": lambda c, t: True,
    # still needs something: not followed up, not superseded, not upheld 不属实
    "active": lambda c, t: not c.closed,
    # active, and no rectification step recorded yet
    "open": lambda c, t: not c.closed and c.status == CaseStatus.OPEN,
    "unreviewed": lambda c, t: not c.superseded and not c.verdict,
    "reviewed": lambda c, t: not c.superseded and bool(c.verdict),
    # reviewed 不属实 and not overturned
    "unfounded": lambda c, t: not c.superseded and c.unfounded,
    # contacted or fixed, not yet followed up
    "rectifying": lambda c, t: not c.closed and c.status in (CaseStatus.CONTACTED,
                                                             CaseStatus.FIXED),
    # a step still not done past its due
    "overdue": lambda c, t: not c.closed and t["late_now"],
    # followed up, superseded, or upheld 不属实
    "closed": lambda c, t: c.closed,
}


class ReviewIn(BaseModel):
    verdict: Literal["属实", "不属实"]
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)


class OverturnIn(BaseModel):
    note: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class RectificationIn(BaseModel):
    stage: Literal["contacted", "fixed", "followed_up"]
    note: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)
    complexity: Literal["simple", "complex"] | None = None


def _view(case: BadRatingCase, calendar: ServiceCalendar, now: dt.datetime,
          state: dict | None = None) -> dict:
    return {**case.to_dict(), "timers": timers_json(state or timer_state(case, now, calendar))}


@router.get("")
def list_bad_ratings(services: ServicesDep, session: SessionDep, account: ReportReaderAccount,
                     status: StatusFilter = Query("all", description=(
                         "all; active (something left to do); open (nothing recorded yet); "
                         "unreviewed; reviewed; unfounded (不属实, upheld); rectifying "
                         "(contacted or fixed); overdue (a step late now); closed (followed "
                         "up, superseded or upheld 不属实)")),
                     limit: int = Query(200, ge=1, le=1000)) -> dict:
    """The 差评 work orders the caller may see, newest first, with their timers: ``due``
    (exclusive: the end of the N-th working day after opening, Asia/Shanghai), ``done_at``
    and ``overdue`` per step."""
    calendar, now = services.config.hours, utcnow()
    departments = policy.report_departments(account)
    keep = FILTERS[status]
    shown = []
    for case in cases.list_cases(session, departments):
        state = timer_state(case, now, calendar)
        if keep(case, state):
            shown.append(_view(case, calendar, now, state))
    return {"status": status, "count": len(shown), "truncated": len(shown) > limit,
            "cases": shown[:limit]}


@router.post("/{case_id}/review")
def review_bad_rating(case_id: CaseId, body: ReviewIn, services: ServicesDep,
                      session: SessionDep, account: ReportReaderAccount) -> dict:
    """属实 or 不属实 (with a note), once, by someone other than the ticket's handler."""
    case = cases.review(session, case_id, account, body.verdict, body.note)
    return {"case": _view(case, services.config.hours, utcnow())}


@router.post("/{case_id}/overturn")
def overturn_bad_rating(case_id: CaseId, body: OverturnIn, services: ServicesDep,
                        session: SessionDep, account: ReportReaderAccount) -> dict:
    """A leader overturns a 不属实 review: the 差评 counts again and must be rectified."""
    case = cases.overturn(session, case_id, account, body.note)
    return {"case": _view(case, services.config.hours, utcnow())}


@router.post("/{case_id}/rectification")
def record_rectification(case_id: CaseId, body: RectificationIn, services: ServicesDep,
                         session: SessionDep, account: ReportReaderAccount) -> dict:
    """The next rectification step, in order; ``complexity`` (at contact or fix) chooses the
    5 or 15 working-day fix timer."""
    case = cases.record_rectification(session, case_id, account, body.stage,
                                     body.note, complexity=body.complexity)
    return {"case": _view(case, services.config.hours, utcnow())}

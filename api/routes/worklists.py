"""The departments' 免申即享 work lists: a department's leaders confirm or decline each
enterprise (with why it qualifies: the facts, their sources, the rule version) and record the
grant; supervisors read every department's and the outcomes. The rules are
:mod:`xiaobao.policy`'s; the steps :mod:`entitlements.worklists`'."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.deps import CurrentAccount, ReportReaderAccount, SessionDep
from api.errors import error_responses
from entitlements import counts, worklists
from xiaobao import policy

router = APIRouter(prefix="/api/worklists", tags=["worklists"],
                   responses=error_responses(400, 401, 403, 404, 409, 413, 422))
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Status = Literal["pending", "confirmed", "declined", "accepted", "granted"]


class DecisionIn(BaseModel):
    confirm: bool
    note: str = Field(default="", max_length=worklists.MAX_NOTE)


@router.get("")
def list_items(session: SessionDep, me: CurrentAccount,
               policy_id: Annotated[str | None, Query(max_length=64)] = None,
               status: Status | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> dict:
    """The work items of the departments this account reads, oldest first."""
    departments = policy.work_list_departments(me)
    items = worklists.work_list(session, departments=departments, policy_id=policy_id,
                                status=status, limit=limit, offset=offset)
    titles = worklists.titles(session, {i.policy_id for i in items})
    return {"items": [{**worklists.item_dict(i), "title": titles.get(i.policy_id, "")}
                      for i in items]}


@router.post("/{item_id}/decision")
def decide(session: SessionDep, me: CurrentAccount, item_id: ItemId, body: DecisionIn) -> dict:
    """Confirm (the enterprise is then notified, once) or decline (a note is required)."""
    item = worklists.get_work_item(session, item_id)
    policy.require_decide_work_item(me, item.department)
    return worklists.item_dict(worklists.decide(session, item_id, actor=me.username,
                                                confirm=body.confirm, note=body.note))


@router.post("/{item_id}/grant")
def grant(session: SessionDep, me: CurrentAccount, item_id: ItemId) -> dict:
    """Record that the benefit the enterprise confirmed was granted."""
    item = worklists.get_work_item(session, item_id)
    policy.require_decide_work_item(me, item.department)
    return worklists.item_dict(worklists.grant(session, item_id, actor=me.username))


@router.get("/outcomes")
def outcomes(session: SessionDep, _: ReportReaderAccount) -> dict:
    """Per policy and per department: qualifying, confirmed, accepted, granted, declined,
    notified; the time from publishing to notification and from confirmation to grant."""
    rows = counts.outcomes(session)
    return {"policies": [r.to_dict() for r in rows], "departments": counts.by_department(rows)}

"""我的政策, for the enterprise signed in on this browser only (the USCC comes from its
session, never from the request): what it qualifies for, what it still needs to tell, what it
was notified of; the 一键确认 of a 免申即享 item; and the opt-out from 政策推送."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import SessionDep, SignedInUscc
from api.errors import error_responses
from entitlements import worklists
from entitlements.mine import my_policies
from notifications.optouts import opt_out, opted_out

router = APIRouter(prefix="/api/enterprise", tags=["enterprise"],
                   responses=error_responses(400, 401, 404, 409, 413, 422))
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/policies")
def mine(session: SessionDep, uscc: SignedInUscc) -> dict:
    return {**my_policies(session, uscc), "opted_out": opted_out(session, uscc)}


@router.post("/work-items/{item_id}/accept")
def accept(session: SessionDep, uscc: SignedInUscc, item_id: ItemId) -> dict:
    """一键确认: the enterprise accepts a 免申即享 benefit its department confirmed."""
    return worklists.item_dict(worklists.accept(session, item_id, uscc=uscc), with_why=False)


@router.post("/opt-out")
def refuse_notifications(session: SessionDep, uscc: SignedInUscc) -> dict:
    """No more 政策推送 to this enterprise; the pending ones are not sent."""
    opt_out(session, uscc, "portal")
    return {"opted_out": True}

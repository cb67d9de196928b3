"""留言咨询 in the helper console: the messages left out of hours or with nobody on duty, and
their answers (``MessageInMyDepartments`` checks the 留言's department first)."""
from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import (
    HandoffDep,
    HelperAccount,
    MessageInMyDepartments,
)
from api.errors import error_responses
from api.user_text import helper_text
from handoff import left_messages
from xiaobao import policy

router = APIRouter(prefix="/api/helper", tags=["helper console"],
                   responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429))


@router.get("/left-messages")
def open_left_messages(account: HelperAccount, ctx: HandoffDep) -> dict:
    """Unanswered 留言 of the departments the account sees, oldest first, numbers masked."""
    departments = policy.visible_departments(account, ctx.config.departments)
    return {"messages": [m.to_dict() for m in left_messages.open_messages(departments,
                                                                          ctx=ctx)]}


class LeftAnswerIn(BaseModel):
    answer: str = Field(max_length=100_000)


@router.post("/left-messages/{message_id}/answer")
def answer_left_message(message_id: MessageInMyDepartments, body: LeftAnswerIn,
                        account: HelperAccount, ctx: HandoffDep) -> dict:
    """Answer once; the user sees it at once when online (relay ``message_answered``), else on
    their return. Answering needs no duty status: 留言 are worked when the queue is quiet."""
    answer = helper_text(body.answer, ctx.max_chars)
    info = left_messages.answer_message(message_id, account, answer, ctx=ctx)
    return {"message": info.to_dict()}

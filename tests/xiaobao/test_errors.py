"""One base error: every error a person is told about carries its status, code and message,
and the gateway's one handler answers each in the API's error body."""
from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import ApiError, install_error_handlers
from handoff.tickets import HandoffError, UnknownTicket
from knowledge_base.store import EntryNotFound, KnowledgeBaseError
from policies.conditions import ConditionError
from policies.facts import FactError
from policies.store import PolicyStoreError
from ratings.cases import CaseError
from ratings.record import ReasonRequired
from reports.window import WindowError, check_window
from retrieval.terms import TermMapError
from retrieval.types import QueryError
from xiaobao.accounts import AccountError
from xiaobao.errors import XiaobaoError
from xiaobao.limits import LimitExceeded
from xiaobao.policy import Denied

EXAMPLES = [
    (HandoffError("不行。 / No."), 400, "handoff_error"),
    (UnknownTicket("没有这张工单。 / No such ticket."), 404, "unknown_ticket"),
    (KnowledgeBaseError("不行。 / No."), 400, "kb_error"),
    (EntryNotFound("没有这个条目。 / No such entry."), 404, None),
    (ConditionError([("all[0]", "unknown field")]), 422, "invalid_condition"),
    (FactError("employees", "人数不能为负。 / Negative."), 422, "invalid_fact"),
    (PolicyStoreError(409, "not_draft", "不是草稿。 / Not a draft."), 409, "not_draft"),
    (CaseError(409, "already_reviewed", "已审核。 / Reviewed."), 409, "already_reviewed"),
    (ReasonRequired(), 422, "reason_required"),
    (WindowError("窗口太长。 / Too long."), 422, "invalid_window"),
    (TermMapError("第3行有误。 / Line 3."), 422, "invalid_term_map"),
    (QueryError("empty_query", "请输入问题 / type a question"), 422, "empty_query"),
    (AccountError("密码太短。 / Too short."), 422, "account_error"),
    (LimitExceeded("太频繁。 / Too many.", 30), 429, "rate_limited"),
    (Denied("没有权限。 / Forbidden."), 403, "forbidden"),
    (ApiError(418, "teapot", "我是茶壶。 / A teapot."), 418, "teapot"),
]


@pytest.mark.parametrize("error,status,code", EXAMPLES, ids=lambda v: type(v).__name__)
def test_every_domain_error_is_one_kind(error, status, code):
    assert isinstance(error, XiaobaoError)
    assert error.status == status
    if code is not None:
        assert error.code == code
    assert error.message and str(error) == error.message


@pytest.mark.parametrize("error,status,code", EXAMPLES, ids=lambda v: type(v).__name__)
def test_one_handler_answers_each_in_the_error_body(error, status, code):
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    answer = TestClient(app).get("/boom")
    assert answer.status_code == status
    assert answer.json() == {"error": {"code": error.code, "message": error.message}}
    if isinstance(error, LimitExceeded):
        assert answer.headers["Retry-After"] == "30"


def test_a_refused_window_reaches_the_user_as_422():
    import datetime as dt

    with pytest.raises(WindowError) as caught:
        check_window(dt.date(2026, 1, 2), dt.date(2026, 1, 1))
    assert caught.value.status == 422 and "/" in caught.value.message

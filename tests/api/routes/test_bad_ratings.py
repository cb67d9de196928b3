"""The 差评 queue through HTTP: list with timers and status filters, review, overturn and
rectification, with the gateway's error shape for every refusal (404, 409, 403, 422)."""
from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ratings.cases import BadRatingCase
from ratings.record import record_rating
from tests.api.support import DEPT, OTHER
from xiaobao.clock import utcnow
from xiaobao.db import session_scope
from xiaobao.events import Event

URL = "/api/reports/bad-ratings"


@pytest.fixture
def bad(services):
    """``bad("t1")``: a 差评 of ticket t1 of DEPT handled by ``handler``; its case id."""

    def make(ticket: str, *, handler: str = "ann", department: str = DEPT, level: str = "不满意",
             days_ago: float = 0) -> int:
        with session_scope(services.engine) as s:
            event = record_rating(s, f"conv-{ticket}", level, ticket_id=ticket,
                                  reason="等了很久没人回复", department=department,
                                  handler=handler)
            case = s.scalars(select(BadRatingCase)
                             .where(BadRatingCase.rating_event_pk == event.pk)).one()
            case.opened_at = utcnow() - dt.timedelta(days=days_ago)
            return case.id

    return make


def error_of(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and " / " in error["message"]
    return error["message"]


def test_review_then_overturn_then_rectify(staff, bad, services):
    case_id = bad("t1")
    sue, lin = staff("sue", "supervisor"), staff("lin", "leader", [DEPT])
    reviewed = sue.post(f"{URL}/{case_id}/review",
                        json={"verdict": "不属实", "note": "录音显示已按流程答复"})
    assert reviewed.status_code == 200, reviewed.text
    case = reviewed.json()["case"]
    assert (case["verdict"], case["reviewed_by"], case["unfounded"], case["counts"]) == (
        "不属实", "sue", True, False)
    assert case["timers"]["stopped"] is True
    error_of(lin.post(f"{URL}/{case_id}/review", json={"verdict": "属实"}), 409,
             "already_reviewed")
    error_of(lin.post(f"{URL}/{case_id}/rectification",
                      json={"stage": "contacted", "note": "已致电"}), 409, "unfounded")
    error_of(sue.post(f"{URL}/{case_id}/overturn", json={"note": "应属实"}), 403, "not_a_leader")

    overturned = lin.post(f"{URL}/{case_id}/overturn", json={"note": "复听录音，确有推诿"})
    assert overturned.status_code == 200, overturned.text
    assert overturned.json()["case"]["counts"] is True
    error_of(lin.post(f"{URL}/{case_id}/overturn", json={"note": "再次"}), 409,
             "already_overturned")

    steps = [("contacted", {}), ("fixed", {"complexity": "complex"}), ("followed_up", {})]
    for stage, extra in steps:
        done = lin.post(f"{URL}/{case_id}/rectification",
                        json={"stage": stage, "note": f"{stage}：已处理", **extra})
        assert done.status_code == 200, done.text
    case = done.json()["case"]
    assert (case["status"], case["complexity"], case["closed"]) == (
        "followed_up", "complex", True)
    timers = case["timers"]
    assert all(timers[s]["done_at"] for s, _ in steps) and not timers["overdue"]
    opened = dt.datetime.fromisoformat(case["opened_at"])
    assert dt.datetime.fromisoformat(timers["fixed"]["due"]) - opened > dt.timedelta(days=15)
    with session_scope(services.engine) as s:
        kinds = [(e.kind, e.actor) for e in s.scalars(
            select(Event).where(Event.kind.like("bad_rating_%")).order_by(Event.pk))]
    assert kinds == [("bad_rating_opened", "user"), ("bad_rating_reviewed", "sue"),
                     ("bad_rating_overturned", "lin"), ("bad_rating_rectified", "lin"),
                     ("bad_rating_rectified", "lin"), ("bad_rating_rectified", "lin")]


def test_refusals_in_the_error_shape(staff, bad):
    case_id = bad("t1", handler="lee")
    lee = staff("lee", "leader", [DEPT])  # he handled the ticket himself
    sue = staff("sue", "supervisor")
    luo = staff("luo", "leader", [OTHER])
    message = error_of(lee.post(f"{URL}/{case_id}/review", json={"verdict": "属实"}), 403,
                       "own_case")
    assert "自己" in message
    error_of(luo.post(f"{URL}/{case_id}/review", json={"verdict": "属实"}), 403,
             "department_not_allowed")
    error_of(sue.post(f"{URL}/{case_id}/review", json={"verdict": "不属实", "note": " "}),
             422, "note_required")
    error_of(sue.post(f"{URL}/{case_id}/review", json={"verdict": "部分属实"}), 422,
             "invalid_request")
    error_of(sue.post(f"{URL}/{case_id}/rectification", json={"stage": "fixed", "note": "x"}),
             409, "wrong_order")
    error_of(sue.post(f"{URL}/{case_id}/rectification", json={"stage": "contacted"}), 422,
             "invalid_request")
    error_of(sue.post(f"{URL}/{case_id}/rectification",
                      json={"stage": "followed_up", "note": "x", "complexity": "huge"}), 422,
             "invalid_request")
    error_of(sue.post(f"{URL}/{case_id}/overturn", json={}), 422, "invalid_request")
    for path, body in (("review", {"verdict": "属实"}), ("overturn", {"note": "x"}),
                       ("rectification", {"stage": "contacted", "note": "x"})):
        error_of(lee.post(f"{URL}/999999/{path}", json=body), 404, "unknown_case")
    error_of(sue.post(f"{URL}/0/review", json={"verdict": "属实"}), 422, "invalid_request")
    # Superseded: the user rated the ticket again.
    with session_scope(sue.app.state.services.engine) as s:
        record_rating(s, "conv-t1", "满意", ticket_id="t1")
    error_of(sue.post(f"{URL}/{case_id}/review", json={"verdict": "属实"}), 409, "superseded")


def test_the_list_filters_and_flags_overdue(staff, bad):
    fresh = bad("t-fresh")
    late = bad("t-late", days_ago=30)
    unfounded = bad("t-unfounded", days_ago=30)
    rectifying = bad("t-rectifying")
    superseded = bad("t-superseded")
    bot = bad("", department="", handler="")
    other = bad("t-other", department=OTHER)
    sue, lin = staff("sue", "supervisor"), staff("lin", "leader", [DEPT])
    assert sue.post(f"{URL}/{unfounded}/review",
                    json={"verdict": "不属实", "note": "用户误解政策"}).status_code == 200
    assert sue.post(f"{URL}/{rectifying}/rectification",
                    json={"stage": "contacted", "note": "已致电"}).status_code == 200
    with session_scope(sue.app.state.services.engine) as s:
        record_rating(s, "conv-t-superseded", "满意", ticket_id="t-superseded")

    def ids(browser: TestClient, status: str) -> set[int]:
        response = browser.get(URL, params={"status": status})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == status and body["count"] == len(body["cases"])
        return {c["id"] for c in body["cases"]}

    everything = {fresh, late, unfounded, rectifying, superseded, bot, other}
    assert ids(sue, "all") == everything
    assert ids(sue, "active") == {fresh, late, rectifying, bot, other}
    assert ids(sue, "open") == {fresh, late, bot, other}
    assert ids(sue, "unreviewed") == everything - {unfounded, superseded}
    assert ids(sue, "reviewed") == ids(sue, "unfounded") == {unfounded}
    assert ids(sue, "rectifying") == {rectifying}
    assert ids(sue, "overdue") == {late}
    assert ids(sue, "closed") == {unfounded, superseded}
    # A leader sees their departments' 差评 and the bot's, not another department's.
    assert ids(lin, "all") == everything - {other}

    listed = {c["id"]: c for c in sue.get(URL).json()["cases"]}
    assert listed[late]["timers"]["contacted"]["overdue"] is True
    assert listed[late]["timers"]["late_now"] is True
    assert listed[fresh]["timers"]["contacted"]["due"].endswith("T00:00:00+08:00")
    assert listed[unfounded]["timers"]["stopped"] is True
    assert sue.get(URL, params={"limit": 2}).json()["truncated"] is True
    error_of(sue.get(URL, params={"status": "pending"}), 422, "invalid_request")

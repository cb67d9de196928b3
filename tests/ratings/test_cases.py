"""差评 work orders on SQLite and PostgreSQL: a 差评 opens one in the rating's transaction; a
later rating supersedes it (kept); review, overturn and rectification follow their rules and
each writes its event; the queries the rates read."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from ratings import cases
from ratings.cases import BadRatingCase, CaseError
from ratings.record import ReasonRequired, record_rating
from xiaobao.clock import aware
from xiaobao.db import session_scope
from xiaobao.enums import Rating
from xiaobao.events import Event, EventKind
from xiaobao.policy import Denied

DEPT = "区税务局"
T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)


@dataclass
class Who:
    username: str
    roles: list[str]
    departments: list[str] = field(default_factory=list)


HANDLER = Who("ann", ["helper"], [DEPT])
LEADER_HANDLER = Who("lee", ["leader"], [DEPT])  # a leader who handled the ticket himself
LEADER = Who("lin", ["leader"], [DEPT])
OTHER_LEADER = Who("luo", ["leader"], ["区市场监管局"])
SUPERVISOR = Who("sue", ["supervisor"])
ADMIN = Who("root", ["admin"])
EDITOR = Who("ed", ["editor"])


def rate(engine, level: str, *, conversation: str = "c1", ticket: str = "t1",
         reason: str = "等了很久没人回复", handler: str = "ann") -> int:
    with session_scope(engine) as s:
        return record_rating(s, conversation, level, ticket_id=ticket, reason=reason,
                             department=DEPT if ticket else "",
                             handler=handler if ticket else "").pk


def case_of_rating(engine, rating_pk: int) -> BadRatingCase:
    with session_scope(engine) as s:
        return s.scalars(select(BadRatingCase)
                         .where(BadRatingCase.rating_event_pk == rating_pk)).one()


def step(engine, fn, *args, **kw) -> BadRatingCase:
    with session_scope(engine) as s:
        return fn(s, *args, **kw)


def events(engine, prefix: str = "bad_rating") -> list[tuple[str, str, dict]]:
    with session_scope(engine) as s:
        return [(e.kind, e.actor, e.data) for e in s.scalars(
            select(Event).where(Event.kind.startswith(prefix)).order_by(Event.pk))]


@pytest.mark.parametrize("level", list(Rating))
def test_only_the_bottom_two_open_a_case(engine, level):
    pk = rate(engine, level)
    with session_scope(engine) as s:
        rows = s.scalars(select(BadRatingCase)).all()
        assert len(rows) == (1 if level in cases.BAD_RATINGS else 0)
        if rows:
            case = rows[0]
            assert (case.rating_event_pk, case.case_key, case.ticket_id, case.rating,
                    case.reason, case.department, case.handler, case.status) == (
                pk, "ticket:t1", "t1", level.value, "等了很久没人回复", DEPT, "ann", "open")
            rating_at = s.get(Event, pk).at
            assert case.opened_at == rating_at
    opened = [e for e in events(engine) if e[0] == EventKind.BAD_RATING_OPENED]
    assert len(opened) == (1 if level in cases.BAD_RATINGS else 0)


@pytest.mark.parametrize("reason", ["", "   "])
@pytest.mark.parametrize("level", ["不满意", "非常不满意"])
def test_a_bad_rating_needs_a_reason_and_nothing_is_written_without(engine, level, reason):
    with pytest.raises(ReasonRequired) as raised:
        rate(engine, level, reason=reason)
    assert raised.value.status == 422 and "原因" in raised.value.message
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 0
        assert s.scalar(select(func.count()).select_from(BadRatingCase)) == 0
    rate(engine, "基本满意", reason="")  # the top three need none


def test_a_rating_of_the_bot_has_no_department_nor_handler(engine):
    pk = rate(engine, "非常不满意", ticket="", conversation="c9")
    case = case_of_rating(engine, pk)
    assert (case.case_key, case.ticket_id, case.department, case.handler) == (
        "bot:c9", "", "", "")


def test_a_later_rating_supersedes_the_case_and_keeps_it(engine):
    first = rate(engine, "不满意")
    second = rate(engine, "非常不满意", reason="还是没人联系我")
    third = rate(engine, "满意", reason="")
    rate(engine, "不满意", ticket="t2")  # another case: untouched
    with session_scope(engine) as s:
        rows = s.scalars(select(BadRatingCase).order_by(BadRatingCase.id)).all()
        assert [(r.rating_event_pk, r.status, r.superseded_by_event_pk) for r in rows] == [
            (first, "superseded", second), (second, "superseded", third),
            (rows[2].rating_event_pk, "open", None)]
        assert [r.counts for r in rows] == [False, False, True]
        assert [c.id for c in cases.cases_for(s, ["ticket:t1"])] == [rows[0].id,
                                                                            rows[1].id]
    kinds = [e[0] for e in events(engine)]
    assert kinds == ["bad_rating_opened", "bad_rating_superseded", "bad_rating_opened",
                     "bad_rating_superseded", "bad_rating_opened"]


def test_review_by_someone_other_than_the_handler(engine):
    case_id = case_of_rating(engine, rate(engine, "不满意")).id
    for who in (HANDLER, EDITOR):
        with pytest.raises(Denied):
            step(engine, cases.review, case_id, who, "属实")
    with pytest.raises(Denied):  # another department's leader
        step(engine, cases.review, case_id, OTHER_LEADER, "属实")
    with pytest.raises(CaseError) as no_note:
        step(engine, cases.review, case_id, SUPERVISOR, "不属实", "  ")
    assert (no_note.value.status, no_note.value.code) == (422, "note_required")
    with pytest.raises(CaseError) as bad_verdict:
        step(engine, cases.review, case_id, SUPERVISOR, "部分属实", "x")
    assert bad_verdict.value.status == 422

    case = step(engine, cases.review, case_id, SUPERVISOR, "不属实", "录音显示已答复",
                at=T0)
    assert (case.verdict, case.reviewed_by, case.unfounded, case.counts, case.closed) == (
        "不属实", "sue", True, False, True)
    with pytest.raises(CaseError) as again:
        step(engine, cases.review, case_id, LEADER, "属实")
    assert (again.value.status, again.value.code) == (409, "already_reviewed")
    assert events(engine)[-1] == ("bad_rating_reviewed", "sue", {
        "case_id": case_id, "case": "ticket:t1", "verdict": "不属实", "note": "录音显示已答复"})


def test_a_leader_who_handled_the_ticket_may_not_review_it(engine):
    case_id = case_of_rating(engine, rate(engine, "不满意", handler="lee")).id
    with pytest.raises(Denied) as denied:
        step(engine, cases.review, case_id, LEADER_HANDLER, "不属实", "没问题")
    assert denied.value.code == "own_case"
    assert step(engine, cases.review, case_id, LEADER, "属实").verdict == "属实"


def test_a_leader_overturns_an_unfounded_review(engine):
    case_id = case_of_rating(engine, rate(engine, "非常不满意")).id
    with pytest.raises(CaseError) as not_yet:
        step(engine, cases.overturn, case_id, LEADER, "应属实")
    assert (not_yet.value.status, not_yet.value.code) == (409, "not_unfounded")
    step(engine, cases.review, case_id, SUPERVISOR, "不属实", "已按规定答复")
    with pytest.raises(Denied):
        step(engine, cases.overturn, case_id, SUPERVISOR, "应属实")
    with pytest.raises(CaseError) as no_note:
        step(engine, cases.overturn, case_id, LEADER, " ")
    assert no_note.value.status == 422
    case = step(engine, cases.overturn, case_id, LEADER, "复听录音，确有推诿")
    assert (case.overturned, case.overturned_by, case.unfounded, case.counts,
            case.verdict) == (True, "lin", False, True, "不属实")
    with pytest.raises(CaseError) as twice:
        step(engine, cases.overturn, case_id, ADMIN, "再次")
    assert twice.value.code == "already_overturned"
    # counting again, it must be rectified
    assert step(engine, cases.record_rectification, case_id, LEADER, "contacted",
                "已致电用户").status == "contacted"


def test_rectification_goes_in_order_with_notes(engine):
    case_id = case_of_rating(engine, rate(engine, "不满意")).id
    with pytest.raises(CaseError) as early:
        step(engine, cases.record_rectification, case_id, LEADER, "fixed", "已整改")
    assert (early.value.status, early.value.code) == (409, "wrong_order")
    with pytest.raises(CaseError) as no_note:
        step(engine, cases.record_rectification, case_id, LEADER, "contacted", "")
    assert no_note.value.status == 422
    with pytest.raises(CaseError) as unknown:
        step(engine, cases.record_rectification, case_id, LEADER, "closed", "x")
    assert unknown.value.status == 422
    times = [T0 + dt.timedelta(hours=h) for h in (1, 30, 50)]
    step(engine, cases.record_rectification, case_id, LEADER, "contacted", "已致电",
         at=times[0])
    step(engine, cases.record_rectification, case_id, SUPERVISOR, "fixed", "补充了材料清单",
         complexity="complex", at=times[1])
    with pytest.raises(CaseError) as late_complexity:
        step(engine, cases.record_rectification, case_id, LEADER, "followed_up", "x",
             complexity="simple")
    assert late_complexity.value.status == 422
    case = step(engine, cases.record_rectification, case_id, ADMIN, "followed_up",
                "回访：用户认可", at=times[2])
    assert (case.status, case.complexity, case.closed, case.counts) == (
        "followed_up", "complex", True, True)
    assert [case.done_at(s) for s in cases.Stage] == times
    assert (case.contacted_by, case.fixed_by, case.followed_up_by) == ("lin", "sue", "root")
    with pytest.raises(CaseError) as done:
        step(engine, cases.record_rectification, case_id, LEADER, "followed_up", "再回访")
    assert done.value.code == "wrong_order"
    rectified = [(e[1], e[2]["stage"], e[2]["note"]) for e in events(engine)
                 if e[0] == "bad_rating_rectified"]
    assert rectified == [("lin", "contacted", "已致电"), ("sue", "fixed", "补充了材料清单"),
                         ("root", "followed_up", "回访：用户认可")]
    with session_scope(engine) as s:
        at = s.scalars(select(Event.at).where(Event.kind == "bad_rating_rectified")
                       .order_by(Event.pk)).all()
        assert [aware(a) for a in at] == times


def test_nothing_to_rectify_on_an_unfounded_or_superseded_case(engine):
    unfounded = case_of_rating(engine, rate(engine, "不满意")).id
    step(engine, cases.review, unfounded, SUPERVISOR, "不属实", "用户误解政策")
    with pytest.raises(CaseError) as refused:
        step(engine, cases.record_rectification, unfounded, LEADER, "contacted", "x")
    assert (refused.value.status, refused.value.code) == (409, "unfounded")
    superseded = case_of_rating(engine, rate(engine, "不满意", ticket="t2")).id
    rate(engine, "满意", ticket="t2", reason="")
    for fn, args in ((cases.record_rectification, ("contacted", "x")),
                     (cases.review, ("属实",))):
        with pytest.raises(CaseError) as gone:
            step(engine, fn, superseded, LEADER, *args)
        assert (gone.value.status, gone.value.code) == (409, "superseded")


def test_unknown_case(engine):
    with pytest.raises(CaseError) as missing:
        step(engine, cases.review, 999, SUPERVISOR, "属实")
    assert (missing.value.status, missing.value.code) == (404, "unknown_case")


def test_a_failed_step_leaves_nothing_behind(engine):
    """The step and its event are one transaction: a refused one writes neither."""
    case_id = case_of_rating(engine, rate(engine, "不满意")).id
    before = events(engine)
    with pytest.raises(CaseError):
        with session_scope(engine) as s:
            cases.record_rectification(s, case_id, LEADER, "contacted", "已致电")
            cases.record_rectification(s, case_id, LEADER, "followed_up", "跳过整改")
    assert events(engine) == before
    with session_scope(engine) as s:
        assert s.get(BadRatingCase, case_id).status == "open"


def test_queries_for_the_rates(engine):
    ids = [case_of_rating(engine, rate(engine, "不满意", ticket=f"t{i}")).id for i in range(3)]
    with session_scope(engine) as s:
        rows = s.scalars(select(BadRatingCase).order_by(BadRatingCase.id)).all()
        for case, days in zip(rows, (0, 1, 2)):
            case.opened_at = T0 + dt.timedelta(days=days)
    with session_scope(engine) as s:
        found = cases.cases_opened_between(s, T0 + dt.timedelta(hours=1),
                                                 T0 + dt.timedelta(days=2))
        assert [c.id for c in found] == [ids[1]]
        assert [c.id for c in cases.cases_for(s, ["ticket:t2", "ticket:t0", "nope"])] == [
            ids[0], ids[2]]
        assert [c.id for c in cases.list_cases(s)] == ids[::-1]
        assert cases.list_cases(s, ["区市场监管局"]) == []

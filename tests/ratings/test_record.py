"""A 差评 counts when given: recorded with its reason pending while the bot asks why, then
completed by the reason (one rating, one work order) — on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from ratings.cases import BadRatingCase
from ratings.record import ReasonRequired, latest_rating, record_rating
from xiaobao.db import session_scope
from xiaobao.events import Event, EventKind


def rate(engine, level: str, reason: str = "", *, pending: bool = True, ticket: str = "t1"):
    with session_scope(engine) as s:
        return record_rating(s, "c1", level, ticket_id=ticket, reason=reason,
                             department="区税务局", handler="ann", reason_pending=pending).kind


def recorded(engine) -> tuple[list[tuple], list[tuple]]:
    with session_scope(engine) as s:
        events = [(e.kind, e.data.get("rating"), e.data.get("reason"))
                  for e in s.scalars(select(Event).where(Event.kind.in_(
                      [EventKind.RATING.value, EventKind.RATING_REASON.value]))
                      .order_by(Event.pk))]
        cases = [(c.rating, c.reason, c.status)
                 for c in s.scalars(select(BadRatingCase).order_by(BadRatingCase.id))]
        return events, cases


@pytest.mark.parametrize("level", ["不满意", "非常不满意"])
def test_a_pending_bad_rating_is_recorded_then_completed_by_its_reason(engine, level):
    assert rate(engine, level) == EventKind.RATING.value
    assert recorded(engine) == ([("rating", level, "")], [(level, "", "open")])
    assert rate(engine, level, "等了半小时") == EventKind.RATING_REASON.value
    assert recorded(engine) == ([("rating", level, ""), ("rating_reason", level, "等了半小时")],
                                [(level, "等了半小时", "open")])
    with session_scope(engine) as s:  # the rates still count the one rating
        assert latest_rating(s, "c1", "t1").data["rating"] == level
    # Complete: a further 差评 with a reason rates the case again (the earlier one kept).
    rate(engine, level, "还是没人回复")
    events, cases = recorded(engine)
    assert events[-1] == ("rating", level, "还是没人回复")
    assert [c[2] for c in cases] == ["superseded", "open"]


def test_another_level_replaces_a_pending_rating_instead_of_completing_it(engine):
    rate(engine, "不满意")
    rate(engine, "非常不满意", "态度不好")
    events, cases = recorded(engine)
    assert events == [("rating", "不满意", ""), ("rating", "非常不满意", "态度不好")]
    assert cases == [("不满意", "", "superseded"), ("非常不满意", "态度不好", "open")]


def test_without_the_pending_flag_a_bad_rating_still_needs_a_reason(engine):
    with pytest.raises(ReasonRequired):
        rate(engine, "不满意", pending=False)
    assert recorded(engine) == ([], [])

"""Opting out: recorded once, pending notifications skipped at once, the SMS reply TD."""
from __future__ import annotations

import datetime as dt

import pytest

from notifications.errors import NotificationError
from notifications.models import PENDING, SKIPPED, NotificationOptOut
from notifications.optouts import handle_sms_reply, opt_out, opted_out
from notifications.outbox import enqueue

from .conftest import MONDAY_10, PORTAL, all_rows, item, uscc


def test_opt_out_is_recorded_once_and_skips_what_is_pending(session):
    enqueue(session, [item(1), item(1, policy="pol-002"), item(2)], portal_url=PORTAL)
    session.commit()
    assert not opted_out(session, uscc(1))
    assert opt_out(session, uscc(1).lower(), "portal", now=MONDAY_10) is True
    assert opt_out(session, uscc(1), "staff") is False  # the first way it came is kept
    session.commit()
    assert opted_out(session, uscc(1))
    stored = session.get(NotificationOptOut, uscc(1))
    assert stored.via == "portal"
    assert stored.at.replace(tzinfo=dt.UTC) == MONDAY_10.astimezone(dt.UTC).replace(tzinfo=dt.UTC)
    assert sorted((r.uscc, r.status) for r in all_rows(session)) == [
        (uscc(1), SKIPPED), (uscc(1), SKIPPED), (uscc(2), PENDING)]


@pytest.mark.parametrize("reply, refused", [("TD", True), (" td ", True), ("退订", True),
                                            ("T D", True), ("好的谢谢", False), ("TDD", False)])
def test_the_sms_reply(session, reply, refused):
    assert handle_sms_reply(session, uscc(3), reply) is refused
    session.commit()
    assert opted_out(session, uscc(3)) is refused
    if refused:
        assert session.get(NotificationOptOut, uscc(3)).via == "sms"


@pytest.mark.parametrize("code, via, error", [("91310113", "portal", "bad_uscc"),
                                              ("91310113MA1G0000OX", "portal", "bad_uscc"),
                                              (uscc(1), "email", "bad_opt_out_via")])
def test_bad_input_is_refused_with_a_sentence_and_nothing_stored(session, code, via, error):
    with pytest.raises(NotificationError) as caught:
        opt_out(session, code, via)
    assert caught.value.code == error and "。 / " in caught.value.message
    session.commit()
    assert session.query(NotificationOptOut).count() == 0

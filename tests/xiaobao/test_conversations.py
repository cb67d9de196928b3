"""One record of a conversation: turns in order, idempotent by client id, per ticket, purged."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from xiaobao import conversations
from xiaobao.db import session_scope
from xiaobao.enums import Speaker
from xiaobao.events import Event, EventKind, record_event


def test_turns_in_order_with_and_without_a_ticket(engine):
    with session_scope(engine) as s:
        conversations.append(s, "c1", Speaker.USER, "怎么开餐饮店")
        conversations.append(s, "c1", Speaker.BOT, "您是不是想问", buttons=[{"title": "x"}])
        conversations.append(s, "c2", Speaker.USER, "别的会话")
        conversations.append(s, "c1", Speaker.USER, "转人工", ticket_id="t1", client_id="m-1")
        conversations.append(s, "c1", Speaker.HELPER, "您好", ticket_id="t1", author="ann")
    with session_scope(engine) as s:
        turns = conversations.conversation(s, "c1")
        assert [(m.role, m.text) for m in turns] == [
            ("user", "怎么开餐饮店"), ("bot", "您是不是想问"), ("user", "转人工"),
            ("helper", "您好")]
        assert [m.text for m in conversations.of_ticket(s, "t1")] == ["转人工", "您好"]
        assert [m.text for m in conversations.before(s, "c1", None, 5)] == ["怎么开餐饮店",
                                                                          "您是不是想问"]
        assert [m.text for m in conversations.conversation(s, "c1", limit=2)] == ["转人工", "您好"]
        view = conversations.view(turns[1]).to_dict()
        assert view["buttons"] == [{"title": "x"}] and view["role"] == "bot"
        assert conversations.by_client_id(s, "m-1").text == "转人工"
        assert conversations.delete_of_tickets(s, ["t1"]) == 2
    with session_scope(engine) as s:
        assert [m.text for m in conversations.conversation(s, "c1")] == ["怎么开餐饮店",
                                                                        "您是不是想问"]


def test_a_resent_client_id_is_refused_by_the_database(engine):
    with session_scope(engine) as s:
        conversations.append(s, "c1", Speaker.USER, "一次", client_id="same")
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        conversations.append(s, "c1", Speaker.USER, "两次", client_id="same")


def test_unknown_speaker_and_event_kind_are_bugs(engine):
    with pytest.raises(ValueError), session_scope(engine) as s:
        conversations.append(s, "c1", "robot", "?")
    with pytest.raises(ValueError), session_scope(engine) as s:
        record_event(s, "made_up_kind")


def test_an_event_points_at_its_message(engine):
    with session_scope(engine) as s:
        m = conversations.append(s, "c1", Speaker.USER, "你好")
        record_event(s, EventKind.MESSAGE_RECEIVED, conversation_id="c1", message_pk=m.pk)
    with session_scope(engine) as s:
        event = s.query(Event).one()
        assert event.kind == "message_received" and event.message_pk == m.pk
        assert "你好" not in str(event.data)

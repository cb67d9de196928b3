"""The migration to one message table keeps every turn: bot-mode turns (``chat_message``
events) and live turns (``handoff_transcript``), without the copies a ticket made of the bot
turns when it opened, in time order; user turns keep an event that points at them."""
from __future__ import annotations

import datetime as dt
import json

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from xiaobao.db import make_engine
from xiaobao.settings import REPO_ROOT


def _alembic(engine, target: str, up: bool = True) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.upgrade if up else command.downgrade)(cfg, target)


def test_turns_move_into_messages_in_order(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    _alembic(engine, "0004_handoff")
    t0 = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
    at = [(t0 + dt.timedelta(seconds=i)).isoformat(" ") for i in range(10)]
    with engine.begin() as c:
        ev = ("INSERT INTO events (kind, conversation_id, ticket_id, actor, data, at) "
              "VALUES (:k, 'c1', '', :a, :d, :at)")
        c.execute(text(ev), {"k": "chat_message", "a": "user", "at": at[0],
                             "d": json.dumps({"role": "user", "text": "怎么开餐饮店"})})
        c.execute(text(ev), {"k": "chat_message", "a": "bot", "at": at[1],
                             "d": json.dumps({"role": "bot", "text": "已为您转接",
                                              "buttons": [{"title": "x", "payload": "/y"}]})})
        c.execute(text(ev), {"k": "rating", "a": "bot", "at": at[9],
                             "d": json.dumps({"rating": "满意"})})
        c.execute(text(
            "INSERT INTO handoff_tickets (id, request_id, conversation_id, visitor_id, channel, "
            "department, priority, complaint, status, topic, company, phone, time_window, "
            "summary, context, note, created_at, queued_at) VALUES ('t1', 'r1', 'c1', '', "
            "'online_helper', '综合窗口', 0, 0, 'resolved', '', '', '', '', '', '{}', '', "
            ":at, :at)"), {"at": at[2]})
        tr = ("INSERT INTO handoff_transcript (ticket_id, conversation_id, role, author, text, "
              "message_id, at) VALUES ('t1', 'c1', :r, :a, :t, :m, :at)")
        # copies made when the ticket opened (no message id, at the ticket's creation time)
        c.execute(text(tr), {"r": "user", "a": "", "t": "怎么开餐饮店", "m": None, "at": at[2]})
        c.execute(text(tr), {"r": "bot", "a": "", "t": "已为您转接", "m": None, "at": at[2]})
        # live turns
        c.execute(text(tr), {"r": "helper", "a": "h1", "t": "您好", "m": "h-1", "at": at[3]})
        c.execute(text(tr), {"r": "user", "a": "", "t": "谢谢", "m": "web-1", "at": at[4]})

    _alembic(engine, "head")
    with engine.connect() as c:
        rows = c.execute(text("SELECT role, text, ticket_id, client_id, data FROM messages "
                              "ORDER BY pk")).all()
        assert [(r.role, r.text, r.ticket_id) for r in rows] == [
            ("user", "怎么开餐饮店", None), ("bot", "已为您转接", None),
            ("helper", "您好", "t1"), ("user", "谢谢", "t1")]
        assert json.loads(rows[1].data)["buttons"][0]["payload"] == "/y"
        kinds = c.execute(text("SELECT kind, message_pk FROM events ORDER BY pk")).all()
        first_pk = c.execute(text("SELECT min(pk) FROM messages")).scalar()
        assert [(k.kind, k.message_pk) for k in kinds] == [("message_received", first_pk),
                                                           ("rating", None)]
        tables = {r[0] for r in c.execute(text("SELECT name FROM sqlite_master "
                                               "WHERE type='table'"))}
        assert "handoff_transcript" not in tables and "handoff_outbox" in tables

    # and back: the live turns return to the transcript
    _alembic(engine, "0004_handoff", up=False)
    with engine.connect() as c:
        live = c.execute(text("SELECT role, text FROM handoff_transcript ORDER BY pk")).all()
        assert [(r.role, r.text) for r in live] == [("helper", "您好"), ("user", "谢谢")]
    engine.dispose()

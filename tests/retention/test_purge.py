"""Phone masking (xiaobao.phone, one format everywhere) and the retention purge."""
from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections import Counter

import pytest
import redis
from sqlalchemy import func, inspect, select

from handoff import claims, closing, left_messages, outbox, relay, transfer
from handoff.requests import request_handoff
from handoff.store import Call, LeftMessage, Ticket, Transition
from ratings.record import record_rating
from retention import purge
from tests.handoff.conftest import CROSS, TAX, make_helper, on_duty, req
from xiaobao import conversations
from xiaobao.clock import aware, utcnow
from xiaobao.db import Base, session_scope
from xiaobao.events import Event, EventKind, record_event
from xiaobao.phone import mask_phone, mask_phones_in, visible_phone


@pytest.mark.parametrize("raw,masked", [
    ("13812341234", "138****1234"), ("021-66781234", "021****1234"), ("", "")])
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize("raw,masked", [
    ("13812341234", "138****1234"), ("电话+86 138 1234 1234谢谢", "电话138****1234谢谢"),
    ("打021-66781234找我", "打021****1234找我"), ("订单号 2026112800001", "订单号 2026112800001")])
def test_mask_phones_in_text(raw, masked):
    assert mask_phones_in(raw) == masked


def test_visible_phone_only_for_the_holder():
    assert visible_phone("13812345678", "ha", "ha") == "13812345678"
    assert visible_phone("13812345678", "hb", "ha") == "138****5678"
    assert visible_phone("13812345678", None, None) == "138****5678"


def test_purge_expired_transcripts(ctx):
    helper = on_duty(ctx, "ha")
    with session_scope(ctx.engine) as s:
        conversations.append(s, "conv-old", "user", "很久以前的问题")
    old = request_handoff(req(conversation_id="conv-old", phone="13812345678"), ctx=ctx)
    claims.claim_next_ticket(helper, ctx=ctx)
    relay.send_helper_message(old.ticket_id, helper, "您好", ctx=ctx)
    closing.resolve_ticket(old.ticket_id, helper, ctx=ctx)
    with session_scope(ctx.engine) as s:
        conversations.append(s, "conv-live", "user", "正在排队的会话")
    live = request_handoff(req(conversation_id="conv-live"), ctx=ctx)
    left = left_messages.leave_message("conv-msg", "留言", phone="13912345678", ctx=ctx)
    left_messages.answer_message(left.id, make_helper(ctx.engine, "hc", [left.department]),
                                 "答复", ctx=ctx)
    report = purge.purge_expired_transcripts(30, ctx=ctx,
                                               now=utcnow() + dt.timedelta(days=31))
    assert report["tickets"] == 1 and report["left_messages_cleared"] == 1
    Message = conversations.Message
    with session_scope(ctx.engine) as s:
        assert s.scalar(select(func.count()).select_from(Message)
                        .where(Message.ticket_id == old.ticket_id)) == 0
        # the bot-mode turn of a closed conversation goes too; the waiting one's stays
        assert s.scalar(select(func.count()).select_from(Message)
                        .where(Message.conversation_id == "conv-old")) == 0
        assert s.scalar(select(func.count()).select_from(Message)
                        .where(Message.conversation_id == "conv-live")) == 1
        assert s.get(Ticket, old.ticket_id).phone == ""
        assert s.get(Ticket, live.ticket_id).status == "queued"
        assert s.get(LeftMessage, left.id).phone == ""
    assert purge.purge_expired_transcripts(30, ctx=ctx)["tickets"] == 0


# --- the retention purge removes every copy ------------------------------------------------------

NUMBER = "13912345678"
WRITTEN = ["13912345678", "139 1234 5678", "+86 139-1234-5678", "１３９１２３４５６７８"]
COMPANY = "上海宝宝科技有限公司"
KEPT_NUMBER, KEPT_COMPANY = "13800001111", "上海开着贸易有限公司"  # the open ticket's
_SEPARATORS = re.compile(r"(?<=\d)[\s\-.·]+(?=\d)")


def _plain(value: object) -> str:
    """A stored value as text, JSON decoded too, full-width folded, separators dropped."""
    text = str(value)
    if isinstance(value, (str, bytes)):
        try:
            text += " " + str(json.loads(value))
        except (ValueError, TypeError):
            pass
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))


def _leaks(text: str, number: str = NUMBER, company: str = COMPANY) -> bool:
    plain = _plain(text)
    return number in plain or company in plain or company[2:6] in plain


def every_sql_value(engine) -> list[tuple[str, str, object]]:
    """(table, column, value) for every column of every row of every table."""
    import handoff.outbox  # noqa: F401  (every table in the metadata)
    import knowledge_base.models  # noqa: F401
    import xiaobao.accounts  # noqa: F401

    tables = Base.metadata.sorted_tables
    present = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert present <= {t.name for t in tables}, "a table the scan would miss"
    out = []
    with engine.connect() as conn:
        for table in tables:
            for row in conn.execute(select(table)).mappings():
                out.extend((table.name, column, value) for column, value in row.items())
    return out


def every_redis_value(client: redis.Redis) -> list[tuple[str, object]]:
    """(key, value) for every key of this database, read by its type (and its DUMP)."""
    out: list[tuple[str, object]] = []
    raw = redis.Redis(connection_pool=redis.ConnectionPool(
        **{**client.connection_pool.connection_kwargs, "decode_responses": False}))
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == "string":
            value: object = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "set":
            value = client.smembers(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = client.xrange(key)
        else:
            value = kind
        dumped = raw.dump(key) or b""
        out.append((key, value))
        out.append((key, dumped.decode("utf-8", "replace")))
    raw.close()
    return out


# The event keys this test fills with text; every other key is a fact that must stay.
TEXT_KEYS = {"query", "reason", "note"}


def _facts(engine) -> dict:
    """What the rates and the audit count: must survive the purge unchanged."""
    with session_scope(engine) as s:
        events = [(e.pk, e.kind, e.conversation_id, e.ticket_id, e.actor, e.message_pk,
                   aware(e.at), {k: v for k, v in e.data.items() if k not in TEXT_KEYS})
                  for e in s.scalars(select(Event).order_by(Event.pk))]
        tickets = {t.id: (t.status, t.channel, t.department, t.helper, t.priority,
                          t.complaint, t.conversation_id, aware(t.created_at),
                          aware(t.queued_at), aware(t.claimed_at),
                          aware(t.first_response_at), aware(t.closed_at),
                          [(c["id"], c["category"]) for c in t.context.get("candidates", [])],
                          t.context.get("intent"))
                   for t in s.scalars(select(Ticket))}
        transitions = [(h.subject, h.subject_id, h.from_status, h.to_status, h.actor,
                        aware(h.at)) for h in s.scalars(select(Transition).order_by(
                            Transition.pk))]
        calls = sorted((c.id, c.ticket_id, c.status, c.attempts, aware(c.created_at))
                       for c in s.scalars(select(Call)))
        left = [(m.id, m.conversation_id, m.department, m.status, m.answered_by,
                 aware(m.created_at), aware(m.answered_at)) for m in s.scalars(
                     select(LeftMessage).order_by(LeftMessage.id))]
        kinds = Counter(s.scalars(select(Event.kind)))
        ratings = [(e.data["case"], e.data["rating"]) for e in s.scalars(
            select(Event).where(Event.kind == "rating").order_by(Event.pk))]
    return {"events": events, "tickets": tickets, "transitions": transitions, "calls": calls,
            "left": left, "kinds": kinds, "ratings": ratings}


def _open_conversation(engine, conversation_id: str, ticket_id: str) -> dict:
    with session_scope(engine) as s:
        t = s.get(Ticket, ticket_id)
        return {
            "ticket": {c.name: getattr(t, c.name) for c in Ticket.__table__.columns},
            "messages": [(m.pk, m.text, m.ticket_id) for m in conversations.conversation(
                s, conversation_id)],
            "events": [(e.pk, e.kind, e.data) for e in s.scalars(
                select(Event).where(Event.conversation_id == conversation_id))],
            "calls": [(c.id, c.phone) for c in s.scalars(
                select(Call).where(Call.ticket_id == ticket_id))],
        }


def test_the_purge_removes_every_copy_and_keeps_what_the_rates_count(ctx, redis_server):
    tracker = redis.Redis(host="127.0.0.1", port=redis_server.port, db=1,
                          decode_responses=True)
    ann = on_duty(ctx, "ann", depts=(CROSS,))
    bob = on_duty(ctx, "bob", depts=(TAX,))
    conv = "v-" + "a" * 32
    said = [f"我的电话是{w}，公司是{COMPANY}" for w in WRITTEN]

    # Bot-mode turns before a handoff, and what the bot's actions record about them.
    with session_scope(ctx.engine) as s:
        for text in said:
            m = conversations.append(s, conv, "user", text)
            record_event(s, EventKind.MESSAGE_RECEIVED, conversation_id=conv, actor="user",
                         message_pk=m.pk, mode="bot")
            record_event(s, EventKind.BOT_ANSWER, conversation_id=conv, actor="bot",
                         decision="abstain", entry_id="", query=text, score=0.12)
        conversations.append(s, conv, "bot", f"请确认您的电话{WRITTEN[1]}")
        record_event(s, EventKind.ANSWER_FEEDBACK, conversation_id=conv, actor="bot",
                     entry_id="kb-1", helpful=False)

    # A 12345 call-back request: the number in every field the bot fills.
    hotline = request_handoff(req(
        conversation_id=conv, channel="hotline_12345", phone=NUMBER, company=COMPANY,
        topic=f"{COMPANY}营业执照变更", time_window=f"明天上午，打{WRITTEN[2]}",
        summary=f"{COMPANY}要求回电{WRITTEN[1]}",
        last_turns=[{"role": "user", "text": t} for t in said],
        entities=[{"entity": "phone", "value": NUMBER},
                  {"entity": "company", "value": COMPANY}], visitor_id=conv), ctx=ctx)
    assert hotline.call_id
    closing.abandon_ticket(hotline.ticket_id, "user", f"改为在线，电话{WRITTEN[0]}", ctx=ctx)

    # Then an online ticket with live turns, a transfer and a close, each with the number.
    online = request_handoff(req(conversation_id=conv, phone=NUMBER, company=COMPANY,
                                 summary=f"{COMPANY} {NUMBER}"), ctx=ctx)
    claims.claim_next_ticket(ann, ctx=ctx)
    relay.send_helper_message(online.ticket_id, ann, f"{COMPANY}您好，是{NUMBER}吗？", ctx=ctx)
    relay.send_user_message(conv, f"对，{WRITTEN[3]}", ctx=ctx)
    transfer.transfer_ticket(online.ticket_id, ann, TAX, f"税务问题，回电{WRITTEN[1]}", ctx=ctx)
    claims.claim_next_ticket(bob, ctx=ctx)
    relay.send_helper_message(online.ticket_id, bob, f"已记下{WRITTEN[2]}", ctx=ctx)
    closing.resolve_ticket(online.ticket_id, bob, f"已答复{COMPANY}，{NUMBER}", ctx=ctx)
    with session_scope(ctx.engine) as s:
        record_rating(s, conv, "非常满意", ticket_id=online.ticket_id,
                      reason=f"谢谢，我的电话{NUMBER}")
        record_rating(s, conv, "不满意", reason=f"机器人没记住{COMPANY}")
        record_event(s, EventKind.KB_DRAFT_PROPOSED, conversation_id=conv,
                     ticket_id=online.ticket_id, actor="bob", entry_id="draft-1",
                     replaces="kb-1", note=f"{COMPANY}问过，{NUMBER}")
        conversations.append(s, conv, "user", f"再问一下，{WRITTEN[1]}")
        # A live event that never reached Redis still copies the text.
        outbox.add(s, conv, outbox.RELAY, type="message", text=f"{COMPANY}{NUMBER}")

    # 留言, answered and not, with the number in text, phone and answer.
    left = left_messages.leave_message(conv, f"{COMPANY}想咨询，电话{WRITTEN[3]}",
                                       phone=WRITTEN[1], visitor_id=conv, ctx=ctx)
    left_messages.answer_message(left.id, make_helper(ctx.engine, "hc", [left.department]),
                                 f"已电话联系{NUMBER}（{COMPANY}）", ctx=ctx)
    unanswered = left_messages.leave_message(conv, f"还没人回复 {WRITTEN[0]}", phone=NUMBER,
                                             visitor_id=conv, ctx=ctx)

    # Rasa's tracker and lock of the conversation.
    tracker.set(f"xiaobao:tracker:{conv}", json.dumps(
        {"events": [{"event": "user", "text": t} for t in said],
         "slots": {"phone": NUMBER, "company": COMPANY}}, ensure_ascii=False))
    tracker.set(f"xiaobao:lock:{conv}", json.dumps({"conversation_id": conv}))

    # A conversation whose ticket is still open (just as old): it keeps everything.
    live_conv = "v-" + "b" * 32
    with session_scope(ctx.engine) as s:
        conversations.append(s, live_conv, "user", f"{KEPT_COMPANY} {KEPT_NUMBER}")
        record_event(s, EventKind.BOT_ANSWER, conversation_id=live_conv, actor="bot",
                     decision="abstain", entry_id="", query=f"{KEPT_COMPANY} {KEPT_NUMBER}")
    live = request_handoff(req(conversation_id=live_conv, channel="hotline_12345",
                               phone=KEPT_NUMBER, company=KEPT_COMPANY,
                               summary=KEPT_NUMBER), ctx=ctx)
    tracker.set(f"xiaobao:tracker:{live_conv}", f"{KEPT_COMPANY} {KEPT_NUMBER}")

    # Everything is in place before the purge.
    assert any(_leaks(v) for _t, _c, v in every_sql_value(ctx.engine))
    assert any(_leaks(v) for _k, v in every_redis_value(tracker))
    facts = _facts(ctx.engine)
    kept = _open_conversation(ctx.engine, live_conv, live.ticket_id)

    report = purge.purge_expired_transcripts(
        30, ctx=ctx, now=utcnow() + dt.timedelta(days=31), tracker_redis=tracker)

    leaks = [(t, c, v) for t, c, v in every_sql_value(ctx.engine) if _leaks(v)]
    assert leaks == []
    for client in (ctx.redis, tracker):
        assert [(k, v) for k, v in every_redis_value(client) if _leaks(v) or _leaks(k)] == []
    # What the rates count did not move; an unanswered 留言 whose text is gone has expired.
    facts["left"] = [(m[0], m[1], m[2], "expired" if m[3] == "open" else m[3], *m[4:])
                     for m in facts["left"]]
    assert any(m[3] == "expired" for m in facts["left"])
    assert _facts(ctx.engine) == facts
    # The still open ticket's conversation keeps everything, its tracker too.
    assert _open_conversation(ctx.engine, live_conv, live.ticket_id) == kept
    assert any(KEPT_NUMBER in _plain(v) for _t, _c, v in every_sql_value(ctx.engine))
    assert tracker.get(f"xiaobao:tracker:{live_conv}") == f"{KEPT_COMPANY} {KEPT_NUMBER}"
    with session_scope(ctx.engine) as s:
        for t in (s.get(Ticket, hotline.ticket_id), s.get(Ticket, online.ticket_id)):
            assert t.context == {"candidates": [{"id": "kb-1", "category": "跨省通办"},
                                                {"id": "kb-2", "category": "一网通办与随申办"}],
                                 "intent": "ask_human"}
        for m in (s.get(LeftMessage, left.id), s.get(LeftMessage, unanswered.id)):
            assert (m.text, m.phone, m.answer) == ("", "", "")
        assert s.get(LeftMessage, left.id).status == "answered"
        assert s.get(LeftMessage, unanswered.id).status == "expired"  # off the helpers' list
        assert conversations.conversation(s, conv) == []

    assert report["tickets"] == 2 and report["conversations"] == 1
    assert report["trackers_deleted"] == 1 and report["left_messages_cleared"] == 2
    assert report["calls_cleared"] == 1 and report["outbox_rows_deleted"] == 1
    assert report["events_cleared"] >= len(said) + 4
    # Nothing more to do the second time.
    again = purge.purge_expired_transcripts(
        30, ctx=ctx, now=utcnow() + dt.timedelta(days=31), tracker_redis=tracker)
    assert set(again.values()) == {0}
    tracker.close()


def test_nothing_is_purged_before_the_retention_ends(ctx, redis_server):
    with session_scope(ctx.engine) as s:
        conversations.append(s, "v-recent", "user", f"电话{NUMBER}")
        record_event(s, EventKind.BOT_ANSWER, conversation_id="v-recent", actor="bot",
                     decision="abstain", entry_id="", query=NUMBER)
    left_messages.leave_message("v-recent", f"留言{NUMBER}", phone=NUMBER, ctx=ctx)
    before = every_sql_value(ctx.engine)
    report = purge.purge_expired_transcripts(30, ctx=ctx,
                                               now=utcnow() + dt.timedelta(days=29))
    assert set(report.values()) == {0}
    assert every_sql_value(ctx.engine) == before


def test_tracker_keys_follow_rasas_redis_tracker_store():
    assert purge.tracker_keys("v-1") == ["xiaobao:tracker:v-1", "xiaobao:lock:v-1"]
    assert purge.tracker_keys("v-1", None) == ["tracker:v-1", "lock:v-1"]
    assert purge.tracker_keys("v-1", "not-alnum") == ["tracker:v-1", "lock:v-1"]


def test_endpoints_expire_trackers_after_the_retention_period():
    """Rasa's own expiry (record_exp) equals the purge's retention, and the purge finds the
    tracker store where Rasa does."""
    import yaml

    from handoff.config import packaged_config
    from xiaobao.settings import REPO_ROOT

    endpoints = yaml.safe_load((REPO_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    store = endpoints["tracker_store"]
    assert store["record_exp"] == packaged_config().retention_days * 86400
    found = purge.tracker_store_from_endpoints(REPO_ROOT / "endpoints.yml")
    assert found == purge.TrackerStore(url=f"redis://{store['url']}:{store['port']}/"
                                             f"{store['db']}", key_prefix=store["key_prefix"])


def test_trackers_saved_without_an_expiry_get_one(redis_server, r):
    tracker = redis.Redis(host="127.0.0.1", port=redis_server.port, db=1,
                          decode_responses=True)
    tracker.set("xiaobao:tracker:old", "{}")
    tracker.set("xiaobao:tracker:new", "{}", ex=100)
    tracker.set("xiaobao:other", "{}")
    assert purge.expire_untimed_trackers(tracker, 3600) == 1
    assert 0 < tracker.ttl("xiaobao:tracker:old") <= 3600
    assert tracker.ttl("xiaobao:tracker:new") <= 100 and tracker.ttl("xiaobao:other") == -1
    tracker.close()


# --- the conversation's 政策体检 (policies.checkups) goes with the conversation ---------------

def test_the_purge_removes_a_conversations_check_up_with_it(ctx):
    from policies.checkups import latest_checkup, record_checkup
    from policies.evaluator import CheckResult, PolicyResult

    helper = on_duty(ctx, "ha")
    facts = {"employees": 25, "district": f"宝山区 {NUMBER}"}
    decided = CheckResult([PolicyResult("p-yes", "eligible"), PolicyResult("p-no", "ineligible")])
    with session_scope(ctx.engine) as s:
        for conversation_id in ("conv-pc-closed", "conv-pc-bot", "conv-pc-open"):
            conversations.append(s, conversation_id, "user", "我公司能享受哪些政策")
            record_checkup(s, conversation_id, facts, ["high_tech"], dt.date(2026, 12, 1),
                           decided)
    closed = request_handoff(req(conversation_id="conv-pc-closed"), ctx=ctx)
    claims.claim_next_ticket(helper, ctx=ctx)
    closing.resolve_ticket(closed.ticket_id, helper, ctx=ctx)
    request_handoff(req(conversation_id="conv-pc-open"), ctx=ctx)  # still waiting
    later = utcnow() + dt.timedelta(days=31)

    assert purge.purge_expired_transcripts(30, ctx=ctx, now=utcnow())["events_cleared"] == 0
    with session_scope(ctx.engine) as s:
        assert latest_checkup(s, "conv-pc-closed").facts == facts  # within the retention

    purge.purge_expired_transcripts(30, ctx=ctx, now=later)
    with session_scope(ctx.engine) as s:
        assert latest_checkup(s, "conv-pc-closed") is None
        assert latest_checkup(s, "conv-pc-bot") is None  # a bot-only conversation alike
        assert latest_checkup(s, "conv-pc-open").facts == facts  # a ticket open: kept
        kept = s.scalars(select(Event.data).where(
            Event.kind == EventKind.POLICY_CHECK.value,
            Event.conversation_id == "conv-pc-closed")).all()
    assert kept == [{"date": "2026-12-01", "eligible": ["p-yes"], "possible": [],
                     "ineligible": ["p-no"]}]  # what it decided stays; the facts went
    assert NUMBER not in json.dumps(kept, ensure_ascii=False)
    assert purge.purge_expired_transcripts(30, ctx=ctx, now=later)["events_cleared"] == 0


def test_a_sentinel_tracker_store_is_found_through_its_sentinels(tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        "tracker_store:\n  type: bot.sentinel_stores.SentinelTrackerStore\n"
        "  sentinels: 10.0.0.1:26379,10.0.0.2:26379\n  sentinel_master: xb\n"
        "  password: pw\n  db: 1\n  key_prefix: xiaobao\n", encoding="utf-8")
    found = purge.tracker_store_from_endpoints(endpoints)
    assert found == purge.TrackerStore(
        url="redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/xb/1?password=pw",
        key_prefix="xiaobao")

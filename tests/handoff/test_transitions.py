"""Every path that changes a ticket goes through handoff.transitions: whoever closes it (helper,
leader, user, 留言, 12345, the command line), the ticket ends final, the conversation is the
bot's again in SQL, the bot is handed it back exactly once, and one event says how it ended.
The sweep's requeue and a transfer write the same things (event, history, outbox published)."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from handoff import (
    call_adapters,
    calls,
    claims,
    closing,
    duty,
    left_messages,
    outbox,
    queue,
    relay,
    transfer,
)
from handoff.config import CallSettings
from handoff.context import Returned
from handoff.outbox import OutboxRow
from handoff.requests import Candidate, HandoffRequest, request_handoff
from handoff.store import ConversationMode, Ticket, Transition
from xiaobao.db import session_scope

from .conftest import CROSS, TAX, ReturnRecorder, count_events, on_duty, req

OPEN = dt.datetime(2026, 3, 10, 10, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Tuesday morning
CLOSING_KINDS = ("ticket_resolved", "ticket_unresolved", "ticket_abandoned")


def assert_closed(ctx, ticket_id: str, status: str, event_kind: str) -> str:
    """Final, mode bot in SQL (and in Redis), one closing event of ``event_kind``."""
    with session_scope(ctx.engine) as s:
        t = s.get(Ticket, ticket_id)
        assert t.status == status
        assert t.closed_at is not None and t.open_conversation_id is None
        conv = t.conversation_id
        mode = s.get(ConversationMode, conv)
        assert (mode.mode, mode.ticket_id) == ("bot", "")
        closes = s.scalar(select(func.count()).select_from(Transition).where(
            Transition.subject_id == ticket_id, Transition.to_status == status))
        assert closes == 1
    assert count_events(ctx.engine, event_kind, ticket_id) == 1
    assert sum(count_events(ctx.engine, k, ticket_id) for k in CLOSING_KINDS) == 1
    assert ctx.redis.get(queue.mode_key(conv)) == "bot|"
    assert not queue.is_enqueued(ctx.redis, ticket_id)
    return conv


# --- each path that closes a ticket -------------------------------------------------------------

def _held(ctx, name="ha"):
    helper = on_duty(ctx, name)
    receipt = request_handoff(req(), ctx=ctx)
    claims.claim_next_ticket(helper, ctx=ctx)
    relay.send_helper_message(receipt.ticket_id, helper, "您好", ctx=ctx)
    return helper, receipt.ticket_id


def helper_resolves(ctx):
    helper, ticket_id = _held(ctx)
    closing.resolve_ticket(ticket_id, helper, "已解答", ctx=ctx)
    return ticket_id, "resolved", "ticket_resolved"


def helper_marks_unresolved(ctx):
    helper, ticket_id = _held(ctx)
    closing.mark_unresolved(ticket_id, helper, "需线下办理", ctx=ctx)
    return ticket_id, "unresolved", "ticket_unresolved"


def leader_closes_a_colleagues_ticket(ctx):
    _helper, ticket_id = _held(ctx)
    leader = on_duty(ctx, "boss", roles=("leader",))
    closing.resolve_ticket(ticket_id, leader, "领导已答复", ctx=ctx)
    return ticket_id, "resolved", "ticket_resolved"


def user_abandons(ctx):
    _helper, ticket_id = _held(ctx)
    closing.abandon_ticket(ticket_id, "user", "用户离开", ctx=ctx)
    return ticket_id, "abandoned", "ticket_abandoned"


def user_leaves_a_message_while_waiting(ctx):
    receipt = request_handoff(req(conversation_id="conv-left"), ctx=ctx)
    left_messages.leave_message("conv-left", "下班后再联系我", ctx=ctx)
    assert count_events(ctx.engine, "message_left") == 1
    return receipt.ticket_id, "abandoned", "ticket_abandoned"


def _hotline_dialled(ctx):
    receipt = request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=f"call-{uuid.uuid4().hex[:6]}",
        channel="hotline_12345", phone="13912345678",
        candidates=[Candidate(id="kb", question="q", category="跨省通办", score=0.9)]),
        ctx=ctx, now=OPEN)
    sim = call_adapters.SimulatorAdapter(deliver=lambda body, headers: None, script={1: []})
    calls.start_call(receipt.call_id, sim, ctx=ctx, now=OPEN)
    return receipt


def hotline_completed(ctx):
    receipt = _hotline_dialled(ctx)
    for status in ("ringing", "answered", "three_way_connected", "completed"):
        calls.apply_status(receipt.call_id, status, ctx=ctx)
    return receipt.ticket_id, "resolved", "ticket_resolved"


def hotline_unreachable(ctx):
    c = ctx.replace(config=ctx.config.replace(calls=CallSettings(max_attempts=1)))
    receipt = _hotline_dialled(c)
    calls.apply_status(receipt.call_id, "ringing", ctx=c)
    calls.apply_status(receipt.call_id, "no_answer", ctx=c)
    assert calls.get_call(receipt.call_id, ctx=c).status == "unreachable"
    return receipt.ticket_id, "unresolved", "ticket_unresolved"


@pytest.mark.parametrize("close", [
    helper_resolves, helper_marks_unresolved, leader_closes_a_colleagues_ticket, user_abandons,
    user_leaves_a_message_while_waiting, hotline_completed, hotline_unreachable])
def test_every_close_hands_the_conversation_back_once(hooked, returns, close):
    ticket_id, status, kind = close(hooked)
    conv = assert_closed(hooked, ticket_id, status, kind)
    assert returns.calls == [Returned(conv, ticket_id, status)]
    assert outbox.pending(hooked) == 0
    assert outbox.drain(hooked) == 0 and len(returns.calls) == 1


def test_a_close_told_live_to_the_conversation(hooked, r):
    helper, ticket_id = _held(hooked)
    with session_scope(hooked.engine) as s:
        conv = s.get(Ticket, ticket_id).conversation_id
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(relay.relay_channel(conv))
    pubsub.get_message(timeout=1)
    closing.mark_unresolved(ticket_id, helper, "需线下办理", ctx=hooked)
    got = pubsub.get_message(timeout=2)
    pubsub.close()
    assert json.loads(got["data"]) == {"type": "unresolved", "ticket_id": ticket_id,
                                       "note": "需线下办理"}


@pytest.fixture
def cli_settings(monkeypatch, tmp_path, ctx, redis_server):
    """The command line's settings point at the test database and the private Redis."""
    from xiaobao.db import get_engine
    from xiaobao.settings import get_settings

    monkeypatch.setenv("XIAOBAO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XIAOBAO_DATABASE_URL",
                       ctx.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("XIAOBAO_REDIS_URL", redis_server.url)
    monkeypatch.delenv("XIAOBAO_HANDOFF_CONFIG", raising=False)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_cli_close_waits_in_the_outbox_for_a_gateway(ctx, cli_settings):
    from handoff.cli import app

    helper, ticket_id = _held(ctx)
    result = CliRunner().invoke(app, ["close", ticket_id, "--status", "unresolved",
                                      "--note", "窗口已办结", "--by", "boss"])
    assert result.exit_code == 0, result.output
    assert f"{ticket_id} unresolved" in result.output
    conv = assert_closed(ctx, ticket_id, "unresolved", "ticket_unresolved")
    with session_scope(ctx.engine) as s:
        last = s.scalars(select(Transition).where(Transition.subject_id == ticket_id)
                         .order_by(Transition.pk.desc())).first()
        assert (last.actor, last.note) == ("boss", "窗口已办结")
        waiting = [row.kind for row in s.scalars(select(OutboxRow)
                                                 .where(OutboxRow.conversation_id == conv))]
    assert waiting == ["returned"]  # the command line has no bot to hand it back to

    returns = ReturnRecorder()
    gateway = ctx.replace(on_returned=returns)
    assert outbox.drain(gateway) == 1
    assert returns.calls == [Returned(conv, ticket_id, "unresolved")]
    assert outbox.drain(gateway) == 0 and len(returns.calls) == 1
    assert outbox.pending(ctx) == 0

    again = CliRunner().invoke(app, ["close", ticket_id])
    assert again.exit_code == 1  # already closed
    assert count_events(ctx.engine, "ticket_resolved", ticket_id) == 0


# --- changes that do not close ------------------------------------------------------------------

def _history(ctx, ticket_id):
    with session_scope(ctx.engine) as s:
        return [(t.from_status, t.to_status, t.actor) for t in s.scalars(
            select(Transition).where(Transition.subject_id == ticket_id)
            .order_by(Transition.pk))]


def _listen(r, conv):
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(relay.relay_channel(conv))
    pubsub.get_message(timeout=1)
    return pubsub


def _heard(pubsub):
    out = []
    while (m := pubsub.get_message(timeout=0.5)) is not None:
        out.append(json.loads(m["data"]))
    pubsub.close()
    return out


def test_sweep_requeue_goes_through_the_transition(hooked, returns, r):
    import time

    c = hooked.replace(config=hooked.config.replace(heartbeat_ttl_s=0.3))
    a = on_duty(c, "ha")
    receipt = request_handoff(req(conversation_id="conv-sweep"), ctx=c)
    claims.claim_next_ticket(a, ctx=c)
    relay.send_helper_message(receipt.ticket_id, a, "您好", ctx=c)
    listening = _listen(r, "conv-sweep")
    time.sleep(0.5)
    assert duty.sweep_gone_helpers(ctx=c) == [receipt.ticket_id]

    assert count_events(c.engine, "ticket_requeued", receipt.ticket_id) == 1
    assert _history(c, receipt.ticket_id)[-1] == ("in_conversation", "queued", "system")
    assert outbox.pending(c) == 0
    high = queue.queue_key("online_helper", CROSS, True)
    assert [f["ticket_id"] for _id, f in r.xrange(high)] == [receipt.ticket_id]
    assert r.get(queue.mode_key("conv-sweep")) == f"waiting|{receipt.ticket_id}"
    with session_scope(c.engine) as s:
        t = s.get(Ticket, receipt.ticket_id)
        assert (t.status, t.helper, t.priority) == ("queued", None, 1)
        assert s.get(ConversationMode, "conv-sweep").mode == "waiting"
    assert _heard(listening) == [{"type": "requeued", "ticket_id": receipt.ticket_id}]
    assert returns.calls == []  # not closed: nothing handed back


def test_transfer_goes_through_the_transition(hooked, returns, r):
    a = on_duty(hooked, "ha")
    receipt = request_handoff(req(conversation_id="conv-transfer"), ctx=hooked)
    claims.claim_next_ticket(a, ctx=hooked)
    listening = _listen(r, "conv-transfer")
    transfer.transfer_ticket(receipt.ticket_id, a, TAX, "发票问题", ctx=hooked)

    assert count_events(hooked.engine, "ticket_transferred", receipt.ticket_id) == 1
    assert _history(hooked, receipt.ticket_id)[-1] == ("claimed", "transferred", "ha")
    assert outbox.pending(hooked) == 0
    assert [f["ticket_id"] for _id, f in r.xrange(queue.queue_key("online_helper", TAX, True))] \
        == [receipt.ticket_id]
    assert r.xlen(queue.queue_key("online_helper", CROSS, False)) == 0  # the old entry is gone
    assert r.get(queue.mode_key("conv-transfer")) == f"waiting|{receipt.ticket_id}"
    with session_scope(hooked.engine) as s:
        assert s.get(ConversationMode, "conv-transfer").mode == "waiting"
    heard = _heard(listening)
    assert {"type": "transferred", "ticket_id": receipt.ticket_id, "department": TAX} in heard
    assert returns.calls == []
    tax = on_duty(hooked, "tax", depts=(TAX,))
    assert claims.claim_next_ticket(tax, ctx=hooked).id == receipt.ticket_id

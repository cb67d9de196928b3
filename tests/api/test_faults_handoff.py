"""Faults during a handoff: a helper's connection dropping mid-message, the 12345 adapter timing
out or failing. Nothing may be lost or repeated: each message is one row of the record and
reaches the user once; each hotline ticket keeps one call, retried by the existing rules.

The gateway restarting mid-handoff (claimed, in conversation, and waiting after Redis lost
everything) is tests/api/test_restart.py.
"""
from __future__ import annotations

import dataclasses
import json
import socket
import struct
import threading
import time
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from handoff import call_adapters, call_signing, calls, queue, relay, views
from handoff.requests import request_handoff
from handoff.store import Call, Ticket, Transition
from tests.api.support import SAME_ORIGIN, handoff_request, stored_messages
from tests.api.test_restart import browser, hand_off, live_lines, staff, user_socket
from xiaobao.db import session_scope
from xiaobao.events import Event, EventKind

# A working attempt reports "ringing" well within it, even on a busy machine.
ADAPTER_TIMEOUT_S = 1.0


# --- a helper's connection drops mid-message ----------------------------------------------------

def raw_request(gateway, helper: httpx.Client, ticket_id: str, text: str,
                message_id: str) -> tuple[bytes, bytes]:
    """The console's POST of one message as bytes on the wire: (head, body)."""
    body = json.dumps({"text": text, "message_id": message_id}, ensure_ascii=False).encode()
    cookies = "; ".join(f"{name}={value}" for name, value in helper.cookies.items())
    head = (f"POST /api/helper/tickets/{ticket_id}/messages HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{gateway.port}\r\nOrigin: {gateway.base}\r\n"
            f"Cookie: {cookies}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head, body


def open_socket(gateway) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=5)


def drop(sock: socket.socket) -> None:
    """Close with a reset, as a lost network does: nothing more is read or acknowledged."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def rows_with(engine, conversation_id: str, message_id: str) -> int:
    return sum(1 for m in stored_messages(engine, conversation_id) if m.client_id == message_id)


def wait_until(predicate, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def resend(helper: httpx.Client, ticket_id: str, text: str, message_id: str) -> dict:
    """The console again, on a new connection, with the same message id."""
    response = helper.post(f"/api/helper/tickets/{ticket_id}/messages",
                           json={"text": text, "message_id": message_id})
    assert response.status_code == 200, response.text
    return response.json()["message"]


def test_a_dropped_helper_connection_loses_and_repeats_nothing(gateway_process, rasa):
    gateway = gateway_process
    gateway.start()
    user = browser(gateway)
    conversation_id = gateway.conversation_of(user)
    ticket_id = hand_off(gateway, user)
    ann = staff(gateway, "ann")
    assert ann.post("/api/helper/claim", json={}).json()["ticket"]["id"] == ticket_id
    sent: list[str] = []
    with user_socket(gateway, user) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "state"  # subscribed from here on

        # 1. The request arrives whole; the connection drops before the ack is read (the first
        # response: it also moves the ticket to in_conversation).
        text, mid = "您好，我是帮办人员小安。", uuid.uuid4().hex
        sock = open_socket(gateway)
        head, body = raw_request(gateway, ann, ticket_id, text, mid)
        sock.sendall(head + body)
        wait_until(lambda: rows_with(gateway.engine, conversation_id, mid))
        drop(sock)
        saved = next(m for m in stored_messages(gateway.engine, conversation_id)
                     if m.client_id == mid)
        again = resend(ann, ticket_id, text, mid)
        assert again["pk"] == saved.pk and again["message_id"] == mid
        sent.append(text)

        # 2. The connection drops in the middle of the request body: nothing is written.
        text, mid = "请准备身份证原件和经营场所证明。", uuid.uuid4().hex
        sock = open_socket(gateway)
        head, body = raw_request(gateway, ann, ticket_id, text, mid)
        sock.sendall(head + body[: len(body) // 2])
        time.sleep(0.3)
        drop(sock)
        time.sleep(0.3)
        assert rows_with(gateway.engine, conversation_id, mid) == 0
        resend(ann, ticket_id, text, mid)
        sent.append(text)

        # 3. Sent whole and dropped at once: the gateway may or may not have read it; the
        # resend makes it exactly once either way.
        text, mid = "材料齐全的话当天就能办好。", uuid.uuid4().hex
        sock = open_socket(gateway)
        head, body = raw_request(gateway, ann, ticket_id, text, mid)
        sock.sendall(head + body)
        drop(sock)
        resend(ann, ticket_id, text, mid)
        resend(ann, ticket_id, text, mid)  # and a double click on top
        sent.append(text)

        last = "还有其他问题吗？"
        resend(ann, ticket_id, last, uuid.uuid4().hex)
        sent.append(last)
        pushed: list[str] = []
        while last not in pushed:
            frame = json.loads(ws.recv(timeout=10))
            if frame["type"] == "message":
                pushed.append(frame["message"]["text"])
    assert pushed == sent  # the user got each message once, in order
    helper_rows = [m.text for m in stored_messages(gateway.engine, conversation_id)
                   if m.role == "helper"]
    assert helper_rows == sent  # and the record holds each once
    assert live_lines(ann, ticket_id) == [("helper", t) for t in sent]
    assert rasa.received == []  # nothing went to the bot meanwhile


# --- the 12345 adapter times out or fails -------------------------------------------------------

@pytest.fixture
def settings(settings, open_hours_config):
    """The centre open around the clock, and a short adapter timeout."""
    return settings.model_copy(update={"handoff_config": open_hours_config,
                                       "call_adapter_timeout_s": ADAPTER_TIMEOUT_S})


def with_retry_delay(ctx, seconds: float):
    return ctx.replace(config=ctx.config.replace(
        calls=dataclasses.replace(ctx.config.calls, retry_delay_s=seconds)))


def hotline(ctx, phone: str = "13812345678") -> tuple[str, str]:
    """A 12345 call-back request, as the bot's form makes it: (ticket id, call id)."""
    receipt = request_handoff(handoff_request(f"conv-{uuid.uuid4().hex[:8]}",
                                              channel="hotline_12345", phone=phone), ctx=ctx)
    assert receipt.call_id
    return receipt.ticket_id, receipt.call_id


@dataclasses.dataclass
class FlakyAdapter:
    """Per attempt: ``"hang"`` (no answer until released), ``"raise"``, ``"ring-then-hang"``
    (the provider dialled and reported, but its answer to us is lost), or the simulator's
    statuses, played at once through the real call-back handler. Calls in ``refused`` raise
    whatever the attempt."""

    ctx: object
    secret: str
    script: dict[int, object]
    refused: frozenset[str] = frozenset()
    released: threading.Event = dataclasses.field(default_factory=threading.Event)
    dialled: list[tuple[str, int]] = dataclasses.field(default_factory=list)

    def start_call(self, call: call_adapters.CallInfo, ticket_phone: str) -> str:
        self.dialled.append((call.id, call.attempts))
        step = self.script[call.attempts]
        if step == "raise" or call.id in self.refused:
            raise ConnectionError("CTI gateway refused the connection")
        if step in ("hang", "ring-then-hang"):
            if step == "ring-then-hang":
                body = json.dumps({"call_id": call.id, "status": "ringing"}).encode()
                self._deliver(body, call_signing.sign(body, secret=self.secret))
            self.released.wait(30)
            return "too-late"
        sim = call_adapters.SimulatorAdapter(deliver=self._deliver, script={call.attempts: step},
                                     secret=self.secret, autoplay=True)
        return sim.start_call(call, ticket_phone)

    def _deliver(self, body: bytes, headers: dict[str, str]) -> object:
        return calls.handle_callback(body, headers, ctx=self.ctx, secret=self.secret)


def call_transitions(engine, call_id: str) -> list[str]:
    with session_scope(engine) as s:
        return list(s.scalars(select(Transition.to_status).where(Transition.subject_id == call_id)
                              .order_by(Transition.pk)))


def call_events(engine, ticket_id: str) -> list[dict]:
    with session_scope(engine) as s:
        return [dict(e.data or {}) for e in s.scalars(
            select(Event).where(Event.ticket_id == ticket_id,
                                Event.kind == EventKind.CALL_STATUS).order_by(Event.pk))]


def one_ticket_one_call(ctx, ticket_id: str) -> None:
    with session_scope(ctx.engine) as s:
        conversation_id = s.get(Ticket, ticket_id).conversation_id
        assert s.scalar(select(func.count()).select_from(Ticket)
                        .where(Ticket.conversation_id == conversation_id)) == 1
        assert s.scalar(select(func.count()).select_from(Call)
                        .where(Call.ticket_id == ticket_id)) == 1


def test_the_timer_retries_a_dial_that_timed_out(redis_client, settings, rasa):
    assert settings.call_adapter_timeout_s == ADAPTER_TIMEOUT_S
    timed = create_app(settings.model_copy(update={
        "background_jobs": True, "due_calls_interval_s": 0.2, "outbox_interval_s": 0.2,
        "sweep_interval_s": 0.2}))
    services = timed.state.services
    # Before the jobs are built; long enough to look at the ticket between the attempts.
    services.handoff = with_retry_delay(services.handoff, 1.5)
    ctx = services.handoff
    assert ctx.call_adapter_timeout_s == ADAPTER_TIMEOUT_S
    adapter = FlakyAdapter(ctx=ctx, secret=settings.call_callback_secret, script={
        1: "hang", 2: ["ringing", "answered", "three_way_connected", "completed"]})
    timed.state.call_adapter = adapter
    try:
        with TestClient(timed, headers=SAME_ORIGIN):
            ticket_id, call_id = hotline(ctx)  # nobody calls start_call: the timer does
            retried = wait_until(lambda: (c := calls.get_call(call_id, ctx=ctx)).status
                                 == "scheduled" and c.attempts == 1 and c)
            # Between the attempts the ticket waits in its queue, once.
            assert views.queue_status(ticket_id, ctx=ctx).status == "queued"
            stream = ctx.redis.hget(queue.ticket_key(ticket_id), "stream")
            assert [f["ticket_id"] for _id, f in ctx.redis.xrange(stream)] == [ticket_id]
            # (the provider's id is saved when start_call returns, after its call-backs)
            done = wait_until(lambda: (c := calls.get_call(call_id, ctx=ctx)).status
                              == "completed" and c.external_id and c)
    finally:
        adapter.released.set()
    assert retried.scheduled_for is not None
    assert (done.attempts, done.external_id) == (2, f"sim-{call_id[:8]}-2")
    assert adapter.dialled == [(call_id, 1), (call_id, 2)]
    assert call_transitions(ctx.engine, call_id) == [
        "requested", "scheduled", "dialling", "scheduled", "dialling", "ringing", "answered",
        "three_way_connected", "completed"]
    with session_scope(ctx.engine) as s:
        assert s.get(Ticket, ticket_id).status == "resolved"
        note = s.scalars(select(Transition.note).where(Transition.subject_id == call_id,
                                                       Transition.to_status == "scheduled")
                         .order_by(Transition.pk.desc())).first()
    assert "timeout" in note
    one_ticket_one_call(ctx, ticket_id)
    timed_out = [e for e in call_events(ctx.engine, ticket_id) if e.get("dial_error")]
    assert timed_out == [{"status": "scheduled", "attempts": 1, "dial_error": "timeout"}]


def test_an_adapter_failing_every_attempt_fails_the_call_and_hands_back(client, ctx, rasa):
    ctx = with_retry_delay(ctx, 0)
    ticket_id, call_id = hotline(ctx)
    adapter = FlakyAdapter(ctx=ctx, secret="unused", script={1: "raise", 2: "raise"})
    with pytest.raises(calls.DialFailed):
        calls.start_call(call_id, adapter, ctx=ctx)
    info = calls.get_call(call_id, ctx=ctx)
    assert (info.status, info.attempts) == ("scheduled", 1)
    assert views.queue_status(ticket_id, ctx=ctx).status == "queued"

    assert calls.start_due_calls(adapter, ctx=ctx) == []  # dialled, and failed again
    info = calls.get_call(call_id, ctx=ctx)
    assert (info.status, info.attempts) == ("failed", 2)
    assert calls.start_due_calls(adapter, ctx=ctx) == []  # nothing left to dial
    assert adapter.dialled == [(call_id, 1), (call_id, 2)]
    with session_scope(ctx.engine) as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket.status == "unresolved"
        conversation_id = ticket.conversation_id
    assert relay.get_mode(conversation_id, ctx=ctx).mode == "bot"  # handed back to the bot
    assert [e for e in call_events(ctx.engine, ticket_id) if e.get("dial_error")] == [
        {"status": "scheduled", "attempts": 1, "dial_error": "ConnectionError"},
        {"status": "failed", "attempts": 2, "dial_error": "ConnectionError"}]
    one_ticket_one_call(ctx, ticket_id)


def test_one_failing_dial_does_not_hold_up_the_other_due_calls(client, ctx, settings, rasa):
    ctx = with_retry_delay(ctx, 60)
    failing_ticket, failing = hotline(ctx, phone="13812345678")
    _, working = hotline(ctx, phone="13912345678")
    adapter = FlakyAdapter(ctx=ctx, secret=settings.call_callback_secret,
                           script={1: ["ringing"]}, refused=frozenset({failing}))
    assert calls.start_due_calls(adapter, ctx=ctx) == [working]
    assert {c for c, _attempt in adapter.dialled} == {failing, working}
    assert calls.get_call(working, ctx=ctx).status == "ringing"
    info = calls.get_call(failing, ctx=ctx)
    assert (info.status, info.attempts) == ("scheduled", 1)
    assert calls.start_due_calls(adapter, ctx=ctx) == []  # the retry waits its 60 s
    one_ticket_one_call(ctx, failing_ticket)


def test_call_backs_that_beat_the_timeout_win(client, ctx, settings, rasa):
    """The provider dialled and reported ``ringing``, then its answer to us got lost: the call
    goes on and is not dialled a second time."""
    ctx = with_retry_delay(ctx, 0)
    ticket_id, call_id = hotline(ctx)
    adapter = FlakyAdapter(ctx=ctx, secret=settings.call_callback_secret,
                           script={1: "ring-then-hang"})
    try:
        info = calls.start_call(call_id, adapter, ctx=ctx)
        assert (info.status, info.attempts) == ("ringing", 1)
        assert calls.start_due_calls(adapter, ctx=ctx) == []
    finally:
        adapter.released.set()
    assert adapter.dialled == [(call_id, 1)]
    assert not [e for e in call_events(ctx.engine, ticket_id) if e.get("dial_error")]
    assert call_transitions(ctx.engine, call_id) == ["requested", "scheduled", "dialling",
                                                     "ringing"]

"""One 好差评 question per closed ticket, whichever path closed it, however often its hand-back
is delivered (issue 21; handoff/rating_prompt.py, api.conversation.return_to_bot).

Every path that closes a ticket, each to the end: the record holds the question exactly once
per closed ticket, Rasa was asked to say it exactly once per ticket, and the hand-back
delivered again — by the outbox's timer, by a user's message retrying it at once, by a second
gateway at the same moment, after a gateway died midway — says nothing twice.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api import conversation
from handoff import call_adapters, calls, closing, outbox, rating_prompt
from handoff.config import CallSettings
from handoff.context import Returned
from handoff.requests import request_handoff
from handoff.store import Call, Ticket
from tests.api.support import (
    DEPT,
    OTHER,
    RATING_QUESTION,
    SAME_ORIGIN,
    expire_outbox_claims,
    hand_off,
    handoff_request,
    stored_messages,
)
from tests.api.test_conversation import (
    OPEN,
    Gateway,
    _claimed_and_answered,
    by_completed_12345_call,
    by_helper_resolve,
    by_helper_unresolve,
    by_leaving_a_message_while_waiting,
    by_the_command_line,
    gateway,  # noqa: F401  (the fixture)
)
from xiaobao.clock import utcnow
from xiaobao.db import session_scope


def staff_of(g: Gateway, make_account, username: str, *, roles=("helper",),
             departments=(DEPT,)) -> TestClient:
    password = make_account(username, roles=list(roles), departments=list(departments))
    staff = TestClient(g.user.app, headers=SAME_ORIGIN)
    assert staff.post("/api/auth/login", json={"username": username, "password": password}
                      ).status_code == 200
    staff.post("/api/helper/status", json={"status": "on_duty"})
    return staff


def _call_back(g: Gateway, script: dict[int, list[str]]) -> call_adapters.SimulatorAdapter:
    secret = g.services.settings.call_callback_secret

    def deliver(body: bytes, headers: dict[str, str]):  # the provider's signed call-backs
        return g.user.post("/api/calls/callback", content=body,
                           headers={**headers, "Content-Type": "application/json"})

    return call_adapters.SimulatorAdapter(deliver=deliver, script=script, secret=secret)


def _hotline(g: Gateway):
    return request_handoff(handoff_request(g.conversation_id, channel="hotline_12345",
                                           time_window="今天上午"), ctx=g.services.handoff)


# --- the paths: each closes its tickets and returns their ids ------------------------------

def by_a_helper_resolving(g: Gateway, make_account) -> list[str]:
    return [by_helper_resolve(g)[0]]


def by_a_helper_marking_unresolved(g: Gateway, make_account) -> list[str]:
    return [by_helper_unresolve(g)[0]]


def by_a_leader_closing_a_helpers_ticket(g: Gateway, make_account) -> list[str]:
    ticket_id = _claimed_and_answered(g)  # ann's
    lead = staff_of(g, make_account, "lead", roles=("leader",))
    closed = lead.post(f"/api/helper/tickets/{ticket_id}/resolve", json={"note": "领导办结"})
    assert closed.status_code == 200, closed.text
    lead.close()
    return [ticket_id]


def by_a_transfer_then_the_other_department_closing(g: Gateway, make_account) -> list[str]:
    ticket_id = _claimed_and_answered(g)
    moved = g.staff.post(f"/api/helper/tickets/{ticket_id}/transfer",
                         json={"department": OTHER, "note": "属贵部门业务"})
    assert moved.status_code == 200 and moved.json()["ticket"]["status"] == "transferred"
    assert stored_messages(g.services.engine, g.conversation_id)[-1].text != RATING_QUESTION
    bob = staff_of(g, make_account, "bob", departments=(OTHER,))
    assert bob.post("/api/helper/claim", json={}).json()["ticket"]["id"] == ticket_id
    assert bob.post(f"/api/helper/tickets/{ticket_id}/messages", json={"text": "您好"}
                    ).status_code == 200
    assert bob.post(f"/api/helper/tickets/{ticket_id}/resolve", json={}).status_code == 200
    bob.close()
    return [ticket_id]


def by_the_user_leaving_a_message_instead_of_waiting(g: Gateway, make_account) -> list[str]:
    return [by_leaving_a_message_while_waiting(g)[0]]


def by_a_completed_12345_call(g: Gateway, make_account) -> list[str]:
    return [by_completed_12345_call(g)[0]]


def by_a_failed_12345_call(g: Gateway, make_account) -> list[str]:
    receipt = _hotline(g)
    sim = _call_back(g, {1: ["ringing", "failed"]})
    calls.start_call(receipt.call_id, sim, ctx=g.services.handoff, now=OPEN)
    assert [r.status_code for r in sim.play()] == [200, 200]
    assert calls.get_call(receipt.call_id, ctx=g.services.handoff).status == "failed"
    return [receipt.ticket_id]


def by_a_stuck_dial_settled_as_failed(g: Gateway, make_account) -> list[str]:
    """The gateway died during the dial: the sweep gives the last attempt up (the timeout)."""
    ctx = g.services.handoff
    ctx = ctx.replace(config=ctx.config.replace(calls=CallSettings(
        max_attempts=1, retry_delay_s=0, callback_max_age_s=300)))
    receipt = _hotline(g)
    sim = _call_back(g, {1: []})  # never heard of again
    calls.start_call(receipt.call_id, sim, ctx=ctx, now=OPEN)
    with session_scope(ctx.engine) as s:
        s.execute(update(Call).where(Call.id == receipt.call_id).values(
            updated_at=utcnow() - dt.timedelta(seconds=ctx.config.calls.dial_timeout_s + 60)))
    assert calls.settle_stuck_dials(sim, ctx=ctx) == [receipt.call_id]
    assert calls.get_call(receipt.call_id, ctx=ctx).status == "failed"
    return [receipt.ticket_id]


def by_the_command_line_closing(g: Gateway, make_account) -> list[str]:
    return [by_the_command_line(g)[0]]


def by_the_user_ending_the_chat_then_the_helper_resolving(g: Gateway, make_account
                                                          ) -> list[str]:
    """结束会话 leaves an open ticket open (the record keeps it); its close still asks once, in
    the old conversation's record (the browser has a new one)."""
    ticket_id = _claimed_and_answered(g)
    assert g.user.post("/api/chat/end", json={}).json()["ended"] is True
    assert g.staff.post(f"/api/helper/tickets/{ticket_id}/resolve", json={}).status_code == 200
    return [ticket_id]


def by_a_message_left_answered_and_called_back(g: Gateway, make_account) -> list[str]:
    """Two tickets: the one the 留言 abandoned, and the 12345 call-back asked from its answer."""
    waited = hand_off(g.user)
    left = g.user.post("/api/chat/leave-message",
                       json={"text": "不等了，请回电说明食品经营许可", "phone": "13812345678"})
    assert left.status_code == 201, left.text
    message_id = left.json()["message"]["id"]
    answered = g.staff.post(f"/api/helper/left-messages/{message_id}/answer",
                            json={"answer": "请携带营业执照到窗口办理。"})
    assert answered.status_code == 200, answered.text
    booked = g.user.post(f"/api/chat/left-messages/{message_id}/callback")
    assert booked.status_code == 201, booked.text
    with session_scope(g.services.engine) as s:
        call = s.query(Call).filter(Call.ticket_id != waited).one()
        call_id, call_ticket = call.id, call.ticket_id
    sim = _call_back(g, {1: ["ringing", "answered", "three_way_connected", "completed"]})
    calls.start_call(call_id, sim, ctx=g.services.handoff, now=OPEN)
    assert [r.status_code for r in sim.play()] == [200] * 4
    return [waited, call_ticket]


CLOSING_PATHS: list[Callable[..., list[str]]] = [
    by_a_helper_resolving, by_a_helper_marking_unresolved, by_a_leader_closing_a_helpers_ticket,
    by_a_transfer_then_the_other_department_closing,
    by_the_user_leaving_a_message_instead_of_waiting, by_a_completed_12345_call,
    by_a_failed_12345_call, by_a_stuck_dial_settled_as_failed, by_the_command_line_closing,
    by_the_user_ending_the_chat_then_the_helper_resolving,
    by_a_message_left_answered_and_called_back]


def questions_in_record(g: Gateway, conversation_id: str) -> int:
    return sum(1 for m in stored_messages(g.services.engine, conversation_id)
               if m.role == "bot" and m.text == RATING_QUESTION)


def asks_of_rasa(g: Gateway, conversation_id: str) -> int:
    return sum(1 for path, body in g.rasa.api_calls
               if path.endswith("/execute") and conversation_id in path
               and body.get("name") == "utter_ask_rating")


def closed_status(g: Gateway, ticket_id: str) -> tuple[str, bool]:
    with session_scope(g.services.engine) as s:
        t = s.get(Ticket, ticket_id)
        return t.status, t.rating_prompted_at is not None


@pytest.mark.parametrize("close", CLOSING_PATHS, ids=lambda f: f.__name__)
def test_one_rating_question_per_closed_ticket_on_every_path(gateway, make_account,  # noqa: F811
                                                              close):
    g = gateway
    conversation_id = g.conversation_id  # kept: 结束会话 gives the browser a new one
    tickets = close(g, make_account)
    n = len(tickets)
    for ticket_id in tickets:
        status, asked = closed_status(g, ticket_id)
        assert status in ("resolved", "unresolved", "abandoned") and asked
    assert outbox.pending(g.services.handoff, conversation_id, kind=outbox.RETURNED) == 0
    assert questions_in_record(g, conversation_id) == n
    assert asks_of_rasa(g, conversation_id) == n

    # Delivered again, every way a hand-back can come twice: nothing more is said.
    hook = g.services.handoff.on_returned
    for ticket_id in tickets:
        status, _ = closed_status(g, ticket_id)
        assert hook(Returned(conversation_id, ticket_id, status)) is True
        assert hook(Returned(conversation_id, ticket_id, status)) is True
    expire_outbox_claims(g.services.engine)
    outbox.drain(g.services.handoff)
    outbox.drain(g.services.handoff, conversation_id=conversation_id, retry_now=True)
    assert questions_in_record(g, conversation_id) == n
    assert asks_of_rasa(g, conversation_id) == n


def test_two_gateways_handing_back_at_once_ask_once(gateway, monkeypatch):  # noqa: F811
    g = gateway
    ticket_id = _claimed_and_answered(g)
    real = conversation.rasa_client.resume
    entered = threading.Event()

    def slow(*args, **kwargs):
        entered.set()
        time.sleep(0.5)  # the other delivery arrives meanwhile
        return real(*args, **kwargs)

    # Closed without the hand-back (as the command line does), then delivered twice at once.
    ctx = g.services.handoff.replace(on_returned=None)
    closing.close_ticket(ticket_id, "resolved", ctx=ctx, actor="ann", note="已解答")
    monkeypatch.setattr(conversation.rasa_client, "resume", slow)
    returned = Returned(g.conversation_id, ticket_id, "resolved")
    results: list[bool] = []
    first = threading.Thread(target=lambda: results.append(
        conversation.return_to_bot(g.services, returned)))
    first.start()
    assert entered.wait(5)
    second = conversation.return_to_bot(g.services, returned)  # while the first is asking
    first.join(10)
    assert second is False and results == [True]  # the second waits for the first …
    assert conversation.return_to_bot(g.services, returned) is True  # … then finds it done
    assert questions_in_record(g, g.conversation_id) == 1
    assert asks_of_rasa(g, g.conversation_id) == 1


def test_a_hand_back_that_died_midway_is_asked_once_its_lease_runs_out(gateway):  # noqa: F811
    g = gateway
    ticket_id = _claimed_and_answered(g)
    closing.close_ticket(ticket_id, "resolved", actor="ann", note="已解答",
                         ctx=g.services.handoff.replace(on_returned=None))
    # A gateway took the asking and died before the question was recorded.
    assert rating_prompt.claim(ticket_id, ctx=g.services.handoff) == rating_prompt.ASK
    returned = Returned(g.conversation_id, ticket_id, "resolved")
    assert conversation.return_to_bot(g.services, returned) is False  # its lease holds
    assert questions_in_record(g, g.conversation_id) == 0
    with session_scope(g.services.engine) as s:
        s.execute(update(Ticket).where(Ticket.id == ticket_id).values(
            rating_prompt_claimed_at=utcnow() - dt.timedelta(seconds=rating_prompt.LEASE_S + 1)))
    assert conversation.return_to_bot(g.services, returned) is True
    assert conversation.return_to_bot(g.services, returned) is True
    assert questions_in_record(g, g.conversation_id) == 1
    assert rating_prompt.asked(ticket_id, ctx=g.services.handoff)


def test_a_bot_that_cannot_be_reached_gives_the_asking_back(gateway):  # noqa: F811
    g = gateway
    ticket_id = _claimed_and_answered(g)
    g.rasa.status = 500
    assert g.staff.post(f"/api/helper/tickets/{ticket_id}/resolve", json={}
                        ).json()["bot_resumed"] is False
    assert not rating_prompt.asked(ticket_id, ctx=g.services.handoff)
    # Not held: the next delivery may ask at once (it does not wait out a lease).
    assert rating_prompt.claim(ticket_id, ctx=g.services.handoff) == rating_prompt.ASK
    rating_prompt.release(ticket_id, ctx=g.services.handoff)
    g.rasa.status = 200
    expire_outbox_claims(g.services.engine)
    outbox.drain(g.services.handoff)
    assert questions_in_record(g, g.conversation_id) == 1
    assert rating_prompt.asked(ticket_id, ctx=g.services.handoff)

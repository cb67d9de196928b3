"""The service-rate metrics on /metrics: the bot's decisions, handoffs and ratings counted from
what the custom actions return through the action endpoint, and queue waits observed when a
helper claims a ticket. Read from the process's registry before and after."""
from __future__ import annotations

import datetime as dt

from prometheus_client import REGISTRY
from rasa_sdk import Action
from rasa_sdk.events import SlotSet
from sqlalchemy import update

from api.metrics import bounded
from handoff.store import Ticket
from tests.api.routes.test_actions import action_call, token
from tests.api.support import DEPT, SAME_ORIGIN, hand_off
from xiaobao.db import session_scope


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def stand_in(action_name: str, *events):
    """An action registered under one of the bot's names that returns ``events``: what the
    endpoint counts is the slots an action set, whichever action set them."""

    class StandIn(Action):
        def name(self) -> str:
            return action_name

        def run(self, dispatcher, tracker, domain):
            return list(events)

    return StandIn


def test_decisions_handoffs_and_ratings_are_counted(client):
    executor = client.app.state.action_executor
    cases = [
        ("action_answer_question", [SlotSet("decision", "suggest")],
         "xiaobao_bot_decisions_total", {"decision": "suggest"}),
        ("action_answer_question", [SlotSet("decision", "made-up")],
         "xiaobao_bot_decisions_total", {"decision": "other"}),
        ("action_request_12345_call", [SlotSet("handoff_ticket_id", "t-1")],
         "xiaobao_handoffs_total", {"channel": "hotline_12345"}),
        ("action_handoff", [SlotSet("handoff_ticket_id", "t-2")],
         "xiaobao_handoffs_total", {"channel": "online_helper"}),
        ("action_record_rating", [SlotSet("rating", "基本满意")],
         "xiaobao_ratings_total", {"level": "基本满意"}),
    ]
    for action_name, events, metric, labels in cases:
        executor.register_action(stand_in(action_name, *events))
        before = sample(metric, **labels)
        response = client.post("/webhook", headers=token(client), json=action_call(action_name))
        assert response.status_code == 200, response.text
        assert sample(metric, **labels) == before + 1, (action_name, labels)
    # A failed handoff sets no ticket: nothing is counted.
    executor.register_action(stand_in("action_handoff", SlotSet("requested_slot", None)))
    before = sample("xiaobao_handoffs_total", channel="online_helper")
    client.post("/webhook", headers=token(client), json=action_call("action_handoff"))
    assert sample("xiaobao_handoffs_total", channel="online_helper") == before
    text = client.get("/metrics").text
    for name in ("xiaobao_bot_decisions_total", "xiaobao_handoffs_total",
                 "xiaobao_ratings_total"):
        assert name in text


def test_a_claim_observes_the_queue_wait(app, client, make_account, rasa):
    client.get("/")
    ticket_id = hand_off(client)
    with session_scope(app.state.services.engine) as s:
        s.execute(update(Ticket).where(Ticket.id == ticket_id).values(
            queued_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=45)))
    password = make_account("wendy", roles=["helper"], departments=[DEPT])
    helper = type(client)(app, headers=SAME_ORIGIN)
    assert helper.post("/api/auth/login", json={"username": "wendy", "password": password}
                       ).status_code == 200
    count = sample("xiaobao_queue_wait_seconds_count", channel="online_helper")
    total = sample("xiaobao_queue_wait_seconds_sum", channel="online_helper")
    under_30 = sample("xiaobao_queue_wait_seconds_bucket", channel="online_helper", le="30.0")
    assert helper.post(f"/api/helper/tickets/{ticket_id}/claim").status_code == 200
    helper.close()
    assert sample("xiaobao_queue_wait_seconds_count", channel="online_helper") == count + 1
    waited = sample("xiaobao_queue_wait_seconds_sum", channel="online_helper") - total
    assert 45 <= waited < 75
    assert sample("xiaobao_queue_wait_seconds_bucket", channel="online_helper",
                  le="30.0") == under_30  # 45 s is not under 30


def test_labels_stay_within_their_sets():
    assert bounded("非常满意", {"非常满意"}) == "非常满意"
    assert bounded("<script>", {"非常满意"}) == "other"

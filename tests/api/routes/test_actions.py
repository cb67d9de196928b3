"""Rasa's action endpoint, served in the gateway by rasa-sdk's executor.

The actions here are real rasa-sdk ``Action`` subclasses registered on the app's executor;
the bot's own actions (``bot.actions``) are tested in tests/bot.
"""
import pytest
from rasa_sdk import Action
from rasa_sdk.events import SlotSet
from rasa_sdk.interfaces import ActionExecutionRejection

from api.routes.actions import ACTION_TOKEN_HEADER


def token(client) -> dict:
    """What Rasa sends with every action call (endpoints.yml ``action_endpoint.headers``)."""
    return {ACTION_TOKEN_HEADER: client.app.state.settings.action_token}


class ActionEchoTest(Action):
    def name(self) -> str:
        return "action_echo_test"

    def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text=f"收到：{tracker.latest_message.get('text')}",
                                 buttons=[{"title": "转人工", "payload": "/request_human"}])
        return [SlotSet("last_question", tracker.latest_message.get("text"))]


class ActionRejectTest(Action):
    def name(self) -> str:
        return "action_reject_test"

    def run(self, dispatcher, tracker, domain):
        raise ActionExecutionRejection(self.name(), "does not apply")


class ActionBrokenTest(Action):
    def name(self) -> str:
        return "action_broken_test"

    def run(self, dispatcher, tracker, domain):
        raise RuntimeError("boom")


def action_call(name: str, text: str = "营业执照怎么办") -> dict:
    return {
        "next_action": name,
        "sender_id": "conv-1",
        "version": "3.6.21",
        "domain": {"intents": ["ask_question"], "entities": [], "slots": {}, "responses": {},
                   "actions": [name], "forms": {}},
        "tracker": {
            "sender_id": "conv-1", "slots": {}, "latest_message": {"text": text, "intent": {
                "name": "ask_question", "confidence": 0.9}, "entities": []},
            "events": [], "paused": False, "followup_action": None, "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def register(client):
    executor = client.app.state.action_executor
    for action in (ActionEchoTest, ActionRejectTest, ActionBrokenTest):
        executor.register_action(action)


def test_action_runs_and_returns_rasa_sdk_response(client):
    register(client)
    response = client.post("/webhook", headers=token(client), json=action_call("action_echo_test"))
    assert response.status_code == 200
    body = response.json()
    assert body["responses"][0]["text"] == "收到：营业执照怎么办"
    assert body["responses"][0]["buttons"] == [{"title": "转人工", "payload": "/request_human"}]
    assert body["events"][0]["event"] == "slot" and body["events"][0]["value"] == "营业执照怎么办"


def test_rejected_action_answers_400_with_action_name(client):
    register(client)
    response = client.post("/webhook", headers=token(client),
                           json=action_call("action_reject_test"))
    assert response.status_code == 400
    assert response.json()["action_name"] == "action_reject_test"


def test_unknown_action_answers_404(client):
    response = client.post("/webhook", headers=token(client),
                           json=action_call("action_does_not_exist"))
    assert response.status_code == 404
    assert response.json()["action_name"] == "action_does_not_exist"


def test_failing_action_answers_500_without_a_stack_trace(client):
    register(client)
    response = client.post("/webhook", headers=token(client),
                           json=action_call("action_broken_test"))
    assert response.status_code == 500
    assert "Traceback" not in response.text and "boom" not in response.text


def test_bad_body_answers_400(client):
    response = client.post("/webhook", content=b"not json",
                           headers={**token(client), "Content-Type": "application/json"})
    assert response.status_code == 400


def test_the_bot_actions_are_registered_built_with_the_apps_services(client, services):
    from bot.actions import ACTION_CLASSES

    names = {a["name"] for a in client.get("/webhook/actions", headers=token(client)).json()}
    executor = client.app.state.action_executor
    assert names == set(executor.actions)
    assert {cls(services).name() for cls in ACTION_CLASSES} == names
    # Each one holds this app's services (rasa-sdk keeps the bound ``run``).
    assert all(run.__self__.services is services for run in executor.actions.values())


def forged_12345_booking() -> dict:
    """The attack from the issue: a hand-written tracker asking for a call-back to an
    international number about a complaint."""
    call = action_call("action_request_12345_call", "我要投诉")
    call["tracker"]["slots"] = {"phone": "+882130000000", "time_window": "明天上午",
                                "handoff_topic": "投诉"}
    return call


@pytest.mark.parametrize("where", [
    {},
    {"headers": {ACTION_TOKEN_HEADER: ""}},
    {"headers": {ACTION_TOKEN_HEADER: "wrong"}},
    {"headers": {ACTION_TOKEN_HEADER: "xiaobao-dev-action-token-but-longer"}},
    {"headers": {"Authorization": "Bearer {right}"}},
    # The right token in the query string (where it used to travel, and access logs keep it).
    {"params": {"token": "{right}"}},
])
def test_the_public_gets_404_as_if_there_were_no_action_endpoint(client, services, where):
    right = client.app.state.settings.action_token
    where = {part: {k: v.replace("{right}", right) for k, v in values.items()}
             for part, values in where.items()}
    for method, path, kw in (("post", "/webhook", {"json": forged_12345_booking()}),
                             ("get", "/webhook/actions", {})):
        response = getattr(client, method)(path, **where, **kw)
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "not_found",
                                             "message": "找不到该地址 / Not found"}}
    from sqlalchemy import func, select

    from handoff.store import Ticket
    from xiaobao.db import session_scope

    with session_scope(services.engine) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0


def test_the_action_endpoint_is_not_in_the_openapi_document(app):
    assert not any(path.startswith("/webhook") for path in app.openapi()["paths"])

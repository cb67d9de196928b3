"""The gateway's services are built once, from the app's own settings (api/services.py).

Nothing the gateway runs — routes, timers, the bot's actions behind ``POST /webhook`` — reaches
for a global: an app started with its own database and handoff configuration writes there, and
two apps with different settings in one process keep their databases apart.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from api.routes.actions import ACTION_TOKEN_HEADER
from handoff import queue
from handoff.config import DEFAULT_PATH, load_config
from handoff.store import Ticket
from tests.api.support import SAME_ORIGIN
from xiaobao import db
from xiaobao import settings as settings_module
from xiaobao.db import session_scope

OWN_CENTRAL = "测试综合窗口"
OWN_MARKET = "测试市场监管局"
MARKET = "区市场监管局"


def token(client) -> dict:
    """What Rasa sends with every action call (endpoints.yml ``action_endpoint.headers``)."""
    return {ACTION_TOKEN_HEADER: client.app.state.settings.action_token}


@pytest.fixture
def default_home(tmp_path, monkeypatch) -> Path:
    """Where the global settings (``get_settings()``/``get_engine()``) would put the database:
    a directory of this test's own, so a stray global use shows up as a file there."""
    home = tmp_path / "default-home"
    monkeypatch.setenv("XIAOBAO_HOME", str(home))
    monkeypatch.delenv("XIAOBAO_DATABASE_URL", raising=False)
    settings_module.get_settings.cache_clear()
    db.get_engine.cache_clear()
    yield home
    settings_module.get_settings.cache_clear()
    db.get_engine.cache_clear()


@pytest.fixture
def own_config(tmp_path) -> Path:
    """A copy of the packaged handoff configuration with other department names."""
    raw = yaml.safe_load(DEFAULT_PATH.read_text("utf-8"))
    raw["central_department"] = OWN_CENTRAL
    raw["routing"] = {category: (OWN_MARKET if dept == MARKET else dept)
                      for category, dept in raw["routing"].items()}
    path = tmp_path / "own-handoff.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    return path


def market_category() -> str:
    return next(c for c, d in load_config().routing.items() if d == MARKET)


def handoff_action_call(sender: str, visitor_id: str, *, category: str = "") -> dict:
    """What Rasa posts to the action endpoint to run ``action_handoff`` for ``sender``."""
    candidates = [{"id": "kb-001", "question": "如何办理营业执照", "category": category,
                   "score": 0.42}] if category else []
    latest = {"text": "转人工", "intent": {"name": "request_human", "confidence": 0.99},
              "entities": [], "metadata": {"visitor_id": visitor_id}}
    return {
        "next_action": "action_handoff",
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {"intents": ["request_human"], "entities": [], "slots": {}, "responses": {},
                   "actions": ["action_handoff"], "forms": {}},
        "tracker": {
            "sender_id": sender,
            "slots": {"candidates": candidates, "last_question": "营业执照怎么办"},
            "latest_message": latest,
            "events": [
                {"event": "user", "text": "营业执照怎么办", "timestamp": time.time() - 5,
                 "parse_data": {"intent": {"name": "ask_question"}}},
                {"event": "bot", "text": "抱歉，没有找到答案。"},
                {"event": "user", "text": "转人工", "timestamp": time.time(),
                 "parse_data": latest, "metadata": {"visitor_id": visitor_id}},
            ],
            "paused": False, "followup_action": None, "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def run_handoff_action(client: TestClient, sender: str, visitor_id: str, **kw) -> str:
    response = client.post("/webhook", headers=token(client),
                           json=handoff_action_call(sender, visitor_id, **kw))
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert {"event": "pause", "timestamp": None} in events
    (ticket_id,) = [e["value"] for e in events
                    if e["event"] == "slot" and e["name"] == "handoff_ticket_id"]
    assert ticket_id and ticket_id in response.json()["responses"][0]["text"]
    return ticket_id


def tickets_in(engine) -> dict[str, tuple[str, str, str]]:
    """ticket id -> (conversation, department, visitor) of every ticket in that database."""
    with session_scope(engine) as s:
        return {t.id: (t.conversation_id, t.department, t.visitor_id)
                for t in s.scalars(select(Ticket))}


def test_the_handoff_action_writes_to_the_apps_own_database_and_config(
        tmp_path, settings, redis_client, default_home, own_config):
    own_db = tmp_path / "own" / "gateway.db"
    own_db.parent.mkdir()
    own = settings.model_copy(update={"database_url": f"sqlite:///{own_db}",
                                      "handoff_config": own_config,
                                      "home": tmp_path / "own-home"})
    app = create_app(own)
    services = app.state.services
    assert services.settings is own and services.config.central_department == OWN_CENTRAL
    assert str(services.engine.url) == f"sqlite:///{own_db}"

    with TestClient(app, headers=SAME_ORIGIN) as client:
        assert services.handoff.engine is services.engine  # one engine for every caller
        routed = run_handoff_action(client, "conv-routed", "visitor-routed",
                                    category=market_category())
        central = run_handoff_action(client, "conv-central", "visitor-central")

    assert tickets_in(services.engine) == {
        routed: ("conv-routed", OWN_MARKET, "visitor-routed"),
        central: ("conv-central", OWN_CENTRAL, "visitor-central")}
    # Straight to the department's stream in the app's Redis (there is no intake stream).
    stream = redis_client.xrange(queue.queue_key("online_helper", OWN_MARKET, False))
    assert [fields["ticket_id"] for _id, fields in stream] == [routed]
    # Nothing went to the database the global settings name, nor under the app's home.
    assert not default_home.exists()
    assert not (tmp_path / "own-home" / "xiaobao.db").exists()


def test_two_apps_with_different_settings_in_one_process_keep_separate_databases(
        tmp_path, settings, redis_url, redis_client, default_home, own_config, rasa):
    first = create_app(settings.model_copy(update={
        "home": tmp_path / "first", "handoff_config": own_config}))
    second_redis = redis_url.rsplit("/", 1)[0] + "/1"  # another Redis database too
    second = create_app(settings.model_copy(update={
        "home": tmp_path / "second", "redis_url": second_redis}))
    a, b = first.state.services, second.state.services
    assert a.engine is not b.engine and a.handoff is not b.handoff

    with TestClient(first, headers=SAME_ORIGIN) as one, \
            TestClient(second, headers=SAME_ORIGIN) as two:
        mine = run_handoff_action(one, "conv-1", "visitor-1")
        theirs = run_handoff_action(two, "conv-2", "visitor-2")
        # Each gateway's chat reads its own record.
        one.post("/api/chat/messages", json={"text": "第一个网关"})
        two.post("/api/chat/messages", json={"text": "第二个网关"})
        assert [m["text"] for m in one.get("/api/chat/history").json()["messages"]][0] == \
            "第一个网关"
        assert [m["text"] for m in two.get("/api/chat/history").json()["messages"]][0] == \
            "第二个网关"
        assert (tmp_path / "first" / "xiaobao.db").exists()
        assert (tmp_path / "second" / "xiaobao.db").exists()

    assert tickets_in(a.engine) == {mine: ("conv-1", OWN_CENTRAL, "visitor-1")}
    assert tickets_in(b.engine) == {theirs: ("conv-2", "综合窗口", "visitor-2")}
    assert redis_client.exists(queue.queue_key("online_helper", OWN_CENTRAL, False))
    second_client = redis.Redis.from_url(second_redis, decode_responses=True)
    try:
        assert second_client.xlen(queue.queue_key("online_helper", "综合窗口", False)) == 1
        assert not second_client.exists(queue.queue_key("online_helper", OWN_CENTRAL, False))
    finally:
        second_client.close()
    assert not default_home.exists()

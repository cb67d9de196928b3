"""Abuse limits at the gateway (xiaobao/limits.py, wired in api/): real Redis, the real defaults.

Each limit admits up to its default and then answers 429 with ``Retry-After`` and a Chinese
message; the client's address is the socket's unless a trusted proxy header is configured; the
console login slows a guesser down without locking the helper out; argon2 checks are bounded;
a limiter without Redis lets the chat answer; no Redis key an anonymous request creates lives
without a TTL, except the work queue's (listed below with the reason).
"""
from __future__ import annotations

import json
import re
import threading
import time
from types import SimpleNamespace

import pytest
import redis
from fastapi.testclient import TestClient
from redis.backoff import NoBackoff
from redis.retry import Retry
from starlette.requests import Request
from starlette.websockets import WebSocket

from api.deps import client_ip, websocket_client_ip
from api.main import create_app
from api.routes import auth
from api.routes.actions import ACTION_TOKEN_HEADER
from tests.api.conftest import GENEROUS_LIMITS, free_port
from tests.api.support import SAME_ORIGIN, hand_off
from xiaobao import accounts, limits
from xiaobao.accounts import create_account
from xiaobao.db import session_scope
from xiaobao.settings import Settings

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """conftest's settings with the limits back at their real defaults."""
    return settings.model_copy(update={name: Settings.model_fields[name].default
                                       for name in GENEROUS_LIMITS})


def assert_limited(response, *, at_most_s: int) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert CHINESE.search(error["message"]) and "后再试" in error["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= at_most_s


def new_visitor(client: TestClient) -> None:
    client.cookies.clear()
    client.get("/")  # the page sets a fresh visitor cookie


def say(client: TestClient, text: str = "营业执照怎么办", **headers):
    return client.post("/api/chat/messages", json={"text": text}, headers=headers)


# --- chat -------------------------------------------------------------------------------------

def test_chat_per_visitor_admits_30_a_minute_then_429(client, rasa):
    assert Settings().chat_per_visitor_per_minute == 30
    new_visitor(client)
    for i in range(30):
        assert say(client, f"问题{i}").status_code == 200
    assert_limited(say(client), at_most_s=60)
    new_visitor(client)  # another visitor on the same address still may (30 < 120)
    assert say(client).status_code == 200


def test_chat_per_ip_counts_across_visitors(client, rasa):
    assert Settings().chat_per_ip_per_minute == 120
    for i in range(120):
        client.cookies.clear()  # a new visitor for every message: only the address is shared
        assert say(client, f"问题{i}").status_code == 200, i
    client.cookies.clear()
    assert_limited(say(client), at_most_s=60)


def test_over_limit_websocket_message_gets_an_error_frame_and_the_socket_stays_open(client,
                                                                                    rasa):
    new_visitor(client)
    for i in range(30):  # REST and WebSocket count against the same conversation
        assert say(client, f"问题{i}").status_code == 200
    with client.websocket_connect("/ws/chat") as ws:
        assert ws.receive_json()["type"] == "state"
        ws.send_text(json.dumps({"text": "你好"}))
        frame = ws.receive_json()
        assert frame["type"] == "error"
        assert frame["error"]["code"] == "rate_limited"
        assert CHINESE.search(frame["error"]["message"])
        assert 1 <= frame["error"]["retry_after_s"] <= 60
        ws.send_text("not json")  # still open and answering
        assert ws.receive_json()["error"]["code"] == "invalid_request"
    assert len(rasa.received) == 30


# --- 留言 and its call-back ----------------------------------------------------------------------

def leave(client: TestClient, phone: str = "", **headers):
    return client.post("/api/chat/leave-message",
                       json={"text": "想咨询食品经营许可", "phone": phone}, headers=headers)


def test_left_messages_per_visitor_admit_5_an_hour_then_429(client):
    assert Settings().left_messages_per_visitor_per_hour == 5
    new_visitor(client)
    for _ in range(5):
        assert leave(client).status_code == 201
    assert_limited(leave(client), at_most_s=3600)


def test_left_messages_per_ip_admit_5_an_hour_whatever_the_cookies(client):
    """The issue: a client that drops its cookie before every 留言 had no limit at all."""
    assert Settings().left_messages_per_ip_per_hour == 5
    for _ in range(5):
        new_visitor(client)
        assert leave(client).status_code == 201
    new_visitor(client)
    assert_limited(leave(client), at_most_s=3600)
    assert "留言过于频繁" in leave(client).json()["error"]["message"]


def test_another_address_has_its_own_left_message_count(settings, redis_client):
    app = create_app(settings.model_copy(update={"trusted_proxy_header": "X-Real-IP"}))
    with TestClient(app, headers=SAME_ORIGIN) as client:
        for _ in range(5):
            new_visitor(client)
            assert leave(client, **{"X-Real-IP": "203.0.113.7"}).status_code == 201
        new_visitor(client)
        assert_limited(leave(client, **{"X-Real-IP": "203.0.113.7"}), at_most_s=3600)
        assert leave(client, **{"X-Real-IP": "198.51.100.4"}).status_code == 201


def ask_callback(client: TestClient, message_id: str, **headers):
    return client.post(f"/api/chat/left-messages/{message_id}/callback", headers=headers)


def test_callbacks_per_ip_admit_5_an_hour_then_429_for_every_visitor(client, rasa):
    assert Settings().callbacks_per_ip_per_hour == 5
    new_visitor(client)
    message_id = leave(client, "13812345678").json()["message"]["id"]
    for _ in range(5):  # the same call-back again costs no phone quota: only the address counts
        assert ask_callback(client, message_id).status_code == 201
    assert_limited(ask_callback(client, message_id), at_most_s=3600)
    new_visitor(client)
    other = leave(client, "13912345678").json()["message"]["id"]
    assert_limited(ask_callback(client, other), at_most_s=3600)


def test_a_spoofed_forwarded_header_does_not_escape_the_per_ip_limit(client, rasa):
    new_visitor(client)
    message_id = leave(client, "13812345678").json()["message"]["id"]
    for i in range(5):
        spoofed = {"X-Forwarded-For": f"198.51.100.{i}", "X-Real-IP": f"198.51.100.{i}"}
        assert ask_callback(client, message_id, **spoofed).status_code == 201
    assert_limited(ask_callback(client, message_id, **{"X-Forwarded-For": "203.0.113.99"}),
                   at_most_s=3600)


def test_the_configured_proxy_header_names_the_client(settings, redis_client, rasa):
    app = create_app(settings.model_copy(update={"trusted_proxy_header": "X-Forwarded-For"}))
    with TestClient(app, headers=SAME_ORIGIN) as client:
        new_visitor(client)
        message_id = leave(client, "13812345678").json()["message"]["id"]
        for _ in range(5):  # one client behind the proxy, the proxy's own address appended
            assert ask_callback(client, message_id,
                                **{"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}).status_code == 201
        assert_limited(ask_callback(client, message_id,
                                    **{"X-Forwarded-For": "203.0.113.7, 10.0.0.2"}),
                       at_most_s=3600)
        # Another client behind the same proxy has its own count.
        assert ask_callback(client, message_id,
                            **{"X-Forwarded-For": "198.51.100.4, 10.0.0.1"}).status_code == 201


def _connection(kind: str, trusted: str, headers: dict[str, str]):
    app = SimpleNamespace(state=SimpleNamespace(services=SimpleNamespace(
        settings=Settings(trusted_proxy_header=trusted))))
    scope = {"type": kind, "app": app, "path": "/", "query_string": b"", "method": "GET",
             "client": ("10.9.8.7", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    if kind == "http":
        return Request(scope)
    return WebSocket(scope, receive=None, send=None)


@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_client_ip_believes_only_the_configured_header(kind):
    of = client_ip if kind == "http" else websocket_client_ip
    spoof = {"X-Forwarded-For": "1.1.1.1", "X-Real-IP": "2.2.2.2", "Forwarded": "for=3.3.3.3"}
    assert of(_connection(kind, "", spoof)) == "10.9.8.7"
    assert of(_connection(kind, "X-Real-IP", spoof)) == "2.2.2.2"
    assert of(_connection(kind, "X-Forwarded-For", {"X-Forwarded-For": "1.1.1.1, 4.4.4.4"})
              ) == "1.1.1.1"
    assert of(_connection(kind, "X-Forwarded-For", {})) == "10.9.8.7"  # missing: the socket's


# --- login --------------------------------------------------------------------------------------

def log_in(client: TestClient, username: str, password: str):
    return client.post("/api/auth/login", json={"username": username, "password": password})


class FakeClock:
    """The limiter's clock (xiaobao.limits._now_ms), moved by the test."""

    def __init__(self, monkeypatch) -> None:
        self.ms = int(time.time() * 1000)
        monkeypatch.setattr(limits, "_now_ms", lambda: self.ms)

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture
def password_checks(monkeypatch):
    """Counts argon2 checks (authenticate's real and dummy ones), the most at once, and can slow
    each down."""
    state = SimpleNamespace(calls=0, running=0, most=0, sleep_s=0.0, lock=threading.Lock())
    real = accounts.verify_password

    def verify(password_hash: str, password: str) -> bool:
        with state.lock:
            state.calls += 1
            state.running += 1
            state.most = max(state.most, state.running)
        try:
            time.sleep(state.sleep_s)
            return real(password_hash, password)
        finally:
            with state.lock:
                state.running -= 1

    monkeypatch.setattr(accounts, "verify_password", verify)
    return state


def test_logins_per_ip_admit_20_in_15_minutes_then_429(client, make_account):
    assert Settings().logins_per_ip_per_15_minutes == 20
    password = make_account("ann", roles=["helper"])
    for i in range(20):  # different names: no username delay, only the address counts
        assert log_in(client, f"guess{i}", "wrong-pass").status_code == 401
    assert_limited(log_in(client, "ann", password), at_most_s=15 * 60)


def test_login_delay_doubles_refuses_even_the_right_password_then_lets_it_in(
        client, make_account, monkeypatch, password_checks):
    assert Settings().login_failures_before_delay == 5
    password = make_account("ann", roles=["helper"])
    clock = FakeClock(monkeypatch)
    for _ in range(5):
        assert log_in(client, "ann", "wrong-pass").status_code == 401
    for delay in (1, 2, 4):
        checks = password_checks.calls
        early = log_in(client, "ann", password)  # the right password, too early
        assert_limited(early, at_most_s=delay)
        assert early.headers["Retry-After"] == str(delay)
        assert password_checks.calls == checks  # refused without running argon2
        clock.advance(delay)
        if delay < 4:
            assert log_in(client, "ann", "wrong-pass").status_code == 401
    assert log_in(client, "ann", password).status_code == 200
    for _ in range(5):  # the success started afresh: five more tries before any delay
        assert log_in(client, "ann", "wrong-pass").status_code == 401
    assert log_in(client, "ann", password).status_code == 429


def test_someone_elses_ten_wrong_passwords_never_lock_the_helper_out(client, make_account,
                                                                     monkeypatch):
    password = make_account("ann", roles=["helper"])
    # A hurried attacker: after five failures the rest are refused unchecked; the helper
    # waits about a second.
    statuses = [log_in(client, "ann", "wrong-pass").status_code for _ in range(10)]
    assert statuses == [401] * 5 + [429] * 5
    first = log_in(client, "ann", password)
    if first.status_code == 429:
        assert int(first.headers["Retry-After"]) <= 1
        time.sleep(int(first.headers["Retry-After"]) + 0.05)
        first = log_in(client, "ann", password)
    assert first.status_code == 200


def test_a_patient_guessers_ten_wrong_passwords_cost_the_helper_half_a_minute(
        client, make_account, monkeypatch):
    password = make_account("ann", roles=["helper"])
    clock = FakeClock(monkeypatch)  # the guesser waits out every delay before the next try
    for _ in range(10):
        wait = limits.failure_delay_s(client.app.state.services.redis, "login_user_ip",
                                      auth.failure_key("ann", "testclient"))
        clock.advance(wait)
        assert log_in(client, "ann", "wrong-pass").status_code == 401
    delayed = log_in(client, "ann", password)
    assert_limited(delayed, at_most_s=32)
    clock.advance(int(delayed.headers["Retry-After"]))
    assert log_in(client, "ann", password).status_code == 200


@pytest.fixture
def behind_proxy(settings, redis_client):
    """A gateway that believes X-Real-IP (its nginx), so a test can log in from many addresses,
    with the account ann."""
    app = create_app(settings.model_copy(update={"trusted_proxy_header": "X-Real-IP"}))
    with TestClient(app, headers=SAME_ORIGIN) as client:
        with session_scope(app.state.services.engine) as session:
            create_account(session, "ann", "correct-horse", roles=["helper"])
        yield client


def log_in_from(client: TestClient, address: str, password: str):
    return client.post("/api/auth/login", json={"username": "ann", "password": password},
                       headers={"X-Real-IP": address})


def test_wrong_passwords_from_other_addresses_never_lock_the_account_out(behind_proxy,
                                                                         monkeypatch):
    """The issue: 16 wrong passwords over 17 minutes, each from another address, locked the
    right password out for 15 minutes."""
    clock = FakeClock(monkeypatch)
    for i in range(16):
        assert log_in_from(behind_proxy, f"198.51.100.{i}", "wrong-pass").status_code == 401, i
        clock.advance(65)
    assert log_in_from(behind_proxy, "203.0.113.7", "correct-horse").status_code == 200


def test_wrong_passwords_from_one_address_still_slow_that_address_only(behind_proxy):
    for _ in range(5):
        assert log_in_from(behind_proxy, "198.51.100.9", "wrong-pass").status_code == 401
    assert_limited(log_in_from(behind_proxy, "198.51.100.9", "correct-horse"), at_most_s=1)
    assert log_in_from(behind_proxy, "203.0.113.7", "correct-horse").status_code == 200


def test_many_failures_of_one_account_raise_an_alert_not_a_block(behind_proxy, caplog):
    from prometheus_client import REGISTRY

    assert Settings().login_failures_per_account_alert == 20

    def alerts() -> float:
        return REGISTRY.get_sample_value("xiaobao_login_failure_alerts_total") or 0.0

    before = alerts()
    for i in range(20):
        assert log_in_from(behind_proxy, f"198.51.100.{i}", "wrong-pass").status_code == 401
    assert alerts() == before and "wrong passwords for account" not in caplog.text
    with caplog.at_level("WARNING", logger="api.routes.auth"):
        for i in range(3):
            assert log_in_from(behind_proxy, f"192.0.2.{i}", "wrong-pass").status_code == 401
    assert alerts() == before + 3
    assert "more than 20 wrong passwords for account 'ann'" in caplog.text
    assert log_in_from(behind_proxy, "203.0.113.7", "correct-horse").status_code == 200


def test_failure_delay_is_capped_at_15_minutes_and_its_key_expires(redis_client, monkeypatch):
    FakeClock(monkeypatch)
    delays = [limits.record_failure(redis_client, "login_user", "bob", free=5, cap_s=900)
              for _ in range(20)]
    assert delays[:4] == [0, 0, 0, 0] and delays[4:10] == [1, 2, 4, 8, 16, 32]
    assert max(delays) == 900 and delays[-1] == 900
    assert redis_client.pttl(limits.limit_key("login_user", "bob")) > 900_000
    limits.reset_failures(redis_client, "login_user", "bob")
    assert limits.failure_delay_s(redis_client, "login_user", "bob") == 0


def app_with_one_password_check(settings, tmp_path):
    app = create_app(settings.model_copy(update={"concurrent_password_checks": 1,
                                                 "home": tmp_path / "one-check"}))
    return app


def logins_at_once(app, n: int) -> list:
    results: list = [None] * n

    def one(i: int) -> None:
        browser = TestClient(app, headers=SAME_ORIGIN)
        results[i] = log_in(browser, "ann", "correct-horse")
        browser.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in threads:
        thread.join(30)
    return results


def test_password_checks_run_one_at_a_time_when_so_configured(settings, tmp_path, redis_client,
                                                              password_checks):
    app = app_with_one_password_check(settings, tmp_path)
    with TestClient(app, headers=SAME_ORIGIN):
        with session_scope(app.state.services.engine) as session:
            create_account(session, "ann", "correct-horse", roles=["helper"])
        password_checks.sleep_s = 0.3  # three checks queue within the 2 s a login may wait
        results = logins_at_once(app, 3)
    assert [r.status_code for r in results] == [200, 200, 200]
    assert password_checks.calls == 3 and password_checks.most == 1


def test_a_login_finding_every_check_slot_busy_gets_503(settings, tmp_path, redis_client,
                                                        password_checks, monkeypatch):
    monkeypatch.setattr(auth, "PASSWORD_CHECK_WAIT_S", 0.2)
    app = app_with_one_password_check(settings, tmp_path)
    with TestClient(app, headers=SAME_ORIGIN) as browser:
        with session_scope(app.state.services.engine) as session:
            create_account(session, "ann", "correct-horse", roles=["helper"])
        password_checks.sleep_s = 1.0
        first: list = []
        holder = threading.Thread(target=lambda: first.append(
            log_in(TestClient(app, headers=SAME_ORIGIN), "ann", "correct-horse")))
        holder.start()
        deadline = time.monotonic() + 10
        while password_checks.running == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # the first login holds the only slot
        second = log_in(browser, "ann", "correct-horse")
        holder.join(30)
    assert first[0].status_code == 200
    assert second.status_code == 503
    assert second.json()["error"]["code"] == "busy"
    assert CHINESE.search(second.json()["error"]["message"])
    assert int(second.headers["Retry-After"]) >= 1
    assert password_checks.most == 1


# --- Redis down -----------------------------------------------------------------------------

def test_chat_answers_while_the_limiters_redis_is_unreachable(client, rasa, services,
                                                              monkeypatch, caplog):
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2,
                       retry=Retry(NoBackoff(), 0))  # fails at once (no retry back-off)
    monkeypatch.setattr(services.redis, "eval", dead.eval)  # the limiter's one call
    new_visitor(client)
    for i in range(35):  # past the per-visitor limit: nothing counts them
        response = say(client, f"问题{i}")
        assert response.status_code == 200
    assert response.json()["messages"][0]["text"] == "您好"
    assert leave(client).status_code == 201
    assert log_in(client, "nobody", "wrong-pass").status_code == 401
    assert "rate limiter: Redis unavailable" in caplog.text
    dead.close()


# --- TTLs -----------------------------------------------------------------------------------

# The keys without a TTL, and why they may have none.
EXEMPT = {
    # Department streams: the work queue itself, one per channel, department and priority of
    # handoff/config.yaml (created at start-up). Entries are deleted when a helper takes the
    # ticket; open tickets bound them, and the per-visitor handoff and per-phone call-back
    # limits bound new tickets.
    "xiaobao:queue:": "work queue (fixed set of streams; entries bounded by open tickets)",
    # Which stream entry carries a queued ticket: deleted when the ticket leaves the queue.
    "xiaobao:ticket:": "per-ticket entry pointer (deleted on release; bounded by tickets)",
    # When the last recovery ran: written at start-up, one key.
    "xiaobao:recovered": "start-up marker (one key)",
}


def test_no_key_an_anonymous_request_creates_lives_without_a_ttl(client, rasa, redis_client):
    new_visitor(client)
    rasa.replies = [{"text": "您好", "buttons": [{"title": "转人工", "payload": "/request_human"}]}]
    assert say(client).status_code == 200  # bot mode: mode cache, offered buttons, limits
    client.get("/api/chat/history")
    client.get("/api/chat/queue")
    with client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()
        ws.send_text(json.dumps({"text": "你好"}))
        while ws.receive_json()["type"] != "reply":
            pass
    message_id = leave(client, "13812345678").json()["message"]["id"]
    client.get("/api/chat/left-messages")
    assert ask_callback(client, message_id).status_code == 201  # a 12345 ticket
    new_visitor(client)
    hand_off(client)  # what the bot's handoff action does for an anonymous visitor
    assert say(client, "我在排队").status_code == 200  # waiting: relayed to the helper side
    client.get("/api/chat/queue")
    assert log_in(client, "nobody", "wrong-pass").status_code == 401
    for _ in range(6):
        leave(client)  # the last one over the limit

    keys = set(redis_client.keys("*"))
    for prefix in ("xiaobao:mode:", "xiaobao:chat:offered:", "xiaobao:limit:chat_visitor:",
                   "xiaobao:limit:chat_ip:", "xiaobao:limit:left_message_visitor:",
                   "xiaobao:limit:callback_ip:", "xiaobao:limit:callback_phone:",
                   "xiaobao:limit:handoff_visitor:", "xiaobao:limit:login_ip:",
                   "xiaobao:limit:login_user_ip:", "xiaobao:limit:login_user_failures:",
                   "xiaobao:limit:left_message_ip:", *EXEMPT):
        assert any(k.startswith(prefix) for k in keys), prefix  # the script reached it
    untimed = {k for k in keys if redis_client.pttl(k) <= 0 and not k.startswith(tuple(EXEMPT))}
    assert untimed == set()


# --- tickets and 12345 call-backs booked by the bot (or the gateway's fallback), per address -----

def bot_12345_booking(sender: str, phone: str, client_ip: str) -> dict:
    """What Rasa posts to run ``action_request_12345_call`` after the form, with the message
    metadata the gateway sent (api.rasa_client)."""
    latest = {"text": "明天上午", "intent": {"name": "inform", "confidence": 0.9},
              "entities": [], "metadata": {"visitor_id": sender, "client_ip": client_ip}}
    return {
        "next_action": "action_request_12345_call", "sender_id": sender, "version": "3.6.21",
        "domain": {"intents": ["inform"], "entities": [], "slots": {}, "responses": {},
                   "actions": ["action_request_12345_call"], "forms": {}},
        "tracker": {
            "sender_id": sender,
            "slots": {"phone": phone, "time_window": "明天上午", "handoff_topic": "食品经营许可"},
            "latest_message": latest,
            "events": [{"event": "user", "text": "明天上午", "timestamp": time.time(),
                        "parse_data": latest, "metadata": latest["metadata"]}],
            "paused": False, "followup_action": None, "active_loop": {},
            "latest_action_name": "action_listen"}}


def book_by_bot(client: TestClient, sender: str, phone: str, client_ip: str) -> str:
    response = client.post("/webhook",
                           headers={ACTION_TOKEN_HEADER: client.app.state.settings.action_token},
                           json=bot_12345_booking(sender, phone, client_ip))
    assert response.status_code == 200, response.text
    return response.json()["responses"][0]["text"]


def test_bot_12345_call_backs_per_ip_are_capped_across_visitors_and_numbers(client, services):
    """The issue: invented numbers, a new visitor each, one address — the hotline dialled all."""
    assert Settings().callbacks_per_ip_per_hour == 5
    for i in range(5):
        assert "已为您预约12345热线回电" in book_by_bot(client, f"conv-{i}", f"138000000{i:02d}",
                                                   "203.0.113.5")
    refused = book_by_bot(client, "conv-9", "13800000099", "203.0.113.5")
    assert "回电预约过于频繁" in refused and "已为您预约" not in refused
    with session_scope(services.engine) as s:
        from sqlalchemy import func, select

        from handoff.store import Call
        assert s.scalar(select(func.count()).select_from(Call)) == 5
    # Another address is not held up by this one.
    assert "已为您预约12345热线回电" in book_by_bot(client, "conv-10", "13800000010",
                                               "198.51.100.4")


def test_the_chat_sends_the_client_address_to_rasa_for_the_actions(client, rasa):
    new_visitor(client)
    assert say(client).status_code == 200
    assert rasa.received[-1]["metadata"]["client_ip"] == "testclient"  # TestClient's socket


def test_fallback_handoffs_per_ip_admit_10_an_hour_across_visitors(client, rasa):
    assert Settings().handoffs_per_ip_per_hour == 10
    rasa.status = 500  # Rasa down: the gateway books the 转人工 itself (api.fallback)
    for i in range(10):
        new_visitor(client)
        reply = say(client, "转人工").json()
        assert reply["ticket"], (i, reply)
    new_visitor(client)
    reply = say(client, "转人工").json()
    assert not reply["ticket"]
    assert "转人工请求过于频繁" in reply["messages"][-1]["text"]

"""The gateway's web guard (api/web_security.py): Origin checks on state-changing requests and
WebSocket handshakes, body caps, private /metrics and /openapi.json in production, bounded
metric labels, and the one rule for the login page's ``next``."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from starlette.websockets import WebSocketDisconnect

from api.main import create_app
from api.routes.actions import ACTION_TOKEN_HEADER
from api.web_security import json_too_deep, safe_next_path
from tests.api.routes.test_actions import action_call, register
from tests.api.routes.test_calls import request_call, simulator, start
from tests.api.support import SAME_ORIGIN
from xiaobao import tokens
from xiaobao.db import session_scope
from xiaobao.settings import SECRET_DEFAULTS, Settings

EVIL = {"Origin": "https://evil.example"}
DEEP = b"[" * 10_000 + b"]" * 10_000


def bare(app, **kw) -> TestClient:
    """A client that sends no Origin (like curl, or a server calling us)."""
    return TestClient(app, **kw)


# --- Origin (CSRF) -----------------------------------------------------------------------------

@pytest.mark.parametrize("path, body", [
    ("/api/chat/messages", {"text": "你好"}),
    ("/api/chat/leave-message", {"text": "请回电", "phone": ""}),
    ("/api/auth/login", {"username": "ann", "password": "correct-horse"}),
    ("/api/auth/logout", {}),
])
def test_cross_origin_posts_are_refused(client, make_account, rasa, path, body):
    make_account("ann", roles=["helper"])
    client.get("/")
    response = client.post(path, json=body, headers=EVIL)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "bad_origin" and "请求来源" in error["message"] \
        and "Cross-origin" in error["message"]
    assert "xiaobao_session" not in response.cookies
    assert rasa.received == []  # nothing reached the bot


def test_cross_origin_helper_routes_are_refused(login):
    helper = login()
    for method, path, body in [("POST", "/api/helper/status", {"status": "on_duty"}),
                               ("POST", "/api/helper/claim", {}),
                               ("POST", "/api/helper/heartbeat", None)]:
        response = helper.request(method, path, json=body, headers=EVIL)
        assert (response.status_code, response.json()["error"]["code"]) == (403, "bad_origin")
    assert helper.post("/api/helper/status", json={"status": "on_duty"}).status_code == 200


def test_every_state_changing_method_is_checked(client):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = client.request(method, "/api/chat/messages", headers=EVIL)
        assert response.status_code == 403, method
    assert client.get("/api/chat/history", headers=EVIL).status_code == 200  # reads are not


def test_without_origin_the_referer_decides_and_without_either_it_is_refused(app, rasa):
    with bare(app) as browser:
        browser.get("/")
        assert browser.post("/api/chat/messages", json={"text": "你好"}).status_code == 403
        assert browser.post("/api/chat/messages", json={"text": "你好"},
                            headers={"Referer": "https://evil.example/x"}).status_code == 403
        assert browser.post("/api/chat/messages", json={"text": "你好"},
                            headers={"Origin": "null"}).status_code == 403
        assert browser.post("/api/chat/messages", json={"text": "你好"},
                            headers={"Referer": "http://testserver/"}).status_code == 200


def test_same_origin_passes(client, rasa):
    client.get("/")
    assert client.post("/api/chat/messages", json={"text": "你好"}).status_code == 200


def test_configured_origins_replace_the_default(settings, redis_client, rasa):
    portal = "https://portal.example.gov.cn"
    app = create_app(settings.model_copy(update={"allowed_origins": [portal + "/"]}))
    with TestClient(app) as browser:
        browser.get("/")
        assert browser.post("/api/chat/messages", json={"text": "你好"},
                            headers={"Origin": portal}).status_code == 200
        assert browser.post("/api/chat/messages", json={"text": "你好"},
                            headers=SAME_ORIGIN).status_code == 403


@pytest.mark.parametrize("path", ["/ws/chat", "/ws/console"])
def test_websocket_handshake_from_a_foreign_origin_is_refused(client, login, path):
    login()
    client.get("/")
    for headers in (EVIL, {"Origin": "null"}):
        with pytest.raises(WebSocketDisconnect) as refused, \
                client.websocket_connect(path, headers=headers) as ws:
            ws.receive_json()
        assert refused.value.code == 4403


def test_websocket_handshake_without_origin_is_refused(app):
    with bare(app) as browser:
        browser.get("/")
        with pytest.raises(WebSocketDisconnect) as refused, \
                browser.websocket_connect("/ws/chat") as ws:
            ws.receive_json()
        assert refused.value.code == 4403


def test_websocket_handshake_from_the_same_origin_passes(client, login):
    client.get("/")
    with client.websocket_connect("/ws/chat") as ws:
        assert ws.receive_json()["type"] == "state"
    login()
    with client.websocket_connect("/ws/console") as ws:
        assert ws.receive_json()["type"] == "snapshot"


def test_signed_call_back_needs_no_origin(app):
    with bare(app) as server:  # the CTI provider: no Origin, no Referer
        call_id = request_call(server)
        adapter = simulator(server, {1: ["ringing", "answered"]})
        start(server, call_id, adapter)
        assert [r.status_code for r in adapter.play()] == [200, 200]


def test_action_endpoint_needs_no_origin_but_its_token(app):
    with bare(app) as rasa_server:
        register(rasa_server)
        token = {ACTION_TOKEN_HEADER: app.state.settings.action_token}
        assert rasa_server.post("/webhook", headers=token,
                                json=action_call("action_echo_test")).status_code == 200
        assert rasa_server.post("/webhook", json=action_call("action_echo_test")
                                ).status_code == 404


def test_an_api_token_with_no_cookie_needs_no_origin_and_one_with_a_cookie_does(app, services):
    entry = {"question": "令牌新建", "answer": "答案。"}
    with bare(app) as system:  # the 12345 / OA system: no Origin, no Referer, no cookie
        with session_scope(services.engine) as session:  # the app has migrated its database
            _, token = tokens.create_token(session, "oa", ["kb:write"], expires_at=None,
                                           by="test")
        auth = {"Authorization": f"Bearer {token}"}
        assert system.post("/api/kb/entries", json=entry, headers=auth).status_code == 201
        # not a token of ours: the guard does not step aside for any bearer
        refused = system.post("/api/kb/entries", json=entry,
                              headers={"Authorization": "Bearer something-else"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "bad_origin"
        system.cookies.set("xiaobao_session", "x" * 43)  # a browser's ambient credential
        refused = system.post("/api/kb/entries", json=entry, headers=auth)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "bad_origin"


# --- body caps -----------------------------------------------------------------------------------

def test_json_body_over_the_cap_gets_413(client, rasa):
    client.get("/")
    big = json.dumps({"text": "你" * 40_000}).encode()  # 240 KB: 6-byte escapes
    assert len(big) > 64 * 1024
    response = client.post("/api/chat/messages", content=big,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert rasa.received == []


def test_streamed_body_without_length_is_counted(client):
    def chunks():
        yield b'{"text": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    response = client.post("/api/chat/messages", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_uploads_have_their_own_cap(settings, redis_client):
    app = create_app(settings.model_copy(update={"max_upload_bytes": 200_000}))
    multipart = {"Content-Type": "multipart/form-data; boundary=xb"}
    with TestClient(app, headers=SAME_ORIGIN) as browser:
        # Over the JSON cap but within the upload cap: not refused for its size.
        assert browser.post("/api/chat/messages", content=b"x" * 100_000,
                            headers=multipart).status_code != 413
        over = browser.post("/api/chat/messages", content=b"x" * 250_000, headers=multipart)
        assert over.status_code == 413 and over.json()["error"]["code"] == "body_too_large"

        def chunks():
            for _ in range(250):
                yield b"x" * 1000

        streamed = browser.post("/api/chat/messages", content=chunks(), headers=multipart)
        assert streamed.status_code == 413
        assert streamed.json()["error"]["code"] == "body_too_large"


def test_deeply_nested_json_gets_400_not_500(client):
    for path in ("/api/chat/messages", "/api/auth/login", "/api/chat/leave-message"):
        response = client.post(path, content=DEEP, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, path
        assert response.json()["error"]["code"] == "json_too_deep"
    # Rasa's action endpoint (exempt from the small cap, token-guarded) answers 400 too.
    response = client.post("/webhook", content=DEEP,
                           headers={ACTION_TOKEN_HEADER: client.app.state.settings.action_token,
                                    "Content-Type": "application/json"})
    assert response.status_code == 400


def test_json_depth_skips_strings():
    assert not json_too_deep(json.dumps({"text": "[" * 1000 + '\\"{' * 500}).encode())
    assert json_too_deep(b'{"a": ' * 40 + b"1" + b"}" * 40)
    assert not json_too_deep(b"[" * 30 + b"]" * 30)


# --- /metrics, /openapi.json, labels ------------------------------------------------------------

def production(settings: Settings, **extra) -> Settings:
    strong = {name: f"{name}-strong-random-value-0123456789" for name in SECRET_DEFAULTS}
    return settings.model_copy(update={"env": "production", "metrics_token": "m" * 32,
                                       **strong, **extra})


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json"])
def test_private_documents_in_production(settings, redis_client, path):
    app = create_app(production(settings))
    with TestClient(app) as outsider:  # the TestClient's address is "testclient", not loopback
        assert outsider.get(path).status_code == 404
        assert outsider.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 404
        assert outsider.get(path, headers={"Authorization": f"Bearer {'m' * 32}"}
                            ).status_code == 200
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        assert local.get(path).status_code == 200


def test_behind_a_proxy_the_forwarded_address_counts(settings, redis_client):
    app = create_app(production(settings, trusted_proxy_header="X-Forwarded-For"))
    with TestClient(app, client=("127.0.0.1", 50000)) as proxy:
        assert proxy.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}
                         ).status_code == 404
        assert proxy.get("/metrics").status_code == 200


def test_private_documents_are_open_in_development(client):
    assert client.get("/metrics").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def label_values(metric: str, label: str) -> set[str]:
    return {s.labels[label] for m in REGISTRY.collect() if m.name == metric
            for s in m.samples if label in s.labels}


def test_action_labels_stay_bounded(client):
    register(client)
    token = {ACTION_TOKEN_HEADER: client.app.state.settings.action_token}
    names = [f"action_made_up_{i}" for i in range(60)]
    for name in names:
        client.post("/webhook", headers=token, json=action_call(name))
        body = action_call(name)
        del body["tracker"]  # a broken call: the executor fails on it
        client.post("/webhook", headers=token, json=body)
    assert client.post("/webhook", headers=token, json=action_call("action_echo_test")
                       ).status_code == 200
    labels = label_values("xiaobao_action_runs", "action")
    registered = set(client.app.state.action_executor.actions)
    assert labels <= registered | {"unknown"}
    assert not labels & set(names) and "action_echo_test" in labels


def test_rasa_failure_labels_stay_bounded(client, rasa, seeded_retriever):
    client.app.state.services.use_retriever(seeded_retriever)  # the gateway answers meanwhile
    client.get("/")
    for status in (503, 418, 599):
        rasa.status = status
        assert client.post("/api/chat/messages", json={"text": "你好"}).status_code == 200
    kinds = label_values("xiaobao_rasa_failures", "kind")
    assert {"status_5xx", "status_4xx"} <= kinds
    assert not any(k.startswith("status_") and not k.endswith("xx") for k in kinds)


# --- the login page's next ------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["/\\evil", "//evil.com", "/\t/evil", "javascript:alert(1)",
                                   "https://evil", "", None, "/console\n", "/a//b", "evil",
                                   "/\x85x", "/" + "a" * 2001])
def test_next_refuses_anything_but_a_same_site_path(value):
    assert safe_next_path(value) == "/console"


@pytest.mark.parametrize("value", ["/console", "/console?ticket=T1#x", "/"])
def test_next_accepts_same_site_paths(value):
    assert safe_next_path(value) == value


@pytest.mark.parametrize("given, target", [("//evil.com", "/console"),
                                           ("/\\evil", "/console"),
                                           ('/c"><script>', '/c&#34;&gt;&lt;script&gt;'),
                                           ("/console?x=1", "/console?x=1")])
def test_login_page_carries_the_checked_next(client, given, target):
    page = client.get("/login", params={"next": given}).text
    assert f'data-next="{target}"' in page


# --- Host (DNS rebinding) and duplicated Origin --------------------------------------------------

def test_a_host_not_configured_is_refused_even_with_its_own_origin(client, rasa):
    """The same-origin default is derived from Host: a rebinding name must not pass it."""
    client.get("/")
    evil = {"Host": "evil.example", "Origin": "http://evil.example"}
    response = client.post("/api/chat/messages", json={"text": "你好"}, headers=evil)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_host" and "主机名" in error["message"]
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    with pytest.raises(WebSocketDisconnect) as refused, \
            client.websocket_connect("/ws/chat", headers=evil) as ws:
        ws.receive_json()
    assert refused.value.code == 4403


def test_loopback_addresses_and_configured_names_pass(settings, redis_client):
    app = create_app(settings.model_copy(update={"allowed_hosts": ["*.baoshan.gov.cn"]}))
    with TestClient(app) as browser:
        for host in ("127.0.0.1:8000", "[::1]:8000", "xiaobao.baoshan.gov.cn"):
            assert browser.get("/healthz", headers={"Host": host}).status_code == 200, host
        for host in ("testserver", "baoshan.gov.cn.evil.example", "evilbaoshan.gov.cn"):
            assert browser.get("/healthz", headers={"Host": host}).status_code == 400, host


def test_a_duplicated_origin_is_refused(client, rasa):
    client.get("/")
    headers = [("origin", "http://testserver"), ("origin", "https://evil.example")]
    response = client.post("/api/chat/messages", json={"text": "你好"}, headers=headers)
    assert response.status_code == 403

"""Console sessions through the gateway: server-side (xiaobao.sessions), so logout and
deactivation end them on every gateway at once and close an open console WebSocket; the
cookie is a random token (no account id), HttpOnly, SameSite=Strict, Secure in production."""
from __future__ import annotations

import datetime as dt
import hashlib
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from starlette.websockets import WebSocketDisconnect
from typer.testing import CliRunner

from api.main import create_app
from tests.api.support import SAME_ORIGIN
from xiaobao import db, sessions
from xiaobao import settings as settings_module
from xiaobao.accounts import Account, create_account
from xiaobao.accounts_cli import app as users_cli
from xiaobao.db import session_scope
from xiaobao.settings import SECRET_DEFAULTS, Settings

COOKIE = "xiaobao_session"


def fresh_browser(app, cookie: str | None = None) -> TestClient:
    """Another browser on the running app, carrying ``cookie`` as its session (if given)."""
    browser = TestClient(app, headers=SAME_ORIGIN)
    if cookie:
        browser.cookies.set(COOKIE, cookie)
    return browser


def set_cookie_header(response) -> str:
    return next(v for v in response.headers.get_list("set-cookie") if v.startswith(COOKIE))


def test_cookie_is_a_random_token_and_the_table_holds_only_its_hash(client, make_account):
    password = make_account("ann", roles=["helper"])
    response = client.post("/api/auth/login", json={"username": "ann", "password": password})
    assert response.status_code == 200
    assert set(response.json()["account"]) == {"id", "username", "display_name", "roles",
                                               "departments"}  # the login response's shape
    account_id = response.json()["account"]["id"]
    token = client.cookies[COOKIE]
    header = set_cookie_header(response).lower()
    assert "httponly" in header and "samesite=strict" in header and "secure" not in header
    assert len(token) >= 43 and "." not in token  # not a signed payload: nothing to decode
    with session_scope(client.app.state.services.engine) as s:
        rows = [tuple(r) for r in s.execute(text("SELECT * FROM sessions"))]
    assert len(rows) == 1
    assert rows[0][0] == hashlib.sha256(token.encode()).hexdigest() and rows[0][1] == account_id
    assert not any(token in str(value) for value in rows[0])


def test_logout_ends_the_session_for_a_copied_cookie(login, app):
    client = login()
    stolen = client.cookies[COOKIE]
    thief = fresh_browser(app, stolen)
    assert thief.get("/api/auth/me").status_code == 200
    response = client.post("/api/auth/logout")
    assert response.status_code == 200
    assert 'xiaobao_session=""' in set_cookie_header(response)  # the browser's copy is cleared
    assert thief.get("/api/auth/me").status_code == 401
    assert thief.get("/api/helper/me").status_code == 401


def test_logout_on_one_gateway_ends_the_session_on_another(settings, redis_client, login, app):
    """Two gateways on one database: a session made on one works on both, and logging out on
    one ends it on the other at once."""
    client = login()
    cookie = client.cookies[COOKIE]
    with TestClient(create_app(settings), headers=SAME_ORIGIN) as other_gateway:
        other_gateway.cookies.set(COOKIE, cookie)
        assert other_gateway.get("/api/auth/me").status_code == 200
        assert client.post("/api/auth/logout").status_code == 200
        assert other_gateway.get("/api/auth/me").status_code == 401


def test_a_new_login_replaces_the_browsers_old_session(login, app, client):
    login()
    old = client.cookies[COOKIE]
    assert client.post("/api/auth/login", json={"username": "helper1",
                                                "password": "correct-horse"}).status_code == 200
    assert client.cookies[COOKIE] != old
    assert fresh_browser(app, old).get("/api/auth/me").status_code == 401


def test_idle_timeout_and_absolute_lifetime(login, app, settings, monkeypatch):
    client = login()
    cookie = client.cookies[COOKIE]
    start = dt.datetime.now(dt.UTC)
    clock = {"now": start}
    monkeypatch.setattr(sessions, "utcnow", lambda: clock["now"])

    def me_at(seconds: float) -> int:
        clock["now"] = start + dt.timedelta(seconds=seconds)
        return fresh_browser(app, cookie).get("/api/auth/me").status_code

    idle, absolute = settings.session_max_age_s, settings.session_absolute_max_age_s
    assert idle < absolute
    # Used well within the idle timeout all along: alive until the absolute end, not after.
    t = 0.0
    while t + idle / 2 < absolute:
        t += idle / 2
        assert me_at(t) == 200
    assert me_at(absolute + 1) == 401

    client2 = login("helper2")
    cookie = client2.cookies[COOKIE]
    start = dt.datetime.now(dt.UTC)
    assert me_at(idle - 5) == 200
    assert me_at(2 * idle - 10) == 200  # the last request counted as activity
    assert me_at(3 * idle) == 401  # idle for longer than the timeout


@pytest.fixture
def cli_home(settings, monkeypatch):
    """`xiaobao users …` on the test gateway's database (its home)."""
    monkeypatch.setenv("XIAOBAO_HOME", str(settings.home))
    monkeypatch.delenv("XIAOBAO_DATABASE_URL", raising=False)
    settings_module.get_settings.cache_clear()
    db.get_engine.cache_clear()
    yield
    db.get_engine.cache_clear()
    settings_module.get_settings.cache_clear()


def test_disabling_an_account_ends_its_sessions_and_closes_its_console(login, app, cli_home):
    client = login("ann")
    other = fresh_browser(app, client.cookies[COOKIE])
    with client.websocket_connect("/ws/console") as ws:
        assert ws.receive_json()["type"] == "snapshot"
        result = CliRunner().invoke(users_cli, ["disable", "ann"])
        assert result.exit_code == 0 and "ended 1 open session" in result.output, result.output
        disabled_at = time.monotonic()
        with pytest.raises(WebSocketDisconnect) as closed:
            while time.monotonic() - disabled_at < 10:
                ws.receive_json()  # snapshots every ~2 s until the session check fails
        assert closed.value.code == 4401
        assert time.monotonic() - disabled_at < 5
    assert client.get("/api/auth/me").status_code == 401
    assert other.get("/api/helper/me").status_code == 401
    with session_scope(app.state.services.engine) as s:
        assert s.scalar(select(Account.active).where(Account.username == "ann")) is False
    # Enabled again, the old sessions stay ended; a new login works.
    assert CliRunner().invoke(users_cli, ["enable", "ann"]).exit_code == 0
    assert client.get("/api/auth/me").status_code == 401
    assert client.post("/api/auth/login", json={"username": "ann", "password": "correct-horse"}
                       ).status_code == 200


def test_logout_closes_an_open_console(login, app):
    client = login("ann")
    browser = fresh_browser(app, client.cookies[COOKIE])
    with client.websocket_connect("/ws/console") as ws:
        assert ws.receive_json()["type"] == "snapshot"
        assert browser.post("/api/auth/logout").status_code == 200
        with pytest.raises(WebSocketDisconnect) as closed:
            for _ in range(10):
                ws.receive_json()
        assert closed.value.code == 4401


def test_disable_unknown_user_fails(cli_home):
    result = CliRunner().invoke(users_cli, ["disable", "nobody"])
    assert result.exit_code == 2 and "no account" in result.output


def production_settings(settings: Settings) -> Settings:
    strong = {name: f"{name}-strong-random-value-0123456789" for name in SECRET_DEFAULTS}
    return settings.model_copy(update={"env": "production", **strong})


def test_production_cookies_are_secure_and_hsts_is_sent(settings, redis_client):
    app = create_app(production_settings(settings))
    with TestClient(app, base_url="https://testserver",
                    headers={"Origin": "https://testserver"}) as browser:
        with session_scope(app.state.services.engine) as s:
            create_account(s, "ann", "correct-horse", roles=["helper"])
        response = browser.post("/api/auth/login",
                                json={"username": "ann", "password": "correct-horse"})
        assert response.status_code == 200
        assert "secure" in set_cookie_header(response).lower()
        assert response.headers["strict-transport-security"] == \
            "max-age=31536000; includeSubDomains"
        portal = browser.get("/")
        assert "secure" in portal.headers["set-cookie"].lower()  # the visitor cookie too
        assert portal.headers["strict-transport-security"].startswith("max-age=31536000")


def test_no_hsts_in_development(client):
    assert "strict-transport-security" not in client.get("/healthz").headers


def test_a_cookie_forged_with_the_published_secret_opens_nothing(app, client, make_account):
    """The finding: a Starlette session cookie signed with the built-in default secret used to
    open /api/helper/me as the demo admin. Sessions are server-side now: a signed cookie
    naming an account id is just an unknown token."""
    import base64
    import json

    from itsdangerous import TimestampSigner

    make_account("demo", roles=["admin", "helper", "leader"], departments=["综合窗口"])
    with session_scope(app.state.services.engine) as s:
        account_id = s.scalar(select(Account.id).where(Account.username == "demo"))
    payload = base64.b64encode(json.dumps({"account_id": account_id}).encode())
    forged = TimestampSigner(SECRET_DEFAULTS["secret_key"]).sign(payload).decode()
    browser = fresh_browser(app, cookie=forged)
    response = browser.get("/api/helper/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"

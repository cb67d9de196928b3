"""Enterprise sign-in through the gateway (api/routes/enterprise_auth.py) against the simulator
provider it mounts, end to end in-process: the gateway's OIDC client reaches the simulator
through discovery over httpx, the app itself its transport (as in the running gateway). State,
the signed pending cookie and one-time codes are checked; a signed-in enterprise is named by
GET /api/enterprise/me, an anonymous caller gets 401, and sign-out ends the session on the
server."""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.deps import SignedInUscc
from api.main import create_app
from api.oidc_simulator import SAMPLES
from api.routes.enterprise_auth import CALLBACK_PATH, PENDING_COOKIE
from tests.api.support import SAME_ORIGIN
from xiaobao.secrets import WeakSecrets
from xiaobao.settings import SECRET_DEFAULTS

USCC, NAME = SAMPLES[0]


def authorize(client: TestClient, uscc: str = USCC, name: str = NAME) -> str:
    """GET /auth/enterprise/login, then the simulator's page answered as a person would:
    the callback URL the provider sends the browser back to."""
    started = client.get("/auth/enterprise/login", follow_redirects=False)
    assert started.status_code == 303, started.text
    url = started.headers["location"]
    page = client.get(url)
    assert page.status_code == 200 and "模拟身份认证（开发/测试用，非真实一网通办）" in page.text
    parts = urlsplit(url)
    provider = f"{parts.scheme}://{parts.netloc}"
    form = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"uscc": uscc, "name": name}
    answered = client.post(f"{provider}{parts.path}", data=form, follow_redirects=False,
                           headers={"Origin": provider})
    assert answered.status_code == 303, answered.text
    return answered.headers["location"]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return f"{parts.path}?{urlencode(query)}"


def sign_in(client: TestClient) -> None:
    done = client.get(authorize(client), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/", done.text


def test_anonymous_me_is_401(client):
    response = client.get("/api/enterprise/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_signed_in"


def test_sign_in_through_the_simulator_names_the_enterprise(client, app):
    sign_in(client)
    assert client.get("/api/enterprise/me").json() == {"uscc": USCC, "name": NAME}
    cookie = app.state.settings.enterprise_cookie
    assert client.cookies.get(cookie)
    assert not client.cookies.get(PENDING_COOKIE)  # one callback per sign-in


def test_the_enterprise_cookie_is_httponly_and_lax(client):
    done = client.get(authorize(client), follow_redirects=False)
    header = next(v for k, v in done.headers.multi_items()
                  if k == "set-cookie" and v.startswith("xiaobao_enterprise="))
    assert "HttpOnly" in header and "SameSite=lax" in header
    assert "Secure" not in header  # plain http in development; secure_cookies turns it on


def test_a_tampered_state_is_refused(client):
    back = authorize(client)
    response = client.get(with_query(back, state="attacker-state"), follow_redirects=False)
    assert response.status_code == 400
    assert "登录状态（state）不匹配" in response.text and "state does not match" in response.text
    assert client.get("/api/enterprise/me").status_code == 401


def test_a_callback_without_its_sign_in_is_refused(client):
    back = authorize(client)
    client.cookies.delete(PENDING_COOKIE, path=CALLBACK_PATH)
    response = client.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert response.status_code == 400 and "登录状态已丢失" in response.text
    assert client.get("/api/enterprise/me").status_code == 401


def test_an_altered_pending_cookie_is_refused(client):
    back = authorize(client)
    value = client.cookies.get(PENDING_COOKIE)
    client.cookies.delete(PENDING_COOKIE, path=CALLBACK_PATH)
    client.cookies.set(PENDING_COOKIE, value[:-2] + ("AA" if value[-2:] != "AA" else "BB"),
                       path=CALLBACK_PATH)
    response = client.get(with_query(back))
    assert response.status_code == 400 and "登录状态无效或已过期" in response.text


def test_a_replayed_code_is_refused(client):
    back = authorize(client)
    pending = client.cookies.get(PENDING_COOKIE)
    assert client.get(with_query(back), follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set(PENDING_COOKIE, pending, path=CALLBACK_PATH)  # the same callback again
    response = client.get(with_query(back), follow_redirects=False)
    assert response.status_code == 400 and "授权码无效、已使用或已过期" in response.text
    assert client.get("/api/enterprise/me").status_code == 401


def test_a_code_of_another_sign_in_fails_pkce(client):
    """A code obtained for one sign-in, brought back to another browser's sign-in (its state
    copied too): the verifier does not match the challenge the code was issued for."""
    stolen = parse_qs(urlsplit(authorize(client)).query)["code"][0]
    client.cookies.clear()
    victim_back = authorize(client)
    response = client.get(with_query(victim_back, code=stolen), follow_redirects=False)
    assert response.status_code == 400 and "授权码" in response.text


def test_a_refusal_at_the_provider_is_said(client):
    back = authorize(client)
    response = client.get(with_query(back, error="access_denied"), follow_redirects=False)
    assert response.status_code == 400 and "统一身份认证未授权" in response.text


def test_sign_out_ends_the_session_on_the_server(client, app):
    sign_in(client)
    cookie = app.state.settings.enterprise_cookie
    token = client.cookies.get(cookie)
    out = client.post("/auth/enterprise/logout", json={})
    assert out.status_code == 200
    assert out.json()["redirect"].startswith("http://127.0.0.1:8000/oidc-sim/end-session?")
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2F" in out.json()["redirect"]
    assert client.get("/api/enterprise/me").status_code == 401
    client.cookies.set(cookie, token)  # a copy of the cookie kept elsewhere: ended too
    assert client.get("/api/enterprise/me").status_code == 401


def test_sign_out_needs_the_sites_origin(client):
    sign_in(client)
    refused = client.post("/auth/enterprise/logout", json={},
                          headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403
    assert client.get("/api/enterprise/me").status_code == 200


def test_production_without_an_issuer_has_no_simulator_and_no_sign_in(settings, redis_client):
    """A simulator in production would let anyone sign in as any enterprise."""
    strong = {name: f"{name}-strong-random-value-0123456789" for name in SECRET_DEFAULTS}
    app = create_app(settings.model_copy(update={"env": "production", **strong}))
    with TestClient(app, headers=SAME_ORIGIN) as production:
        login = production.get("/auth/enterprise/login", follow_redirects=False)
        assert login.status_code == 503 and "企业登录暂未开通" in login.text
        assert production.get("/oidc-sim/.well-known/openid-configuration").status_code == 404
        assert production.post("/auth/enterprise/logout", json={}).json()["redirect"] == "/"


def test_a_configured_issuer_replaces_the_simulator(settings, redis_client):
    app = create_app(settings.model_copy(update={
        "oidc_issuer": "https://yiwangtongban.example.gov.cn/oidc"}))
    assert app.state.oidc.issuer == "https://yiwangtongban.example.gov.cn/oidc"
    with TestClient(app, headers=SAME_ORIGIN) as configured:
        assert configured.get("/oidc-sim/jwks").status_code == 404


def test_production_refuses_the_simulators_client_secret_for_a_real_issuer(settings):
    strong = {name: f"{name}-strong-random-value-0123456789" for name in SECRET_DEFAULTS}
    production = settings.model_copy(update={
        "env": "production", "oidc_issuer": "https://yiwangtongban.example.gov.cn/oidc",
        **strong})
    with pytest.raises(WeakSecrets, match="XIAOBAO_OIDC_CLIENT_SECRET"):
        create_app(production)


def test_routes_taking_the_signed_in_uscc_refuse_anyone_else(app, client):
    """``SignedInUscc`` (api.deps) for the routes that will show register facts: the
    signed-in enterprise's own code, whatever code the request names; 401 when anonymous."""

    @app.get("/test-only/register-facts")
    def facts(uscc: SignedInUscc, asked: str = "") -> dict:
        return {"uscc": uscc}

    anonymous = client.get("/test-only/register-facts", params={"asked": USCC})
    assert anonymous.status_code == 401 and "企业登录" in anonymous.json()["error"]["message"]
    sign_in(client)
    answer = client.get("/test-only/register-facts", params={"asked": SAMPLES[2][0]})
    assert answer.json() == {"uscc": USCC}


def test_a_configured_redirect_url_is_used_for_the_callback_and_after_sign_out(settings,
                                                                             redis_client):
    public = "https://portal.example.gov.cn/auth/enterprise/callback"
    app = create_app(settings.model_copy(update={"oidc_redirect_url": public}))
    with TestClient(app, headers=SAME_ORIGIN) as behind_a_proxy:
        started = behind_a_proxy.get("/auth/enterprise/login", follow_redirects=False)
        query = parse_qs(urlsplit(started.headers["location"]).query)
        assert query["redirect_uri"] == [public]
        out = behind_a_proxy.post("/auth/enterprise/logout", json={}).json()
        assert "post_logout_redirect_uri=https%3A%2F%2Fportal.example.gov.cn%2F" in out["redirect"]


def test_sign_in_and_sign_out_are_in_the_event_log(client, app):
    from sqlalchemy import select

    from xiaobao.db import session_scope
    from xiaobao.events import Event

    sign_in(client)
    assert client.post("/auth/enterprise/logout").status_code == 200
    with session_scope(app.state.services.engine) as s:
        logged = [(e.kind, e.actor) for e in s.scalars(select(Event).where(
            Event.kind.in_(("enterprise_login", "enterprise_logout"))).order_by(Event.pk))]
    assert logged == [("enterprise_login", USCC), ("enterprise_logout", USCC)]

"""The simulator identity provider (api/oidc_simulator.py): discovery and JWKS, the labelled
/authorize page and what it refuses, /token's checks (client secret, one-time code, PKCE
verifier, redirect URI), end-session, and its key kept under the home (mode 600)."""
from __future__ import annotations

import stat
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from api.oidc_simulator import KEY_FILE, LABEL, SAMPLES, build_simulator
from xiaobao.settings import Settings

REDIRECT = "http://127.0.0.1:8000/auth/enterprise/callback"
VERIFIER = "v" * 64
USCC, NAME = SAMPLES[1]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path)


def mounted(settings: Settings) -> TestClient:
    """The simulator where the gateway mounts it."""
    app = Starlette(routes=[Mount("/oidc-sim", build_simulator(settings))])
    return TestClient(app, base_url="http://127.0.0.1:8000/oidc-sim")


@pytest.fixture
def sim(settings) -> TestClient:
    return mounted(settings)


def authorize_params(**changes) -> dict:
    params = {"client_id": "xiaobao-portal", "redirect_uri": REDIRECT, "response_type": "code",
              "scope": "openid profile", "state": "st", "nonce": "nn",
              "code_challenge": create_s256_code_challenge(VERIFIER),
              "code_challenge_method": "S256", **changes}
    return {k: v for k, v in params.items() if v is not None}


def code_for(sim: TestClient, **changes) -> str:
    answered = sim.post("/authorize", data={**authorize_params(**changes), "uscc": USCC,
                                            "name": NAME}, follow_redirects=False)
    assert answered.status_code == 303, answered.text
    back = urlsplit(answered.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    query = parse_qs(back.query)
    assert query["state"] == ["st"]
    return query["code"][0]


def token(sim: TestClient, code: str, **changes) -> object:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER, "client_id": "xiaobao-portal",
            "client_secret": "dev-oidc-simulator-secret", **changes}
    return sim.post("/token", data={k: v for k, v in form.items() if v is not None})


def test_discovery_names_its_endpoints_and_s256(sim):
    doc = sim.get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == "http://127.0.0.1:8000/oidc-sim"
    assert doc["token_endpoint"] == "http://127.0.0.1:8000/oidc-sim/token"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "end_session_endpoint" in doc


def test_the_page_says_it_is_a_simulator(sim):
    page = sim.get("/authorize", params=authorize_params())
    assert page.status_code == 200
    assert LABEL == "模拟身份认证（开发/测试用，非真实一网通办）" and page.text.count(LABEL) >= 2
    assert all(uscc in page.text for uscc, _ in SAMPLES)
    assert 'value="st"' in page.text  # the request's parameters carried in the forms


@pytest.mark.parametrize("changes", [
    {"code_challenge": None}, {"code_challenge_method": "plain"},
    {"redirect_uri": "http://evil.example/auth/enterprise/callback"},
    {"redirect_uri": "http://127.0.0.1:8000/elsewhere"}, {"client_id": "someone-else"},
    {"state": None}, {"nonce": None}, {"response_type": "token"}, {"scope": "profile"},
])
def test_authorize_refuses_a_request_without_what_the_flow_needs(sim, changes):
    assert sim.get("/authorize", params=authorize_params(**changes)).status_code == 400


def test_a_typed_uscc_with_a_wrong_check_character_is_refused_on_the_page(sim):
    wrong = USCC[:17] + ("0" if USCC[17] != "0" else "1")
    page = sim.post("/authorize", data={**authorize_params(), "uscc": wrong, "name": NAME})
    assert page.status_code == 400 and "校验位" in page.text


def test_cancelling_sends_access_denied_back(sim):
    answered = sim.post("/authorize", data={**authorize_params(), "action": "deny"},
                        follow_redirects=False)
    assert parse_qs(urlsplit(answered.headers["location"]).query) == {
        "state": ["st"], "error": ["access_denied"]}


def test_the_id_token_is_signed_by_the_published_key_and_names_the_enterprise(sim):
    answer = token(sim, code_for(sim))
    assert answer.status_code == 200, answer.text
    keys = KeySet.import_key_set(sim.get("/jwks").json())
    claims = jwt.decode(answer.json()["id_token"], keys, algorithms=["RS256"]).claims
    assert (claims["uscc"], claims["name"], claims["nonce"]) == (USCC, NAME, "nn")
    assert claims["aud"] == "xiaobao-portal" and claims["exp"] > claims["iat"]


def test_a_code_is_used_once(sim):
    code = code_for(sim)
    assert token(sim, code).status_code == 200
    replay = token(sim, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("changes, status", [
    ({"code_verifier": "w" * 64}, 400), ({"code_verifier": None}, 400),
    ({"redirect_uri": "http://localhost:8000/auth/enterprise/callback"}, 400),
    ({"client_secret": "wrong"}, 401), ({"client_id": "someone-else"}, 401),
    ({"grant_type": "password"}, 400),
])
def test_token_checks_the_secret_the_verifier_and_the_redirect(sim, changes, status):
    code = code_for(sim)
    assert token(sim, code, **changes).status_code == status
    if status == 400 and "grant_type" not in changes:
        assert token(sim, code).status_code == 400  # a failed exchange used the code up


def test_end_session_returns_only_to_a_registered_site(sim):
    back = sim.get("/end-session", params={"post_logout_redirect_uri": "http://127.0.0.1:8000/"},
                   follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "http://127.0.0.1:8000/"
    elsewhere = sim.get("/end-session", params={"post_logout_redirect_uri":
                                                "http://evil.example/"}, follow_redirects=False)
    assert elsewhere.status_code == 200 and "已退出" in elsewhere.text


def test_the_key_is_kept_under_the_home(settings, sim):
    path = settings.home / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert mounted(settings).get("/jwks").json() == sim.get("/jwks").json()

"""API tokens at the gateway (api/deps.py): ``Authorization: Bearer xb_…`` with no cookie and
no Origin is served within the token's scopes, acts under its own name, is refused 401 when
unknown, revoked or expired and 403 where no scope reaches; its cookies are never read. The
route-by-route table is tests/api/test_authorization.py's."""
from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from xiaobao import tokens
from xiaobao.clock import utcnow
from xiaobao.db import session_scope

REPORT = ("/api/reports/summary", {"from": "2026-12-01", "to": "2026-12-01"})


@pytest.fixture
def make_token(services):
    def make(name: str, *scopes: str, expires_at: dt.datetime | None = None) -> str:
        with session_scope(services.engine) as session:
            return tokens.create_token(session, name, list(scopes), expires_at=expires_at,
                                       by="test")[1]
    return make


@pytest.fixture
def machine(app):
    """A client with no Origin and no cookie: the 12345 system, or curl."""
    with TestClient(app) as bare:
        yield bare


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_read_scope_reads_with_no_cookie_and_records_the_last_use(machine, make_token,
                                                                    services):
    token = make_token("oa", "reports:read")
    path, params = REPORT
    response = machine.get(path, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert "xiaobao_session" not in response.cookies
    with session_scope(services.engine) as session:
        assert utcnow() - tokens.find_token(session, "oa").last_used_at.replace(
            tzinfo=dt.UTC) < dt.timedelta(minutes=1)


def test_a_write_scope_writes_with_no_origin_under_the_tokens_name(machine, make_token):
    token = make_token("kb-sync", "kb:write")
    created = machine.post("/api/kb/entries", json={"question": "令牌新建", "answer": "答案。"},
                           headers=bearer(token))
    assert created.status_code == 201, created.text
    entry_id = created.json()["entry"]["id"]
    history = machine.get(f"/api/kb/entries/{entry_id}/history", headers=bearer(token))
    assert history.json()["versions"][0]["changed_by"] == "token:kb-sync"


@pytest.mark.parametrize("method, path, code", [
    ("GET", "/api/kb/entries", "token_scope"),  # another scope's route
    ("GET", "/api/helper/me", "token_scope"),  # a helper's own: no scope opens it
    ("GET", "/api/auth/me", "token_not_allowed"),  # an account's own
    ("GET", "/api/register/export", "token_not_allowed"),
    # a read scope does not write: reviewing a 差评 is a report reader's POST
    ("POST", "/api/reports/bad-ratings/1/review", "token_scope"),
])
def test_outside_its_scopes_a_token_gets_403_in_the_error_shape(machine, make_token, method,
                                                                path, code):
    token = make_token("oa", "reports:read")
    response = machine.request(method, path, headers=bearer(token),
                               json={"verdict": "属实", "note": "x"} if method == "POST" else None)
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == code and "令牌" in error["message"] and "token" in error["message"]


def test_revoked_expired_and_unknown_tokens_get_401(machine, make_token, services):
    revoked = make_token("old", "reports:read")
    with session_scope(services.engine) as session:
        tokens.revoke_token(session, "old", by="test")
    expired = make_token("soon", "reports:read", expires_at=utcnow() + dt.timedelta(seconds=1))
    with session_scope(services.engine) as session:  # its expiry passes
        tokens.find_token(session, "soon").expires_at = utcnow() - dt.timedelta(seconds=1)
    path, params = REPORT
    for token, code, said in ((revoked, "token_revoked", "已被撤销"),
                              (expired, "token_expired", "已过期"),
                              ("xb_" + "x" * 43, "token_invalid", "无效"),
                              ("not-a-token", "token_invalid", "无效")):
        for route in (path, "/api/auth/me"):  # also where no token is allowed at all
            response = machine.get(route, params=params, headers=bearer(token))
            assert response.status_code == 401, (token, route, response.text)
            assert response.json()["error"]["code"] == code
            assert said in response.json()["error"]["message"]
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_bearer_request_is_the_tokens_alone_whatever_cookie_it_carries(client, login,
                                                                        make_token):
    """A supervisor's session cookie beside a kb:write token gives neither the supervisor's
    reports nor anything but the token's scope."""
    login("sup", roles=["supervisor"], departments=[])
    path, params = REPORT
    assert client.get(path, params=params).status_code == 200  # the cookie alone
    token = make_token("kb-sync", "kb:write")
    assert client.get(path, params=params, headers=bearer(token)).status_code == 403
    assert client.get("/api/kb/entries", headers=bearer(token)).status_code == 200

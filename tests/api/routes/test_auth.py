import pytest
from sqlalchemy import select

from xiaobao.accounts import Account
from xiaobao.db import session_scope


def test_login_sets_session_and_me_returns_account(client, make_account):
    password = make_account("ann", roles=["helper"], departments=["区税务局"])
    assert client.get("/api/auth/me").status_code == 401

    response = client.post("/api/auth/login", json={"username": "ann", "password": password})
    assert response.status_code == 200
    assert response.json()["account"]["departments"] == ["区税务局"]
    assert "xiaobao_session" in response.cookies
    me = client.get("/api/auth/me").json()["account"]
    assert me["username"] == "ann" and me["roles"] == ["helper"]
    assert "password_hash" not in me


@pytest.mark.parametrize("role,allowed", [
    ("helper", {"claim_tickets"}),
    ("leader", {"claim_tickets", "lead", "read_reports", "review_bad_ratings",
                "overturn_unfounded", "read_work_lists"}),
    ("editor", {"edit_kb", "edit_policies", "read_kb_gaps"}),
    ("supervisor", {"read_kb_gaps", "read_reports", "review_bad_ratings",
                    "see_all_departments", "read_work_lists", "read_register"}),
    ("registrar", {"read_register", "manage_register"}),
    ("admin", {"claim_tickets", "lead", "edit_kb", "edit_policies", "read_kb_gaps",
               "read_reports", "review_bad_ratings", "overturn_unfounded", "see_all_departments",
               "read_work_lists", "read_register", "manage_register"}),
])
def test_me_says_what_the_account_may_do(client, make_account, role, allowed):
    """The pages show and hide by ``can``, never by role names (xiaobao.policy.capabilities)."""
    password = make_account("ann", roles=[role], departments=["区税务局"])
    client.post("/api/auth/login", json={"username": "ann", "password": password})
    can = client.get("/api/auth/me").json()["can"]
    assert {name for name, yes in can.items() if yes} == allowed
    assert len(can) == 12 and all(isinstance(yes, bool) for yes in can.values())


def test_password_is_stored_as_argon2_hash(client, make_account):
    password = make_account("ann", roles=["helper"])
    with session_scope(client.app.state.services.engine) as session:
        stored = session.scalar(select(Account.password_hash).where(Account.username == "ann"))
    assert stored.startswith("$argon2id$") and password not in stored


def test_wrong_password_and_unknown_user_get_the_same_error(client, make_account):
    make_account("ann", roles=["helper"])
    wrong = client.post("/api/auth/login", json={"username": "ann", "password": "nope-nope"})
    unknown = client.post("/api/auth/login", json={"username": "zed", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "bad_credentials"
    assert "用户名或密码错误" in wrong.json()["error"]["message"]


def test_repeated_failures_delay_the_username(client, make_account):
    """A short, doubling delay, not a lockout (tests/api/test_limits.py has the details)."""
    password = make_account("ann", roles=["helper"])
    for _ in range(10):
        client.post("/api/auth/login", json={"username": "ann", "password": "wrong-pass"})
    delayed = client.post("/api/auth/login", json={"username": "ann", "password": password})
    assert delayed.status_code == 429
    assert delayed.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(delayed.headers["Retry-After"]) <= 2


def test_logout_ends_the_session(login):
    client = login()
    assert client.get("/api/auth/me").status_code == 200
    assert client.post("/api/auth/logout").status_code == 200
    assert client.get("/api/auth/me").status_code == 401


def test_forged_session_cookie_is_refused(client, make_account):
    make_account("ann", roles=["admin"])
    client.cookies.set("xiaobao_session", "eyJhY2NvdW50X2lkIjogMX0=.forged.signature")
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_disabled_account_cannot_log_in(client, make_account):
    password = make_account("ann", roles=["helper"])
    with session_scope(client.app.state.services.engine) as session:
        session.scalar(select(Account).where(Account.username == "ann")).active = False
    response = client.post("/api/auth/login", json={"username": "ann", "password": password})
    assert response.status_code == 401


def test_missing_fields_get_the_error_shape(client):
    response = client.post("/api/auth/login", json={"username": "ann"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "invalid_request" and "password" in body["error"]["message"]


def test_changing_the_password_checks_the_current_one_and_ends_other_sessions(
        client, make_account, app):
    from fastapi.testclient import TestClient

    from tests.api.support import SAME_ORIGIN

    password = make_account("ann", roles=["helper"])
    with TestClient(app, headers=SAME_ORIGIN) as other:  # a second browser, signed in too
        assert other.post("/api/auth/login", json={"username": "ann", "password": password}
                          ).status_code == 200
        assert client.post("/api/auth/login", json={"username": "Ann", "password": password}
                           ).status_code == 200
        wrong = client.post("/api/auth/password", json={"current_password": "nope-nope-1",
                                                        "new_password": "a-new-secret-9"})
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "bad_credentials"
        weak = client.post("/api/auth/password", json={"current_password": password,
                                                       "new_password": "12345678"})
        assert weak.status_code == 422 and weak.json()["error"]["code"] == "weak_password"
        assert "密码" in weak.json()["error"]["message"]
        ok = client.post("/api/auth/password", json={"current_password": password,
                                                     "new_password": "a-new-secret-9"})
        assert ok.status_code == 200
        assert client.get("/api/auth/me").status_code == 200  # this browser stays signed in
        assert other.get("/api/auth/me").status_code == 401  # the other one is signed out
    assert client.post("/api/auth/login", json={"username": "ann", "password": password}
                       ).status_code == 401


def test_the_password_page_posts_to_the_password_route(client):
    page = client.get("/account/password")
    assert page.status_code == 200 and "修改密码" in page.text
    script = client.get("/static/password.js")
    assert script.status_code == 200 and "/api/auth/password" in script.text
    assert 'href="/account/password"' in client.get("/console").text

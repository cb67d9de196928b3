"""``/api/tokens``: supervisors and admin list, make (the token in that answer only) and
revoke the API tokens; nobody grants a scope they do not hold."""
from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from xiaobao.db import session_scope
from xiaobao.events import Event, EventKind

REPORT = ("/api/reports/summary", {"from": "2026-12-01", "to": "2026-12-01"})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_supervisor_makes_lists_and_revokes_a_token(client, login, app, services):
    login("sup", roles=["supervisor"], departments=[])
    made = client.post("/api/tokens", json={"name": "oa", "scopes": ["reports:read"],
                                            "expires": "30d"})
    assert made.status_code == 201, made.text
    token, item = made.json()["token"], made.json()["item"]
    assert token.startswith(item["prefix"]) and item["state"] == "active"
    assert item["created_by"] == "sup" and item["expires_at"] is not None

    machine = TestClient(app)  # no cookie, no Origin
    path, params = REPORT
    assert machine.get(path, params=params, headers=bearer(token)).status_code == 200

    listed = client.get("/api/tokens")
    assert listed.status_code == 200 and token not in listed.text
    [row] = listed.json()["tokens"]
    assert row["name"] == "oa" and row["last_used_at"] is not None

    revoked = client.post("/api/tokens/oa/revoke")
    assert revoked.status_code == 200 and revoked.json()["item"]["state"] == "revoked"
    refused = machine.get(path, params=params, headers=bearer(token))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"
    with session_scope(services.engine) as session:
        kinds = [(e.kind, e.actor) for e in session.scalars(
            select(Event).where(Event.kind.like("api_token%")).order_by(Event.pk))]
    assert kinds == [(EventKind.API_TOKEN_CREATED, "sup"), (EventKind.API_TOKEN_REVOKED, "sup")]


def test_nobody_grants_a_scope_they_do_not_hold(client, login):
    login("sup", roles=["supervisor"], departments=[])
    refused = client.post("/api/tokens", json={"name": "kb", "scopes": ["kb:write"]})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "scope_not_yours" and "kb:write" in error["message"]
    assert client.get("/api/tokens").json()["tokens"] == []


def test_admin_grants_any_scope(client, login):
    login("root", roles=["admin"], departments=[])
    made = client.post("/api/tokens", json={"name": "kb", "scopes": ["kb:write", "tickets:read"]})
    assert made.status_code == 201 and made.json()["item"]["scopes"] == ["tickets:read",
                                                                         "kb:write"]


def test_bad_requests_get_a_clear_answer(client, login):
    login("sup", roles=["supervisor"], departments=[])
    for body, code in (({"name": "oa", "scopes": ["reports:write"]}, "invalid_request"),
                       ({"name": "oa", "scopes": []}, "invalid_request"),
                       ({"name": "o a", "scopes": ["reports:read"]}, "token_error"),
                       ({"name": "oa", "scopes": ["reports:read"], "expires": "2020-01-01"},
                        "token_error")):
        response = client.post("/api/tokens", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == code
    assert client.post("/api/tokens", json={"name": "oa", "scopes": ["reports:read"]}
                       ).status_code == 201
    taken = client.post("/api/tokens", json={"name": "oa", "scopes": ["reports:read"]})
    assert taken.status_code == 422 and "taken" in taken.json()["error"]["message"]
    unknown = client.post("/api/tokens/nobody/revoke")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "token_not_found"

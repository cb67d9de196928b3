"""API tokens in the authorization matrix: every route a staff account needs × a token of each
scope, and a revoked and an expired token.

The routes are tests/api/test_authorization.py's ``MATRIX`` rows that an anonymous caller gets
401 from and some staff role does not (the console, the workbench, the dashboard, the
register, the work lists, the account's own routes). :data:`TOKEN_MATRIX` lists what each
scope's token gets where its scope reaches (``xiaobao.policy.SCOPES``); on every other such
route each token gets 403, and the revoked and expired tokens (holding every scope) 401.
Requests carry the token and nothing else: no cookie, no Origin, as the 12345 or OA system
sends them. WebSockets are left out: a token is for HTTP (the handshake wants an Origin and a
console session). A refusal cell sends placeholder ids (nothing is made for it: a refusal
comes before the route looks anything up, and a wrongly opened route answers 404 or 422, not
403); a cell a scope opens gets the same fresh ticket, entry or case as the roles' matrix.
"""
from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from tests.api.test_authorization import (  # noqa: F401  (settings: the limits lifted)
    CALLS,
    MATRIX,
    Call,
    World,
    matches,
    settings,
)
from xiaobao import tokens
from xiaobao.clock import utcnow
from xiaobao.db import session_scope
from xiaobao.policy import SCOPES

SCOPE_COLUMNS = ("reports:read", "tickets:read", "kb:write", "exports:read")
REFUSED = (403, 403, 403, 403)
KB_WRITE = (403, 403, 200, 403)
# Where a scope reaches; columns as SCOPE_COLUMNS. Every other staff route: REFUSED.
TOKEN_MATRIX: dict[tuple[str, str], tuple[int, int, int, int]] = {
    # reports:read: the service rates, clusters, targets and the 差评 list (reads only: the
    # review, overturn and rectification of a 差评 stay REFUSED); the work lists' outcomes
    ("GET", "/api/reports/summary"):       (200, 403, 403, 403),
    ("GET", "/api/reports/series"):        (200, 403, 403, 403),
    ("GET", "/api/reports/export"):        (200, 403, 403, 403),
    ("GET", "/api/reports/clusters"):      (422, 403, 403, 403),  # TOKEN_CALLS: past the scope
    ("GET", "/api/reports/targets"):       (200, 403, 403, 403),
    ("GET", "/api/reports/bad-ratings"):   (200, 403, 403, 403),
    ("GET", "/api/worklists/outcomes"):    (200, 403, 403, 403),
    # exports:read: the record exported (api/routes/exports.py), never reports:read's
    ("GET", "/api/exports/conversations"): (403, 403, 403, 200),
    ("GET", "/api/exports/tickets"):       (403, 403, 403, 200),
    ("GET", "/api/exports/complaints"):    (403, 403, 403, 200),
    # tickets:read: the queues, a ticket of department A and its messages (no claiming,
    # answering, transferring or closing; no 留言; not a helper's own status or list)
    ("GET", "/api/helper/queues"):         (403, 200, 403, 403),
    ("GET", "/api/helper/tickets/{ticket_id}"): (403, 200, 403, 403),
    ("GET", "/api/helper/tickets/{ticket_id}/messages"): (403, 200, 403, 403),
    # kb:write: the editors' knowledge-base routes (not the gaps, not the policy store)
    ("GET", "/api/kb/entries"):            KB_WRITE,
    ("POST", "/api/kb/entries"):           (403, 403, 201, 403),
    ("GET", "/api/kb/meta"):               KB_WRITE,
    ("GET", "/api/kb/entries/{entry_id}"): KB_WRITE,
    ("PUT", "/api/kb/entries/{entry_id}"): KB_WRITE,
    ("POST", "/api/kb/entries/{entry_id}/publish"): KB_WRITE,
    ("POST", "/api/kb/entries/{entry_id}/archive"): KB_WRITE,
    ("GET", "/api/kb/entries/{entry_id}/history"): KB_WRITE,
    ("GET", "/api/kb/entries/{entry_id}/diff"): KB_WRITE,
    ("GET", "/api/kb/entries/{entry_id}/policy-suggestions"): KB_WRITE,
    ("POST", "/api/kb/entries/{entry_id}/rollback"): KB_WRITE,
    ("POST", "/api/kb/preview"):           KB_WRITE,
    ("POST", "/api/kb/import"):            KB_WRITE,
    ("GET", "/api/kb/export"):             KB_WRITE,
    ("POST", "/api/kb/hit-test"):          (403, 403, 422, 403),  # TOKEN_CALLS: past the scope
    ("GET", "/api/kb/drafts"):             KB_WRITE,
    ("POST", "/api/kb/drafts/{draft_id}/accept"): KB_WRITE,
    ("POST", "/api/kb/drafts/{draft_id}/reject"): KB_WRITE,
}
# The hit test and the problem clusters load the embedding model (30-60 s), which the roles'
# matrix pays for: here a request the route refuses (422: no query, a malformed day) shows the
# token got past the scope check, which comes first.
TOKEN_CALLS = {("POST", "/api/kb/hit-test"): Call(body={}),
               ("GET", "/api/reports/clusters"): Call(params={"from": "not-a-day"})}
REFUSAL_CODES = {403: {"token_scope", "token_not_allowed"},
                 401: {"token_revoked", "token_expired"}}
PLACEHOLDERS = {"ticket_id": "T-none", "message_id": "M-none", "entry_id": "kb-none",
                "draft_id": "kb-none", "case_id": 0, "policy_id": "p-none", "uscc": "x",
                "item_id": 0, "name": "t-none"}


def staff_routes() -> list[tuple[str, str]]:
    """The HTTP routes of MATRIX that need a staff account (anonymous 401, some role not)."""
    return [key for key, row in MATRIX.items()
            if key[0] != "WS" and row[0] == 401 and any(o != 401 for o in row[2:])]


class TokenWorld(World):
    """The roles' world (its tickets, entries, cases…), plus a client with no cookie and no
    Origin, and a token of each scope, a revoked one and an expired one."""

    def __init__(self, client: TestClient, make_account):
        super().__init__(client, make_account)
        self.machine = TestClient(client.app)  # the app is already started by ``client``
        everything = list(SCOPES)
        with session_scope(self.services.engine) as session:
            made = {scope: tokens.create_token(session, f"matrix-{scope.replace(':', '-')}",
                                               [scope], expires_at=None, by="matrix")[1]
                    for scope in SCOPE_COLUMNS}
            made["revoked"] = tokens.create_token(session, "matrix-revoked", everything,
                                                  expires_at=None, by="matrix")[1]
            tokens.revoke_token(session, "matrix-revoked", by="matrix")
            made["expired"] = tokens.create_token(
                session, "matrix-expired", everything,
                expires_at=utcnow() + dt.timedelta(minutes=1), by="matrix")[1]
            tokens.find_token(session, "matrix-expired").expires_at = \
                utcnow() - dt.timedelta(seconds=1)
        self.tokens = made

    def token_outcome(self, method: str, path: str, holder: str, opened: bool
                      ) -> tuple[int, str, str]:
        call = TOKEN_CALLS.get((method, path)) or CALLS.get((method, path), Call())
        url = self.url(path, call) if opened else path.format(**PLACEHOLDERS)
        body = {"item": {"id": "p-none"}} if call.policy == "new" else call.body
        if call.api_token == "new":
            body = {"name": "t-none", "scopes": ["reports:read"]}
        response = self.machine.request(
            method, url, json=body, params=call.params, files=call.files, data=call.form,
            headers={"Authorization": f"Bearer {self.tokens[holder]}"})
        code = response.json().get("error", {}).get("code", "") \
            if response.headers.get("content-type", "").startswith("application/json") else ""
        return response.status_code, code, response.text[:300]

    def url(self, path: str, call: Call) -> str:
        return path.format(ticket_id=self.ticket(call.ticket) if call.ticket else "",
                           message_id=self.message(call.message) if call.message else "",
                           entry_id=self.entry(call.entry) if call.entry else "",
                           draft_id=self.entry(call.draft) if call.draft else "",
                           case_id=self.bad_rating(call.bad_rating) if call.bad_rating else 0,
                           uscc=self.enterprise() if call.enterprise else "x",
                           item_id=self.work_item(call.work_item) if call.work_item else 0,
                           policy_id=self.policy(call.policy) if call.policy else "",
                           name=self.api_token() if call.api_token == "fresh" else "x")


def test_every_scope_opens_something_and_names_only_staff_routes():
    routes = set(staff_routes())
    assert set(SCOPE_COLUMNS) == set(SCOPES)
    for column, scope in enumerate(SCOPE_COLUMNS):
        assert any(row[column] not in (401, 403) for key, row in TOKEN_MATRIX.items()
                   if key in routes), \
            f"{scope} opens no route"
    assert {key for key in TOKEN_MATRIX if key in MATRIX} <= routes


def test_token_matrix(app, client, make_account, rasa):
    world = TokenWorld(client, make_account)
    wrong = []
    for method, path in staff_routes():
        row = TOKEN_MATRIX.get((method, path), REFUSED)
        cells = [*zip(SCOPE_COLUMNS, row), ("revoked", 401), ("expired", 401)]
        for holder, expected in cells:
            opened = expected not in (401, 403)
            got, code, body = world.token_outcome(method, path, holder, opened=opened)
            # a refusal is the token's: its scope (or an account's own route), its revocation
            # or expiry — never another guard's (an Origin, a department)
            if not matches(expected, got) or code not in REFUSAL_CODES.get(expected, {code}) \
                    or (got == 401 and code != f"token_{holder}"):
                wrong.append(f"{method} {path} with a {holder} token: expected {expected}, "
                             f"got {got} {body}")
    assert not wrong, "\n".join(wrong)

"""Who may call what: every route of the gateway × every kind of caller, as one explicit table.

``MATRIX`` maps each route (method and path; ``WS`` for a WebSocket) to the outcome each role
gets — an HTTP status, a set of statuses where the state may vary, or for a WebSocket
``ACCEPT`` / ``CLOSED(code)``. A route of the app with no row fails
:func:`test_every_route_is_in_the_matrix` (add it to the matrix), and a row for a route that
no longer exists fails it too.

The callers are real: accounts made with the conftest's ``make_account`` and logged in through
``/api/auth/login``, a visitor cookie from ``GET /``, tickets of department A created by
:func:`handoff.requests.request_handoff` (a fresh one for every cell, so no cell sees what
another did; held by helper A except for ``claim``), 留言 left through the handoff package and
the portal. Every request carries ``Origin: http://testserver`` (the CSRF guard wants it), and the
abuse limits are lifted (this test is about who may, not how often).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from enterprises import register
from enterprises.uscc import check_character
from entitlements.models import WorkItem
from handoff import claims, left_messages
from handoff.requests import request_handoff
from knowledge_base.schema import EntryData
from knowledge_base.store import save_entry
from policies import editing
from policies import store as policy_store
from ratings import cases
from ratings.record import record_rating
from tests.api.support import CATEGORY, DEPT, OTHER, handoff_request
from xiaobao import tokens
from xiaobao.accounts import Account
from xiaobao.db import session_scope

try:  # FastAPI ≥ 0.13x keeps included routers as one entry of app.routes each
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI: app.routes is already flat
    iter_route_contexts = None

ORIGIN = "http://testserver"
ROLES = ("anonymous", "visitor", "helper_a", "helper_b", "leader_a", "editor", "supervisor",
         "admin")
# Staff accounts: roles and departments (A is DEPT, B is OTHER; tests/api/support.py).
# The admin has no department: admin may act anywhere, but duty and claiming the next ticket
# need a department of one's own (xiaobao.policy.ticket_departments).
STAFF = {
    "helper_a": (["helper"], [DEPT]),
    "helper_b": (["helper"], [OTHER]),
    "leader_a": (["leader"], [DEPT]),
    "editor": (["editor"], []),
    "supervisor": (["supervisor"], []),
    "admin": (["admin"], []),
}
ON_DUTY = ("helper_a", "helper_b", "leader_a")  # set on duty before the matrix runs

ACCEPT = "accept"


def CLOSED(code: int) -> str:  # reads as a constant in the table
    return f"closed {code}"


# --- the matrix ----------------------------------------------------------------------------------
# Columns, in order:
#   anonymous  visitor  helper_a  helper_b  leader_a  editor  supervisor  admin
# Ticket routes act on a ticket of department A held by helper A (``claim``: a queued one).
# 403 for helper B: another department; for editor/supervisor: not a ticket role; for
# leader A/admin on messages/answer: only the holder talks to the user (a leader may close,
# transfer or take over, not speak as the holder).
W = CLOSED(4401)
KB = (401, 401, 403, 403, 403, 200, 403, 200)  # the knowledge editors' routes
MATRIX: dict[tuple[str, str], tuple] = {
    # pages and documents: public
    ("GET", "/"):                          (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/policy-check"):              (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/register"):                  (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/notifications/opt-out"):     (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/my-policies"):               (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/console"):                   (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/editor"):                    (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/dashboard"):                 (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/vendor/chart.umd.min.js"):   (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/login"):                     (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/account/password"):          (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/openapi.json"):              (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/healthz"):                   (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/metrics"):                   (200, 200, 200, 200, 200, 200, 200, 200),
    # console log-in: public; ``me`` needs a session
    ("POST", "/api/auth/login"):           (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/api/auth/logout"):          (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/auth/me"):               (401, 401, 200, 200, 200, 200, 200, 200),
    # enterprise sign-in (一网通办 法人): public; login ends on the simulator's page (followed
    # redirect), a callback with no sign-in under way is refused, ``me`` needs an enterprise
    # session, which no staff role is
    ("GET", "/auth/enterprise/login"):     (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/auth/enterprise/callback"):  (400, 400, 400, 400, 400, 400, 400, 400),
    ("POST", "/auth/enterprise/logout"):   (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/enterprise/me"):         (401, 401, 401, 401, 401, 401, 401, 401),
    # a session is needed; the body's current password is wrong for everyone (403)
    ("POST", "/api/auth/password"):        (401, 401, 403, 403, 403, 403, 403, 403),
    # the portal's chat: the visitor cookie only (a caller without one gets a new one)
    ("POST", "/api/chat/messages"):        (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/api/chat/end"):             (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/chat/history"):          (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/chat/queue"):            (200, 200, 200, 200, 200, 200, 200, 200),
    ("WS", "/ws/chat"):                    (W, ACCEPT, W, W, W, W, W, W),
    # 留言: the visitor cookie only; a call-back only about one's own 留言 (others: unknown)
    ("POST", "/api/chat/leave-message"):   (201, 201, 201, 201, 201, 201, 201, 201),
    ("GET", "/api/chat/left-messages"):    (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/api/chat/left-messages/{message_id}/callback"):
                                           (404, 201, 404, 404, 404, 404, 404, 404),
    ("GET", "/api/chat/phone-code"):       (200, 200, 200, 200, 200, 200, 200, 200),
    # 政策体检: public, rate-limited per address like the chat
    ("GET", "/api/policy-fields"):         (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/api/policy-check"):         (200, 200, 200, 200, 200, 200, 200, 200),
    # an enterprise's correction of a register fact: the signed-in enterprise only
    ("POST", "/api/policy-check/corrections"): (401, 401, 401, 401, 401, 401, 401, 401),
    ("POST", "/api/chat/left-messages/{message_id}/phone-code"):
                                           (404, 200, 404, 404, 404, 404, 404, 404),
    # the visitor's own 留言, but no code was sent for it to this conversation: 422
    ("POST", "/api/chat/left-messages/{message_id}/phone-code/verify"):
                                           (404, 422, 404, 404, 404, 404, 404, 404),
    # the helper console: helper, leader, admin (works_tickets)
    ("GET", "/api/helper/me"):             (401, 401, 200, 200, 200, 403, 403, 200),
    ("POST", "/api/helper/status"):        (401, 401, 200, 200, 200, 403, 403, 403),
    ("POST", "/api/helper/heartbeat"):     (401, 401, 200, 200, 200, 403, 403, 200),
    ("GET", "/api/helper/queues"):         (401, 401, 200, 200, 200, 403, 403, 200),
    ("POST", "/api/helper/claim"):         (401, 401, 200, 200, 200, 403, 403, 403),
    ("GET", "/api/helper/tickets"):        (401, 401, 200, 200, 200, 403, 403, 200),
    ("GET", "/api/helper/left-messages"):  (401, 401, 200, 200, 200, 403, 403, 200),
    ("GET", "/api/helper/escalations"):    (401, 401, 403, 403, 200, 403, 403, 200),
    ("POST", "/api/helper/tickets/{ticket_id}/claim"):
                                           (401, 401, 200, 403, 200, 403, 403, 200),
    ("GET", "/api/helper/tickets/{ticket_id}"):
                                           (401, 401, 200, 403, 200, 403, 403, 200),
    ("GET", "/api/helper/tickets/{ticket_id}/messages"):  # the re-read after a reconnect
                                           (401, 401, 200, 403, 200, 403, 403, 200),
    ("POST", "/api/helper/tickets/{ticket_id}/messages"):
                                           (401, 401, 200, 403, 403, 403, 403, 403),
    ("POST", "/api/helper/tickets/{ticket_id}/answer"):
                                           (401, 401, 200, 403, 403, 403, 403, 403),
    ("POST", "/api/helper/tickets/{ticket_id}/transfer"):
                                           (401, 401, 200, 403, 200, 403, 403, 200),
    ("POST", "/api/helper/tickets/{ticket_id}/resolve"):
                                           (401, 401, 200, 403, 200, 403, 403, 200),
    ("POST", "/api/helper/tickets/{ticket_id}/unresolve"):
                                           (401, 401, 200, 403, 200, 403, 403, 200),
    ("POST", "/api/helper/tickets/{ticket_id}/kb-draft"):
                                           (401, 401, 201, 403, 201, 403, 403, 201),
    ("POST", "/api/helper/left-messages/{message_id}/answer"):
                                           (401, 401, 200, 403, 200, 403, 403, 200),
    ("WS", "/ws/console"):                 (W, W, ACCEPT, ACCEPT, ACCEPT, W, W, ACCEPT),
    # the knowledge editors' API: editor and admin (policy.has_role(account, "editor"))
    ("GET", "/api/kb/entries"):            KB,
    ("POST", "/api/kb/entries"):           (401, 401, 403, 403, 403, 201, 403, 201),
    ("GET", "/api/kb/meta"):               KB,
    ("GET", "/api/kb/entries/{entry_id}"): KB,
    ("PUT", "/api/kb/entries/{entry_id}"): KB,
    ("POST", "/api/kb/entries/{entry_id}/publish"): KB,
    ("POST", "/api/kb/entries/{entry_id}/archive"): KB,
    ("GET", "/api/kb/entries/{entry_id}/history"): KB,
    ("GET", "/api/kb/entries/{entry_id}/diff"): KB,
    ("GET", "/api/kb/entries/{entry_id}/policy-suggestions"): KB,
    ("POST", "/api/kb/entries/{entry_id}/rollback"): KB,
    ("POST", "/api/kb/preview"):           KB,
    ("POST", "/api/kb/import"):            KB,
    ("GET", "/api/kb/export"):             KB,
    ("POST", "/api/kb/hit-test"):          KB,
    ("GET", "/api/kb/drafts"):             KB,
    ("POST", "/api/kb/drafts/{draft_id}/accept"): KB,
    ("POST", "/api/kb/drafts/{draft_id}/reject"): KB,
    # the policy editors' API: editor and admin (policy.edits_policies); publishing an item
    # someone else wrote and submitted
    ("GET", "/api/policies"):              KB,
    ("POST", "/api/policies"):             (401, 401, 403, 403, 403, 201, 403, 201),
    ("GET", "/api/policies/meta"):         KB,
    ("GET", "/api/policies/{policy_id}/impact"): KB,
    ("GET", "/api/policies/{policy_id}"):  KB,
    ("PUT", "/api/policies/{policy_id}"):  KB,
    ("POST", "/api/policies/{policy_id}/submit"): KB,
    ("POST", "/api/policies/{policy_id}/publish"): KB,
    ("POST", "/api/policies/{policy_id}/archive"): KB,
    ("GET", "/api/policies/{policy_id}/history"): KB,
    ("GET", "/api/policies/{policy_id}/diff"): KB,
    ("POST", "/api/policies/{policy_id}/rollback"): KB,
    ("POST", "/api/policies/{policy_id}/test"): KB,
    ("POST", "/api/policies/test"):        KB,
    ("POST", "/api/policies/import"):      KB,
    ("GET", "/api/policies/export"):       KB,
    # knowledge gaps: editors and supervisors (and admin)
    ("GET", "/api/kb/gaps"):               (401, 401, 403, 403, 403, 200, 200, 200),
    # 工单聚类分析: supervisors, leaders and admin (policy.reads_reports)
    ("GET", "/api/reports/clusters"):      (401, 401, 403, 403, 200, 403, 200, 200),
    ("GET", "/api/reports/targets"):       (401, 401, 403, 403, 200, 403, 200, 200),
    # the service rates: supervisors, leaders and admin (policy.reads_reports)
    ("GET", "/api/reports/summary"):       (401, 401, 403, 403, 200, 403, 200, 200),
    ("GET", "/api/reports/series"):        (401, 401, 403, 403, 200, 403, 200, 200),
    ("GET", "/api/reports/export"):        (401, 401, 403, 403, 200, 403, 200, 200),
    # exports of conversations, tickets and 差评 cases: the same readers (a leader's: their
    # departments' work)
    ("GET", "/api/exports/conversations"): (401, 401, 403, 403, 200, 403, 200, 200),
    ("GET", "/api/exports/tickets"):       (401, 401, 403, 403, 200, 403, 200, 200),
    ("GET", "/api/exports/complaints"):    (401, 401, 403, 403, 200, 403, 200, 200),
    # the 差评 queue: supervisors, leaders (their departments) and admin; overturning a
    # 不属实 review: leaders and admin. The case is a 差评 of a department A ticket of helper A.
    ("GET", "/api/reports/bad-ratings"):   (401, 401, 403, 403, 200, 403, 200, 200),
    ("POST", "/api/reports/bad-ratings/{case_id}/review"):
                                           (401, 401, 403, 403, 200, 403, 200, 200),
    ("POST", "/api/reports/bad-ratings/{case_id}/overturn"):
                                           (401, 401, 403, 403, 200, 403, 403, 200),
    ("POST", "/api/reports/bad-ratings/{case_id}/rectification"):
                                           (401, 401, 403, 403, 200, 403, 200, 200),
    # 一企一档: one enterprise's record (with a reason): supervisors, registrars (no column
    # here: tests/api/routes/test_register.py) and admin; imports and exports: registrars, admin
    ("GET", "/api/register/enterprises/{uscc}"): (401, 401, 403, 403, 403, 403, 200, 200),
    ("GET", "/api/register/enterprises/{uscc}/history"):
                                           (401, 401, 403, 403, 403, 403, 200, 200),
    ("POST", "/api/register/import"):      (401, 401, 403, 403, 403, 403, 403, 200),
    ("GET", "/api/register/export"):       (401, 401, 403, 403, 403, 403, 403, 200),
    # 免申即享 work lists: leaders (their departments), supervisors read; deciding: a leader of
    # the item's department (A here) and admin; the outcomes: report readers
    ("GET", "/api/worklists"):             (401, 401, 403, 403, 200, 403, 200, 200),
    ("POST", "/api/worklists/{item_id}/decision"):
                                           (401, 401, 403, 403, 200, 403, 403, 200),
    ("POST", "/api/worklists/{item_id}/grant"):
                                           (401, 401, 403, 403, 200, 403, 403, 200),
    ("GET", "/api/worklists/outcomes"):    (401, 401, 403, 403, 200, 403, 200, 200),
    # 我的政策: the signed-in enterprise only (none of these callers is one)
    ("GET", "/api/enterprise/policies"):   (401, 401, 401, 401, 401, 401, 401, 401),
    ("POST", "/api/enterprise/work-items/{item_id}/accept"):
                                           (401, 401, 401, 401, 401, 401, 401, 401),
    ("POST", "/api/enterprise/opt-out"):   (401, 401, 401, 401, 401, 401, 401, 401),
    # 智能填表: the signed-in enterprise's pre-filled forms, never a register value to others
    ("GET", "/api/enterprise/forms/{policy_id}"):
                                           (401, 401, 401, 401, 401, 401, 401, 401),
    ("GET", "/api/enterprise/forms/{policy_id}.pdf"):
                                           (401, 401, 401, 401, 401, 401, 401, 401),
    ("POST", "/api/notify/sms-reply"):     (401, 401, 401, 401, 401, 401, 401, 401),
    # the API tokens of the centre's systems: supervisors and admin (policy.manages_tokens;
    # the token made grants reports:read, which a supervisor holds). What tokens themselves
    # may call: tests/api/test_authorization_tokens.py
    ("GET", "/api/tokens"):                (401, 401, 403, 403, 403, 403, 200, 200),
    ("POST", "/api/tokens"):               (401, 401, 403, 403, 403, 403, 201, 201),
    ("POST", "/api/tokens/{name}/revoke"): (401, 401, 403, 403, 403, 403, 200, 200),
    # machines: a signed call-back, Rasa's token — whatever the caller's role
    ("POST", "/api/calls/callback"):       (401, 401, 401, 401, 401, 401, 401, 401),
    ("POST", "/webhook"):                  (404, 404, 404, 404, 404, 404, 404, 404),
    ("GET", "/webhook/actions"):           (404, 404, 404, 404, 404, 404, 404, 404),
}


@dataclass(frozen=True)
class Call:
    """What a cell sends: a JSON body, what its path parameter names, and whether the caller
    uses a session of its own (log-in and log-out must not end the role's session)."""

    body: dict | None = None
    ticket: str = ""  # "queued" or "held": a fresh ticket of department A
    message: str = ""  # "own": the visitor's 留言 with a phone; "open": a fresh 留言 of A
    fresh_session: bool = False
    entry: str = ""  # "fresh": a new published knowledge-base entry (version 1)
    draft: str = ""  # "pending": a helper's proposal no editor has decided on
    params: dict | None = None  # the query string
    files: dict | None = None  # a multipart upload
    form: dict | None = None  # its form fields
    bad_rating: str = ""  # "fresh": a new 差评 case; "unfounded": one reviewed 不属实
    policy: str = ""  # "fresh": a new draft policy; "review": one a colleague wrote and submitted;
    # "new": the body is a new policy of its own
    enterprise: bool = False  # an enterprise in the register
    work_item: str = ""  # a fresh 免申即享 work item of department A: "pending" or "accepted"
    api_token: str = ""  # "new": the body makes a token of a fresh name; "fresh": one made


LOGIN = {"username": "matrix-login", "password": "correct-horse"}
MATRIX_USCC = "91310113MA1G00001" + check_character("91310113MA1G00001")  # in the register

POLICY = {"id": "matrix-policy", "title": "矩阵事项", "category": "减免", "mode": "依申请",
          "document": {"title": "矩阵文件", "doc_no": "矩〔2026〕1号"}, "department": "区税务局",
          "benefit": "减半征收。", "apply": "一网通办。", "valid_to": "2099-12-31",
          "conditions": {"field": "employees", "op": "le", "value": 300}}
CALLS: dict[tuple[str, str], Call] = {
    ("POST", "/api/auth/login"): Call(body=LOGIN, fresh_session=True),
    ("POST", "/api/auth/logout"): Call(fresh_session=True),
    ("POST", "/api/auth/password"): Call(body={"current_password": "not-the-password",
                                               "new_password": "a-new-secret-9"},
                                         fresh_session=True),
    ("POST", "/api/chat/messages"): Call(body={"text": "你好"}),
    ("POST", "/api/policy-check"): Call(body={"facts": {"employees": 20}}),
    # Ending the conversation ends the cookie's too (api.deps.conversation_over): a browser
    # of its own, so the visitor's other routes keep theirs.
    ("POST", "/api/chat/end"): Call(fresh_session=True),
    ("POST", "/api/chat/leave-message"): Call(body={"text": "想咨询食品经营许可"}),
    ("POST", "/api/chat/left-messages/{message_id}/callback"): Call(message="own"),
    ("POST", "/api/chat/left-messages/{message_id}/phone-code"): Call(message="own"),
    ("POST", "/api/chat/left-messages/{message_id}/phone-code/verify"): Call(
        message="own", body={"code": "000000"}),
    ("POST", "/api/helper/status"): Call(body={"status": "on_duty"}),
    ("POST", "/api/helper/claim"): Call(body={}),
    ("POST", "/api/helper/tickets/{ticket_id}/claim"): Call(ticket="queued"),
    ("GET", "/api/helper/tickets/{ticket_id}"): Call(ticket="held"),
    ("GET", "/api/helper/tickets/{ticket_id}/messages"): Call(ticket="held"),
    ("POST", "/api/helper/tickets/{ticket_id}/messages"): Call(body={"text": "您好，我来帮您。"},
                                                              ticket="held"),
    ("POST", "/api/helper/tickets/{ticket_id}/answer"): Call(body={"entry_id": "kb-matrix"},
                                                            ticket="held"),
    ("POST", "/api/helper/tickets/{ticket_id}/transfer"): Call(
        body={"department": OTHER, "note": "转交"}, ticket="held"),
    ("POST", "/api/helper/tickets/{ticket_id}/resolve"): Call(body={"note": "已解答"},
                                                             ticket="held"),
    ("POST", "/api/helper/tickets/{ticket_id}/unresolve"): Call(body={"note": "未解决"},
                                                               ticket="held"),
    ("POST", "/api/helper/tickets/{ticket_id}/kb-draft"): Call(
        body={"question": "食品经营许可怎么办", "answer": "到窗口办理。"}, ticket="held"),
    ("POST", "/api/helper/left-messages/{message_id}/answer"): Call(
        body={"answer": "请带营业执照到窗口办理。"}, message="open"),
    ("POST", "/api/calls/callback"): Call(body={"call_id": "nope", "status": "completed"}),
    ("GET", "/api/kb/entries/{entry_id}"): Call(entry="fresh"),
    ("PUT", "/api/kb/entries/{entry_id}"): Call(entry="fresh",
                                                body={"answer": "新的答案。", "version": 1}),
    ("POST", "/api/kb/entries"): Call(body={"question": "矩阵新建", "answer": "答案。"}),
    ("POST", "/api/kb/entries/{entry_id}/publish"): Call(entry="fresh"),
    ("POST", "/api/kb/entries/{entry_id}/archive"): Call(entry="fresh"),
    ("GET", "/api/kb/entries/{entry_id}/history"): Call(entry="fresh"),
    ("GET", "/api/kb/entries/{entry_id}/diff"): Call(entry="fresh", params={"from": 1, "to": 1}),
    ("GET", "/api/kb/entries/{entry_id}/policy-suggestions"): Call(entry="fresh"),
    ("POST", "/api/kb/entries/{entry_id}/rollback"): Call(entry="fresh", body={"version": 1}),
    ("POST", "/api/kb/preview"): Call(body={"question": "预览", "answer": "答案。"}),
    ("POST", "/api/kb/import"): Call(params={"dry_run": "true"}, files={"file": (
        "matrix.yaml", "- {id: kb-matrix-import, question: 问, answer: 答}\n".encode())}),
    ("POST", "/api/kb/hit-test"): Call(body={"query": "如何办理营业执照"}),
    ("POST", "/api/kb/drafts/{draft_id}/accept"): Call(draft="pending"),
    ("POST", "/api/kb/drafts/{draft_id}/reject"): Call(draft="pending", body={"reason": "不准确"}),
    ("POST", "/api/policies"): Call(policy="new"),
    ("GET", "/api/policies/{policy_id}"): Call(policy="fresh"),
    ("PUT", "/api/policies/{policy_id}"): Call(policy="fresh", body={
        "item": {k: v for k, v in POLICY.items() if k != "id"}, "version": 1}),
    ("POST", "/api/policies/{policy_id}/submit"): Call(policy="fresh"),
    ("POST", "/api/policies/{policy_id}/publish"): Call(policy="review"),
    ("POST", "/api/policies/{policy_id}/archive"): Call(policy="fresh"),
    ("GET", "/api/policies/{policy_id}/history"): Call(policy="fresh"),
    ("GET", "/api/policies/{policy_id}/impact"): Call(policy="fresh"),
    ("GET", "/api/policies/{policy_id}/diff"): Call(policy="fresh", params={"from": 1, "to": 1}),
    ("POST", "/api/policies/{policy_id}/rollback"): Call(policy="fresh", body={"version": 1}),
    ("POST", "/api/policies/{policy_id}/test"): Call(policy="fresh",
                                                     body={"facts": {"employees": 20}}),
    ("POST", "/api/policies/test"): Call(body={"item": POLICY, "facts": {"employees": 20}}),
    ("POST", "/api/policies/import"): Call(params={"dry_run": "true"}, files={"file": (
        "matrix.yaml", "- {id: matrix-import, title: 矩阵导入, document: {title: 矩阵文件}, "
                       "category: 减免, mode: 依申请, benefit: 减半}\n".encode())}),
    ("POST", "/webhook"): Call(body={"next_action": "action_answer_question"}),
    ("GET", "/api/register/enterprises/{uscc}"): Call(enterprise=True,
                                                      params={"reason": "矩阵测试"}),
    ("GET", "/api/register/enterprises/{uscc}/history"): Call(enterprise=True,
                                                              params={"reason": "矩阵测试"}),
    ("POST", "/api/register/import"): Call(body=None, files={"file": (
        "matrix.csv", f"uscc,name,employees\n{MATRIX_USCC},矩阵公司,12\n".encode())},
        form={"source": "市场监管登记", "dry_run": "true"}),
    ("POST", "/api/worklists/{item_id}/decision"): Call(work_item="pending",
                                                        body={"confirm": True}),
    ("POST", "/api/worklists/{item_id}/grant"): Call(work_item="accepted"),
    ("POST", "/api/enterprise/work-items/{item_id}/accept"): Call(work_item="pending"),
    ("GET", "/api/enterprise/forms/{policy_id}"): Call(policy="fresh"),
    ("GET", "/api/enterprise/forms/{policy_id}.pdf"): Call(policy="fresh"),
    ("POST", "/api/notify/sms-reply"): Call(body={"uscc": "91310113MA1G00001X", "text": "TD"}),
    ("GET", "/api/reports/summary"): Call(params={"from": "2026-12-01", "to": "2026-12-01",
                                                  "by": "department"}),
    ("GET", "/api/reports/series"): Call(params={"from": "2026-11-30", "to": "2026-12-01",
                                                 "metric": "response_rate"}),
    ("GET", "/api/reports/export"): Call(params={"from": "2026-12-01", "to": "2026-12-01",
                                                 "format": "csv"}),
    **{("GET", f"/api/exports/{kind}"): Call(params={"from": "2026-12-01", "to": "2026-12-01",
                                                     "format": "csv"})
       for kind in ("conversations", "tickets", "complaints")},
    ("POST", "/api/tokens"): Call(api_token="new"),
    ("POST", "/api/tokens/{name}/revoke"): Call(api_token="fresh"),
    ("POST", "/api/reports/bad-ratings/{case_id}/review"): Call(
        bad_rating="fresh", body={"verdict": "不属实", "note": "录音显示已按流程答复"}),
    ("POST", "/api/reports/bad-ratings/{case_id}/overturn"): Call(
        bad_rating="unfounded", body={"note": "复听录音，用户反映属实"}),
    ("POST", "/api/reports/bad-ratings/{case_id}/rectification"): Call(
        bad_rating="fresh", body={"stage": "contacted", "note": "已电话联系用户"}),
}


# --- the app's routes ----------------------------------------------------------------------------

def app_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app serves; ``WS`` for a WebSocket. Only /static and the
    development simulator of the identity provider (/oidc-sim) are skipped."""
    if iter_route_contexts is not None:
        found = [(rc.original_route, rc.path, rc.methods)
                 for rc in iter_route_contexts(app.routes)]
    else:  # pragma: no cover
        found = [(r, r.path, getattr(r, "methods", None)) for r in app.routes]
    routes = set()
    for route, path, methods in found:
        if isinstance(route, Mount) and path in ("/static", "/oidc-sim"):
            continue  # files; the simulator identity provider (tests/api/test_oidc_simulator.py)
        if isinstance(route, WebSocketRoute) or type(route).__name__ == "APIWebSocketRoute":
            routes.add(("WS", path))
        elif isinstance(route, Route):  # APIRoute is one too
            methods = set(methods or ())
            if "GET" in methods:
                methods.discard("HEAD")  # Starlette adds HEAD to GET routes
            routes.update((method, path) for method in methods)
        else:
            raise AssertionError(f"a route of a new kind, {route!r} at {path}: decide how the "
                                 "matrix covers it")
    return routes


def test_the_matrix_is_well_formed():
    for key, row in MATRIX.items():
        assert len(row) == len(ROLES), f"{key}: one outcome per role {ROLES}"
        for outcome in row:
            statuses = outcome if isinstance(outcome, (set, frozenset)) else {outcome}
            assert not any(isinstance(s, int) and s >= 500 for s in statuses), \
                f"{key}: a 5xx is never an expected outcome"
    assert set(CALLS) <= set(MATRIX), "a request spec without a matrix row"


def test_every_route_is_in_the_matrix(app):
    routes = app_routes(app)
    missing = sorted(routes - set(MATRIX))
    stale = sorted(set(MATRIX) - routes)
    assert not missing, (f"routes with no authorization entry: {missing} — add them to the "
                         "matrix in tests/api/test_authorization.py")
    assert not stale, f"matrix rows for routes the app no longer has: {stale}"


# --- running it ----------------------------------------------------------------------------------

@pytest.fixture
def settings(settings):
    """The conftest's settings with every abuse limit lifted."""
    lifted = {name: 1_000_000 for name, field in type(settings).model_fields.items()
              if "_per_" in name and field.annotation is int}
    return settings.model_copy(update=lifted)


class World:
    """The callers and the things their requests name, on the one test client."""

    def __init__(self, client: TestClient, make_account):
        self.client = client
        self.services = client.app.state.services
        client.headers["Origin"] = ORIGIN
        self.passwords = {role: make_account(f"matrix-{role}", roles=roles,
                                             departments=departments)
                          for role, (roles, departments) in STAFF.items()}
        make_account(LOGIN["username"], roles=["helper"], departments=[DEPT],
                     password=LOGIN["password"])
        self.cookies = {role: self.fresh_cookies(role) for role in ROLES}
        for role in ON_DUTY:
            self.use(self.cookies[role])
            assert client.post("/api/helper/status", json={"status": "on_duty"}
                               ).status_code == 200
        with session_scope(self.services.engine) as session:
            self.helper_a = session.scalar(select(Account).where(
                Account.username == "matrix-helper_a"))
            session.expunge(self.helper_a)
            save_entry(session, EntryData(
                id="kb-matrix", question="如何办理营业执照", answer="登录一网通办，选择企业开办。",
                category=CATEGORY, department=DEPT, source="区市场监管局"), "test")
        # The visitor's own 留言 with a phone number (for the 12345 call-back).
        self.use(self.cookies["visitor"])
        left = client.post("/api/chat/leave-message",
                           json={"text": "想咨询食品经营许可", "phone": "13812345678"})
        assert left.status_code == 201, left.text
        self.own_message = left.json()["message"]["id"]

    def use(self, cookies: dict[str, str]) -> None:
        self.client.cookies.clear()
        for name, value in cookies.items():
            self.client.cookies.set(name, value)

    def fresh_cookies(self, role: str) -> dict[str, str]:
        """A new browser of ``role``: nothing, a visitor cookie, or a new console session."""
        self.use({})
        if role == "visitor":
            assert self.client.get("/").status_code == 200
        elif role in STAFF:
            response = self.client.post("/api/auth/login", json={
                "username": f"matrix-{role}", "password": self.passwords[role]})
            assert response.status_code == 200, response.text
        return dict(self.client.cookies)

    def ticket(self, kind: str) -> str:
        ctx = self.services.handoff
        ticket_id = request_handoff(handoff_request(f"matrix-{uuid.uuid4().hex[:12]}"),
                                    ctx=ctx).ticket_id
        if kind == "held":
            claims.claim_ticket(ticket_id, self.helper_a, ctx=ctx)
        return ticket_id

    def message(self, kind: str) -> str:
        if kind == "own":
            return self.own_message
        return left_messages.leave_message(f"matrix-{uuid.uuid4().hex[:12]}", "想咨询食品经营许可",
                                           department=DEPT, ctx=self.services.handoff).id

    def entry(self, kind: str) -> str:
        """A fresh published entry, or a helper's pending proposal ("pending")."""
        entry_id = f"kb-matrix-{uuid.uuid4().hex[:12]}"
        proposal = {"status": "draft", "tags": ["helper_proposal"]} if kind == "pending" else {}
        with session_scope(self.services.engine) as session:
            save_entry(session, EntryData.model_validate({
                "id": entry_id, "question": "矩阵条目", "answer": "答案。", **proposal}), "test")
        return entry_id

    def bad_rating(self, kind: str) -> int:
        """A fresh 差评 of a department A ticket handled by helper A ("unfounded": reviewed
        不属实 by a supervisor, as an overturn needs)."""
        conversation = f"matrix-{uuid.uuid4().hex[:12]}"
        with session_scope(self.services.engine) as session:
            rating = record_rating(session, conversation, "不满意", ticket_id=uuid.uuid4().hex,
                                   reason="等了很久", department=DEPT, handler="matrix-helper_a")
            case = cases.cases_for(session, [rating.data["case"]])[-1]
            if kind == "unfounded":
                supervisor = session.scalar(select(Account).where(
                    Account.username == "matrix-supervisor"))
                cases.review(session, case.id, supervisor, "不属实", "已按流程答复")
            return case.id

    def policy(self, kind: str) -> str:
        """A fresh policy id ("id"), draft ("fresh"), or one matrix-author wrote and submitted
        ("review", for a second editor to publish)."""
        policy_id = f"matrix-{uuid.uuid4().hex[:12]}"
        if kind == "id":
            return policy_id
        with session_scope(self.services.engine) as session:
            editing.create(session, {**POLICY, "id": policy_id}, "matrix-author")
            if kind == "review":
                policy_store.submit(session, policy_id, "matrix-author")
        return policy_id

    def enterprise(self) -> str:
        with session_scope(self.services.engine) as session:
            register.ensure_enterprise(session, MATRIX_USCC, "矩阵公司")
            register.add_declared(session, MATRIX_USCC, {"employees": 12}, by="matrix")
        return MATRIX_USCC

    def work_item(self, kind: str) -> int:
        """A fresh work item of department A, pending or accepted by the enterprise."""
        policy_id = self.policy("fresh")  # the notification of a confirmation names it
        with session_scope(self.services.engine) as session:
            item = WorkItem(policy_id=policy_id, policy_version=1,
                            rule_version="matrix", department=DEPT, uscc=MATRIX_USCC,
                            run_id=0, why="{}", status="accepted" if kind == "accepted"
                            else "pending")
            session.add(item)
            session.flush()
            return item.id

    def api_token(self) -> str:
        """The name of a fresh API token (what revoking it names)."""
        name = f"matrix-{uuid.uuid4().hex[:12]}"
        with session_scope(self.services.engine) as session:
            tokens.create_token(session, name, ["reports:read"], expires_at=None, by="matrix")
        return name

    def outcome(self, method: str, path: str, role: str) -> tuple[int | str, str]:
        """What ``role`` gets from the route: a status or a WebSocket outcome, and the body."""
        call = CALLS.get((method, path), Call())
        self.use(self.fresh_cookies(role) if call.fresh_session else self.cookies[role])
        url = path.format(ticket_id=self.ticket(call.ticket) if call.ticket else "",
                          message_id=self.message(call.message) if call.message else "",
                          entry_id=self.entry(call.entry) if call.entry else "",
                          draft_id=self.entry(call.draft) if call.draft else "",
                          case_id=self.bad_rating(call.bad_rating) if call.bad_rating else 0,
                          policy_id=self.policy(call.policy) if call.policy else "",
                          uscc=self.enterprise() if call.enterprise else "x",
                          item_id=self.work_item(call.work_item) if call.work_item else 0,
                          name=self.api_token() if call.api_token == "fresh" else "x")
        body = {"item": {**POLICY, "id": self.policy("id")}} if call.policy == "new" \
            else call.body
        if call.api_token == "new":
            body = {"name": f"matrix-{uuid.uuid4().hex[:12]}", "scopes": ["reports:read"]}
        if method == "WS":
            try:
                with self.client.websocket_connect(url, headers={"Origin": ORIGIN}):
                    return ACCEPT, ""
            except WebSocketDisconnect as exc:
                return CLOSED(exc.code), exc.reason or ""
        response = self.client.request(method, url, json=body, params=call.params,
                                       files=call.files, data=call.form)
        return response.status_code, response.text[:300]


def matches(expected, got) -> bool:
    if isinstance(got, int) and got >= 500:
        return False
    if isinstance(expected, (set, frozenset)):
        return got in expected
    return got == expected


def test_authorization_matrix(app, client, make_account, rasa):
    world = World(client, make_account)
    wrong = []
    for (method, path), row in MATRIX.items():
        for role, expected in zip(ROLES, row):
            got, body = world.outcome(method, path, role)
            if not matches(expected, got):
                wrong.append(f"{method} {path} as {role}: expected {expected}, got {got} {body}")
    unlisted = sorted(app_routes(app) - set(MATRIX))
    assert not wrong and not unlisted, "\n".join(
        wrong + [f"{route}: not in the matrix — add it" for route in unlisted])

"""The gateway against its own OpenAPI document, fuzzed by schemathesis, in-process.

For every operation of ``/openapi.json``: no answer is a 5xx, every status is one the
document declares, and every body with a declared schema (the error shape
:class:`api.errors.ErrorBody` included) matches it. Bounded and deterministic: at most
:data:`MAX_EXAMPLES` generated cases per operation (plus schemathesis's explicit examples and
boundary "coverage" cases), derandomized, no example database.

Requests go through the app's own ``TestClient`` (one lifespan, one event loop for the app's
async clients), logged in as an admin of department A with a visitor cookie, and with
``Origin: http://testserver``. Log-in and log-out are sent without those cookies so they
cannot end the session. About half the generated ticket and 留言 ids are replaced by real
ones (a fresh ticket of department A held by the admin, a fresh open 留言, a fresh
knowledge-base entry or helper's proposal, a fresh draft policy), so the routes' success paths
are fuzzed too, not only their 404s. The abuse limits are lifted: the limits have their own
tests, and a fuzzer hitting 429 would test nothing else.
"""
from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from handoff import claims, left_messages
from handoff.requests import request_handoff
from knowledge_base.schema import EntryData
from policies import editing
from tests.api.support import DEPT, handoff_request
from xiaobao.accounts import create_account
from xiaobao.db import session_scope
from xiaobao.settings import Settings

ORIGIN = "http://testserver"
MAX_EXAMPLES = 25
SEED = 20261201
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# Operations that replace the caller's session: sent from an empty cookie jar.
SESSION_CHANGING = {("POST", "/api/auth/login"), ("POST", "/api/auth/logout")}
ADMIN = ("fuzz-admin", "correct-horse")


@dataclass
class Fuzz:
    client: TestClient
    admin: object  # the admin's Account, detached
    own_message: str  # the client's own 留言 with a phone number

    def ticket(self, *, held: bool) -> str:
        ctx = self.client.app.state.services.handoff
        ticket_id = request_handoff(handoff_request(f"fuzz-{uuid.uuid4().hex[:12]}"),
                                    ctx=ctx).ticket_id
        if held:
            claims.claim_ticket(ticket_id, self.admin, ctx=ctx)
        return ticket_id

    def open_message(self) -> str:
        return left_messages.leave_message(f"fuzz-{uuid.uuid4().hex[:12]}", "想咨询食品经营许可",
                                           department=DEPT,
                                           ctx=self.client.app.state.services.handoff).id

    def entry(self, *, proposal: bool) -> str:
        """A fresh published entry, or a helper's pending proposal."""
        entry_id = f"kb-fuzz-{uuid.uuid4().hex[:12]}"
        extra = {"status": "draft", "tags": ["helper_proposal"]} if proposal else {}
        self.client.app.state.services.kb.save(EntryData.model_validate(
            {"id": entry_id, "question": "如何办理营业执照", "answer": "到窗口办理。", **extra}),
            "fuzz")
        return entry_id

    def policy(self) -> str:
        """A fresh draft policy item another editor wrote."""
        policy_id = f"fuzz-{uuid.uuid4().hex[:12]}"
        with session_scope(self.client.app.state.services.engine) as session:
            editing.create(session, {
                "id": policy_id, "title": "测试事项", "document": {"title": "测试文件"},
                "category": "减免", "mode": "依申请", "benefit": "减半征收。",
                "conditions": {"field": "employees", "op": "le", "value": 300}}, "fuzz-author")
        return policy_id

    def real_ids(self, case) -> None:
        """Swap about half the generated ids (by the value, so a case replays the same) for
        real ones of the kind the route wants."""
        params = case.path_parameters or {}
        for name, value in list(params.items()):
            if not isinstance(value, str) or len(value) > 32 or sum(map(ord, value)) % 2:
                continue
            if name == "ticket_id":
                params[name] = self.ticket(held=not case.path.endswith("/claim"))
            elif name == "message_id" and case.path.startswith("/api/chat/"):
                params[name] = self.own_message
            elif name == "message_id":
                params[name] = self.open_message()
            elif name in ("entry_id", "draft_id"):
                params[name] = self.entry(proposal=name == "draft_id")
            elif name == "policy_id":
                params[name] = self.policy()

    def send(self, case):
        """The case as schemathesis would send it, through the app's TestClient."""
        kwargs = case.as_transport_kwargs(base_url=str(self.client.base_url))
        method, url = kwargs.pop("method"), kwargs.pop("url")
        request = {"headers": kwargs.pop("headers", None) or {},
                   "params": kwargs.pop("params", None) or None}
        assert not kwargs.pop("cookies", None), "the document declares no cookie parameter"
        kwargs.pop("auth", None)
        if "json" in kwargs:
            request["json"] = kwargs.pop("json")
        if "data" in kwargs:
            data = kwargs.pop("data")
            request["content" if isinstance(data, (bytes, str)) else "data"] = data
        if "files" in kwargs:
            # A generated "file" may be a number; what a client sends is its text.
            request["files"] = [
                (name, (filename, value if isinstance(value, (bytes, str)) else str(value),
                        *rest))
                for name, (filename, value, *rest) in kwargs.pop("files") or ()] or None
        assert not kwargs, f"transport arguments not handled: {sorted(kwargs)}"
        if (method.upper(), case.path) not in SESSION_CHANGING:
            response = self.client.request(method, url, **request)
            response.request.read()  # an upload's body is a stream; schemathesis reads it
            return response
        saved = list(self.client.cookies.jar)
        self.client.cookies.clear()
        try:
            return self.client.request(method, url, **request)
        finally:
            self.client.cookies.clear()
            for cookie in saved:
                self.client.cookies.jar.set_cookie(cookie)


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory, redis_url, _rasa_server) -> Iterator[Fuzz]:
    """One app for the module, as conftest's ``settings`` builds it, abuse limits lifted."""
    settings = Settings(home=tmp_path_factory.mktemp("schema"), redis_url=redis_url,
                        rasa_url=_rasa_server.url, rasa_token=_rasa_server.secret,
                        rasa_timeout_s=1.0, warm_retriever=False,
                        secret_key="test-secret", call_callback_secret="test-callback-secret",
                        background_jobs=False)
    settings = settings.model_copy(update={
        name: 1_000_000 for name, field in Settings.model_fields.items()
        if "_per_" in name and field.annotation is int})
    flush = redis.Redis.from_url(redis_url)
    flush.flushall()
    _rasa_server.reset()
    app = create_app(settings)
    with TestClient(app) as client:
        client.headers["Origin"] = ORIGIN
        with session_scope(app.state.services.engine) as session:
            admin = create_account(session, ADMIN[0], ADMIN[1], roles=["admin"],
                                   departments=[DEPT])
            session.flush()
            session.expunge(admin)
        assert client.get("/").status_code == 200  # the visitor cookie
        logged_in = client.post("/api/auth/login",
                                json={"username": ADMIN[0], "password": ADMIN[1]})
        assert logged_in.status_code == 200, logged_in.text
        left = client.post("/api/chat/leave-message",
                           json={"text": "想咨询食品经营许可", "phone": "13812345678"})
        assert left.status_code == 201, left.text
        yield Fuzz(client=client, admin=admin, own_message=left.json()["message"]["id"])
    flush.flushall()
    flush.close()


def _document() -> dict:
    """The gateway's OpenAPI document, read at collection time from an app built only for
    that (no lifespan: nothing is connected; its clients are closed at once)."""
    with tempfile.TemporaryDirectory() as home:
        app = create_app(Settings(home=Path(home), env="development", warm_retriever=False,
                                  background_jobs=False))
        try:
            return app.openapi()
        finally:
            app.state.services.close()


schema = schemathesis.openapi.from_dict(_document(), config=schemathesis.Config.from_dict({
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "suppress-health-check": ["all"],
    "phases": {"stateful": {"enabled": False}},
}))


@schema.parametrize()
def test_every_answer_is_documented_and_none_is_a_server_error(case, fuzz: Fuzz):
    fuzz.real_ids(case)
    response = fuzz.send(case)
    case.validate_response(response, checks=CHECKS)


def test_every_error_status_is_documented_with_the_error_shape(fuzz: Fuzz):
    """The document itself: every 4xx and 5xx of every operation is ``ErrorBody``."""
    document = fuzz.client.get("/openapi.json").json()
    assert document["components"]["schemas"]["ErrorBody"]["properties"]["error"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema_ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert schema_ref.endswith("/ErrorBody"), (method, path, status)

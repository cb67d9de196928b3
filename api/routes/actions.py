"""Rasa's action endpoint, served by the gateway so the custom actions share its retrieval index.

Closed to the public: Rasa sends the action token in the ``X-Xiaobao-Action-Token`` header
(``endpoints.yml`` ``action_endpoint.headers``; a query string would land in access logs) and
anything without it gets 404, as if the route were not there, before its body is read.
Speaks rasa-sdk's wire protocol, not the gateway's error
shape: Rasa reads ``{"error", "action_name"}`` with status 400 as a rejected action (a form
that does not apply) and 404 as an unknown action.
"""
from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)
from starlette.exceptions import HTTPException

from api.metrics import ACTION_RUNS, action_label, count_action_outcome

log = logging.getLogger("api.actions")
ACTION_TOKEN_HEADER = "X-Xiaobao-Action-Token"  # endpoints.yml action_endpoint.headers


def rasa_only(request: Request) -> None:
    """The action token, compared in constant time; otherwise 404 (nothing else is revealed)."""
    expected = request.app.state.settings.action_token.encode()
    given = request.headers.get(ACTION_TOKEN_HEADER, "").encode()
    if not expected or not hmac.compare_digest(given, expected):
        raise HTTPException(404)


router = APIRouter(tags=["actions"], dependencies=[Depends(rasa_only)],
                   include_in_schema=False)


@router.post("/webhook")
async def run_action(request: Request) -> JSONResponse:
    try:
        action_call = await request.json()
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to parse
        action_call = None
    if not isinstance(action_call, dict):
        return JSONResponse({"error": "Invalid body request"}, status_code=400)
    name = str(action_call.get("next_action") or "")
    executor = request.app.state.action_executor
    label = action_label(name, executor.actions)  # a registered name, else "unknown"
    try:
        result = await executor.run(action_call)
    except ActionExecutionRejection as exc:
        ACTION_RUNS.labels(label, "rejected").inc()
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=400)
    except ActionNotFoundException as exc:
        ACTION_RUNS.labels("unknown", "not_found").inc()
        log.error("Rasa asked for an unknown action %r", exc.action_name)
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=404)
    except ActionMissingDomainException as exc:
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=449)
    except Exception:
        # Rasa logs the failure and carries on without the action's events; the gateway
        # then sees an empty reply and tells the user politely (see routes/chat.py).
        ACTION_RUNS.labels(label, "error").inc()
        log.exception("custom action %r failed", name)
        return JSONResponse({"error": f"action {name} failed", "action_name": name},
                            status_code=500)
    ACTION_RUNS.labels(label, "ok").inc()
    body = result.model_dump() if result else None
    if body:
        count_action_outcome(name, body.get("events") or [])
    return JSONResponse(body)


@router.get("/webhook/actions")
def list_actions(request: Request) -> list[dict]:
    return [item.model_dump() for item in request.app.state.action_executor.list_actions()]

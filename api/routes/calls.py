"""The 12345 call adapter's status call-backs (simulator or a real CTI/SIP provider).

Only correctly signed, fresh, never-seen requests are applied: the signature is an
HMAC-SHA256 over timestamp, nonce and the raw body (see :mod:`handoff.calls`), so the
body is read raw and verified before it is parsed.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.errors import ApiError, error_responses
from api.metrics import CALL_CALLBACK_OUTCOMES, CALL_CALLBACKS, bounded
from handoff import calls
from handoff.tickets import HandoffError

router = APIRouter(prefix="/api/calls", tags=["12345 calls"],
                   responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429))
MAX_CALLBACK_BYTES = 16 * 1024


@router.post("/callback")
async def status_callback(request: Request, services: ServicesDep) -> dict:
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        CALL_CALLBACKS.labels("too_large").inc()
        raise ApiError(413, "callback_too_large", "回调内容过大。 / Call-back body too large.")
    try:
        call = await run_in_threadpool(
            lambda: calls.handle_callback(body, dict(request.headers), ctx=services.handoff,
                                          secret=services.settings.call_callback_secret))
    except HandoffError as exc:
        CALL_CALLBACKS.labels(bounded(exc.code, CALL_CALLBACK_OUTCOMES)).inc()
        raise
    CALL_CALLBACKS.labels("applied").inc()
    return {"call": {"id": call.id, "status": call.status, "attempts": call.attempts}}

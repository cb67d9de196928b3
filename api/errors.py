"""One error shape for every failure the gateway returns.

``{"error": {"code": "...", "message": "中文说明 / English explanation"}}`` with a
matching HTTP status, so the pages and any client read one thing. Unexpected
exceptions are logged with their stack trace and answered with a plain 500; the database
being unreachable (PostgreSQL restarting, a connection cut: :func:`database_unavailable`) is
not unexpected and answers 503 on every route, logged in one line; so is Redis unreachable
(a primary killed, until the Sentinels promote its replica: ``redis_unavailable``).
"""
from __future__ import annotations

import logging

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from xiaobao.errors import XiaobaoError

log = logging.getLogger("api")


class ApiError(XiaobaoError):
    r"""Raised by routes and dependencies for what only the web knows (a bad login, a session,
    a body too long); domain errors are :class:`xiaobao.errors.XiaobaoError`\ s of their own."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None):
        super().__init__(message, status=status, code=code, headers=headers)


DATABASE_UNAVAILABLE = ("服务暂时不可用，请稍后重试。 / The service is briefly unavailable "
                        "(database); please retry.")
SEND_FAILED = "发送失败，请重试。 / The message was not sent; please retry."
REDIS_UNAVAILABLE = ("服务暂时不可用，请稍后重试。 / The service is briefly unavailable "
                     "(queues); please retry.")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached or dropped the connection
    (rather than refused the statement): worth telling the user to retry, and worth retrying
    where a resend is harmless. SQLite's "database is locked" past its busy timeout counts."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class SendFailed(ApiError):
    """A chat message the record could not keep: 503 "发送失败，请重试" (the page keeps it)."""

    def __init__(self) -> None:
        super().__init__(503, "send_failed", SEND_FAILED)


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status)


# --- the error shape in the OpenAPI document ------------------------------------------------------
# Each router declares the error statuses it may answer (``APIRouter(responses=...)``), so the
# document says what a client gets; tests/api/test_schema.py checks every answer against it.

class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """``{"error": {"code", "message"}}``: every error the gateway's JSON API answers."""

    error: ErrorDetail


_ERROR_DESCRIPTIONS = {
    400: "Malformed request, or refused by the handoff rules",
    401: "Not logged in (console), or an unsigned or stale call-back",
    403: "Not allowed: role, department, ticket holder, or the request's Origin",
    404: "No such ticket, 留言 or entry",
    409: "The ticket or 留言 changed state meanwhile",
    413: "Body or text too long",
    422: "Invalid request body or parameters",
    429: "An abuse limit; Retry-After says when to try again",
    503: "A dependency (the bot, the database, password checks) is busy or unavailable",
}
ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in _ERROR_DESCRIPTIONS.items()
}


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """The ``responses=`` entries of ``statuses`` (a router's subset of :data:`ERROR_RESPONSES`)."""
    return {status: ERROR_RESPONSES[status] for status in statuses}


_HTTP_MESSAGES = {
    400: ("bad_request", "请求有误 / Bad request"),
    401: ("not_authenticated", "请先登录 / Please log in"),
    403: ("forbidden", "没有权限 / Forbidden"),
    404: ("not_found", "找不到该地址 / Not found"),
    405: ("method_not_allowed", "不支持该请求方法 / Method not allowed"),
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(XiaobaoError)
    async def _refused(_: Request, exc: XiaobaoError) -> JSONResponse:
        # Every domain error and ApiError: its status, code, Chinese + English message,
        # headers (a limit's Retry-After) and details (an import's bad rows).
        body = error_body(exc.code, exc.message)
        body["error"].update(exc.details())
        response = JSONResponse(body, status_code=exc.status)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body')}: {err.get('msg', '')}"
            for err in exc.errors()
        )
        return error_response(422, "invalid_request", f"请求内容不正确 / Invalid request: {fields}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, message = _HTTP_MESSAGES.get(
            exc.status_code, ("http_error", f"请求失败 / Request failed ({exc.status_code})"))
        return error_response(exc.status_code, code, message)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        return _database_or_unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Also what a middleware's exception reaches (outside the handlers above).
        return _database_or_unexpected(request, exc)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _database_or_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if database_unavailable(exc):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    _first_line(exc))
        return error_response(503, "database_unavailable", DATABASE_UNAVAILABLE)
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        log.warning("Redis unavailable on %s %s: %s", request.method, request.url.path,
                    _first_line(exc))
        return error_response(503, "redis_unavailable", REDIS_UNAVAILABLE)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error",
                          "服务器内部错误，请稍后再试 / Internal server error, please retry later")


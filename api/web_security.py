"""The gateway's web guard: one ASGI middleware in front of every route and WebSocket.

- **Origin (CSRF)**: a state-changing request (POST, PUT, PATCH, DELETE) and every WebSocket
  handshake must come from an allowed origin: ``settings.allowed_origins`` or, when that is
  empty, the gateway's own (the request's scheme://host[:port]; ``https://`` of the same host
  too, for a TLS proxy in front). Without ``Origin``, the ``Referer``'s origin counts; with
  neither, 403 ``bad_origin``. Exempt: the HMAC-signed 12345 call-back, Rasa's
  token-guarded action endpoint and the simulator identity provider's token endpoint, which
  no browser calls; and a request with an API token (``Authorization: Bearer xb_…``) and no
  cookie at all: nothing of a browser's rides on it (no cookie is sent, and a page of another
  site cannot set that header without a CORS preflight this gateway never grants), and
  :mod:`api.deps` authenticates it by the token alone. One with a cookie is checked.
- **Host**: a request (or handshake) whose ``Host`` names none of ``settings.allowed_hosts``
  (a loopback address always passes) gets 400 ``bad_host``: the same-origin default above is
  derived from ``Host``, so a rebinding name (``Host: evil.example`` with
  ``Origin: http://evil.example``) must not reach it. A request with two ``Origin`` headers
  is refused as cross-origin.
- **Body caps**: a request body over ``settings.max_json_body_bytes`` gets 413 (by its
  ``Content-Length``, or counted as it streams in without one); ``multipart/form-data``
  uploads and Rasa's action calls (its trackers grow with the conversation) may reach
  ``settings.max_upload_bytes``. JSON nested deeper than :data:`MAX_JSON_DEPTH` gets 400
  before any parser sees it.
- **Private documents in production**: ``/metrics`` and ``/openapi.json`` answer loopback
  clients or ``Authorization: Bearer <settings.metrics_token>``; anyone else gets 404.
- **HSTS** on every response in production.
- **No caching**: ``Cache-Control: no-store`` on every response but static files (unless the
  route set its own): they carry personal data.

Also here: :func:`safe_next_path`, the one rule for where the login page may send the
browser afterwards.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import bearer_of, client_ip
from api.errors import error_response
from xiaobao.settings import Settings
from xiaobao.tokens import TOKEN_PREFIX

log = logging.getLogger("api.web")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The simulator identity provider's token endpoint is called by the gateway itself, server to
# server with the client secret (api/oidc_simulator.py), never by a browser.
ORIGIN_EXEMPT = frozenset({"/api/calls/callback", "/webhook", "/oidc-sim/token"})
LARGE_BODY_PATHS = frozenset({"/webhook"})  # Rasa's action calls carry the whole tracker
PRIVATE_DOCS = frozenset({"/metrics", "/openapi.json"})
MAX_JSON_DEPTH = 32
HSTS = "max-age=31536000; includeSubDomains"
NO_STORE = "no-store"
# Static files and the vendored chart library carry no personal data and may be cached.
CACHEABLE_PREFIXES = ("/static/", "/vendor/")
WS_BAD_ORIGIN = 4403  # the close code of a refused WebSocket handshake
_DEFAULT_PORTS = {"http": "80", "https": "443"}


# --- where the login page may go next ----------------------------------------------------------

def safe_next_path(value: str | None, default: str = "/console") -> str:
    """``value`` when it is a path on this site, else ``default``.

    Accepted: starts with exactly one ``/``; no ``//`` anywhere, no backslash, no control
    character (tab and newline included: browsers drop them, so ``/\\t/evil`` would become
    ``//evil``), at most 2,000 characters. Anything else — ``//evil.com``, ``/\\evil``,
    ``javascript:…``, ``https://evil`` — gives ``default``.
    """
    if not value or len(value) > 2000 or not value.startswith("/"):
        return default
    if "//" in value or "\\" in value:
        return default
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        return default
    return value


# --- origins -------------------------------------------------------------------------------------

def normalize_origin(scheme: str, netloc: str) -> str | None:
    """``scheme://host[:port]`` in lower case without a default port, or None."""
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS or not netloc or "@" in netloc:
        return None
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    if ":" in host:
        host = f"[{host}]"  # IPv6
    if port is None or str(port) == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_of_url(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return normalize_origin(parts.scheme, parts.netloc)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def request_origin(headers: dict[str, str]) -> str | None:
    """The origin the browser says the request comes from: ``Origin``, else ``Referer``'s."""
    origin = headers.get("origin")
    if origin is not None:
        return origin_of_url(origin)  # "null" (sandboxed frames, file:) is no origin
    referer = headers.get("referer")
    return origin_of_url(referer) if referer else None


def allowed_origins(scope: Scope, headers: dict[str, str], settings: Settings) -> set[str]:
    if settings.allowed_origins:
        return {o for o in (origin_of_url(x) for x in settings.allowed_origins) if o}
    own_scheme: str = scope.get("scheme", "http")
    scheme = {"ws": "http", "wss": "https"}.get(own_scheme, own_scheme)
    host = headers.get("host", "")
    own = {normalize_origin(scheme, host)}
    if scheme == "http":
        own.add(normalize_origin("https", host))  # TLS ends at a proxy in front of us
    return {o for o in own if o}


def host_allowed(scope: Scope, settings: Settings) -> bool:
    """``Host`` is a configured name (``*.example.cn`` matches subdomains) or a loopback address."""
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"host"), "")
    try:
        name = (urlsplit(f"//{host}").hostname or "").lower()
    except ValueError:
        return False
    if not name:
        return False
    if _is_loopback(name):
        return True
    for allowed in settings.allowed_hosts:
        allowed = allowed.strip().lower().strip("[]")
        if name == allowed or (allowed.startswith("*.") and name.endswith(allowed[1:])):
            return True
    return False


def origin_allowed(scope: Scope, settings: Settings) -> bool:
    if sum(1 for k, _ in scope["headers"] if k.lower() == b"origin") > 1:
        return False  # which one would the browser have meant? Neither.
    headers = _headers(scope)
    origin = request_origin(headers)
    return origin is not None and origin in allowed_origins(scope, headers, settings)


def _token_without_cookie(scope: Scope) -> bool:
    """An API token's request (xiaobao.tokens) carrying no cookie: no Origin needed."""
    headers = _headers(scope)
    token = bearer_of(headers.get("authorization", ""))
    return token is not None and token.startswith(TOKEN_PREFIX) and "cookie" not in headers


# --- JSON depth ----------------------------------------------------------------------------------

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` (strings skipped)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for byte in _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        if byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class BodyTooLarge(HTTPException):
    """Raised inside a streamed read; the guard answers 413 in the error shape."""

    def __init__(self) -> None:
        super().__init__(413)


# --- the middleware ------------------------------------------------------------------------------

def _too_large(cap: int):
    return error_response(413, "body_too_large",
                          f"请求内容过大（上限{cap // 1024} KB）。 / Request body too large "
                          f"(at most {cap // 1024} KB).")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not host_allowed(scope, self.settings):
            log.warning("%s %s refused: Host not allowed", scope["type"], scope["path"])
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": WS_BAD_ORIGIN,
                            "reason": "host not allowed"})
                return
            await error_response(400, "bad_host", "请求的主机名不被允许。 / Host header not "
                                 "allowed (XIAOBAO_ALLOWED_HOSTS).")(scope, receive, send)
            return
        if scope["type"] == "websocket":
            if not origin_allowed(scope, self.settings):
                log.warning("WebSocket %s refused: origin not allowed", scope["path"])
                await send({"type": "websocket.close", "code": WS_BAD_ORIGIN,
                            "reason": "origin not allowed"})
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        production = self.settings.is_production
        if production:
            send = _with_hsts(send)
        path, method = scope["path"], scope["method"]
        if not path.startswith(CACHEABLE_PREFIXES):
            send = _with_no_store(send)
        if production and path in PRIVATE_DOCS and not self._may_read_private(scope):
            await error_response(404, "not_found", "找不到该地址 / Not found")(scope, receive, send)
            return
        if method in UNSAFE_METHODS and path not in ORIGIN_EXEMPT \
                and not _token_without_cookie(scope) and not origin_allowed(scope, self.settings):
            await error_response(
                403, "bad_origin", "请求来源不被允许，请从本站页面操作。"
                " / Cross-origin request refused: use this site's own pages.")(
                scope, receive, send)
            return
        await self._with_body_caps(scope, receive, send)

    def _may_read_private(self, scope: Scope) -> bool:
        token = self.settings.metrics_token
        given = _headers(scope).get("authorization", "")
        if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
        return _is_loopback(client_ip(Request(scope)))

    async def _with_body_caps(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        content_type = headers.get("content-type", "").lower()
        streamed = content_type.startswith("multipart/") or scope["path"] in LARGE_BODY_PATHS
        cap = self.settings.max_upload_bytes if streamed else self.settings.max_json_body_bytes
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                await error_response(400, "bad_request", "请求有误 / Bad request")(
                    scope, receive, send)
                return
            if int(length) > cap:
                await _too_large(cap)(scope, receive, send)
                return
        if streamed:
            await self._counted(scope, receive, send, cap)
            return
        if length is None and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body at all
            return
        # A small body: read it whole (at most the cap), check its nesting, hand it on.
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > cap:
                await _too_large(cap)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and ("json" in content_type or not content_type) and json_too_deep(body):
            await error_response(400, "json_too_deep",
                                 "请求内容嵌套过深。 / JSON nested too deeply.")(
                scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """An upload streams through, counted; past the cap the read fails and whatever the
        route would have answered is replaced by 413."""
        total, exceeded, started = 0, False, False

        async def counting() -> Message:
            nonlocal total, exceeded
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > cap:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _too_large(cap)(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting, guarded)
        except BodyTooLarge:
            if not started:
                await _too_large(cap)(scope, receive, send)


def _with_no_store(send: Send) -> Send:
    """``Cache-Control: no-store`` unless the route chose its own: answers and pages carry
    personal data (chat history, tickets, transcripts, 留言, gaps, reports' examples), which no
    browser or proxy cache may keep."""
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(k.lower() == b"cache-control" for k, _ in headers):
                headers.append((b"cache-control", NO_STORE.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending


def _with_hsts(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(k.lower() == b"strict-transport-security" for k, _ in headers):
                headers.append((b"strict-transport-security", HSTS.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending

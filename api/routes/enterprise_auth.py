"""Enterprises sign in on the portal through the district's unified identity service (一网通办
法人 sign-in, OpenID Connect; the client is :mod:`api.oidc`).

``GET /auth/enterprise/login`` sends the browser to the provider with a fresh state, nonce and
PKCE challenge, kept in a signed, short-lived cookie (HttpOnly, SameSite=Lax: the provider's
redirect back is a top-level navigation from another site). ``GET /auth/enterprise/callback``
checks all three, verifies the ID token and opens a server-side session
(:mod:`xiaobao.enterprise_sessions`) whose random token is the enterprise cookie (HttpOnly,
SameSite=Lax, Secure over HTTPS). ``POST /auth/enterprise/logout`` revokes it and answers
where the browser goes next: the provider's end-session endpoint when it has one, else the
portal. ``GET /api/enterprise/me`` says who is signed in (401 when nobody).

Without a configured issuer the gateway signs in against its simulator provider
(:mod:`api.oidc_simulator`); in production without one, sign-in answers 503.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep, SettingsDep, current_enterprise_identity, secure_cookies
from api.errors import ApiError, error_responses
from api.oidc import Identity, OidcClient, PendingSignIn, open_pending, seal_pending
from api.services import Services
from xiaobao import enterprise_sessions
from xiaobao.db import session_scope
from xiaobao.errors import XiaobaoError
from xiaobao.events import EventKind, record_event
from xiaobao.settings import Settings

PENDING_COOKIE = "xiaobao_oidc_pending"
CALLBACK_PATH = "/auth/enterprise/callback"
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")

pages = APIRouter(tags=["enterprise sign-in"], include_in_schema=False)
router = APIRouter(tags=["enterprise sign-in"],
                   responses=error_responses(400, 401, 403, 413, 422, 503))


def oidc_client(request: Request) -> OidcClient:
    client: OidcClient | None = request.app.state.oidc
    if client is None:
        raise ApiError(503, "sign_in_not_configured",
                       "企业登录暂未开通（未配置统一身份认证）。 / Enterprise sign-in is not "
                       "configured (XIAOBAO_OIDC_ISSUER).")
    return client


def _site(request: Request, settings: Settings) -> str:
    """The portal's origin as the public sees it: the configured redirect URL's (behind a
    proxy the request names the gateway's own address), else the request's."""
    if settings.oidc_redirect_url:
        parts = urlsplit(settings.oidc_redirect_url)
        return f"{parts.scheme}://{parts.netloc}"
    return str(request.base_url).rstrip("/")


def redirect_uri(request: Request, settings: Settings) -> str:
    """The configured redirect URL, else this gateway's callback as the browser reached it."""
    return settings.oidc_redirect_url or f"{_site(request, settings)}{CALLBACK_PATH}"


def _set_pending(response: Response, settings: Settings, pending: PendingSignIn) -> None:
    response.set_cookie(PENDING_COOKIE, seal_pending(pending, settings), max_age=600,
                        path=CALLBACK_PATH, httponly=True, samesite="lax",
                        secure=secure_cookies(settings))


def _set_session(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(settings.enterprise_cookie, token,
                        max_age=settings.enterprise_session_absolute_max_age_s, httponly=True,
                        samesite="lax", secure=secure_cookies(settings))


def _sign_in_failed(request: Request, error: XiaobaoError) -> Response:
    """The callback is a page the browser lands on: the refusal is a page too, in the error's
    words and status, with the way back."""
    response = templates.TemplateResponse(
        request, "enterprise_signin_error.html",
        {"page": "enterprise-signin-error", "message": error.message}, status_code=error.status)
    response.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH)
    return response


@pages.get("/auth/enterprise/login")
async def login(request: Request, settings: SettingsDep) -> Response:
    """To the provider's sign-in, with a new state, nonce and PKCE challenge."""
    url, pending = await oidc_client(request).begin(redirect_uri(request, settings))
    response = RedirectResponse(url, status_code=303)
    _set_pending(response, settings, pending)
    return response


def _open_session(services: Services, identity: Identity, previous: str | None) -> str:
    """A fresh session for the enterprise (any the browser brought along ends)."""
    with session_scope(services.engine) as session:
        enterprise_sessions.revoke(session, previous)
        record_event(session, EventKind.ENTERPRISE_LOGIN, actor=identity.uscc)
        return enterprise_sessions.create(session, identity.uscc, identity.name,
                                          services.settings)


def _end_session(services: Services, token: str | None) -> None:
    with session_scope(services.engine) as session:
        signed_in = enterprise_sessions.resolve(session, token, services.settings) \
            if token else None
        enterprise_sessions.revoke(session, token)
        if signed_in is not None:
            record_event(session, EventKind.ENTERPRISE_LOGOUT, actor=signed_in.uscc)


@pages.get(CALLBACK_PATH, response_class=HTMLResponse)
async def callback(request: Request, services: ServicesDep) -> Response:
    """Back from the provider: the sign-in checked end to end, then the enterprise's session
    (written off the event loop: the provider's round trips are awaited, SQL is not)."""
    settings = services.settings
    try:
        pending = open_pending(request.cookies.get(PENDING_COOKIE), settings)
        identity = await oidc_client(request).finish(pending, request.query_params)
    except XiaobaoError as exc:
        return _sign_in_failed(request, exc)
    token = await run_in_threadpool(_open_session, services, identity,
                                    request.cookies.get(settings.enterprise_cookie))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH)
    _set_session(response, settings, token)
    return response


@router.post("/auth/enterprise/logout")
async def logout(request: Request, response: Response, services: ServicesDep) -> dict:
    """Ends the session on the server; ``redirect`` is where the browser goes next (the
    provider's end-session endpoint, or the portal)."""
    settings = services.settings
    await run_in_threadpool(_end_session, services, request.cookies.get(settings.enterprise_cookie))
    response.delete_cookie(settings.enterprise_cookie, httponly=True, samesite="lax",
                           secure=secure_cookies(settings))
    client: OidcClient | None = request.app.state.oidc
    after = f"{_site(request, settings)}/"
    end_session = await client.end_session_url(after) if client is not None else None
    return {"ok": True, "redirect": end_session or "/"}


@router.get("/api/enterprise/me")
def me(request: Request) -> dict:
    """The signed-in enterprise's USCC and name (what the identity provider said)."""
    signed_in = current_enterprise_identity(request)
    if signed_in is None:
        raise ApiError(401, "not_signed_in", "企业未登录 / No enterprise is signed in")
    return {"uscc": signed_in.uscc, "name": signed_in.name}

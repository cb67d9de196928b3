"""A local simulator of the district's identity provider (一网通办 法人 sign-in), for development
and tests only — as the 12345 dialler has its simulator.

An ASGI app mounted by the gateway under ``/oidc-sim`` when no ``settings.oidc_issuer`` is
configured, never in production (:func:`api.main.create_app`). It speaks OpenID Connect the
way the real provider does, so the gateway's client (:mod:`api.oidc`) cannot tell: discovery,
JWKS, ``/authorize`` (a page, clearly labelled a simulator, where one picks or types an
enterprise), ``/token`` (the one-time code, the client secret, the PKCE verifier and the
redirect URI all checked) and ``/end-session``. ID tokens are signed RS256 with joserfc by a
key kept under ``settings.home`` (created on first use, mode 600), so a restart does not
invalidate the gateway's cached keys. Codes live in this process's memory for a minute.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from enterprises.uscc import normalise_uscc, valid_uscc
from xiaobao.settings import Settings

KEY_FILE = "oidc-simulator-key.pem"
CODE_TTL_S = 60
ID_TOKEN_TTL_S = 300
CALLBACK_PATH = "/auth/enterprise/callback"
LABEL = "模拟身份认证（开发/测试用，非真实一网通办）"
# Made-up enterprises to pick from (their check digits are right, GB 32100).
SAMPLES = (("91310113MA1GL2K3XG", "上海宝山示例科技有限公司"),
           ("91310113MA1H8PQ4YE", "上海宝山示例餐饮管理有限公司"),
           ("92310113MA1K5R7W03", "宝山区示例五金店（个体工商户）"))
_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(["html"]))


def simulator_issuer(settings: Settings) -> str:
    """The simulator's issuer: the gateway's own loopback address, where the gateway's client
    reads discovery and the browser is sent."""
    return f"http://127.0.0.1:{settings.gateway_port}/oidc-sim"


def signing_key(home: Path) -> RSAKey:
    path = home / KEY_FILE
    if path.is_file():
        pem = path.read_bytes()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = RSAKey.generate_key(2048).as_pem(private=True)
        path.touch(mode=0o600)
        path.write_bytes(pem)
    kid = hashlib.sha256(pem).hexdigest()[:16]
    return RSAKey.import_key(pem, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@dataclass(frozen=True)
class Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    uscc: str
    name: str
    expires: float


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _bad(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


class Simulator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = simulator_issuer(settings)
        self.key = signing_key(settings.home)
        self.grants: dict[str, Grant] = {}

    def redirect_allowed(self, uri: str) -> bool:
        """The registered redirect: the configured one, else the callback of a gateway on a
        loopback or allowed host (the simulator serves development machines only)."""
        if self.settings.oidc_redirect_url:
            return uri == self.settings.oidc_redirect_url
        parts = urlsplit(uri)
        hosts = {"127.0.0.1", "localhost", "::1", *self.settings.allowed_hosts}
        return parts.scheme in ("http", "https") and parts.hostname in hosts \
            and parts.path == CALLBACK_PATH and not parts.fragment

    async def discovery(self, request: Request) -> Response:
        base = self.issuer
        return JSONResponse({
            "issuer": base, "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks",
            "end_session_endpoint": f"{base}/end-session",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "client_secret_basic"],
            "scopes_supported": ["openid", "profile"],
            "claims_supported": ["sub", "uscc", "name", "nonce"]})

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    def _authorize_params(self, data) -> dict[str, str] | Response:
        params = {k: str(data.get(k, "")) for k in (
            "client_id", "redirect_uri", "response_type", "state", "nonce", "code_challenge",
            "code_challenge_method", "scope")}
        if params["client_id"] != self.settings.oidc_client_id:
            return _bad(400, "invalid_client", "unknown client_id")
        if not self.redirect_allowed(params["redirect_uri"]):
            return _bad(400, "invalid_request", "redirect_uri not registered")
        if params["response_type"] != "code" or "openid" not in params["scope"].split():
            return _bad(400, "unsupported_response_type", "response_type=code, scope openid")
        if params["code_challenge_method"] != "S256" or not params["code_challenge"]:
            return _bad(400, "invalid_request", "PKCE with S256 is required")
        if not params["state"] or not params["nonce"]:
            return _bad(400, "invalid_request", "state and nonce are required")
        return params

    def _page(self, params: dict[str, str], error: str = "", status: int = 200) -> Response:
        html = _templates.get_template("oidc_simulator.html").render(
            label=LABEL, params=params, samples=SAMPLES, error=error)
        return HTMLResponse(html, status_code=status)

    async def authorize(self, request: Request) -> Response:
        data = request.query_params if request.method == "GET" else await request.form()
        params = self._authorize_params(data)
        if isinstance(params, Response):
            return params
        if request.method == "GET":
            return self._page(params)
        back = {"state": params["state"]}
        if data.get("action") == "deny":
            back["error"] = "access_denied"
            return RedirectResponse(f"{params['redirect_uri']}?{urlencode(back)}", 303)
        uscc = normalise_uscc(data.get("uscc", ""))
        name = str(data.get("name", "")).strip()
        if not valid_uscc(uscc) or not name or len(name) > 200:
            return self._page(params, "请填写有效的18位统一社会信用代码（含校验位）和企业名称。",
                              status=400)
        now = time.time()
        for stale in [c for c, g in self.grants.items() if g.expires < now]:
            del self.grants[stale]  # codes never redeemed do not pile up
        code = secrets.token_urlsafe(32)
        self.grants[code] = Grant(
            client_id=params["client_id"], redirect_uri=params["redirect_uri"],
            code_challenge=params["code_challenge"], nonce=params["nonce"], uscc=uscc,
            name=name, expires=now + CODE_TTL_S)
        back["code"] = code
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(back)}", 303)

    def _client_authenticated(self, request: Request, form) -> bool:
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
        expected = self.settings.oidc_client_secret.encode()
        return client_id == self.settings.oidc_client_id and \
            hmac.compare_digest(secret.encode(), expected)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if not self._client_authenticated(request, form):
            return _bad(401, "invalid_client", "client authentication failed")
        if form.get("grant_type") != "authorization_code":
            return _bad(400, "unsupported_grant_type", "authorization_code only")
        grant = self.grants.pop(str(form.get("code", "")), None)  # one use, whatever follows
        if grant is None or grant.expires < time.time():
            return _bad(400, "invalid_grant", "unknown, used or expired code")
        if grant.redirect_uri != form.get("redirect_uri") or \
                grant.client_id != self.settings.oidc_client_id:
            return _bad(400, "invalid_grant", "redirect_uri does not match")
        verifier = str(form.get("code_verifier", ""))
        if not verifier or not hmac.compare_digest(_s256(verifier), grant.code_challenge):
            return _bad(400, "invalid_grant", "PKCE verification failed")
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": grant.uscc, "aud": grant.client_id,
                  "iat": now, "exp": now + ID_TOKEN_TTL_S, "nonce": grant.nonce,
                  "uscc": grant.uscc, "name": grant.name}
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        return JSONResponse({"access_token": secrets.token_urlsafe(32), "token_type": "Bearer",
                             "expires_in": ID_TOKEN_TTL_S, "id_token": id_token},
                            headers={"Cache-Control": "no-store"})

    async def end_session(self, request: Request) -> Response:
        target = request.query_params.get("post_logout_redirect_uri", "")
        parts = urlsplit(target)
        callback = f"{parts.scheme}://{parts.netloc}{CALLBACK_PATH}"
        if target and parts.path == "/" and self.redirect_allowed(callback):
            return RedirectResponse(target, 303)
        return HTMLResponse(f"<!doctype html><html lang=\"zh-CN\"><title>{LABEL}</title>"
                            f"<main><h1>{LABEL}</h1><p>已退出。</p></main></html>")


def build_simulator(settings: Settings) -> Starlette:
    sim = Simulator(settings)
    app = Starlette(routes=[
        Route("/.well-known/openid-configuration", sim.discovery),
        Route("/jwks", sim.jwks),
        Route("/authorize", sim.authorize, methods=["GET", "POST"]),
        Route("/token", sim.token, methods=["POST"]),
        Route("/end-session", sim.end_session),
    ])
    app.state.simulator = sim
    return app

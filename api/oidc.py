"""The enterprise sign-in's OpenID Connect client (一网通办 法人 sign-in): the authorization
code flow with state, nonce and PKCE (S256), the provider found by its discovery document.

Authlib writes the protocol's messages (the authorization URL with its PKCE S256 challenge,
the token request's body), the project's httpx carries them (Authlib's own httpx client
follows whichever httpx flavour is installed, huggingface_hub's httpx2 here, so it could not
share a transport with the rest of the gateway); joserfc (Authlib's JOSE library) verifies
the ID token: its signature by a key of the provider's JWKS, ``iss``, ``aud``, ``exp`` and the
``nonce`` this sign-in sent. The USCC comes from the claim ``settings.oidc_uscc_claim`` and
must pass GB 32100's check (:func:`enterprises.uscc.valid_uscc`). Nothing here is specific to
the simulator (:mod:`api.oidc_simulator`): it is reached through discovery exactly as the
real provider.

The state, nonce and PKCE verifier of a sign-in under way travel in a cookie signed with
``settings.secret_key`` (:func:`seal_pending`, ten minutes; signed, not encrypted, hence
HttpOnly and scoped to the callback's path): no server state, so any gateway may receive the
callback, and a cookie altered or older than that is refused. A replayed callback fails at
the provider, whose codes are good once.
"""
from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from itsdangerous import BadData, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from enterprises.uscc import normalise_uscc, valid_uscc
from xiaobao.errors import XiaobaoError
from xiaobao.settings import Settings

PENDING_MAX_AGE_S = 600  # a sign-in must come back from the provider within ten minutes
CLOCK_LEEWAY_S = 60  # the provider's clock and ours may differ this much


class SignInRefused(XiaobaoError):
    """The provider's answer does not belong to this sign-in, or does not prove who it says."""

    status = 400
    code = "sign_in_refused"


class ProviderUnavailable(XiaobaoError):
    status = 503
    code = "identity_provider_unavailable"


def refused(reason_zh: str, reason_en: str) -> SignInRefused:
    return SignInRefused(f"企业登录失败：{reason_zh}，请重新登录。 / Sign-in refused: {reason_en}; "
                         "please sign in again.")


@dataclass(frozen=True)
class Provider:
    """What discovery tells of the provider."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str


@dataclass(frozen=True)
class Identity:
    uscc: str
    name: str


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="xiaobao-enterprise-sign-in")


def seal_pending(pending: PendingSignIn, settings: Settings) -> str:
    return _serializer(settings).dumps(asdict(pending))


def open_pending(value: str | None, settings: Settings) -> PendingSignIn:
    """The sign-in under way, from its cookie; refused when missing, altered or too old."""
    if not value:
        raise refused("登录状态已丢失", "no sign-in under way in this browser")
    try:
        data = _serializer(settings).loads(value, max_age=PENDING_MAX_AGE_S)
        return PendingSignIn(**data)
    except (BadData, TypeError):
        raise refused("登录状态无效或已过期", "the sign-in state is invalid or expired") from None


class OidcClient:
    """One provider (``issuer``) and this gateway's registration with it. ``transport`` is
    httpx's: none for a real provider (the network); the gateway's own app for its simulator
    (:func:`api.main.install_identity_provider`), or the simulator's in tests."""

    def __init__(self, settings: Settings, issuer: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.issuer = issuer.rstrip("/")
        self.transport = transport
        self._provider: Provider | None = None
        self._keys: KeySet | None = None

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, timeout=self.settings.oidc_timeout_s)

    async def _get_json(self, url: str) -> dict:
        try:
            async with self._http() as http:
                response = await http.get(url)
                response.raise_for_status()
                return response.json()
        except (httpx.HTTPError, json.JSONDecodeError):
            raise ProviderUnavailable("统一身份认证服务暂时无法访问，请稍后再试。 / The identity "
                                      "provider is unavailable; please retry later.") from None

    async def provider(self) -> Provider:
        """The discovery document, read once; its issuer must be the one configured."""
        if self._provider is None:
            doc = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if doc.get("issuer", "").rstrip("/") != self.issuer:
                raise ProviderUnavailable("统一身份认证服务配置不一致。 / The provider's "
                                          "discovery names another issuer.")
            self._provider = Provider(
                issuer=doc["issuer"], authorization_endpoint=doc["authorization_endpoint"],
                token_endpoint=doc["token_endpoint"], jwks_uri=doc["jwks_uri"],
                end_session_endpoint=doc.get("end_session_endpoint"))
        return self._provider

    async def keys(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            provider = await self.provider()
            keys: Any = await self._get_json(provider.jwks_uri)  # checked by joserfc
            self._keys = KeySet.import_key_set(keys)
        return self._keys

    async def begin(self, redirect_uri: str) -> tuple[str, PendingSignIn]:
        """The provider's authorization URL for a new sign-in, and what the callback checks."""
        provider = await self.provider()
        pending = PendingSignIn(state=generate_token(32), nonce=generate_token(32),
                                code_verifier=generate_token(64), redirect_uri=redirect_uri)
        s = self.settings
        url = prepare_grant_uri(
            provider.authorization_endpoint, s.oidc_client_id, "code",
            redirect_uri=redirect_uri, scope=s.oidc_scope, state=pending.state,
            nonce=pending.nonce, code_challenge=create_s256_code_challenge(pending.code_verifier),
            code_challenge_method="S256")
        return url, pending

    async def finish(self, pending: PendingSignIn, params: Mapping[str, str]) -> Identity:
        """The callback's query checked against the sign-in under way, the code exchanged
        (with the PKCE verifier) and the ID token verified; the enterprise it names."""
        if not hmac.compare_digest(params.get("state", ""), pending.state):
            raise refused("登录状态（state）不匹配", "the state does not match this sign-in")
        if params.get("error"):
            raise refused("统一身份认证未授权", f"the provider answered {params['error'][:40]}")
        code = params.get("code", "")
        if not code:
            raise refused("缺少授权码", "no authorization code")
        provider = await self.provider()
        token = await self._exchange(provider, pending, code)
        claims = await self.verify_id_token(token.get("id_token"), pending.nonce)
        return self.identity(claims)

    async def _exchange(self, provider: Provider, pending: PendingSignIn, code: str) -> dict:
        """The code for tokens at the token endpoint (client_secret_post, the PKCE verifier)."""
        s = self.settings
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=pending.redirect_uri,
            code_verifier=pending.code_verifier, client_id=s.oidc_client_id,
            client_secret=s.oidc_client_secret)
        try:
            async with self._http() as http:
                response = await http.post(provider.token_endpoint, content=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json"})
        except httpx.HTTPError:
            response = None
        if response is None or response.status_code >= 500:
            raise ProviderUnavailable("统一身份认证服务暂时无法访问，请稍后再试。 / The "
                                      "identity provider is unavailable.")
        try:
            token = response.json()
        except json.JSONDecodeError:
            token = None
        if response.status_code != 200 or not isinstance(token, dict) or "error" in token:
            raise refused("授权码无效、已使用或已过期", "the code is invalid, used or expired")
        return token

    async def verify_id_token(self, id_token: object, nonce: str) -> dict:
        """The ID token's claims once its signature (a key of the JWKS; the keys are read
        again once for a key id not yet seen), issuer, audience, expiry and nonce hold."""
        if not isinstance(id_token, str) or not id_token:
            raise refused("未收到身份令牌", "no ID token")
        try:
            try:
                decoded = jwt.decode(id_token, await self.keys(), algorithms=["RS256"])
            except JoseError:  # a rotated key: read the provider's keys once more
                decoded = jwt.decode(id_token, await self.keys(refresh=True),
                                     algorithms=["RS256"])
        except (JoseError, ValueError):
            raise refused("身份令牌签名无效", "the ID token's signature is invalid") from None
        registry = jwt.JWTClaimsRegistry(
            now=int(time.time()), leeway=CLOCK_LEEWAY_S,
            iss={"essential": True, "value": (await self.provider()).issuer},
            aud={"essential": True, "value": self.settings.oidc_client_id},
            exp={"essential": True}, sub={"essential": True},
            nonce={"essential": True, "value": nonce})
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            claim = getattr(exc, "claim", "") or ""
            raise refused(f"身份令牌无效（{claim or exc.error}）",
                          f"the ID token's {claim or exc.error} is not valid") from None
        return decoded.claims

    def identity(self, claims: dict) -> Identity:
        uscc = claims.get(self.settings.oidc_uscc_claim)
        uscc = normalise_uscc(uscc) if isinstance(uscc, str) else ""
        if not valid_uscc(uscc):  # GB 32100, its check character included
            raise refused("身份令牌中没有有效的统一社会信用代码",
                          "the ID token carries no valid unified social credit code")
        name = claims.get(self.settings.oidc_name_claim)
        return Identity(uscc=uscc, name=name.strip()[:200] if isinstance(name, str) else "")

    async def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """Where the browser ends its session at the provider, if the provider has that."""
        try:
            endpoint = (await self.provider()).end_session_endpoint
        except ProviderUnavailable:
            return None
        if not endpoint:
            return None
        query = urlencode({"client_id": self.settings.oidc_client_id,
                           "post_logout_redirect_uri": post_logout_redirect_uri})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

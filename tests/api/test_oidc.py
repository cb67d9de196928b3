"""The enterprise sign-in's OIDC client (api/oidc.py) against the simulator provider, reached
through discovery over httpx (the simulator's ASGI app as the transport): the authorization
URL's PKCE S256 challenge, and every ID-token check — signature by the provider's JWKS, issuer,
audience, expiry, nonce — each refused on its own; the USCC claim (configurable) with its
GB 32100 check character; the signed pending sign-in."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.routing import Mount

from api.oidc import (
    OidcClient,
    PendingSignIn,
    ProviderUnavailable,
    SignInRefused,
    open_pending,
    seal_pending,
)
from api.oidc_simulator import SAMPLES, build_simulator, simulator_issuer
from xiaobao.settings import Settings

USCC, NAME = SAMPLES[0]
NONCE = "the-nonce-of-this-sign-in"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, secret_key="test-secret-0123456789")


@pytest.fixture
def simulator(settings):
    return build_simulator(settings)


@pytest.fixture
def client(settings, simulator) -> OidcClient:
    provider = Starlette(routes=[Mount("/oidc-sim", simulator)])
    return OidcClient(settings, simulator_issuer(settings),
                      transport=httpx.ASGITransport(app=provider))


def id_token(simulator, key=None, **changes) -> str:
    """An ID token as the simulator signs it, with ``changes`` to its claims."""
    sim = simulator.state.simulator
    now = int(time.time())
    claims = {"iss": sim.issuer, "sub": USCC, "aud": sim.settings.oidc_client_id, "iat": now,
              "exp": now + 300, "nonce": NONCE, "uscc": USCC, "name": NAME, **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    key = key or sim.key
    return jwt.encode({"alg": "RS256", "kid": sim.key.kid}, claims, key)


async def test_a_genuine_token_verifies(client, simulator):
    claims = await client.verify_id_token(id_token(simulator), NONCE)
    assert client.identity(claims).uscc == USCC and client.identity(claims).name == NAME


@pytest.mark.parametrize("changes, what", [
    ({"nonce": "another-sign-ins-nonce"}, "nonce"),
    ({"nonce": None}, "nonce"),
    ({"exp": int(time.time()) - 3600}, "exp"),
    ({"aud": "another-client"}, "aud"),
    ({"iss": "http://127.0.0.1:9/elsewhere"}, "iss"),
    ({"sub": None}, "sub"),
])
async def test_each_claim_check_refuses_on_its_own(client, simulator, changes, what):
    with pytest.raises(SignInRefused) as refused:
        await client.verify_id_token(id_token(simulator, **changes), NONCE)
    assert what in refused.value.message and "企业登录失败" in refused.value.message
    assert refused.value.status == 400


async def test_a_token_signed_by_another_key_is_refused(client, simulator):
    forged = id_token(simulator, key=RSAKey.generate_key(2048))  # the provider's key id, even
    with pytest.raises(SignInRefused, match="签名无效"):
        await client.verify_id_token(forged, NONCE)


async def test_an_unsigned_token_is_refused(client, simulator):
    header, payload, _ = id_token(simulator).split(".")
    with pytest.raises(SignInRefused, match="签名无效"):
        await client.verify_id_token(f"{header}.{payload}.", NONCE)
    with pytest.raises(SignInRefused, match="未收到身份令牌"):
        await client.verify_id_token(None, NONCE)


async def test_the_uscc_must_pass_its_check_character(client, simulator):
    wrong = USCC[:17] + ("0" if USCC[17] != "0" else "1")
    claims = await client.verify_id_token(id_token(simulator, uscc=wrong), NONCE)
    with pytest.raises(SignInRefused, match="统一社会信用代码"):
        client.identity(claims)
    claims = await client.verify_id_token(id_token(simulator, uscc=None), NONCE)
    with pytest.raises(SignInRefused, match="统一社会信用代码"):
        client.identity(claims)


async def test_the_uscc_claim_is_configurable(settings, simulator):
    configured = settings.model_copy(update={"oidc_uscc_claim": "credit_code"})
    provider = Starlette(routes=[Mount("/oidc-sim", simulator)])
    client = OidcClient(configured, simulator_issuer(settings),
                        transport=httpx.ASGITransport(app=provider))
    claims = await client.verify_id_token(id_token(simulator, credit_code=SAMPLES[1][0]), NONCE)
    assert client.identity(claims).uscc == SAMPLES[1][0]


async def test_the_authorization_url_carries_state_nonce_and_an_s256_challenge(client):
    url, pending = await client.begin("http://testserver/auth/enterprise/callback")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == "/oidc-sim/authorize"
    assert query["state"] == pending.state and query["nonce"] == pending.nonce
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == create_s256_code_challenge(pending.code_verifier)
    assert pending.code_verifier not in url
    assert query["response_type"] == "code" and "openid" in query["scope"].split()
    again = (await client.begin("http://testserver/auth/enterprise/callback"))[1]
    assert len({pending.state, again.state, pending.nonce, again.nonce}) == 4


async def test_discovery_naming_another_issuer_is_refused(settings, simulator):
    provider = Starlette(routes=[Mount("/oidc-sim", simulator)])
    client = OidcClient(settings, "http://127.0.0.1:8000/oidc-sim/",  # trailing slash: same
                        transport=httpx.ASGITransport(app=provider))
    assert (await client.provider()).token_endpoint.endswith("/oidc-sim/token")
    other = OidcClient(settings.model_copy(update={"gateway_port": 8001}),
                       "http://127.0.0.1:8001/oidc-sim",
                       transport=httpx.ASGITransport(app=provider))
    with pytest.raises(ProviderUnavailable, match="另一|issuer"):
        await other.provider()


async def test_an_unreachable_provider_is_a_503(settings):
    client = OidcClient(settings, "http://127.0.0.1:9/oidc")  # nothing listens on port 9
    with pytest.raises(ProviderUnavailable) as unavailable:
        await client.begin("http://testserver/auth/enterprise/callback")
    assert unavailable.value.status == 503


def test_the_pending_sign_in_is_sealed(settings):
    pending = PendingSignIn(state="s", nonce="n", code_verifier="v", redirect_uri="http://x/")
    sealed = seal_pending(pending, settings)
    assert open_pending(sealed, settings) == pending
    with pytest.raises(SignInRefused, match="无效或已过期"):
        open_pending(sealed[:-3] + "xyz", settings)
    other_key = settings.model_copy(update={"secret_key": "another-secret-0123456789"})
    with pytest.raises(SignInRefused, match="无效或已过期"):
        open_pending(sealed, other_key)
    with pytest.raises(SignInRefused, match="已丢失"):
        open_pending(None, settings)

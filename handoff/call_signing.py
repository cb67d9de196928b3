"""Signed call-backs from the telephony side: what a provider (or the simulator) sends and what
the gateway accepts.

``X-Xiaobao-Timestamp`` (unix seconds), ``X-Xiaobao-Nonce`` and ``X-Xiaobao-Signature`` = hex
HMAC-SHA256 of ``"<timestamp>.<nonce>.".encode() + body`` with the call-back secret
(``settings.call_callback_secret``). Stale or future timestamps are refused, and a nonce is
accepted once (kept in Redis for the freshness window, so a replay is refused).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import redis as redis_lib

from handoff.tickets import HandoffError

TS_HEADER, NONCE_HEADER, SIG_HEADER = "X-Xiaobao-Timestamp", "X-Xiaobao-Nonce", \
    "X-Xiaobao-Signature"


class CallbackRejected(HandoffError):
    code = "callback_rejected"
    status = 401


def sign(body: bytes, *, secret: str, timestamp: int | None = None,
         nonce: str | None = None) -> dict[str, str]:
    """Headers for a call-back body (what a provider, or the simulator, sends)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    mac = hmac.new(secret.encode(), f"{ts}.{nonce}.".encode() + body, hashlib.sha256).hexdigest()
    return {TS_HEADER: ts, NONCE_HEADER: nonce, SIG_HEADER: mac}


def verify(body: bytes, headers: dict[str, str], *, redis: redis_lib.Redis, secret: str,
           max_age_s: float = 300, now: float | None = None) -> None:
    """Raise CallbackRejected unless signed with our secret, fresh, and never seen before."""
    h = {k.lower(): v for k, v in headers.items()}
    ts, nonce, mac = h.get(TS_HEADER.lower()), h.get(NONCE_HEADER.lower()), \
        h.get(SIG_HEADER.lower())
    if not ts or not nonce or not mac or len(nonce) > 128:
        raise CallbackRejected("回调缺少签名。 / Missing signature headers.")
    expected = hmac.new(secret.encode(), f"{ts}.{nonce}.".encode() + body,
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, mac):
        raise CallbackRejected("回调签名无效。 / Bad signature.")
    try:
        age = (time.time() if now is None else now) - int(ts)
    except ValueError:
        raise CallbackRejected("回调时间戳无效。 / Bad timestamp.") from None
    if abs(age) > max_age_s:
        raise CallbackRejected("回调已过期。 / Call-back is not fresh.")
    # SET NX: the first delivery wins; a replay within the window finds the nonce taken.
    if not redis.set(f"xiaobao:call-nonce:{nonce}", "1", nx=True, px=int(max_age_s * 2000)):
        raise CallbackRejected("重复的回调。 / Replayed call-back.")

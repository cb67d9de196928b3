"""SMS codes: a centre may require that a number receive a code before 12345 calls it back.

Without this, anyone can have the hotline dial any number they type. With
``settings.callback_sms_verification`` on, :func:`handoff.requests.request_handoff` books a new
12345 call-back only for a number this conversation has proved it holds: a 6-digit code sent to
it (:func:`send_code`) and typed back (:func:`check_code`) within ``CODE_TTL_S``. Codes live in
Redis only as a hash, five tries each, three sends per number an hour; a proof lasts
``VERIFIED_TTL_S``.

The sender is an adapter, like the 12345 dialler: :class:`HttpSms` posts to the centre's SMS
gateway (``settings.sms_url``); with none configured :class:`SimulatedSms` keeps the last
messages in Redis (``xiaobao sms outbox`` shows them), labelled as a simulator in the log.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

import httpx
import redis as redis_lib

from handoff.tickets import HandoffError
from xiaobao import limits
from xiaobao.phone import is_callable, mask_phone

log = logging.getLogger(__name__)

CODE_TTL_S = 300
VERIFIED_TTL_S = 1800
MAX_TRIES = 5
SENDS_PER_PHONE_PER_HOUR = 3
SIMULATOR_KEY = "xiaobao:sms:simulator"
SIMULATOR_KEEP = 100


class PhoneCodeError(HandoffError):
    """A code that cannot be sent or is wrong, or a number not proved: ``status``, ``code``
    and a sentence to show (the gateway's HandoffError handler answers with them)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


NOT_VERIFIED = ("请先验证回电号码：获取短信验证码并输入后，才能预约12345回电。 / Verify the number "
                "with the SMS code before booking a 12345 call-back.")


def require_verified(redis: redis_lib.Redis, conversation_id: str, phone: str) -> None:
    if not is_verified(redis, conversation_id, phone):
        raise PhoneCodeError(403, "phone_not_verified", NOT_VERIFIED)


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None: ...


@dataclass
class SimulatedSms:
    """For development and tests: the message goes to a Redis list, not to a phone."""

    redis: redis_lib.Redis

    def send(self, phone: str, text: str) -> None:
        entry = json.dumps({"phone": phone, "text": text, "at": time.time()}, ensure_ascii=False)
        with self.redis.pipeline() as pipe:
            pipe.lpush(SIMULATOR_KEY, entry)
            pipe.ltrim(SIMULATOR_KEY, 0, SIMULATOR_KEEP - 1)
            pipe.execute()
        log.info("SMS simulator: a code for %s (no message leaves this machine)",
                 mask_phone(phone))


@dataclass
class HttpSms:
    """The centre's SMS gateway: ``POST url`` ``{"phone", "text"}`` with a bearer token."""

    url: str
    token: str = ""
    timeout_s: float = 5.0

    def send(self, phone: str, text: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = httpx.post(self.url, json={"phone": phone, "text": text},
                                  headers=headers, timeout=self.timeout_s)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("SMS gateway failed for %s: %s", mask_phone(phone), type(exc).__name__)
            raise PhoneCodeError(503, "sms_unavailable",
                                 "验证码短信暂时发不出去，请稍后再试，或直接拨打12345热线。"
                                 " / The SMS gateway is unavailable.") from None


def simulated_messages(redis: redis_lib.Redis, phone: str | None = None) -> list[dict]:
    """What the simulator 'sent', newest first (of one number when given)."""
    messages = [json.loads(raw) for raw in redis.lrange(SIMULATOR_KEY, 0, SIMULATOR_KEEP - 1)]
    return [m for m in messages if phone is None or m["phone"] == phone]


def _key(kind: str, conversation_id: str, phone: str) -> str:
    digest = hashlib.sha256(f"{conversation_id}\0{phone}".encode()).hexdigest()[:32]
    return f"xiaobao:sms:{kind}:{digest}"  # no number in the key name


def _hash(code: str, phone: str) -> str:
    return hashlib.sha256(f"{phone}\0{code}".encode()).hexdigest()


def send_code(redis: redis_lib.Redis, sender: SmsSender, conversation_id: str,
              phone: str) -> None:
    """A new code to ``phone`` for this conversation (an earlier one stops working)."""
    if not is_callable(phone):
        raise PhoneCodeError(422, "invalid_phone", "请填写有效的手机号或上海固定电话。 / "
                             "Enter a valid mainland mobile or Shanghai landline.")
    limits.enforce(redis, "sms_phone", phone, SENDS_PER_PHONE_PER_HOUR, 3600, "验证码短信")
    code = f"{secrets.randbelow(10**6):06d}"
    key = _key("code", conversation_id, phone)
    redis.hset(key, mapping={"hash": _hash(code, phone), "tries": 0})
    redis.expire(key, CODE_TTL_S)
    sender.send(phone, f"【宝山区政务服务中心】您预约12345回电的验证码是{code}，"
                       f"{CODE_TTL_S // 60}分钟内有效。如非本人操作，请忽略。")


def check_code(redis: redis_lib.Redis, conversation_id: str, phone: str, code: str) -> None:
    """Proves the number for this conversation, or raises PhoneCodeError saying why."""
    key = _key("code", conversation_id, phone)
    stored = redis.hgetall(key)
    if not stored:
        raise PhoneCodeError(422, "code_expired", "验证码已过期或尚未发送，请重新获取。 / "
                             "The code expired or was never sent: ask for a new one.")
    tries = redis.hincrby(key, "tries", 1)
    given = "".join(ch for ch in str(code) if ch.isdigit())[:6]
    if hmac.compare_digest(_hash(given, phone), str(stored.get("hash", ""))):
        redis.delete(key)
        redis.set(_key("verified", conversation_id, phone), "1", ex=VERIFIED_TTL_S)
        return
    if tries >= MAX_TRIES:
        redis.delete(key)
        raise PhoneCodeError(422, "code_locked", "验证码错误次数过多，请重新获取。 / Too many "
                             "wrong codes: ask for a new one.")
    raise PhoneCodeError(422, "wrong_code", f"验证码不对，还可以再试{MAX_TRIES - tries}次。 / "
                         f"Wrong code; {MAX_TRIES - tries} tries left.")


def is_verified(redis: redis_lib.Redis, conversation_id: str, phone: str) -> bool:
    return bool(redis.exists(_key("verified", conversation_id, phone)))

"""小宝's Rasa input channel: Rasa's REST channel that answers only signed requests.

Registered in ``credentials.yml`` as ``bot.channels.SignedRestInput`` instead of the open
``rest:`` channel, it serves ``POST /webhooks/xiaobao/webhook``. A request without a valid
:data:`bot.signing.SIGNATURE_HEADER` (HMAC-SHA256 of the raw body under the secret in
``XIAOBAO_RASA_TOKEN``) is answered 401 before Rasa reads it, so nothing reaches a tracker.
Rasa refuses to start when the secret is not set. Runs inside ``rasa run`` (``.venv-rasa``).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.signing import SECRET_ENV, SIGNATURE_HEADER, verify

log = logging.getLogger(__name__)
CHANNEL = "xiaobao"


class SignedRestInput(RestInput):
    """``RestInput`` behind a signature check (request middleware of its blueprint)."""

    def __init__(self, secret: str | None = None) -> None:
        secret = os.environ.get(SECRET_ENV, "") if secret is None else secret
        if not secret:
            raise ValueError(f"{SECRET_ENV} is not set: the {CHANNEL} channel would refuse "
                             "every request")
        self._secret = secret

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]
                  ) -> Blueprint:
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def check_signature(request: Request) -> HTTPResponse | None:
            if request.method != "POST":
                return None  # the channel's GET health check reads and writes nothing
            if verify(self._secret, request.body or b"", request.headers.get(SIGNATURE_HEADER)):
                return None
            log.warning("refused an unsigned or wrongly signed request to %s", request.path)
            return response.json({"error": {"code": "bad_signature",
                                            "message": "request not signed by a gateway"}},
                                 status=401)

        return blueprint

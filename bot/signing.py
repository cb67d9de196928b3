"""The signature on a request to the Rasa server's input channel (``bot.channels``).

Only the gateways may talk to Rasa: each request carries, in :data:`SIGNATURE_HEADER`, the
HMAC-SHA256 of its raw body under the Rasa API token (``XIAOBAO_RASA_TOKEN``, the secret that
already guards Rasa's HTTP API). No import beyond the standard library: the gateway (``.venv``)
and the Rasa server (``.venv-rasa``) both use this module.
"""
from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Xiaobao-Signature"
SECRET_ENV = "XIAOBAO_RASA_TOKEN"  # what the Rasa server reads the secret from
PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header's value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is ``body``'s under ``secret`` (constant-time); never with an
    empty secret."""
    if not secret or not signature:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), signature.strip().encode())

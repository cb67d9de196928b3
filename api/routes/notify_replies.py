"""The SMS provider's reply call-back: an enterprise answering "TD" to a 政策推送 message
opts out. The provider resolves the replying number to the enterprise's USCC and signs its
call with the key configured for it (``settings.notify_sms_key``); without a key configured
the route answers 401 to everyone."""
from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from api.deps import SessionDep, SettingsDep
from api.errors import ApiError, error_responses
from notifications.optouts import handle_sms_reply

router = APIRouter(prefix="/api/notify", tags=["notifications"],
                   responses=error_responses(400, 401, 413, 422))


class SmsReplyIn(BaseModel):
    uscc: str = Field(min_length=1, max_length=40)
    text: str = Field(max_length=500)


@router.post("/sms-reply")
def sms_reply(body: SmsReplyIn, session: SessionDep, settings: SettingsDep,
              x_notify_key: Annotated[str, Header(max_length=200)] = "") -> dict:
    key = settings.notify_sms_key
    if not key or not hmac.compare_digest(x_notify_key.encode(), key.encode()):
        raise ApiError(401, "bad_provider_key", "回调密钥无效。 / Invalid provider key.")
    return {"opted_out": handle_sms_reply(session, body.uscc, body.text)}

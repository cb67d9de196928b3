"""留言咨询 on the portal: leave a message out of hours or with nobody on duty, read the
answers on return, and ask for a 12345 call-back about one."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api import conversation
from api.deps import ClientIp, ServicesDep, VisitorId, enforce_limit
from api.errors import ApiError, error_responses
from api.user_text import check_user_text
from handoff import left_messages, phone_codes
from xiaobao.db import session_scope
from xiaobao.phone import PHONE_NOTICE, mask_phone

router = APIRouter(prefix="/api/chat", tags=["留言"],
                   responses=error_responses(400, 403, 404, 409, 413, 422, 429, 503))


class LeaveMessageIn(BaseModel):
    text: str = Field(max_length=100_000)
    phone: str = Field(default="", max_length=32)


@router.post("/leave-message", status_code=201)
async def leave_message(body: LeaveMessageIn, conversation_id: VisitorId,
                        services: ServicesDep, ip: ClientIp) -> dict:
    """Leaving one while waiting closes the waiting ticket (the user chose not to wait).
    The 留言 is kept under the conversation id derived from the visitor's cookie (``VisitorId``),
    never under the cookie's secret. At most ``left_messages_per_visitor_per_hour``, and
    ``left_messages_per_ip_per_hour`` from one address whatever its cookies (429)."""
    await enforce_limit(services, "left_message_visitor", conversation_id,
                        services.settings.left_messages_per_visitor_per_hour, 3600, "留言")
    await enforce_limit(services, "left_message_ip", ip,
                        services.settings.left_messages_per_ip_per_hour, 3600, "留言")
    text = check_user_text(body.text, {}, services.settings.max_message_chars).shown
    info = await run_in_threadpool(
        lambda: left_messages.leave_message(conversation_id, text, phone=body.phone,
                                            visitor_id=conversation_id, ctx=services.handoff))
    return {"message": info.to_dict(), "notice": PHONE_NOTICE}


@router.get("/left-messages")
async def my_left_messages(conversation_id: VisitorId, services: ServicesDep) -> dict:
    """The returning user's 留言, with the answers given since and any call-back asked for."""
    found = await run_in_threadpool(conversation.left_messages_for, services, conversation_id)
    return {"messages": found, "phone_notice": PHONE_NOTICE}


@router.post("/left-messages/{message_id}/callback", status_code=201)
async def request_callback(conversation_id: VisitorId, services: ServicesDep, ip: ClientIp,
                           message_id: str = PathParam(max_length=32)) -> dict:
    """A 12345 call-back about the visitor's own 留言 that has a phone number, through the
    three-way call flow: dialled within service hours (by the gateway's timer). Asking twice
    is harmless. At most ``callbacks_per_ip_per_hour`` asks from one address (429); the
    per-phone limit is :func:`handoff.requests.request_handoff`'s."""
    await enforce_limit(services, "callback_ip", ip, services.settings.callbacks_per_ip_per_hour,
                        3600, "回电预约")
    ctx = services.handoff
    message = await run_in_threadpool(
        lambda: left_messages.own_message(conversation_id, message_id, ctx=ctx))
    if not message.phone:
        raise ApiError(422, "no_phone",
                       "该留言没有留下电话号码，无法安排回电。 / No phone number to call back.")
    receipt = await run_in_threadpool(lambda: left_messages.request_callback(message_id, ctx=ctx))
    if receipt.in_service_hours:
        text = "已为您预约12345热线回电，工作人员将尽快拨打您留下的电话。"
    else:
        text = ("已为您预约12345热线回电。现在不在服务时间，"
                "工作人员将在下一个工作时段拨打您留下的电话。")
    return {"callback": {"ticket_id": receipt.ticket_id, "status": receipt.status,
                         "call_id": receipt.call_id, "created": receipt.created,
                         "in_service_hours": receipt.in_service_hours},
            "notice": text}


class PhoneCodeIn(BaseModel):
    code: str = Field(min_length=1, max_length=12)


@router.get("/phone-code")
async def phone_code_policy(services: ServicesDep) -> dict:
    """Whether this centre books a 12345 call-back only to a number proved by an SMS code."""
    return {"required": services.settings.callback_sms_verification,
            "simulated": not services.settings.sms_url,
            "expires_in_s": phone_codes.CODE_TTL_S}


@router.post("/left-messages/{message_id}/phone-code")
async def send_phone_code(conversation_id: VisitorId, services: ServicesDep, ip: ClientIp,
                          message_id: str = PathParam(max_length=32)) -> dict:
    """An SMS code to the number of the visitor's own 留言, before its call-back is booked
    (three an hour per number, ``callbacks_per_ip_per_hour`` per address)."""
    await enforce_limit(services, "sms_ip", ip, services.settings.callbacks_per_ip_per_hour,
                        3600, "验证码短信")
    message = await run_in_threadpool(
        lambda: left_messages.own_message(conversation_id, message_id, ctx=services.handoff))
    if not message.phone:
        raise ApiError(422, "no_phone",
                       "该留言没有留下电话号码，无法安排回电。 / No phone number to call back.")
    conv = await run_in_threadpool(_conversation_of, services, message_id)
    await run_in_threadpool(phone_codes.send_code, services.redis, services.sms, conv,
                            message.phone)
    return {"sent": True, "phone": mask_phone(message.phone),
            "expires_in_s": phone_codes.CODE_TTL_S}


@router.post("/left-messages/{message_id}/phone-code/verify")
async def verify_phone_code(body: PhoneCodeIn, conversation_id: VisitorId, services: ServicesDep,
                            message_id: str = PathParam(max_length=32)) -> dict:
    """The code typed back: the 留言's number is proved for its call-back (422 with the tries
    left when wrong)."""
    message = await run_in_threadpool(
        lambda: left_messages.own_message(conversation_id, message_id, ctx=services.handoff))
    conv = await run_in_threadpool(_conversation_of, services, message_id)
    await run_in_threadpool(phone_codes.check_code, services.redis, conv, message.phone,
                            body.code)
    return {"verified": True}


def _conversation_of(services, message_id: str) -> str:
    """The conversation a 留言 belongs to: its call-back ticket is booked under it."""
    with session_scope(services.engine) as s:
        return s.get_one(left_messages.LeftMessage, message_id).conversation_id

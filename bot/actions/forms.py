"""Slot validation for the two forms and for slots filled outside them.

An invalid value is refused with its reason and the form asks again; the user
can cancel either form at any time (rules in bot/data/rules.yml).
"""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.deps import ActionServices
from bot.actions.validators import parse_time_window, service_hours
from handoff import phone_codes
from xiaobao.limits import LimitExceeded
from xiaobao.phone import mask_phone, parse_phone

# A form slot the user chose not to fill. Stored instead of None so the form
# does not ask again; the handoff reads it as "".
SKIPPED = "-"
_SKIP = re.compile(r"^\s*(跳过|略过|没有|无|不知道|不清楚|不方便|不想说|不用|没|暂无|skip|pass)"
                   r"\s*[。.!！]?\s*$", re.IGNORECASE)
FORM_SLOTS = ("phone", "phone_code", "time_window", "handoff_topic", "requested_slot")
# Asked for a company name, "转人工" or "快点给我接人工" means "just hand me over", not a name.
_NOT_A_NAME_INTENTS = frozenset({"request_human", "request_12345_call", "deny", "cancel"})


def _one_line(value: Any, limit: int = 200) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()[:limit]


class ValidateHandoffForm(FormValidationAction):
    def __init__(self, services: ActionServices) -> None:
        super().__init__()
        self.services = services

    def name(self) -> str:
        return "validate_handoff_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict) -> list[str]:
        # The question the bot could not answer is the topic; only ask when there was none.
        if tracker.get_slot("last_question"):
            return [s for s in domain_slots if s != "handoff_topic"]
        return domain_slots

    def validate_handoff_topic(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: dict) -> dict:
        text = _one_line(value)
        if not text or _SKIP.match(text):
            return {"handoff_topic": SKIPPED}
        return {"handoff_topic": text}

    def validate_company(self, value: Any, dispatcher: CollectingDispatcher,
                         tracker: Tracker, domain: dict) -> dict:
        text = _one_line(value, 100)
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if not text or _SKIP.match(text) or intent in _NOT_A_NAME_INTENTS:
            return {"company": SKIPPED}
        text = re.sub(r"^(我们)?(公司|企业)?(名称|名字)?(是|叫)?[:：]?", "", text).strip() or text
        return {"company": text}


class ValidateCall12345Form(FormValidationAction):
    def __init__(self, services: ActionServices) -> None:
        super().__init__()
        self.services = services

    def name(self) -> str:
        return "validate_call_12345_form"

    def _codes_required(self) -> bool:
        return bool(getattr(self.services.settings, "callback_sms_verification", False))

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict) -> list[str]:
        """The SMS code after the number, where the centre requires one (handoff.phone_codes)."""
        slots = [s for s in domain_slots if s != "phone_code"]
        if self._codes_required():
            slots.insert(slots.index("phone") + 1 if "phone" in slots else 0, "phone_code")
        return slots

    def validate_phone(self, value: Any, dispatcher: CollectingDispatcher,
                       tracker: Tracker, domain: dict) -> dict:
        # The whole message first: the NLU's phone entity may hold only part of a
        # number that jieba split ("138 1234 5678").
        text = (tracker.latest_message or {}).get("text") or ""
        phone, reason = parse_phone(text)
        if not phone:
            phone, _ = parse_phone(str(value or ""))
        if phone and self._codes_required():
            try:
                phone_codes.send_code(self.services.handoff.redis, self.services.sms,
                                      tracker.sender_id, phone)
            except (phone_codes.PhoneCodeError, LimitExceeded) as exc:
                dispatcher.utter_message(text=getattr(exc, "message", str(exc)))
                return {"phone": None}
            dispatcher.utter_message(text=f"验证码已发送到 {mask_phone(phone)}，"
                                          f"{phone_codes.CODE_TTL_S // 60}分钟内有效。")
            return {"phone": phone, "phone_code": None}
        if phone:
            return {"phone": phone}
        dispatcher.utter_message(
            text=f"{reason}，请重新输入手机号或上海固定电话（如 021-66781234）。")
        return {"phone": None}

    def validate_phone_code(self, value: Any, dispatcher: CollectingDispatcher,
                            tracker: Tracker, domain: dict) -> dict:
        phone = str(tracker.get_slot("phone") or "")
        try:
            phone_codes.check_code(self.services.handoff.redis, tracker.sender_id, phone,
                                   str(value or ""))
        except phone_codes.PhoneCodeError as exc:
            if exc.code == "wrong_code":
                dispatcher.utter_message(text=exc.message.split(" / ")[0] + "请重新输入验证码。")
                return {"phone_code": None}
            # Expired or too many tries: the number is asked again, which sends a new code.
            dispatcher.utter_message(text=exc.message.split(" / ")[0])
            return {"phone_code": None, "phone": None}
        return {"phone_code": "verified"}

    def validate_time_window(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict) -> dict:
        hours = service_hours(self.services)
        window, reason = parse_time_window(str(value or ""), None, hours)
        if window:
            return {"time_window": window.label()}
        dispatcher.utter_message(
            text=f"{reason}。请告诉我{hours.describe()}之间您方便接听的时间，比如“明天上午”。")
        return {"time_window": None}


class ActionResetFormSlots(Action):
    """After a cancelled form: forget what it had collected."""

    def __init__(self, services: ActionServices) -> None:
        super().__init__()
        self.services = services

    def name(self) -> str:
        return "action_reset_form_slots"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:
        return [SlotSet(slot, None) for slot in FORM_SLOTS]

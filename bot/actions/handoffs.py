"""Handing a conversation to people: 人工帮办 online, or a 12345 call-back.

Both build one structured :class:`handoff.requests.HandoffRequest` (topic,
company, phone, summary, the last turns, retrieval's candidates) and pass it to
:func:`handoff.requests.request_handoff` with the gateway's handoff context. Both
pause the Rasa conversation: the helper takes over (or, for a call-back, reads
what the user adds until the call is done).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from typing import TYPE_CHECKING

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import deps
from bot.actions.deps import ActionServices
from bot.actions.forms import SKIPPED
from bot.actions.validators import parse_uscc, service_hours
from bot.payloads import REQUEST_12345_CALL, REQUEST_HUMAN, payload
from xiaobao.enums import Channel
from xiaobao.limits import LimitExceeded
from xiaobao.phone import is_callable, mask_phone

if TYPE_CHECKING:
    from handoff.requests import HandoffReceipt, HandoffRequest

logger = logging.getLogger(__name__)

LAST_TURNS = 12
SUMMARY_CHARS = 80
CALL_RETRY_BUTTONS = [  # after a call-back the slots could not make
    {"title": "重新预约12345回电", "payload": payload(REQUEST_12345_CALL)},
    {"title": "人工帮办", "payload": payload(REQUEST_HUMAN)},
]
TIME_WINDOW_CHARS = 200  # a 12345 call-back's time window, as the form stores it
_NOT_QUESTIONS = {"request_human", "request_12345_call", "affirm", "deny", "cancel", "greet",
                  "thank", "goodbye", "inform", "choose_entry", "feedback", "rate_service"}


def last_turns(tracker: Tracker, limit: int = LAST_TURNS) -> list[dict]:
    turns = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            turns.append({"role": "user", "text": event["text"]})
        elif event.get("event") == "bot" and event.get("text"):
            turns.append({"role": "bot", "text": event["text"]})
    return turns[-limit:]


def user_questions(tracker: Tracker) -> list[str]:
    """What the user asked, oldest first: the texts not classified as chit-chat or commands."""
    questions = []
    for event in tracker.events:
        if event.get("event") != "user":
            continue
        text = (event.get("text") or "").strip()
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if text and not text.startswith("/") and intent not in _NOT_QUESTIONS:
            questions.append(text)
    return questions


def summary_of(tracker: Tracker, topic: str, company: str) -> str:
    """One line for the helper or the 12345 operator: what it is about, for whom."""
    return summary_line(topic or "；".join(user_questions(tracker)[-2:]), company)


def summary_line(about: str, company: str) -> str:
    """:func:`summary_of` from plain text (the gateway's degraded mode has no tracker)."""
    line = re.sub(r"\s+", " ", f"咨询：{about or '未说明具体事项'}").strip()
    if company:
        line += f"（企业：{company}）"
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


def is_complaint(text: str) -> bool:
    """A complaint is queued ahead of normal (:func:`handoff.requests.request_handoff`)."""
    return bool(re.search(r"投诉|举报|不满|差评", text))


def request_id_of(tracker: Tracker, channel: str) -> str:
    """Stable across retries of the same turn, so a retried action makes no second ticket."""
    last_user: dict = next((e for e in reversed(tracker.events) if e.get("event") == "user"), {})
    seed = (f"{tracker.sender_id}|{channel}|{last_user.get('timestamp', '')}"
            f"|{last_user.get('text', '')}")
    return "bot-" + hashlib.sha256(seed.encode()).hexdigest()[:24]


def _slot(tracker: Tracker, name: str) -> str:
    value = tracker.get_slot(name)
    return "" if value in (None, SKIPPED) else str(value)


def visitor_id_of(tracker: Tracker) -> str:
    """The gateway's message metadata names the visitor; else the conversation is the visitor
    (the portal's conversation id is its visitor id)."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return str(metadata.get("visitor_id") or tracker.sender_id or "")[:96]


def client_ip_of(tracker: Tracker) -> str:
    """The client's address the gateway resolved for the latest message (its metadata), for
    the per-address limits on tickets and 12345 call-backs; "" when not sent (not counted)."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return str(metadata.get("client_ip") or "")[:64]


_BOT_STEPS = ("action_answer_question", "action_choose_entry", "action_record_feedback")


def trigger_of(tracker: Tracker) -> str:
    """Why the conversation goes to people, for the handoff_requested event: the bot offered
    a person after an abstention ("abstention") or after repeated 没帮助 ("unhelpful"), else
    the user asked ("user")."""
    if not tracker.get_slot("human_offered"):
        return "user"
    last = next((e.get("name") for e in reversed(tracker.events)
                 if e.get("event") == "action" and e.get("name") in _BOT_STEPS), "")
    return {"action_answer_question": "abstention",
            "action_record_feedback": "unhelpful"}.get(last, "user")


def build_request(tracker: Tracker, channel: Channel) -> HandoffRequest:
    from handoff.requests import Candidate, HandoffRequest

    topic = _slot(tracker, "handoff_topic") or _slot(tracker, "last_question")
    company = _slot(tracker, "company")
    candidates = [
        Candidate(id=c["id"], question=c.get("question", ""), category=c.get("category", ""),
                  score=float(c.get("score", 0.0)))
        for c in (tracker.get_slot("candidates") or []) if isinstance(c, dict) and c.get("id")
    ]
    latest = tracker.latest_message or {}
    entities = [{"entity": e.get("entity"), "value": e.get("value")}
                for e in latest.get("entities") or []]
    # The uscc slot fills from any message; an invalid code (its check character wrong) is
    # left out rather than handed to the helper as a company's identity. Checked here, not
    # by a slot-validation action, which Rasa would call on every user message.
    uscc, _ = parse_uscc(_slot(tracker, "uscc"))
    if uscc:
        entities.append({"entity": "uscc", "value": uscc})
    return HandoffRequest(
        request_id=request_id_of(tracker, channel),
        conversation_id=tracker.sender_id,
        channel=channel,
        topic=topic,
        company=company,
        phone=_slot(tracker, "phone"),
        time_window=_slot(tracker, "time_window"),
        summary=summary_of(tracker, topic, company),
        last_turns=last_turns(tracker),
        candidates=candidates,
        intent=(latest.get("intent") or {}).get("name") or "",
        entities=entities,
        visitor_id=visitor_id_of(tracker),
        client_ip=client_ip_of(tracker),
        trigger=trigger_of(tracker),
        complaint=is_complaint(topic + " ".join(
            t["text"] for t in last_turns(tracker) if t["role"] == "user")),
    )


def call_back_problem(tracker: Tracker) -> str:
    """Why the 12345 form's slots cannot make a call-back ("" when they can).

    The form validated them already; this is defence in depth before a number is booked for
    dialling (a slot set by a story, an old tracker, a tampered request).
    """
    if not is_callable(_slot(tracker, "phone")):
        return ("抱歉，预约12345回电需要一个有效的手机号或上海固定电话"
                "（如 13812345678 或 021-62345678），您留的号码无法回拨，这次没有为您预约。"
                "请重新发起回电预约并留下正确的号码，或转人工帮办。")
    window = _slot(tracker, "time_window").strip()
    if not window or len(window) > TIME_WINDOW_CHARS:
        return ("抱歉，没有记下您方便接听的时间，这次没有为您预约。"
                "请重新发起回电预约并告诉我您方便的时间，比如“明天上午”，或转人工帮办。")
    return ""


async def hand_off(services: ActionServices, channel: Channel, dispatcher: CollectingDispatcher,
                   tracker: Tracker) -> list[EventType]:
    try:
        req = build_request(tracker, channel)
        receipt = await asyncio.to_thread(deps.request_handoff, services, req)
    except LimitExceeded as exc:
        said = exc.message.split(" / ")[0]
        dispatcher.utter_message(text=f"{said}如情况紧急，请直接拨打12345热线。")
        return [SlotSet("requested_slot", None)]
    except Exception:
        logger.exception("handoff to %s failed for %s", channel, tracker.sender_id)
        dispatcher.utter_message(
            text="抱歉，转接暂时没有成功，请稍后再试，或直接拨打12345热线。"
                 "(Sorry, the handoff failed; please retry later or call 12345.)")
        return [SlotSet("requested_slot", None)]

    done: list[EventType] = [
        SlotSet("handoff_ticket_id", receipt.ticket_id),
        SlotSet("handoff_topic", None),
        SlotSet("time_window", None),
        SlotSet("human_offered", False),
        SlotSet("unhelpful_count", 0),
    ]
    if channel == Channel.HOTLINE_12345:
        # Paused like an online handoff: until the call is done, what the user writes goes
        # to the helper who will make the three-way call (the gateway routes it there).
        dispatcher.utter_message(
            text=f"已为您预约12345热线回电：电话 {mask_phone(req.phone)}，时间 {req.time_window}，"
                 f"工单号 {receipt.ticket_id}。届时请保持电话畅通；如需补充情况，可直接在这里留言，"
                 f"帮办人员会看到。")
        return done + [ConversationPaused()]
    dispatcher.utter_message(text=online_receipt_text(services, receipt))
    return done + [ConversationPaused()]


def online_receipt_text(services: ActionServices, receipt: HandoffReceipt) -> str:
    """What the user is told of a new 人工帮办 ticket (the gateway's degraded mode says the
    same)."""
    if not receipt.in_service_hours:
        return (f"已为您登记人工帮办（工单号 {receipt.ticket_id}）。现在不是服务时间"
                f"（{service_hours(services).describe()}），您可以在这里直接留言说明情况，"
                f"工作人员上班后会尽快回复您。")
    if receipt.offer_message:  # open, but nobody of the department on duty
        return (f"已为您登记人工帮办（工单号 {receipt.ticket_id}）。工作人员暂时都不在线，"
                f"您可以在这里直接留言说明情况，工作人员会尽快回复您。")
    # queue_position: 1 = next in line, 0 = a helper has the ticket already.
    minutes = max(1, round(receipt.estimated_wait_s / 60))
    wait = (f"您现在排在第 {receipt.queue_position} 位，预计等待约 {minutes} 分钟"
            if receipt.queue_position else "马上为您接通")
    return f"已为您转接人工帮办（工单号 {receipt.ticket_id}），{wait}，请稍候。"


class ActionHandoff(Action):
    def __init__(self, services: ActionServices) -> None:
        super().__init__()
        self.services = services

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:
        return await hand_off(self.services, Channel.ONLINE_HELPER, dispatcher, tracker)


class ActionRequest12345Call(Action):
    def __init__(self, services: ActionServices) -> None:
        super().__init__()
        self.services = services

    def name(self) -> str:
        return "action_request_12345_call"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:
        problem = call_back_problem(tracker)
        if problem:
            logger.warning("12345 call-back refused for %s: slots not callable", tracker.sender_id)
            dispatcher.utter_message(text=problem, buttons=CALL_RETRY_BUTTONS)
            return [SlotSet("phone", None), SlotSet("time_window", None),
                    SlotSet("requested_slot", None)]
        return await hand_off(self.services, Channel.HOTLINE_12345, dispatcher, tracker)

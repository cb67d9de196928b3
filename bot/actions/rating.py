"""好差评: the user's rating of the human service after a handoff, else of the bot.

Answers themselves are rated 有帮助/没帮助 (bot/actions/answer.py); this is the
five-level 好差评 of the service as a whole. 不满意 and 非常不满意 must say why: the reason is
what the user typed beside the level ("不满意，等了很久"), or the one a reason button carries
(``/rate_service{"rating": …, "reason": …}``; Rasa drops the unknown entity, the action reads
it from the payload). Without one, the level is recorded at once with its reason pending and
the bot asks for it (ratings.record): the reason typed or clicked next completes it.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.answer import ActionAnswerQuestion
from bot.actions.deps import ActionServices
from bot.payloads import RATE_SERVICE
from bot.replies import FREE_TEXT, REASK
from handoff.views import is_closed_ticket_of, ticket
from ratings.record import is_bad, record_rating
from xiaobao.db import session_scope
from xiaobao.enums import RATINGS, Rating

logger = logging.getLogger(__name__)

COMMON_REASONS = ("等待时间太长", "问题没有解决", "答复不准确", "服务态度不好")
MAX_REASON_CHARS = 500
# Words that rate without saying why: what is left of "我要给差评" is no reason.
_NO_REASON = re.compile(r"我要给|我给|给个|给你|评个|打分|评价|我觉得|我对这次服务|刚才的人工服务|"
                        r"差评|好评|一星|五星|[吧了的啊呢呀哦]|[\s\W_]")


def rating_of(tracker: Tracker) -> Rating | None:
    """The entity's value after synonyms, else a level named in the text (longest first)."""
    for value in tracker.get_latest_entity_values("rating"):
        if value in RATINGS:
            return Rating(value)
    text = (tracker.latest_message or {}).get("text") or ""
    for level in sorted(Rating, key=len, reverse=True):
        if level in text:
            return level
    return None


# A question about 好差评 itself names a level without giving one: "好评差评制度到底是啥".
_QUESTION = re.compile(r"[?？]|什么|啥|怎么|如何|吗|哪|为什么|为啥|能不能|是不是|有没有")
REASON_PROMPT = "请告诉我们原因"


def rating_was_asked(tracker: Tracker) -> bool:
    """Whether the bot's last turn asked for a rating, or for a 差评's reason."""
    last_user = max((i for i, e in enumerate(tracker.events) if e.get("event") == "user"),
                    default=len(tracker.events))
    earlier_user = max((i for i, e in enumerate(tracker.events[:last_user])
                        if e.get("event") == "user"), default=-1)
    for e in tracker.events[earlier_user + 1:last_user]:
        if e.get("event") != "bot":
            continue
        if (e.get("metadata") or {}).get("utter_action") == "utter_ask_rating" \
                or REASON_PROMPT in str(e.get("text") or ""):
            return True
    return False


def is_question_about_rating(tracker: Tracker) -> bool:
    """Typed words that ask something, when no rating was asked for: a question to answer
    (the load test found 好差评 questions recorded as ratings), not a rating to record."""
    text = str((tracker.latest_message or {}).get("text") or "")
    return (not text.startswith("/") and bool(_QUESTION.search(text))
            and not rating_was_asked(tracker))


def reason_of(tracker: Tracker) -> str:
    """Why the user rated so: a reason button's ``reason``, else the typed words beside the
    level; "" when there are none."""
    text = str((tracker.latest_message or {}).get("text") or "").strip()
    if text.startswith("/"):
        try:
            data = json.loads(text[text.index("{"):])
        except ValueError:
            return ""
        reason = data.get("reason") if isinstance(data, dict) else None
        return str(reason).strip()[:MAX_REASON_CHARS] if reason else ""
    for level in sorted(Rating, key=len, reverse=True):
        text = text.replace(level, "")
    text = re.sub(r"\s+", " ", text).strip(" ，,。.！!；;：:、")
    return text[:MAX_REASON_CHARS] if len(_NO_REASON.sub("", text)) >= 2 else ""


def reason_prompt(rating: Rating) -> dict:
    """The 差评 reason question: buttons for the common reasons, and free text welcome."""
    return {"text": f"抱歉让您{rating}。{REASON_PROMPT}，我们会认真核实整改："
                    f"点选下面的原因，或直接输入，例如“{rating}，等了很久没人回复”。",
            "buttons": reason_buttons(rating), "json_message": reason_free_text(rating)}


def thanks(rating: Rating) -> str:
    if rating.is_satisfied:
        return f"感谢您的评价（{rating}）！祝您办事顺利。"
    return (f"已记录您的评价（{rating}），抱歉让您不满意，我们会认真改进。"
            "如果问题还没解决，可以说“转人工”或请12345热线回电。")


REASON_REASK = ("抱歉，没能对上原因选项。请点选下面的原因，或直接输入您不满意的原因；"
                "有新的问题也可以直接提问。")


def reason_free_text(rating: Rating) -> dict:
    """What the gateway makes of a typed reason (api.typed_answers): this prompt's payload;
    and what it says once to an answer it cannot place."""
    return {FREE_TEXT: {"intent": RATE_SERVICE, "entities": {"rating": rating.value},
                        "field": "reason"}, REASK: REASON_REASK}


def reason_buttons(rating: Rating) -> list[dict]:
    return [{"title": reason, "payload": f"/{RATE_SERVICE}" + json.dumps(
        {"rating": rating.value, "reason": reason}, ensure_ascii=False)}
        for reason in COMMON_REASONS]


class ActionRecordRating(Action):
    def __init__(self, services: ActionServices) -> None:
        super().__init__()
        self.services = services

    def name(self) -> str:
        return "action_record_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:
        if is_question_about_rating(tracker):
            # Answered here, as the answer action would: a follow-up action would leave the
            # rules without a next step.
            return await ActionAnswerQuestion(self.services).run(dispatcher, tracker, domain)
        rating = rating_of(tracker)
        if rating is None:
            dispatcher.utter_message(response="utter_ask_rating")
            return []
        reason = reason_of(tracker) if is_bad(rating) else ""
        ticket_id = str(tracker.get_slot("handoff_ticket_id") or "")
        if is_bad(rating) and not reason:
            # Counted now: a user who moves on without saying why has still rated.
            await asyncio.to_thread(record, self.services, tracker.sender_id, ticket_id, rating, "")
            dispatcher.utter_message(**reason_prompt(rating))
            return []
        await asyncio.to_thread(record, self.services, tracker.sender_id, ticket_id, rating,
                                reason)
        dispatcher.utter_message(text=thanks(rating))
        return [SlotSet("rating", rating.value), SlotSet("handoff_ticket_id", None)]


def record(services: ActionServices, conversation_id: str, ticket_id: str, rating: Rating,
           reason: str) -> bool:
    """A rating of human service names a closed ticket of this same conversation; any other
    ticket id (a stale or forged slot) makes it a rating of the bot. A 差评's work order
    gets the ticket's department and handler (its helper). Shared with the gateway's fallback
    (api.fallback), which records ratings while Rasa is away."""
    try:
        department = handler = ""
        if ticket_id and not is_closed_ticket_of(conversation_id, ticket_id,
                                                 ctx=services.handoff):
            logger.warning("rating names a ticket that is not a closed ticket of %s",
                           conversation_id[:8])
            ticket_id = ""
        if ticket_id:
            rated = ticket(ticket_id, ctx=services.handoff)
            department, handler = rated.department, rated.helper or ""
        with session_scope(services.engine) as session:
            record_rating(session, conversation_id, rating, ticket_id=ticket_id,
                          reason=reason, department=department, handler=handler,
                          reason_pending=not reason)
        return True
    except Exception:  # the thanks matter more than the log line
        logger.exception("could not record the rating of %s", conversation_id[:8])
        return False

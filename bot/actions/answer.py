"""Answering from the knowledge base: retrieval's decision drives the reply.

``answer``: the answer card (its source and validity, :mod:`knowledge_base.card`), and
有帮助 / 没帮助 / 转人工.
``suggest``: up to three 您是不是想问 buttons, each answering when clicked.
``abstain``: said plainly, with 人工帮办 and 12345 offered.

:func:`answer_question` and :func:`choose_entry` are the actions' one way to answer and record
it; the gateway calls them too when Rasa is unavailable (:mod:`api.fallback`).
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import deps
from bot.actions.deps import ActionServices
from bot.replies import HUMAN_BUTTONS, MAX_SUGGESTIONS, answer_message, with_policy_links
from retrieval.types import Hit, QueryError, SearchResult
from xiaobao.events import EventKind

logger = logging.getLogger(__name__)

UNHELPFUL_BEFORE_HUMAN = 2
ENTRY_GONE = "抱歉，这条内容已更新或下线了，请您重新提问。"
FEEDBACK_THANKS = "感谢您的反馈！还有什么可以帮您？"
FEEDBACK_SORRY = "抱歉没帮上忙。您可以换个说法再问一次，我再找找；也可以随时说“转人工”。"


# --- the one way to answer, shared with the gateway's degraded mode (api/fallback.py) ---------

@dataclass(frozen=True)
class Answer:
    result: SearchResult
    message: dict  # text and buttons (bot.replies.reply_for)

    @property
    def top(self) -> Hit | None:
        return self.result.hits[0] if self.result.hits else None


def answer_question(services: ActionServices, conversation_id: str, text: str,
                    **event_data: Any) -> Answer:
    """Search, the reply for the result, and its ``bot_answer`` event: what the answer action
    does, and what the gateway does itself while Rasa is unavailable, so both say and record
    the same. Raises ``QueryError`` (and whatever a broken retriever raises); a failing event
    log never costs the answer. Synchronous: run it in a thread from an event loop."""
    result = deps.search(services, text, 5)
    answer = Answer(result, deps.reply_with_links(services, result))
    top = answer.top
    deps.record_event(
        services, EventKind.BOT_ANSWER, conversation_id=conversation_id,
        decision=result.decision, entry_id=top.id if top else "", query=text[:500],
        score=round(top.score, 4) if top else 0.0, category=top.category if top else "",
        **({"alternatives": "yes"} if result.alternatives else {}), **event_data)
    return answer


def choose_entry(services: ActionServices, conversation_id: str, entry_id: str,
                 **event_data: Any) -> Hit | None:
    """A clicked 您是不是想问 entry, recorded (``suggestion_clicked``, then its ``bot_answer``);
    None when it is no longer answerable. Shared like :func:`answer_question`."""
    hit = deps.get_entry(services, entry_id)
    if hit is None:
        return None
    deps.record_event(services, EventKind.SUGGESTION_CLICKED, conversation_id=conversation_id,
                      entry_id=hit.id, category=hit.category, **event_data)
    deps.record_event(services, EventKind.BOT_ANSWER, conversation_id=conversation_id,
                      decision="answer", entry_id=hit.id, chosen=True, category=hit.category,
                      **event_data)
    return hit


def candidates_of(hits: list) -> list[dict]:
    """Retrieval's top candidates as the handoff request carries them."""
    return [
        {"id": h.id, "question": h.question, "category": h.category, "score": round(h.score, 4)}
        for h in hits[:5]
    ]


_ORDINAL = re.compile(r"第\s*([一二三123])")


def nth_candidate(text: str, candidates: list | None) -> str | None:
    """The id of the suggestion named by "第一个 / 第2条" among the last candidates."""
    m = _ORDINAL.search(text or "")
    if not m or not candidates:
        return None
    index = "一二三".find(m.group(1)) if m.group(1) in "一二三" else int(m.group(1)) - 1
    if index >= min(len(candidates), MAX_SUGGESTIONS):
        return None
    chosen = candidates[index]
    return chosen.get("id") if isinstance(chosen, dict) else None


def helpful_of(tracker: Tracker) -> bool:
    """The button's value, else the typed words: a negation means it did not help."""
    value = next(tracker.get_latest_entity_values("helpful"), None)
    if value is not None:
        return str(value).lower() in ("yes", "true", "1")
    return not re.search(r"没|不|无|答非所问", question_text(tracker))


def question_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


class ActionAnswerQuestion(Action):
    def __init__(self, services: ActionServices) -> None:
        super().__init__()
        self.services = services

    def name(self) -> str:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:
        text = question_text(tracker).strip()
        conversation_id = tracker.sender_id
        if not text:
            dispatcher.utter_message(text="请输入您想咨询的问题，比如“营业执照怎么补办”。")
            return []
        try:
            answer = await asyncio.to_thread(answer_question, self.services, conversation_id,
                                             text)
        except QueryError as exc:
            dispatcher.utter_message(text=getattr(exc, "message", str(exc)))
            return [SlotSet("human_offered", False)]
        except Exception:
            logger.exception("retrieval failed for %s", conversation_id)
            dispatcher.utter_message(
                text="抱歉，查询知识库时出了点问题，请稍后再试，或转人工帮办。",
                buttons=HUMAN_BUTTONS)
            return [SlotSet("human_offered", True)]

        result, top = answer.result, answer.top
        hits = list(result.hits)
        events: list[EventType] = [
            SlotSet("decision", result.decision),
            SlotSet("last_question", text),
            SlotSet("candidates", candidates_of(hits)),
        ]
        dispatcher.utter_message(**answer.message)
        if result.decision == "answer" and top is not None:
            events += [SlotSet("last_entry_id", top.id), SlotSet("human_offered", False)]
        else:
            events.append(SlotSet("human_offered", result.decision != "suggest" or not hits))
        return events


class ActionChooseEntry(Action):
    """A clicked 您是不是想问 button: answer with that entry."""

    def __init__(self, services: ActionServices) -> None:
        super().__init__()
        self.services = services

    def name(self) -> str:
        return "action_choose_entry"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:
        entry_id = next(tracker.get_latest_entity_values("entry_id"), None)
        if not entry_id:  # typed "第二个" instead of clicking
            entry_id = nth_candidate(question_text(tracker), tracker.get_slot("candidates"))
        hit = None
        if entry_id:
            try:
                hit = await asyncio.to_thread(choose_entry, self.services, tracker.sender_id,
                                              str(entry_id))
            except Exception:
                logger.exception("get_entry(%s) failed", entry_id)
        if hit is None:
            dispatcher.utter_message(text=ENTRY_GONE)
            return []
        links = await asyncio.to_thread(deps.policy_links, self.services, hit.policy_ids)
        dispatcher.utter_message(**with_policy_links(answer_message(hit), links))
        return [SlotSet("decision", "answer"), SlotSet("last_entry_id", hit.id),
                SlotSet("human_offered", False)]


class ActionRecordFeedback(Action):
    """有帮助 / 没帮助 on an answer; 没帮助 twice in a row offers a human."""

    def __init__(self, services: ActionServices) -> None:
        super().__init__()
        self.services = services

    def name(self) -> str:
        return "action_record_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:
        entry_id = next(tracker.get_latest_entity_values("entry_id"), None) \
            or tracker.get_slot("last_entry_id") or ""
        is_helpful = helpful_of(tracker)
        await deps.record_event_async(self.services, EventKind.ANSWER_FEEDBACK,
                                      conversation_id=tracker.sender_id,
                                      entry_id=str(entry_id), helpful=is_helpful)
        if is_helpful:
            dispatcher.utter_message(text=FEEDBACK_THANKS)
            return [SlotSet("unhelpful_count", 0), SlotSet("human_offered", False)]
        count = int(tracker.get_slot("unhelpful_count") or 0) + 1
        if count >= UNHELPFUL_BEFORE_HUMAN:
            dispatcher.utter_message(
                text="看来我没能帮上忙，很抱歉。要不要转人工帮办，或请12345热线给您回电？",
                buttons=HUMAN_BUTTONS)
            return [SlotSet("unhelpful_count", 0), SlotSet("human_offered", True)]
        dispatcher.utter_message(text=FEEDBACK_SORRY)
        return [SlotSet("unhelpful_count", count), SlotSet("human_offered", False)]

"""好差评: the user's rating of the human service after a handoff, else of the bot.

Answers themselves are rated 有帮助/没帮助 (bot/actions/answer.py); this is the
five-level 好差评 of the service as a whole.
"""
from __future__ import annotations

import asyncio
import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.deps import ActionServices
from handoff.views import is_closed_ticket_of
from xiaobao.db import session_scope
from xiaobao.enums import RATINGS, Rating
from xiaobao.ratings import record_rating

logger = logging.getLogger(__name__)


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


class ActionRecordRating(Action):
    def __init__(self, services: ActionServices) -> None:
        super().__init__()
        self.services = services

    def name(self) -> str:
        return "action_record_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:
        rating = rating_of(tracker)
        if rating is None:
            dispatcher.utter_message(response="utter_ask_rating")
            return []
        await asyncio.to_thread(self._record, tracker.sender_id,
                                str(tracker.get_slot("handoff_ticket_id") or ""), rating)
        if rating.is_satisfied:
            dispatcher.utter_message(text=f"感谢您的评价（{rating}）！祝您办事顺利。")
        else:
            dispatcher.utter_message(
                text=f"已记录您的评价（{rating}），抱歉让您不满意，我们会认真改进。"
                     "如果问题还没解决，可以说“转人工”或请12345热线回电。")
        return [SlotSet("rating", rating.value), SlotSet("handoff_ticket_id", None)]

    def _record(self, conversation_id: str, ticket_id: str, rating: Rating) -> None:
        """A rating of human service names a closed ticket of this same conversation; any other
        ticket id (a stale or forged slot) makes it a rating of the bot."""
        try:
            if ticket_id and not is_closed_ticket_of(conversation_id, ticket_id,
                                                     ctx=self.services.handoff):
                logger.warning("rating names a ticket that is not a closed ticket of %s",
                               conversation_id[:8])
                ticket_id = ""
            with session_scope(self.services.engine) as session:
                record_rating(session, conversation_id, rating, ticket_id=ticket_id)
        except Exception:  # the thanks matter more than the log line
            logger.exception("could not record the rating of %s", conversation_id[:8])

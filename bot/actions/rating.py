"""好差评: the user's rating of the human service after a handoff, else of the bot.

Answers themselves are rated 有帮助/没帮助 (bot/actions/answer.py); this is the
five-level 好差评 of the service as a whole.
"""
from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import deps
from bot.actions.deps import ActionServices
from xiaobao.enums import RATINGS, Rating
from xiaobao.events import EventKind


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
        ticket_id = tracker.get_slot("handoff_ticket_id") or ""
        target = "human" if ticket_id else "bot"
        await deps.record_event_async(self.services, EventKind.RATING,
                                      conversation_id=tracker.sender_id, ticket_id=ticket_id,
                                      rating=rating.value, target=target)
        if rating.is_satisfied:
            dispatcher.utter_message(text=f"感谢您的评价（{rating}）！祝您办事顺利。")
        else:
            dispatcher.utter_message(
                text=f"已记录您的评价（{rating}），抱歉让您不满意，我们会认真改进。"
                     "如果问题还没解决，可以说“转人工”或请12345热线回电。")
        return [SlotSet("rating", rating.value), SlotSet("handoff_ticket_id", None)]

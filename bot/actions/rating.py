"""好差评: the user's rating of the human service after a handoff, else of the bot.

Answers themselves are rated 有帮助/没帮助 (bot/actions/answer.py); this is the
five-level 好差评 of the service as a whole.
"""
from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import deps

# Best first, as xiaobao.events.RATINGS (kept here so the actions import without the DB layer).
RATINGS = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")


def rating_of(tracker: Tracker) -> str | None:
    """The entity's value after synonyms, else a level named in the text (longest first)."""
    for value in tracker.get_latest_entity_values("rating"):
        if value in RATINGS:
            return value
    text = (tracker.latest_message or {}).get("text") or ""
    for level in sorted(RATINGS, key=len, reverse=True):
        if level in text:
            return level
    return None


class ActionRecordRating(Action):
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
        await deps.record_event_async("rating", conversation_id=tracker.sender_id, ticket_id=ticket_id,
                          rating=rating, target=target)
        if rating in RATINGS[:3]:
            dispatcher.utter_message(text=f"感谢您的评价（{rating}）！祝您办事顺利。")
        else:
            dispatcher.utter_message(
                text=f"已记录您的评价（{rating}），抱歉让您不满意，我们会认真改进。"
                     "如果问题还没解决，可以说“转人工”或请12345热线回电。")
        return [SlotSet("rating", rating), SlotSet("handoff_ticket_id", None)]

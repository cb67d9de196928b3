import pytest

from bot.actions.rating import RATINGS, ActionRecordRating
from xiaobao.events import RATINGS as EVENT_RATINGS


def test_levels_match_the_event_log():
    assert RATINGS == EVENT_RATINGS


@pytest.mark.parametrize("ticket, target", [("T-0001", "human"), (None, "bot")])
async def test_rating_targets_the_human_after_a_handoff(ticket, target, events, tracker, dispatcher):
    t = tracker("很满意", intent="rate_service",
                entities=[{"entity": "rating", "value": "非常满意"}],
                slots={"handoff_ticket_id": ticket})
    out = await ActionRecordRating().run(dispatcher, t, {})
    assert events == [{"kind": "rating", "conversation_id": "conv-1", "ticket_id": ticket or "",
                       "rating": "非常满意", "target": target}]
    assert {"event": "slot", "name": "handoff_ticket_id", "value": None, "timestamp": None} in out
    assert "感谢" in dispatcher.messages[0]["text"]


async def test_rating_named_in_text_without_entity(events, tracker, dispatcher):
    await ActionRecordRating().run(dispatcher, tracker("我觉得非常不满意", intent="rate_service"), {})
    assert events[0]["rating"] == "非常不满意"
    assert "改进" in dispatcher.messages[0]["text"]


async def test_no_level_asks_for_one(events, tracker, dispatcher):
    assert await ActionRecordRating().run(dispatcher, tracker("评价", intent="rate_service"), {}) == []
    assert dispatcher.messages[0]["response"] == "utter_ask_rating" and events == []

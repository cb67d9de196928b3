import pytest

from bot.actions.rating import ActionRecordRating
from xiaobao.enums import Rating


@pytest.mark.parametrize("ticket, target", [("T-0001", "human"), (None, "bot")])
async def test_rating_targets_the_human_after_a_handoff(ticket, target, services, events, tracker,
                                                        dispatcher):
    t = tracker("很满意", intent="rate_service",
                entities=[{"entity": "rating", "value": "非常满意"}],
                slots={"handoff_ticket_id": ticket})
    out = await ActionRecordRating(services).run(dispatcher, t, {})
    assert events() == [{"kind": "rating", "conversation_id": "conv-1", "ticket_id": ticket or "",
                         "rating": "非常满意", "target": target}]
    assert {"event": "slot", "name": "handoff_ticket_id", "value": None, "timestamp": None} in out
    assert "感谢" in dispatcher.messages[0]["text"]


@pytest.mark.parametrize("level", list(Rating))
async def test_every_level_is_recorded_and_answered_in_kind(level, services, events, tracker,
                                                           dispatcher):
    t = tracker(level.value, intent="rate_service",
                entities=[{"entity": "rating", "value": level.value}])
    out = await ActionRecordRating(services).run(dispatcher, t, {})
    assert events()[0]["rating"] == level.value
    rating_slot = next(e["value"] for e in out if e["name"] == "rating")
    assert rating_slot == level.value and type(rating_slot) is str  # a plain value for Rasa
    text = dispatcher.messages[0]["text"]
    assert f"（{level.value}）" in text
    assert ("感谢" in text) == level.is_satisfied and ("改进" in text) != level.is_satisfied


async def test_rating_named_in_text_without_entity(services, events, tracker, dispatcher):
    t = tracker("我觉得非常不满意", intent="rate_service")
    await ActionRecordRating(services).run(dispatcher, t, {})
    assert events()[0]["rating"] == "非常不满意"  # the longest level named, not 满意
    assert "改进" in dispatcher.messages[0]["text"]


async def test_no_level_asks_for_one(services, events, tracker, dispatcher):
    t = tracker("评价", intent="rate_service")
    assert await ActionRecordRating(services).run(dispatcher, t, {}) == []
    assert dispatcher.messages[0]["response"] == "utter_ask_rating" and events() == []

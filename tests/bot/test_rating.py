"""好差评 from the bot: a rating of human service names a closed ticket of the same
conversation (a real ticket, on a real handoff context); anything else rates the bot; rating
the same case again replaces the earlier rating and keeps it in the history. 不满意 and
非常不满意 need a reason, typed or chosen from buttons, and open a 差评 work order with the
ticket's department and handler."""
import json
import uuid

import pytest

from bot.actions.rating import ActionRecordRating
from handoff import claims
from handoff.closing import abandon_ticket, resolve_ticket
from handoff.context import HandoffContext
from handoff.requests import HandoffRequest, request_handoff
from handoff.views import ticket_department
from ratings.cases import BadRatingCase
from tests.handoff.conftest import on_duty
from xiaobao.db import session_scope
from xiaobao.enums import Rating


@pytest.fixture
def rating_services(services, engine, r, config):
    services.handoff = HandoffContext(engine=engine, redis=r, config=config)
    return services


def closed_ticket(ctx: HandoffContext, conversation_id: str) -> str:
    receipt = request_handoff(HandoffRequest(request_id=uuid.uuid4().hex,
                                             conversation_id=conversation_id,
                                             channel="online_helper"), ctx=ctx)
    abandon_ticket(receipt.ticket_id, ctx=ctx)
    return receipt.ticket_id


REASON = "等了很久没人回复"


def rate(tracker, level: str, ticket: str | None, reason: str = REASON):
    """The user's message naming ``level``; a 差评 says why (``reason``) unless told not to."""
    text = f"{level}，{reason}" if reason and not Rating(level).is_satisfied else level
    return tracker(text, intent="rate_service", entities=[{"entity": "rating", "value": level}],
                   slots={"handoff_ticket_id": ticket})


def cases(engine) -> list[tuple]:
    with session_scope(engine) as s:
        return [(c.case_key, c.rating, c.reason, c.department, c.handler, c.status)
                for c in s.query(BadRatingCase).order_by(BadRatingCase.id)]


async def test_a_closed_ticket_of_this_conversation_is_rated(rating_services, events, tracker,
                                                             dispatcher):
    ticket = closed_ticket(rating_services.handoff, "conv-1")
    out = await ActionRecordRating(rating_services).run(dispatcher, rate(tracker, "非常满意",
                                                                         ticket), {})
    rated = [e for e in events() if e["kind"] == "rating"]
    assert [(e["ticket_id"], e["target"], e["rating"], e["replaces"]) for e in rated] == [
        (ticket, "human", "非常满意", None)]
    assert {"event": "slot", "name": "handoff_ticket_id", "value": None, "timestamp": None} in out
    assert "感谢" in dispatcher.messages[0]["text"]


@pytest.mark.parametrize("forged", ["other-conversations-ticket", "open", "made-up", "x" * 40])
async def test_any_other_ticket_id_rates_the_bot(forged, rating_services, events, tracker,
                                                 dispatcher):
    ctx = rating_services.handoff
    if forged == "other-conversations-ticket":
        forged = closed_ticket(ctx, "conv-2")
    elif forged == "open":  # this conversation's ticket, not yet closed
        forged = request_handoff(HandoffRequest(request_id=uuid.uuid4().hex,
                                                conversation_id="conv-1",
                                                channel="online_helper"), ctx=ctx).ticket_id
    await ActionRecordRating(rating_services).run(dispatcher, rate(tracker, "不满意", forged), {})
    rated = [e for e in events() if e["kind"] == "rating"]
    assert [(e["ticket_id"], e["target"]) for e in rated] == [("", "bot")]


async def test_rating_again_replaces_with_history(rating_services, events, tracker, dispatcher):
    ticket = closed_ticket(rating_services.handoff, "conv-1")
    action = ActionRecordRating(rating_services)
    await action.run(dispatcher, rate(tracker, "不满意", ticket), {})
    await action.run(dispatcher, rate(tracker, "满意", ticket), {})
    await action.run(dispatcher, rate(tracker, "满意", None), {})  # the bot: another case
    rated = [e for e in events() if e["kind"] == "rating"]
    assert [(e["rating"], e["case"]) for e in rated] == [
        ("不满意", f"ticket:{ticket}"), ("满意", f"ticket:{ticket}"), ("满意", "bot:conv-1")]
    assert rated[1]["replaces"] is not None and rated[0]["replaces"] is None
    assert rated[2]["replaces"] is None


@pytest.mark.parametrize("level", list(Rating))
async def test_every_level_is_recorded_and_answered_in_kind(level, services, events, tracker,
                                                           dispatcher):
    out = await ActionRecordRating(services).run(dispatcher, rate(tracker, level.value, None), {})
    assert events()[0]["rating"] == level.value
    rating_slot = next(e["value"] for e in out if e["name"] == "rating")
    assert rating_slot == level.value and type(rating_slot) is str  # a plain value for Rasa
    text = dispatcher.messages[0]["text"]
    assert f"（{level.value}）" in text
    assert ("感谢" in text) == level.is_satisfied and ("改进" in text) != level.is_satisfied


async def test_rating_named_in_text_without_entity(services, events, tracker, dispatcher):
    t = tracker("我觉得非常不满意，材料清单没说清楚", intent="rate_service")
    await ActionRecordRating(services).run(dispatcher, t, {})
    assert events()[0]["rating"] == "非常不满意"  # the longest level named, not 满意
    assert events()[0]["reason"] == "我觉得，材料清单没说清楚"
    assert "改进" in dispatcher.messages[0]["text"]


async def test_no_level_asks_for_one(services, events, tracker, dispatcher):
    t = tracker("评价", intent="rate_service")
    assert await ActionRecordRating(services).run(dispatcher, t, {}) == []
    assert dispatcher.messages[0]["response"] == "utter_ask_rating" and events() == []


@pytest.mark.parametrize(("text", "level"), [
    ("不满意", "不满意"), ("我觉得非常不满意", "非常不满意"),
    ("我要给差评！", "非常不满意"), ("打分一星吧", "非常不满意")])
async def test_a_bad_rating_without_a_reason_asks_for_one(text, level, services, events,
                                                          tracker, dispatcher, engine):
    """The level counts at once (a user who moves on has still rated); its reason is pending."""
    t = tracker(text, "rate_service", entities=[{"entity": "rating", "value": level}])
    out = await ActionRecordRating(services).run(dispatcher, t, {})
    assert out == []
    assert [(e["kind"], e["rating"], e["reason"], e.get("reason_pending")) for e in events()
            if e["kind"] == "rating"] == [("rating", level, "", True)]
    assert cases(engine) == [("bot:conv-1", level, "", "", "", "open")]
    asked = dispatcher.messages[0]
    assert "原因" in asked["text"] and level in asked["text"]
    payloads = [json.loads(b["payload"].removeprefix("/rate_service"))
                for b in asked["buttons"]]
    assert len(payloads) == 4 and all(p["rating"] == level and p["reason"] for p in payloads)
    # The gateway reads the prompt's free-text template and its re-ask sentence.
    custom = asked["custom"]
    assert custom["free_text"] == {"intent": "rate_service", "entities": {"rating": level},
                                   "field": "reason"}
    assert "原因" in custom["reask"]


async def test_the_same_level_again_without_a_reason_records_nothing_new(
        services, events, tracker, dispatcher, engine):
    action = ActionRecordRating(services)
    for _ in range(2):
        await action.run(dispatcher, tracker("不满意", "rate_service"), {})
    assert len([e for e in events() if e["kind"] == "rating"]) == 1
    assert [c[-1] for c in cases(engine)] == ["open"]


async def test_a_reason_button_records_the_rating_with_its_reason(services, events, tracker,
                                                                  dispatcher, engine):
    action = ActionRecordRating(services)
    await action.run(dispatcher, tracker("非常不满意", "rate_service"), {})
    button = dispatcher.messages[0]["buttons"][1]
    # Rasa keeps the payload as the text and drops the entity it does not know ("reason").
    click = tracker(button["payload"], "rate_service",
                    entities=[{"entity": "rating", "value": "非常不满意"}])
    await action.run(dispatcher, click, {})
    # The pending 差评 is completed, not rated again: one rating, one work order, its reason.
    assert [(e["rating"], e["reason"]) for e in events() if e["kind"] == "rating"] == [
        ("非常不满意", "")]
    assert [(e["rating"], e["reason"]) for e in events() if e["kind"] == "rating_reason"] == [
        ("非常不满意", button["title"])]
    assert cases(engine) == [("bot:conv-1", "非常不满意", button["title"], "", "", "open")]
    assert "改进" in dispatcher.messages[1]["text"]


async def test_a_bad_rating_of_a_ticket_opens_a_case_with_its_department_and_handler(
        rating_services, events, tracker, dispatcher, engine):
    ctx = rating_services.handoff
    receipt = request_handoff(HandoffRequest(request_id=uuid.uuid4().hex,
                                             conversation_id="conv-1",
                                             channel="online_helper"), ctx=ctx)
    department = ticket_department(receipt.ticket_id, ctx=ctx)
    ann = on_duty(ctx, "ann", depts=(department,))
    assert claims.claim_next_ticket(ann, ctx=ctx).id == receipt.ticket_id
    resolve_ticket(receipt.ticket_id, ann, "已答复", ctx=ctx)
    action = ActionRecordRating(rating_services)
    await action.run(dispatcher, rate(tracker, "不满意", receipt.ticket_id), {})
    assert cases(engine) == [(f"ticket:{receipt.ticket_id}", "不满意", REASON, department,
                              "ann", "open")]
    # Rated again, satisfied: the work order is superseded, kept.
    await action.run(dispatcher, rate(tracker, "满意", receipt.ticket_id), {})
    assert [c[-1] for c in cases(engine)] == ["superseded"]


ASKED = [{"event": "user", "text": "转人工", "timestamp": 1.0},
         {"event": "bot", "text": "请您对本次服务评价", "timestamp": 2.0,
          "metadata": {"utter_action": "utter_ask_rating"}}]


async def test_a_question_about_ratings_is_answered_not_recorded(rating_services, events,
                                                                 tracker, dispatcher):
    """The load test's 好差评 questions were recorded as 满意: unasked, a question is answered."""
    asking = tracker("那个好评差评制度到底是啥", intent="rate_service",
                     entities=[{"entity": "rating", "value": "满意"}])
    out = await ActionRecordRating(rating_services).run(dispatcher, asking, {})
    assert [e for e in events() if e["kind"] == "rating"] == []
    assert [e["kind"] for e in events()] == ["bot_answer"]  # what the answer action records
    assert dispatcher.messages and "评价" not in dispatcher.messages[0]["text"][:6]
    assert {"event": "slot", "name": "rating", "value": "满意", "timestamp": None} not in out


async def test_after_the_rating_question_a_questioning_reason_is_still_a_rating(
        rating_services, events, tracker, dispatcher):
    ticket = closed_ticket(rating_services.handoff, "conv-1")
    answer = tracker("不满意，怎么等了这么久？", intent="rate_service",
                     entities=[{"entity": "rating", "value": "不满意"}],
                     slots={"handoff_ticket_id": ticket}, events=ASKED)
    await ActionRecordRating(rating_services).run(dispatcher, answer, {})
    rated = [e for e in events() if e["kind"] == "rating"]
    assert [(e["ticket_id"], e["rating"]) for e in rated] == [(ticket, "不满意")]
    assert [c[1:3] for c in cases(rating_services.engine)] == [("不满意", "怎么等了这么久？")]

"""The load benchmark's reconciliation, on a conversation written by the gateway's own record
functions and the real handoff (database and a Redis of our own): it agrees when the record
is right, and names each kind of loss, repeat or stray it exists to catch."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, delete

from api.conversation import record_bot_turns, record_user_turn
from api.user_text import UserText
from handoff import claims, closing, duty, relay
from handoff.config import packaged_config
from handoff.context import HandoffContext
from handoff.requests import HandoffRequest, request_handoff
from ratings.record import record_rating
from tests.bench.load import HelperMessage, Ledger, Rated, SentTurn
from tests.bench.reconcile import reconcile
from xiaobao import conversations
from xiaobao.accounts import create_account
from xiaobao.clock import ServiceCalendar
from xiaobao.db import session_scope

CONV = "v-" + "a" * 32
RATING_QUESTION = {"role": "bot", "text": "请您对本次服务进行评价：",
                   "buttons": [{"title": "满意", "payload": '/rate_service{"rating":"满意"}'}]}
ANSWER = "请登录一网通办，选择企业开办专区办理。"


@dataclasses.dataclass
class World:
    engine: Engine
    ctx: HandoffContext
    ledger: Ledger
    ticket_id: str

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)


def bot_turn(engine, ledger: Ledger, text: str, replies: list[dict], *, shown: str = "",
             payload: str = "", ticket_id: str = "") -> None:
    """What the gateway writes for a bot-mode turn, and what the browser's ledger notes."""
    services = SimpleNamespace(engine=engine)
    record_user_turn(services, CONV, UserText(for_route=text, shown=shown or text,
                                              payload=payload))
    record_bot_turns(services, CONV, replies)
    ledger.turns.append(SentTurn(CONV, "question", text, shown or text, 200, "bot", "bot",
                                 [[m["role"], m["text"]] for m in replies],
                                 ticket_id=ticket_id, named_tickets=[ticket_id] * bool(ticket_id)))


@pytest.fixture
def world(engine, r) -> World:
    """One visit: a question answered, 转人工, a message while waiting, the helper's answer
    and close, the hand-back's rating question, the rating."""
    always = ServiceCalendar(weekly={d: ((dt.time(0), dt.time.max),) for d in range(1, 8)})
    ctx = HandoffContext(engine=engine, redis=r, config=packaged_config().replace(hours=always))
    ledger = Ledger()
    bot_turn(engine, ledger, "营业执照怎么办", [{"role": "bot", "text": ANSWER, "buttons": []}])

    services = SimpleNamespace(engine=engine)
    record_user_turn(services, CONV, UserText(for_route="/request_human", shown="转人工",
                                              payload="/request_human"))
    ticket_id = request_handoff(HandoffRequest(request_id=uuid.uuid4().hex,
                                               conversation_id=CONV, channel="online_helper"),
                                ctx=ctx).ticket_id
    receipt = {"role": "bot", "text": f"已为您转接人工帮办，工单号 {ticket_id}。", "buttons": []}
    record_bot_turns(services, CONV, [receipt])
    ledger.turns.append(SentTurn(CONV, "human", "/request_human", "转人工", 200, "bot", "waiting",
                                 [["bot", receipt["text"]]], ticket_id=ticket_id,
                                 named_tickets=[ticket_id]))
    ledger.receipts[ticket_id] = CONV

    relay.send_user_message(CONV, "请问还要等多久？", ctx=ctx, message_id="web-1")
    ledger.turns.append(SentTurn(CONV, "waiting", "请问还要等多久？", "请问还要等多久？", 200,
                                 "waiting", "waiting"))

    with session_scope(engine) as s:
        create_account(s, "ann", "helper-pass-1", roles=["helper"],
                       departments=packaged_config().departments)
    helper = SimpleNamespace(username="ann", roles=["helper"],
                             departments=packaged_config().departments)
    duty.set_helper_status(helper, "on_duty", ctx=ctx)
    claims.claim_ticket(ticket_id, helper, ctx=ctx)
    relay.send_helper_message(ticket_id, helper, "您好，请讲。", ctx=ctx, message_id="h-1")
    ledger.helper_messages.append(HelperMessage(ticket_id, CONV, "您好，请讲。", "h-1", 200))
    ledger.outcomes[ticket_id] = closing.resolve_ticket(ticket_id, helper, "已解答",
                                                        ctx=ctx).status

    record_bot_turns(services, CONV, [RATING_QUESTION])  # the hand-back (the bot's hook)
    bot_turn(engine, ledger, RATING_QUESTION["buttons"][0]["payload"],
             [{"role": "bot", "text": "感谢您的评价（满意）", "buttons": []}], shown="满意",
             payload=RATING_QUESTION["buttons"][0]["payload"])
    with session_scope(engine) as s:
        record_rating(s, CONV, "满意", ticket_id=ticket_id)
    ledger.ratings.append(Rated(CONV, ticket_id, "满意"))
    return World(engine, ctx, ledger, ticket_id)


def test_a_faithful_record_reconciles(world):
    result = reconcile(world.ledger, world.url)
    assert result["discrepancies"] == 0, result["examples"]
    counts = result["counts"]
    assert counts["user_rows"] == counts["user_turns_expected"] == 4
    assert counts["bot_replies_matched"] == counts["bot_replies_expected"] == 3
    assert counts["handbacks"] == 1 and counts["tickets_resolved"] == 1
    assert counts["helper_messages_sent"] == counts["helper_rows"] == 1
    assert counts["ratings_sent"] == counts["rating_events"] == 1


def _duplicate_user_turn(w: World) -> None:
    with session_scope(w.engine) as s:
        conversations.append(s, CONV, "user", "满意", payload="x")


def _lose_bot_reply(w: World) -> None:
    with session_scope(w.engine) as s:
        s.execute(delete(conversations.Message).where(conversations.Message.text == ANSWER))


def _stray_conversation(w: World) -> None:
    with session_scope(w.engine) as s:
        conversations.append(s, "v-" + "b" * 32, "user", "你好")


def _second_ticket(w: World) -> None:
    request_handoff(HandoffRequest(request_id=uuid.uuid4().hex, conversation_id=CONV,
                                   channel="online_helper"), ctx=w.ctx)


def _hand_back_twice(w: World) -> None:
    record_bot_turns(SimpleNamespace(engine=w.engine), CONV, [RATING_QUESTION])


def _rating_lost(w: World) -> None:
    w.ledger.ratings.append(Rated(CONV, "", "非常满意"))


def _rating_nobody_sent(w: World) -> None:
    with session_scope(w.engine) as s:
        record_rating(s, CONV, "非常满意")


def _helper_message_lost(w: World) -> None:
    w.ledger.helper_messages.append(HelperMessage(w.ticket_id, CONV, "还在吗", "h-2", 200))


def _other_final_state(w: World) -> None:
    w.ledger.outcomes[w.ticket_id] = "unresolved"


def _user_turn_lost(w: World) -> None:
    w.ledger.turns.append(SentTurn(CONV, "question", "社保怎么交", "社保怎么交", 200, "bot",
                                   "bot", [["bot", "答案"]]))


def test_a_rating_the_bot_acknowledged_unasked_counts_once(world):
    """The bot read a question as a rating and said so: recorded once, as the user was told
    (a quality figure, not a loss)."""
    with session_scope(world.engine) as s:
        record_rating(s, CONV, "满意", ticket_id=world.ticket_id)
    world.ledger.ratings.append(Rated(CONV, "", "满意", asked=False))
    result = reconcile(world.ledger, world.url)
    assert result["discrepancies"] == 0, result["examples"]
    assert result["counts"]["ratings_unasked"] == 1
    world.ledger.ratings.append(Rated(CONV, "", "满意", asked=False))  # told twice, kept once
    assert reconcile(world.ledger, world.url)["discrepancies"] == 1


@pytest.mark.parametrize("tamper, says", [
    (_duplicate_user_turn, "unexpected user row"),
    (_lose_bot_reply, "0 of 1 bot messages recorded"),
    (_stray_conversation, "orphan"),
    (_second_ticket, "receipt never given"),
    (_hand_back_twice, "2 hand-backs to the bot for 1 closed tickets"),
    (_rating_lost, "0 recorded, 1 sent"),
    (_rating_nobody_sent, "recorded that nobody sent"),
    (_helper_message_lost, "helper message h-2"),
    (_other_final_state, "resolved in the record, unresolved when closed"),
    (_user_turn_lost, "'社保怎么交' (status 200) missing"),
])
def test_each_kind_of_discrepancy_is_named(world, tamper, says):
    tamper(world)
    result = reconcile(world.ledger, world.url)
    assert result["discrepancies"] >= 1
    assert any(says in line for line in result["examples"]), result["examples"]


def test_what_follows_a_failed_request_is_counted_apart(world):
    """A turn that got a 500 may have left its row: the conversation's discrepancies are the
    error's consequences, not unexplained losses."""
    _duplicate_user_turn(world)
    world.ledger.turns.append(SentTurn(CONV, "question", "社保怎么交", "社保怎么交", 500, "bot"))
    result = reconcile(world.ledger, world.url)
    assert result["discrepancies"] == 0, result["examples"]
    assert result["after_errors"] >= 1

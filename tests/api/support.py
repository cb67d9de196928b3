"""Helpers the gateway's tests share (plain functions; the fixtures are in conftest.py)."""
from __future__ import annotations

import datetime as dt
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from handoff.config import packaged_config
from handoff.outbox import OutboxRow
from handoff.requests import Candidate, HandoffRequest, request_handoff
from xiaobao import conversations
from xiaobao.conversations import conversation_id_for
from xiaobao.db import session_scope

DEPT = "区市场监管局"
# Read from the routing table, so the tests follow handoff/config.yaml.
CATEGORY = next(c for c, d in packaged_config().routing.items() if d == DEPT)
OTHER = next(d for d in packaged_config().departments
             if d not in (DEPT, packaged_config().central_department))
RATING_QUESTION = "请您对本次服务进行评价："  # what the stand-in Rasa's utter_ask_rating says


def handoff_request(conversation_id: str, *, category: str = CATEGORY,
                    channel: str = "online_helper", phone: str = "13812345678",
                    complaint: bool = False, **kw) -> HandoffRequest:
    """What the bot's handoff action builds for a conversation (routed to ``DEPT``)."""
    return HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=conversation_id, channel=channel,
        topic=kw.pop("topic", "营业执照办理"), company=kw.pop("company", "上海宝宝科技有限公司"),
        phone=phone, summary=kw.pop("summary", "用户询问营业执照办理，机器人未能解答"),
        last_turns=kw.pop("last_turns", [{"role": "user", "text": "营业执照怎么办"},
                                         {"role": "bot", "text": "转人工"}]),
        candidates=kw.pop("candidates", [Candidate(id="kb-001", question="如何办理营业执照",
                                                   category=category, score=0.42)]),
        intent=kw.pop("intent", "request_human"),
        entities=kw.pop("entities", [{"entity": "company", "value": "上海宝宝科技有限公司"}]),
        complaint=complaint, visitor_id=kw.pop("visitor_id", conversation_id), **kw)


VISITOR_COOKIE = "xiaobao_visitor"
# What a browser on the gateway's own pages sends with every state-changing request and
# WebSocket handshake; the test clients send it by default (the gateway refuses a POST without).
SAME_ORIGIN = {"Origin": "http://testserver"}


def conversation_of(browser: TestClient, settings=None) -> str:
    """The conversation id this browser's visitor cookie names: derived from the cookie's
    secret with the server's key (the secret itself never leaves the browser and the gateway).
    """
    settings = settings or browser.app.state.services.settings
    return conversation_id_for(browser.cookies[VISITOR_COOKIE], settings.secret_key)


def hand_off(browser: TestClient, **kw) -> str:
    """What the bot's handoff action does for this browser's conversation; the ticket id."""
    conversation_id = conversation_of(browser)
    return request_handoff(handoff_request(conversation_id, **kw),
                           ctx=browser.app.state.services.handoff).ticket_id


def stored_messages(engine, conversation_id: str | None = None) -> list[conversations.Message]:
    """Rows of the one messages table (of one conversation, or all), in order."""
    with session_scope(engine) as s:
        q = select(conversations.Message).order_by(conversations.Message.pk)
        if conversation_id is not None:
            q = q.where(conversations.Message.conversation_id == conversation_id)
        rows = list(s.scalars(q))
        for row in rows:
            s.expunge(row)
        return rows


def expire_outbox_claims(engine) -> None:
    """Let time pass for the outbox: every claim (and retry back-off) has run out."""
    with session_scope(engine) as s:
        s.execute(update(OutboxRow).values(
            claimed_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))


def hand_back_calls(rasa, conversation_id: str) -> list[tuple[str, object]]:
    """The stand-in Rasa's HTTP-API calls for one conversation, as (last path part, body)."""
    prefix = f"/conversations/{conversation_id}/"
    return [(path.rsplit("/", 1)[-1], body) for path, body in rasa.api_calls
            if path.startswith(prefix)]


# One hand-back to the bot: resume, ask for the rating, then listen (as Rasa's own loop ends).
def one_hand_back(ticket_id: str) -> list[tuple[str, object]]:
    """The Rasa API calls of one hand-back: resumed, the closed ticket named, the rating asked."""
    return [("events", [{"event": "resume"},
                        {"event": "slot", "name": "handoff_ticket_id", "value": ticket_id}]),
            ("execute", {"name": "utter_ask_rating"}),
            ("events", [{"event": "action", "name": "action_listen"}])]

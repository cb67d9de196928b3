"""Degraded mode: the gateway answers a user's message itself while Rasa cannot.

When Rasa is unreachable, still loading its model (port closed, or 404/503 until it has
loaded), times out, answers an error, or answers nothing (its REST channel's way of reporting
a failure inside: its Redis lock or tracker store, the action endpoint), :func:`serve` answers
from the gateway with the same retriever and the same words as the bot's actions:

* a question gets the answer card, 您是不是想问 or the abstention of
  :func:`bot.actions.answer.answer_question` (the same ``bot_answer`` event, marked
  ``fallback``);
* a 您是不是想问 click shows that entry's card (:func:`bot.actions.answer.choose_entry`);
* 转人工 — the button, or typed "转人工" / "人工" — opens a ticket through
  :func:`handoff.requests.request_handoff`, routed by the category of the conversation's last
  bot answer (else the central desk), and says what the handoff action says;
* the 12345 call-back, whose form (phone number, time) needs Rasa, points to 留言 (the portal's
  form, which takes a phone number and whose answer can book the call-back) and 人工帮办;
* 有帮助 / 没帮助 is recorded, and so is a 好差评 rating (its 差评 reason asked for and
  recorded as the bot's action would, :func:`bot.actions.rating.record`; the rated ticket is
  the one whose closing asked for the rating, ``rated_ticket``); any other button is declined
  politely.

Every reply starts with :data:`NOTICE`, which has the page show its 留言 form; every such turn
writes a ``fallback_turn`` event (besides the ``bot_failure`` the caller writes) and counts in
``xiaobao_fallback_turns_total``.

Rasa's tracker never sees these turns. When Rasa answers again it goes on from the last turn it
saw, so its slots (last question, candidates, the count of 没帮助) may be older than the page;
a ticket opened here did not pause Rasa's conversation, which is harmless (the gateway routes a
conversation with an open ticket to people, and the hand-back resumes it). That is accepted: the
record (:mod:`xiaobao.conversations`) has every turn, and nothing here is sticky — the next
message goes to Rasa first (unless :class:`api.rasa_client.RasaBreaker` skips a Rasa that has
been timing out).
"""
from __future__ import annotations

import json
import logging
import re
import uuid

from sqlalchemy import select

from api import typed_answers
from api.metrics import FALLBACK_SERVED, FALLBACK_TURNS, HANDOFFS, bounded
from api.services import Services
from bot.actions import answer, deps, rating
from bot.actions.handoffs import LAST_TURNS, is_complaint, online_receipt_text, summary_line
from bot.payloads import REQUEST_HUMAN, payload
from bot.replies import answer_message
from handoff.requests import Candidate, HandoffRequest, request_handoff
from ratings.record import is_bad
from retrieval.types import QueryError
from xiaobao import conversations
from xiaobao.db import session_scope
from xiaobao.enums import RATINGS, Channel, Rating, Speaker
from xiaobao.events import Event, EventKind, record_event
from xiaobao.limits import LimitExceeded

log = logging.getLogger("api.fallback")

NOTICE = ("小宝的完整对话功能暂时不可用，以下是知识库中的答案；您也可以转人工或留言。"
          " / Full conversation is briefly unavailable; the answer below comes from the "
          "knowledge base. You can also ask for a person or leave a message.")
CALL_BACK_NEEDS_BOT = ("预约12345回电要先登记电话和方便接听的时间，这一步暂时无法进行。"
                       "您可以点击下方的“改为留言”写下问题并留下电话，工作人员答复后可为您安排"
                       "12345回电；也可以转人工帮办。")
NEEDS_BOT = "这一步暂时无法进行，请稍后再试；您也可以转人工帮办或留言。"
HANDOFF_FAILED = ("抱歉，转接暂时没有成功，请稍后再试，或直接拨打12345热线。"
                  "(Sorry, the handoff failed; please retry later or call 12345.)")
HUMAN_BUTTON = {"title": "人工帮办", "payload": payload(REQUEST_HUMAN)}
# The page opens its 留言 form for a message carrying this (api/static/chat_leave.js).
OFFER_LEAVE_MESSAGE = {"leave_message": True}
_PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?$", re.S)


def serve(services: Services, conversation_id: str, text: str, payload: str,
          failure: str, *, client_ip: str = "", rated_ticket: str = "") -> list[dict]:
    """The reply to one user message while Rasa is unavailable (``failure``: why), as the
    page shows messages (``role``, ``text``, ``buttons``), :data:`NOTICE` first.

    ``text`` is the message as Rasa would have received it; ``payload`` the offered button
    payload when the message is a click; ``client_ip`` counts a 转人工 against the per-address
    limit. Raises what a broken retriever raises (the caller
    then says the bot is unavailable). Synchronous: run it in a worker thread.
    """
    served, message = _reply(services, conversation_id, text, payload, client_ip, rated_ticket)
    FALLBACK_TURNS.labels(bounded(served, FALLBACK_SERVED)).inc()
    with session_scope(services.engine) as s:
        record_event(s, EventKind.FALLBACK_TURN, conversation_id=conversation_id,
                     actor="gateway", served=served, failure=failure)
    notice = {"role": Speaker.NOTICE.value, "text": NOTICE, "buttons": [],
              "custom": OFFER_LEAVE_MESSAGE}
    message = dict(message)
    custom = message.pop("json_message", None)  # the bot's words for Rasa: custom for the page
    if custom:
        message["custom"] = {**(message.get("custom") or {}), **custom}
    return [notice, {"role": Speaker.BOT.value, "buttons": [], **message}]


def _reply(services: Services, conversation_id: str, text: str, payload: str,
           client_ip: str = "", rated_ticket: str = "") -> tuple[str, dict]:
    intent, entities = parse_payload(payload)
    if intent == "request_human" or (not payload and typed_answers.asks_for_a_person(text)):
        return hand_off(services, conversation_id, clicked=bool(payload), client_ip=client_ip)
    if intent == "request_12345_call":
        return "call_back_redirected", {"text": CALL_BACK_NEEDS_BOT, "buttons": [HUMAN_BUTTON]}
    if intent == "choose_entry":
        hit = answer.choose_entry(services, conversation_id, str(entities.get("entry_id", "")),
                                  fallback=True)
        if hit is None:
            return "entry_gone", {"text": answer.ENTRY_GONE}
        return "choose_entry", answer_message(hit)
    if intent == "feedback":
        helpful = str(entities.get("helpful", "")).lower() in ("yes", "true", "1")
        deps.record_event(services, EventKind.ANSWER_FEEDBACK, conversation_id=conversation_id,
                          entry_id=str(entities.get("entry_id", "")), helpful=helpful,
                          fallback=True)
        return "feedback", {"text": answer.FEEDBACK_THANKS if helpful else answer.FEEDBACK_SORRY}
    if intent == "rate_service" and str(entities.get("rating", "")) in RATINGS:
        return _rate(services, conversation_id, Rating(str(entities["rating"])),
                     str(entities.get("reason") or "").strip(), rated_ticket)
    if intent:  # a form's confirmation …: Rasa's conversation state is needed
        return "needs_bot", {"text": NEEDS_BOT, "buttons": [HUMAN_BUTTON]}
    try:
        found = answer.answer_question(services, conversation_id, text, fallback=True)
    except QueryError as exc:
        return "query_error", {"text": getattr(exc, "message", str(exc))}
    return found.result.decision, found.message


def _rate(services: Services, conversation_id: str, level: Rating, reason: str,
          rated_ticket: str) -> tuple[str, dict]:
    if not rating.record(services, conversation_id, rated_ticket, level,
                         reason[:rating.MAX_REASON_CHARS]):
        return "rating_failed", {"text": NEEDS_BOT, "buttons": [HUMAN_BUTTON]}
    if is_bad(level) and not reason:
        prompt = rating.reason_prompt(level)
        return "rating", {"text": prompt["text"], "buttons": prompt["buttons"],
                          "custom": prompt["json_message"]}
    return "rating", {"text": rating.thanks(level)}


def parse_payload(payload: str) -> tuple[str, dict]:
    """``/intent{"entity": "value"}`` → (intent, entities); ("", {}) for typed text."""
    match = _PAYLOAD.match(payload or "")
    if not match:
        return "", {}
    try:
        entities = json.loads(match.group(2)) if match.group(2) else {}
    except ValueError:
        entities = {}
    return match.group(1), entities if isinstance(entities, dict) else {}


# --- 转人工 without Rasa --------------------------------------------------------------------------

def hand_off(services: Services, conversation_id: str, *, clicked: bool,
             client_ip: str = "") -> tuple[str, dict]:
    """Open (or find) the conversation's 人工帮办 ticket, as the handoff action would."""
    try:
        req = handoff_request(services, conversation_id, clicked=clicked, client_ip=client_ip)
        receipt = request_handoff(req, ctx=services.handoff)
    except LimitExceeded as exc:
        said = exc.message.split(" / ")[0]
        return "handoff_failed", {"text": f"{said}如情况紧急，请直接拨打12345热线。"}
    except Exception:
        log.exception("fallback handoff failed for %s", conversation_id)
        return "handoff_failed", {"text": HANDOFF_FAILED}
    if receipt.created:
        HANDOFFS.labels(Channel.ONLINE_HELPER.value).inc()
    return "handoff", {"text": online_receipt_text(services, receipt)}


def handoff_request(services: Services, conversation_id: str, *, clicked: bool,
                    client_ip: str = "") -> HandoffRequest:
    """The request the handoff action would build, from the record instead of Rasa's tracker:
    the last turns, the last question the bot answered (the topic) and its top entry's
    category (the department)."""
    with session_scope(services.engine) as s:
        turns = conversations.conversation(s, conversation_id, limit=LAST_TURNS)
        last_turns = [{"role": m.role, "text": m.text} for m in turns
                      if m.role in (Speaker.USER, Speaker.BOT) and m.text]
        asked = s.scalar(select(Event.data).where(
            Event.conversation_id == conversation_id, Event.kind == EventKind.BOT_ANSWER.value)
            .order_by(Event.pk.desc()).limit(1)) or {}
    topic = str(asked.get("query") or "")
    candidates = [Candidate(id=str(asked.get("entry_id") or "-"), question="",
                            category=str(asked.get("category") or ""),
                            score=float(asked.get("score") or 0.0))] \
        if asked.get("category") else []
    users = " ".join(t["text"] for t in last_turns if t["role"] == Speaker.USER)
    return HandoffRequest(
        request_id=f"gateway-{uuid.uuid4().hex}",
        conversation_id=conversation_id,
        channel=Channel.ONLINE_HELPER.value,
        topic=topic,
        summary=summary_line(topic, ""),
        last_turns=last_turns,
        candidates=candidates,
        intent="request_human",
        visitor_id=conversation_id,  # the portal's conversation id is its visitor id
        client_ip=client_ip,
        # A click on the abstention's 人工帮办 is the bot sending the user to people.
        trigger="abstention" if clicked and asked.get("decision") == "abstain" else "user",
        complaint=is_complaint(topic + " " + users),
    )

"""What the bot says for a search result: the one wording, used by the bot's answer action and
by the editor's hit test (``POST /api/kb/hit-test``), so the test shows exactly the chat's reply.

No Rasa import here: the gateway reads it too.
"""
from __future__ import annotations

from typing import Any

from bot.payloads import (
    FEEDBACK,
    POLICY_FACT,
    POLICY_ONLY,
    REQUEST_12345_CALL,
    REQUEST_HUMAN,
    payload,
)
from knowledge_base.card import answer_card
from retrieval.types import SearchResult

MAX_SUGGESTIONS = 3

# Keys of a bot message's ``custom`` (Rasa's json_message) that the gateway reads
# (api.typed_answers, api.conversation): a prompt that invites free text (its payload
# template), a prompt's sentence for a typed answer that selects nothing (said once), and a
# reply that says the bot did not understand (which that sentence replaces).
FREE_TEXT = "free_text"
REASK = "reask"
NOT_UNDERSTOOD = "not_understood"
POLICY_LINKS = "policy_links"  # an answer card's 政策体检 items: [{"id", "title", "payload"}]
CHECK_ONE = "看看我是否符合"

HUMAN_BUTTONS = [
    {"title": "人工帮办", "payload": payload(REQUEST_HUMAN)},
    {"title": "12345回电", "payload": payload(REQUEST_12345_CALL)},
]
SUGGEST_TEXT = "您是不是想问："
ANSWER_TITLE = "关于“{question}”："  # an answer shown with 相关问题 opens with its question
RELATED_TEXT = "相关问题："
ABSTAIN_TEXT = ("抱歉，这个问题我在知识库里没有找到可靠的答案，不想给您不准确的信息。"
                "您可以转人工帮办，或请12345热线给您回电。")


def answer_message(hit: Any, related: list[Any] | None = None) -> dict:
    """The answer card (:func:`knowledge_base.card.answer_card`) and its feedback buttons.

    ``related``: an answer fairly but not fully sure (``SearchResult.alternatives``) — the
    card opens with the entry's own question, so a mismatch shows, and ends with 相关问题, a
    button each (before the feedback buttons, so "第一个" names the first of them)."""
    buttons = [
        {"title": "有帮助", "payload": payload(FEEDBACK, helpful="yes", entry_id=hit.id)},
        {"title": "没帮助", "payload": payload(FEEDBACK, helpful="no", entry_id=hit.id)},
        {"title": "转人工", "payload": payload(REQUEST_HUMAN)},
    ]
    if not related:
        return {"text": answer_card(hit), "buttons": buttons}
    others = [{"title": h.question, "payload": payload("choose_entry", entry_id=h.id)}
              for h in related[:MAX_SUGGESTIONS - 1]]
    text = f"{ANSWER_TITLE.format(question=hit.question)}\n{answer_card(hit)}\n\n{RELATED_TEXT}"
    return {"text": text, "buttons": [*others, *buttons]}


def start_check_payload(policy_id: str) -> str:
    """The check-up for one policy alone: ``/policy_fact{"policies": id}`` (no field: a start)."""
    return payload(POLICY_FACT, **{POLICY_ONLY: policy_id})


def with_policy_links(message: dict, links: list[dict]) -> dict:
    """An answer card that offers 看看我是否符合 for each published policy it is about
    (``links``: ``[{"id", "title"}]``): a button each, after the card's own, and
    ``custom.policy_links``."""
    if not links:
        return message
    one = len(links) == 1
    shown = [{"id": link["id"], "title": link["title"],
              "payload": start_check_payload(link["id"])} for link in links]
    buttons = [{"title": CHECK_ONE if one else f"{CHECK_ONE}：{link['title']}",
                "payload": link["payload"]} for link in shown]
    custom = {**message.get("json_message", {}), POLICY_LINKS: shown}
    return {**message, "buttons": [*message.get("buttons", []), *buttons],
            "json_message": custom}


def reply_for(result: SearchResult) -> dict:
    """The message (``text``, ``buttons``) the bot sends for this result."""
    hits = list(result.hits)
    if result.decision == "answer" and hits:
        return answer_message(hits[0], hits[1:] if result.alternatives else None)
    if result.decision == "suggest" and hits:
        buttons = [{"title": h.question, "payload": payload("choose_entry", entry_id=h.id)}
                   for h in hits[:MAX_SUGGESTIONS]]
        buttons.append({"title": "都不是，转人工", "payload": payload(REQUEST_HUMAN)})
        return {"text": SUGGEST_TEXT, "buttons": buttons}
    return {"text": ABSTAIN_TEXT, "buttons": list(HUMAN_BUTTONS),
            "json_message": {NOT_UNDERSTOOD: True}}

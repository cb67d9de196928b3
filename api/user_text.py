"""Checking one user message before Rasa or a helper sees it (see :mod:`api.conversation`):
refused when too long or empty, a typed answer to the last prompt taken as the payload it
stands for (:mod:`api.typed_answers`), a typed ``/command`` that was not offered de-fanged.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from api import typed_answers
from api.errors import ApiError
from api.metrics import CHAT_REFUSED, TYPED_ANSWERS
from api.offered import FREE_TEXT_FIELD
from retrieval.normalize import has_searchable_text, normalize, strip_controls

# Rasa's RegexMessageHandler strips whitespace and then parses a leading "/" as an intent;
# the full-width solidus reads the same to a person and is never parsed.
ESCAPED_SLASH = "／"


@dataclass(frozen=True)
class UserText:
    for_route: str  # what Rasa receives
    shown: str  # what the record and the page show (a button's title for a click)
    payload: str = ""  # the offered button payload, when the message is a click


def check_user_text(raw: str, offered: dict[str, str], max_chars: int) -> UserText:
    """Refuse, normalise and de-fang one user message (see the module docstring)."""
    stripped = raw.strip()
    if len(stripped) > max_chars:
        CHAT_REFUSED.labels("too_long").inc()
        raise ApiError(413, "message_too_long",
                       f"消息太长了：最多{max_chars}个字，您输入了{len(stripped)}个字，请分几次发送。"
                       f" / Message too long: at most {max_chars} characters, got {len(stripped)}.")
    buttons = {p: t for p, t in offered.items() if p.startswith("/")}
    if stripped in buttons:
        return UserText(for_route=stripped, shown=buttons[stripped] or stripped, payload=stripped)
    text = normalize(stripped)
    if not text or not has_searchable_text(text):
        CHAT_REFUSED.labels("empty").inc()
        raise ApiError(422, "empty_message",
                       "请输入文字内容（消息不能为空，也不能只有表情或符号）。"
                       " / Please type some text: the message is empty or only emoji/symbols.")
    typed = typed_answer(stripped, text, buttons, offered.get(FREE_TEXT_FIELD))
    if typed:
        return typed
    if text.startswith("/"):
        text = ESCAPED_SLASH + text[1:]
    # Rasa gets the normalised text; people (helper, record) get what the user typed, less
    # control characters: "好的，谢谢" stays full-width for a Chinese reader.
    return UserText(for_route=text, shown=strip_controls(stripped))


def helper_text(text: str, max_chars: int) -> str:
    """A helper's words to a user (a message, a 留言's answer): trimmed, not empty, not over
    the limit. The helper's text is sent as written: it is not matched against buttons."""
    text = text.strip()
    if not text:
        raise ApiError(422, "empty_message", "消息不能为空。 / The message is empty.")
    if len(text) > max_chars:
        raise ApiError(413, "message_too_long",
                       f"消息太长了：最多{max_chars}个字，当前{len(text)}个字。"
                       f" / Message too long: at most {max_chars} characters, got {len(text)}.")
    return text


def typed_answer(stripped: str, text: str, buttons: dict[str, str],
                 free_text: str | None) -> UserText | None:
    """A typed answer to the last reply's prompt as the payload it stands for, else None."""
    if text.startswith("/"):
        return None
    shown = strip_controls(stripped)
    chosen = typed_answers.button_for(text, buttons)
    if chosen:
        TYPED_ANSWERS.labels("button").inc()
        return UserText(for_route=chosen, shown=shown, payload=chosen)
    if free_text and not (typed_answers.asks_for_a_person(text)
                          or typed_answers.is_new_question(text)):
        try:
            template = json.loads(free_text)
        except ValueError:
            return None
        payload = typed_answers.free_text_payload(template, shown) \
            if isinstance(template, dict) else None
        if payload:
            TYPED_ANSWERS.labels("free_text").inc()
            return UserText(for_route=payload, shown=shown, payload=payload)
    return None

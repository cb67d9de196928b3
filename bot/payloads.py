"""The button payloads the bot and the gateway share, named once.

A payload is Rasa's ``/intent{json}``: clicking a button sends it, the gateway allows exactly
the payloads the last reply offered (api.offered), and the bot's rules key on the intent.
The intents themselves are declared in ``bot/domain.yml`` (tests/bot/test_payloads.py holds
the two together). No Rasa import here: the gateway reads it too.
"""
from __future__ import annotations

import json

REQUEST_HUMAN = "request_human"  # 人工帮办
REQUEST_12345_CALL = "request_12345_call"  # 12345 回电 / 三方通话
RATE_SERVICE = "rate_service"  # 好差评, with ``rating`` and perhaps ``reason``
POLICY_FACT = "policy_fact"  # 政策体检: one answer, ``field`` and ``value``
# …and ``policies`` (ids, comma-separated): the check-up of those policies alone (an answer
# card's 看看我是否符合 starts it with no ``field``); each question it asks carries it on.
POLICY_ONLY = "policies"
FEEDBACK = "feedback"  # 有帮助 / 没帮助 on an answer card


def payload(intent: str, **entities: str) -> str:
    """A button payload in Rasa's ``/intent{json}`` form (the gateway's allow-list key)."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}{json.dumps(entities, ensure_ascii=False, separators=(',', ':'))}"


def is_payload_of(text: str, intent: str) -> bool:
    """``text`` is a payload of ``intent`` (with or without entities)."""
    return text == f"/{intent}" or text.startswith(f"/{intent}{{")

"""政策体检 in the chat: ask only the questions that still matter, then say what is decided.

"我公司能享受哪些政策" starts it; each answer arrives as ``/policy_fact{"field", "value"}`` — a
clicked choice or band, or typed text the gateway turns into that payload (the prompt's
``custom.free_text``, :mod:`api.typed_answers`) — and "不知道" declines the fact, which is not
asked again. The facts given stay in the conversation's slots and, each turn, in its record
(:mod:`policies.checkups`: the helpers' context pack shows them, the retention purge removes
them); a tracker without them (expired, or a new Rasa) starts from the record. After
``QUESTIONS_PER_ROUND`` questions, or when nothing is left to ask, the bot says what is decided
and carries the results in its message (``custom.policy_result``); every question names its field
(``custom.field``) so the portal can render the right input and a script can answer it.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.deps import ActionServices
from bot.payloads import POLICY_FACT, is_payload_of, payload
from bot.replies import FREE_TEXT, REASK
from policies import store
from policies.checkups import latest_checkup, record_checkup, typed_facts
from policies.evaluator import CheckResult, Resolver, check_policy
from policies.facts import FactError, Interval, parse_value
from policies.fields import NUMERIC, Field, default_dictionary
from policies.planner import next_question
from xiaobao import clock
from xiaobao.db import session_scope

logger = logging.getLogger(__name__)

QUESTIONS_PER_ROUND = 5
DONT_KNOW = "不知道"
MAX_LISTED = 8
START = "好的，帮您做个政策体检，只问真正影响结果的问题。"


def answer_buttons(f: Field) -> list[dict]:
    """The answers to click: choices, yes/no, or the field's bands; and 不知道."""
    if f.type == "boolean":
        options: list[tuple[str, Any]] = [("是", True), ("否", False)]
    elif f.choices:
        options = [(c, c) for c in f.choices]
    elif f.bands:
        options = [(f.band_label(lo, hi), {"gte": lo, **({"lt": hi} if hi is not None else {})})
                   for lo, hi in f.bands]
    else:
        options = []
    buttons = [{"title": title, "payload": payload(POLICY_FACT, field=f.name,
                                                   value=_json(value))}
               for title, value in options]
    buttons.append({"title": DONT_KNOW, "payload": payload(POLICY_FACT, field=f.name,
                                                            value=DONT_KNOW)})
    return buttons


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _given(tracker: Tracker) -> tuple[str, str] | None:
    """(field, raw value) of a ``/policy_fact{...}`` message, else None."""
    text = str((tracker.latest_message or {}).get("text") or "")
    if not is_payload_of(text, POLICY_FACT):
        return None
    try:
        data = json.loads(text[text.index("{"):])
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("field"), str):
        return None
    return data["field"], str(data.get("value", ""))


def _value(f: Field, raw: str) -> Any:
    """A clicked band (JSON) or what the user typed: "约320人" is 320 for a number."""
    try:
        parsed = json.loads(raw) if raw.startswith("{") else raw
    except ValueError:
        parsed = raw
    try:
        return parse_value(f, parsed)
    except FactError:
        number = re.search(r"\d+(?:\.\d+)?", raw.replace(",", "")) if f.type in NUMERIC else None
        if number is None:
            raise
        return parse_value(f, number.group(0))


def _stored(value: Any) -> Any:
    """A typed fact as the slot keeps it (JSON)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Interval):
        out = {}
        if value.low is not None:
            out["gte" if value.low_inclusive else "gt"] = value.low
        if value.high is not None:
            out["lte" if value.high_inclusive else "lt"] = value.high
        return out
    return value


class ActionPolicyCheck(Action):
    def __init__(self, services: ActionServices) -> None:
        super().__init__()
        self.services = services

    def name(self) -> str:
        return "action_policy_check"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict) -> list[EventType]:
        return await asyncio.to_thread(self._run, dispatcher, tracker)

    def _run(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        dictionary = default_dictionary()
        facts_raw, declined = self._kept(tracker)
        asked = int(tracker.get_slot("policy_asked") or 0)
        given = _given(tracker)
        if given is None:
            asked = 0  # a new check-up (the facts already given are kept and prefill it)
        else:
            name, raw = given
            f = dictionary.fields.get(name)
            if f is None:
                dispatcher.utter_message(text="抱歉，这个问题已失效，我们重新开始政策体检。")
            elif raw.strip() == DONT_KNOW or raw.strip() in ("跳过", "不清楚"):
                declined = sorted(set(declined) | {name})
            else:
                try:
                    value = _value(f, raw.strip())
                    facts_raw[name] = _stored(value)
                except FactError as exc:
                    dispatcher.utter_message(text=exc.message.split(" / ")[0] + "请重新回答，"
                                             "或点“不知道”跳过。",
                                             buttons=answer_buttons(f),
                                             json_message=self._prompt_custom(f))
                    return [SlotSet("policy_facts", facts_raw), SlotSet("policy_declined",
                                                                        declined)]
                declined = [d for d in declined if d != name]
                # the one answer of this turn (the facts given before were counted then)
                self.services.policy_priors.count({name: value}, dictionary)
        facts = typed_facts(facts_raw, dictionary)
        day = clock.today()
        with session_scope(self.services.engine) as s:
            items = store.published_policies(s)
        if not items:
            dispatcher.utter_message(text="政策库暂时没有已发布的政策，请稍后再试，或转人工帮办咨询。")
            return []
        resolve = Resolver(facts, day, dictionary, frozenset(declined))
        results = [(check_policy(p, resolve), data) for p, data in items]
        self._record(tracker.sender_id, facts_raw, declined, day,
                     CheckResult([r for r, _ in results]))
        question = None
        if asked < QUESTIONS_PER_ROUND:
            question = next_question([p for p, _ in items], facts, day, declined=set(declined),
                                     dictionary=dictionary,
                                     priors=self.services.policy_priors.read(dictionary),
                                     result=CheckResult([r for r, _ in results]))
        events: list[EventType] = [SlotSet("policy_facts", facts_raw),
                                   SlotSet("policy_declined", declined)]
        if question is not None:
            f = dictionary[question.field]
            lead = START if given is None and asked == 0 else ""
            dispatcher.utter_message(text=lead + question.text, buttons=answer_buttons(f),
                                     json_message=self._prompt_custom(f))
            return [*events, SlotSet("policy_asked", asked + 1)]
        dispatcher.utter_message(text=self._summary(results),
                                 json_message={"policy_result": self._result(results)})
        return [*events, SlotSet("policy_asked", 0)]

    def _kept(self, tracker: Tracker) -> tuple[dict, list]:
        """The facts and the declined fields so far: the slots, else the conversation's
        record (a tracker that never had a check-up, or lost it)."""
        facts, declined = tracker.get_slot("policy_facts"), tracker.get_slot("policy_declined")
        if facts is None and declined is None:
            try:
                with session_scope(self.services.engine) as s:
                    kept = latest_checkup(s, tracker.sender_id)
            except Exception:  # the check-up goes on without the record
                logger.exception("could not read the check-up of %s", tracker.sender_id[:8])
                kept = None
            if kept is not None:
                return dict(kept.facts), list(kept.declined)
        return dict(facts or {}), list(declined or [])

    def _record(self, conversation_id: str, facts: dict, declined: list, day: dt.date,
                result: CheckResult) -> None:
        """Keep the check-up with the conversation; a failure is logged, never shown."""
        try:
            with session_scope(self.services.engine) as s:
                record_checkup(s, conversation_id, facts, declined, day, result)
        except Exception:  # the reply matters more than its record
            logger.exception("could not record the check-up of %s", conversation_id[:8])

    @staticmethod
    def _prompt_custom(f: Field) -> dict:
        return {"field": f.to_dict(),
                FREE_TEXT: {"intent": "policy_fact", "entities": {"field": f.name},
                            "field": "value"},
                REASK: f"请点选下面的一项，或直接输入{f.label}；不清楚可以点“不知道”。"}

    @staticmethod
    def _result(results: list) -> dict:
        out: dict = {"eligible": [], "possible": [], "ineligible": []}
        for r, data in results:
            if r.status in out:
                entry = {"id": r.id, "title": data.get("title", ""),
                         "benefit": data.get("benefit", ""), "mode": data.get("mode", "")}
                if r.status == "possible":
                    entry["unknown"] = r.unknown
                out[r.status].append(entry)
        return out

    @staticmethod
    def _summary(results: list) -> str:
        eligible = [d for r, d in results if r.status == "eligible"]
        possible = [(r, d) for r, d in results if r.status == "possible"]
        pending = f"；另有 {len(possible)} 项还取决于您尚未提供的信息" if possible else ""
        lines = [f"政策体检结果：已确定符合 {len(eligible)} 项{pending}。"]
        for d in eligible[:MAX_LISTED]:
            mark = "【免申即享】" if d.get("mode") == "免申即享" else ""
            doc = (d.get("document") or {}).get("doc_no", "")
            lines.append(f"✅ {mark}{d.get('title', '')}（{doc}）")
        for _, d in possible[:MAX_LISTED]:
            lines.append(f"❓ {d.get('title', '')}")
        if possible:
            lines.append("想继续确认，可以再说“政策体检”；具体办理可转人工帮办。")
        return "\n".join(lines)

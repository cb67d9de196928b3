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

An answer card's 看看我是否符合 (``/policy_fact{"policies": id}``, bot.replies) starts the
check-up of that policy alone: only the questions it needs are asked (the planner over that
one), every question carries ``policies`` on in its payloads, and the result is that policy's.

When an enterprise is signed in on the conversation's browser (the gateway notes it from the
enterprise cookie, :mod:`xiaobao.conversation_enterprise`; never from what the browser sends),
the check-up starts from the register's facts, said in its first message with their sources
(:mod:`enterprises.checkup_start`), and asks only what they leave unknown; each fact the user
gives is stored in the register as its own word (对话中填报, beside an authority's; expired by
retention/register_facts.py). A fact the enterprise says has changed ("从业人数现在是80人")
is stored the same way, used for the results of this check-up and confirmed with what the
register still says (:mod:`bot.actions.policy_corrections`).
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
from bot.actions.policy_corrections import confirmation, corrections_in, counted_facts
from bot.payloads import POLICY_FACT, POLICY_ONLY, is_payload_of, payload
from bot.replies import FREE_TEXT, REASK, start_check_payload
from enterprises.checkup_start import RegisterStart, register_start
from enterprises.register import add_declared
from enterprises.sources import CONVERSATION
from policies import links, store
from policies.checkups import latest_checkup, record_checkup, typed_facts
from policies.evaluator import CheckResult, Resolver, check_policy, explain_failed
from policies.facts import FactError, fact_json, parse_value
from policies.fields import NUMERIC, Field, default_dictionary
from policies.planner import next_question
from xiaobao import clock, conversation_enterprise
from xiaobao.db import session_scope

logger = logging.getLogger(__name__)

QUESTIONS_PER_ROUND = 5
DONT_KNOW = "不知道"
MAX_LISTED = 8
START = "好的，帮您做个政策体检，只问真正影响结果的问题。"


def answer_buttons(f: Field, only: list[str] | None = None) -> list[dict]:
    """The answers to click: choices, yes/no, or the field's bands; and 不知道 (each with the
    check-up's ``policies`` when it is restricted to some)."""
    if f.type == "boolean":
        options: list[tuple[str, Any]] = [("是", True), ("否", False)]
    elif f.choices:
        options = [(c, c) for c in f.choices]
    elif f.bands:
        options = [(f.band_label(lo, hi), {"gte": lo, **({"lt": hi} if hi is not None else {})})
                   for lo, hi in f.bands]
    else:
        options = []
    scope = {POLICY_ONLY: ",".join(only)} if only else {}
    buttons = [{"title": title, "payload": payload(POLICY_FACT, field=f.name,
                                                   value=_json(value), **scope)}
               for title, value in options]
    buttons.append({"title": DONT_KNOW, "payload": payload(POLICY_FACT, field=f.name,
                                                            value=DONT_KNOW, **scope)})
    return buttons


def continue_buttons(policy_id: str) -> list[dict]:
    """After a round of the check-up of one policy that left it undecided: a next round."""
    return [{"title": "继续核对", "payload": start_check_payload(policy_id)}]


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _payload(tracker: Tracker) -> dict:
    """The JSON of a ``/policy_fact{...}`` message, else {}."""
    text = str((tracker.latest_message or {}).get("text") or "")
    if not is_payload_of(text, POLICY_FACT) or "{" not in text:
        return {}
    try:
        data = json.loads(text[text.index("{"):])
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _given(tracker: Tracker) -> tuple[str, str] | None:
    """(field, raw value) of a ``/policy_fact{...}`` message, else None."""
    data = _payload(tracker)
    if not isinstance(data.get("field"), str):
        return None
    return data["field"], str(data.get("value", ""))


def only_policies(tracker: Tracker) -> list[str]:
    """The ids a check-up is restricted to (``policies``: comma-separated), else []."""
    raw = _payload(tracker).get(POLICY_ONLY)
    ids = raw.split(",") if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return list(dict.fromkeys(str(i).strip() for i in ids if str(i).strip()))[:20]


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
        only = only_policies(tracker)
        uscc = self._signed_in(tracker.sender_id)
        # a fact the user corrects ("从业人数现在是80人"), typed as the answer to a question or
        # on its own (policy_corrections): the enterprise's own word, beside the register's
        typed = given[1] if given else str((tracker.latest_message or {}).get("text") or "")
        corrected = {} if typed.startswith("/") else corrections_in(
            typed, given[0] if given else None, dictionary)
        for name, value in corrected.items():
            facts_raw[name] = fact_json(value)
            declined = [d for d in declined if d != name]
        if corrected and uscc:
            self._declare(uscc, tracker.sender_id, {n: fact_json(v) for n, v in corrected.items()})
        if given is None:
            asked = 0  # a new check-up (the facts already given are kept and prefill it)
        elif corrected:
            pass  # a correction, not the answer: the question is asked again
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
                    facts_raw[name] = fact_json(value)
                except FactError as exc:
                    dispatcher.utter_message(text=exc.message.split(" / ")[0] + "请重新回答，"
                                             "或点“不知道”跳过。",
                                             buttons=answer_buttons(f, only),
                                             json_message=self._prompt_custom(f, only))
                    return [SlotSet("policy_facts", facts_raw), SlotSet("policy_declined",
                                                                        declined)]
                declined = [d for d in declined if d != name]
                if uscc:
                    self._declare(uscc, tracker.sender_id, {name: facts_raw[name]})
                # the one answer of this turn (the facts given before were counted then)
                self.services.policy_priors.count({name: value}, dictionary)
        day = clock.today()
        with session_scope(self.services.engine) as s:
            items = links.restrict(store.published_policies(s), only)
        start = self._register(uscc, day)
        # the register's ranking (what it knows counts, and is not asked again), but the
        # enterprise's own correction counts in its check-up
        facts = counted_facts(typed_facts(facts_raw, dictionary), start, set(corrected))
        if not items:
            dispatcher.utter_message(text=(
                "这项政策已更新或下线，暂时无法核对。您可以说“政策体检”看看其他政策，或转人工帮办咨询。"
                if only else "政策库暂时没有已发布的政策，请稍后再试，或转人工帮办咨询。"))
            return []
        confirm = confirmation(corrected, start, day, dictionary, signed_in=bool(uscc))
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
            lead = self._start(items, only, start) if given is None and asked == 0 else ""
            lead += confirm
            dispatcher.utter_message(text=lead + question.text, buttons=answer_buttons(f, only),
                                     json_message=self._prompt_custom(f, only))
            return [*events, SlotSet("policy_asked", asked + 1)]
        text, buttons = self._summary(results), []
        if only and len(results) == 1:
            text = self._one(results[0], resolve)
            if set(results[0][0].unknown) - set(declined):  # a new round has more to ask
                buttons = continue_buttons(results[0][0].id)
        if confirm:
            text = confirm + "\n" + text
        if given is None and start.known:
            text = start.sentence + "\n" + text
        dispatcher.utter_message(text=text, buttons=buttons,
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

    def _signed_in(self, conversation_id: str) -> str | None:
        """The enterprise the gateway noted for this conversation; None when it cannot say."""
        try:
            return conversation_enterprise.signed_in_uscc(self.services.redis, conversation_id)
        except Exception:  # anonymous, then: no register fact is shown
            logger.exception("could not read the enterprise of %s", conversation_id[:8])
            return None

    def _register(self, uscc: str | None, day: dt.date) -> RegisterStart:
        if not uscc:
            return RegisterStart()
        try:
            with session_scope(self.services.engine) as s:
                return register_start(s, uscc, day)
        except Exception:  # the check-up goes on, asking what it must
            logger.exception("could not read the register for a check-up")
            return RegisterStart()

    def _declare(self, uscc: str, conversation_id: str, facts: dict) -> None:
        """The user's answer into the register as its own word (对话中填报); a failure is
        logged, never shown (the check-up has the answer in its slots either way)."""
        try:
            with session_scope(self.services.engine) as s:
                add_declared(s, uscc, facts, source=CONVERSATION,
                             by=f"chat:{conversation_id[:16]}")
        except Exception:
            logger.exception("could not store a fact given in %s", conversation_id[:8])

    @staticmethod
    def _start(items: list, only: list[str], start: RegisterStart | None = None) -> str:
        known = start.sentence if start is not None and start.known else ""
        if only and len(items) == 1:
            title = items[0][1].get("title", "")
            return f"好的，看看您是否符合“{title}”，只问这项政策需要的问题。" + known
        return START + known

    @staticmethod
    def _one(checked: tuple, resolve: Resolver) -> str:
        """The result of a check-up for one policy alone, with why."""
        r, data = checked
        title = data.get("title", "")
        if r.status == "eligible":
            mark = "（免申即享，无需申请）" if data.get("mode") == "免申即享" else ""
            how = f"\n办理：{data['apply']}" if data.get("apply") else ""
            return f"核对结果：按您提供的信息，您符合“{title}”{mark}。{how}"
        if r.status == "ineligible":
            why = "；".join(explain_failed(a, resolve) for a in r.failed)
            return f"核对结果：按您提供的信息，您暂不符合“{title}”：{why}。"
        if r.status == "not_in_force":
            return f"核对结果：“{title}”今天不在有效期内，暂无法享受。"
        dictionary = resolve.dictionary
        labels = "、".join(dictionary[u].label if u in dictionary else u for u in r.unknown)
        return f"核对结果：您是否符合“{title}”，还取决于：{labels}。具体办理可转人工帮办。"

    @staticmethod
    def _prompt_custom(f: Field, only: list[str] | None = None) -> dict:
        scope = {POLICY_ONLY: ",".join(only)} if only else {}
        return {"field": f.to_dict(),
                FREE_TEXT: {"intent": "policy_fact", "entities": {"field": f.name, **scope},
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

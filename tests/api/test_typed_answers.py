"""Typing where buttons are offered (api/typed_answers.py, api/user_text.py, api/offered.py).

Every prompt with buttons — the domain's responses and every button the bot's code and the
gateway's fallback build — is enumerated here; for each, typing each button's title selects
that button, and one free text is the prompt's free-text field where it invites one, else goes
to Rasa as typed. A guard fails the suite when a button title appears in the code that no prompt
here covers. The gateway half runs against the stand-in Rasa; the same through the trained
model is in tests/bot/test_rasa_server.py.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from api import fallback, offered, typed_answers
from api.offered import FREE_TEXT_FIELD
from api.user_text import check_user_text
from bot.actions.handoffs import CALL_RETRY_BUTTONS
from bot.actions.policy_check import ActionPolicyCheck, answer_buttons, continue_buttons
from bot.actions.rating import reason_buttons, reason_free_text, reason_prompt
from bot.replies import answer_message, reply_for, with_policy_links
from policies.fields import default_dictionary
from ratings.cases import BAD_RATINGS
from retrieval.types import SearchResult
from tests.api.routes.test_chat import user_turns
from tests.api.support import conversation_of
from tests.bot.conftest import make_hit
from xiaobao.enums import Rating
from xiaobao.settings import REPO_ROOT


@dataclass(frozen=True)
class Prompt:
    name: str
    buttons: list[dict]
    custom: dict | None = None  # the message's custom (free_text, reask)

    def offered(self) -> dict[str, str]:
        """The offered hash as api.offered.store_offered writes it."""
        messages = [{"role": "bot", "text": "", "buttons": self.buttons,
                     **({"custom": self.custom} if self.custom else {})}]
        stored = {b["payload"]: b["title"] for b in self.buttons}
        template = offered.free_text_of(messages)
        if template:
            stored[FREE_TEXT_FIELD] = json.dumps(template, ensure_ascii=False)
        return stored


def domain_prompts() -> list[Prompt]:
    domain = yaml.safe_load((REPO_ROOT / "bot" / "domain.yml").read_text("utf-8"))
    return [Prompt(name, variant["buttons"], variant.get("custom"))
            for name, variants in domain["responses"].items() for variant in variants
            if variant.get("buttons")]


def code_prompts() -> list[Prompt]:
    suggest = SearchResult(query="q", decision="suggest",
                           hits=[make_hit("kb-x-001", "营业执照怎么补办"),
                                 make_hit("kb-y-002", "食品经营许可怎么办")])
    abstain = reply_for(SearchResult(query="q", decision="abstain"))
    return [
        Prompt("answer card", answer_message(make_hit("kb-x-001", "营业执照怎么补办"))["buttons"]),
        Prompt("answer card about a policy", with_policy_links(
            answer_message(make_hit("kb-x-001", "营业执照怎么补办")),
            [{"id": "p-1", "title": "小型微利企业所得税优惠"}])["buttons"]),
        Prompt("policy check for one policy, undecided", continue_buttons("p-1")),
        Prompt("您是不是想问", reply_for(suggest)["buttons"]),
        Prompt("answer card with 相关问题", reply_for(SearchResult(
            query="q", decision="answer", alternatives=True,
            hits=[make_hit("kb-y-002", "食品经营许可怎么办"),
                  make_hit("kb-x-001", "营业执照怎么补办")]))["buttons"]),
        Prompt("abstain", abstain["buttons"], abstain.get("json_message")),
        Prompt("12345 retry", CALL_RETRY_BUTTONS),
        Prompt("fallback human", [fallback.HUMAN_BUTTON]),
        *(Prompt(f"reason {level}", reason_buttons(Rating(level)),
                 reason_free_text(Rating(level))) for level in sorted(BAD_RATINGS)),
        # The questions of the 政策体检, one per field the check-up may ask.
        *(Prompt(f"policy {f.name}", answer_buttons(f), ActionPolicyCheck._prompt_custom(f))
          for f in default_dictionary().base_fields()),
    ]


PROMPTS = domain_prompts() + code_prompts()
FREE_TEXT = "窗口的人让我来回跑了三趟"


def test_every_prompt_is_enumerated():
    names = {p.name for p in PROMPTS}
    assert {"utter_ask_rating", "utter_bot_challenge", "reason 不满意", "reason 非常不满意",
            "您是不是想问", "answer card", "answer card with 相关问题", "abstain", "12345 retry",
            "policy employees", "policy high_tech", "policy taxpayer_type"} <= names


def _constant_titles(path: Path) -> set[str]:
    """Every constant ``"title"`` of a dict literal that also has a ``"payload"`` in ``path``."""
    titles = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Dict):
            keys = {k.value: v for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant)}
            if "payload" in keys and isinstance(keys.get("title"), ast.Constant):
                titles.add(keys["title"].value)
    return titles


def test_a_new_button_in_the_code_needs_a_prompt_here():
    """A prompt added to the bot or the gateway without being enumerated above fails here."""
    covered = {b["title"] for p in PROMPTS for b in p.buttons}
    sources = [path for package in ("bot", "api")
               for path in sorted((REPO_ROOT / package).rglob("*.py"))]
    found = {title: path.relative_to(REPO_ROOT) for path in sources
             for title in _constant_titles(path)}
    assert found, "the scan found no buttons at all"
    assert {t: str(p) for t, p in found.items() if t not in covered} == {}


@pytest.mark.parametrize("prompt", PROMPTS, ids=lambda p: p.name)
def test_typing_each_title_selects_its_button(prompt):
    offered = prompt.offered()
    for button in prompt.buttons:
        for typed in (button["title"], f" {button['title']}。", f"我选{button['title']}吧"):
            checked = check_user_text(typed, offered, 2000)
            assert checked.payload == button["payload"], (prompt.name, typed)
            assert checked.for_route == button["payload"] and checked.shown == typed.strip()


@pytest.mark.parametrize("prompt", PROMPTS, ids=lambda p: p.name)
def test_one_free_text_fills_the_field_the_prompt_invites_or_goes_as_typed(prompt):
    checked = check_user_text(FREE_TEXT, prompt.offered(), 2000)
    template = (prompt.custom or {}).get(typed_answers.FREE_TEXT)
    if template:
        intent, data = checked.payload.split("{", 1)
        assert intent == "/" + template["intent"]
        assert json.loads("{" + data) == {**template["entities"], template["field"]: FREE_TEXT}
    else:
        assert checked.payload == "" and checked.for_route == FREE_TEXT
    assert checked.shown == FREE_TEXT


RATING_BUTTONS = {b["title"]: b["payload"] for p in PROMPTS if p.name == "utter_ask_rating"
                  for b in p.buttons}


@pytest.mark.parametrize(("typed", "level"), [
    ("不满意", "不满意"), ("差评", "不满意"), ("1星", "非常不满意"), ("一星", "非常不满意"),
    ("一般", "基本满意"), ("还行吧", "基本满意"), ("5星", "非常满意"), ("五颗星", "非常满意"),
    ("好评", "满意"), ("很不满意", "非常不满意"), ("第二个", "满意"), ("３星", "基本满意"),
    ("给个差评！", "不满意"), ("ＮＯ", None), ("我想问个别的问题", None)])
def test_close_variants_of_a_rating_level(typed, level):
    assert typed_answers.button_for(typed, {p: t for t, p in RATING_BUTTONS.items()}) == (
        RATING_BUTTONS[level] if level else None)


def test_a_variant_that_fits_two_buttons_selects_neither():
    both = {"/request_human": "转人工", "/ask_person": "人工帮办"}
    assert typed_answers.button_for("人工", both) is None
    assert typed_answers.button_for("转人工", both) == "/request_human"  # exact title wins


def test_a_request_for_a_person_or_a_new_question_is_not_a_reason():
    offered = Prompt("reason", reason_buttons(Rating("不满意")),
                     reason_free_text(Rating("不满意"))).offered()
    for typed in ("转人工", "人工服务", "公积金怎么开户？", "能不能帮我查一下执照"):
        assert check_user_text(typed, offered, 2000).payload == "", typed
    assert "为什么" in (checked := check_user_text("为什么要等这么久", offered, 2000)).shown
    assert checked.payload.startswith("/rate_service")  # a complaint, not a question


def test_a_long_free_text_is_cut_to_what_the_record_keeps():
    payload = typed_answers.free_text_payload(reason_free_text(Rating("不满意"))["free_text"],
                                              "慢" * 900)
    assert len(json.loads(payload[payload.index("{"):])["reason"]) == 500


@pytest.mark.parametrize("template", [{"intent": "Bad Intent", "field": "x"}, {"intent": "a"},
                                      {"intent": "a", "field": "b", "entities": []}, {}])
def test_a_malformed_template_makes_no_payload(template):
    assert typed_answers.free_text_payload(template, "文字") is None


# --- through the gateway (stand-in Rasa) ---------------------------------------------------------

def _prompt_then(client, rasa, prompt: dict, typed: str) -> str:
    """The stand-in Rasa offers ``prompt``; the user types ``typed``: what Rasa receives."""
    rasa.replies = [{k: v for k, v in prompt.items() if k != "custom"}]
    if prompt.get("custom"):
        rasa.replies.append({"custom": prompt["custom"]})  # Rasa sends json_message apart
    assert client.post("/api/chat/messages", json={"text": "我要评价"}).status_code == 200
    rasa.replies = [{"text": "已记录"}]
    assert client.post("/api/chat/messages", json={"text": typed}).status_code == 200
    return rasa.received[-1]["message"]


def test_a_typed_reason_reaches_rasa_as_the_reason_payload_and_the_record_keeps_the_text(
        client, rasa):
    prompt = reason_prompt(Rating("不满意"))
    shown = {"text": prompt["text"], "buttons": prompt["buttons"],
             "custom": prompt["json_message"]}
    sent = _prompt_then(client, rasa, shown, "等待时间太长")
    assert json.loads(sent.removeprefix("/rate_service")) == {"rating": "不满意",
                                                               "reason": "等待时间太长"}
    assert user_turns(client)[-1].text == "等待时间太长"
    sent = _prompt_then(client, rasa, shown, "电话 13812345678 打不通")
    assert json.loads(sent.removeprefix("/rate_service"))["reason"] == "电话 13812345678 打不通"
    # Stored as written, as every message is (views and logs mask the number).
    assert user_turns(client)[-1].text == "电话 13812345678 打不通"


def test_a_typed_rating_level_reaches_rasa_as_its_button(client, rasa):
    rating = next(p for p in PROMPTS if p.name == "utter_ask_rating")
    sent = _prompt_then(client, rasa, {"text": "请评价", "buttons": rating.buttons}, "差评")
    assert sent == RATING_BUTTONS["不满意"]
    assert user_turns(client)[-1].text == "差评"


def test_an_answer_neither_button_nor_understood_is_asked_again_once(client, rasa):
    rating = next(p for p in PROMPTS if p.name == "utter_ask_rating")
    rasa.replies = [{"text": "请评价", "buttons": rating.buttons}, {"custom": rating.custom}]
    client.post("/api/chat/messages", json={"text": "我要评价"})
    not_understood = [{"text": "抱歉，没有理解", "buttons": []},
                      {"custom": {"not_understood": True}}]
    rasa.replies = not_understood
    again = client.post("/api/chat/messages", json={"text": "嗯嗯嗯"}).json()["messages"]
    assert [m["text"] for m in again] == [rating.custom["reask"]]
    assert again[0]["buttons"] == rating.buttons
    # Once: the second miss gets the bot's own reply; a level typed after the re-ask counts.
    second = client.post("/api/chat/messages", json={"text": "啊啊啊"}).json()["messages"]
    assert second[0]["text"] == "抱歉，没有理解"
    rasa.replies = [{"text": "请评价", "buttons": rating.buttons}, {"custom": rating.custom}]
    client.post("/api/chat/messages", json={"text": "我要评价"})
    rasa.replies = not_understood
    client.post("/api/chat/messages", json={"text": "嗯嗯嗯"})
    rasa.replies = [{"text": "感谢"}]
    client.post("/api/chat/messages", json={"text": "满意"})
    assert rasa.received[-1]["message"] == RATING_BUTTONS["满意"]


def test_with_redis_down_the_record_stands_in_for_the_offered_buttons(client, rasa, services,
                                                                      monkeypatch):
    prompt = reason_prompt(Rating("非常不满意"))
    rasa.replies = [{"text": prompt["text"], "buttons": prompt["buttons"]},
                    {"custom": prompt["json_message"]}]
    client.post("/api/chat/messages", json={"text": "非常不满意"})
    conv = conversation_of(client)
    services.redis.delete(offered.offered_key(conv))

    def down(*args, **kwargs):
        import redis
        raise redis.ConnectionError("down")

    monkeypatch.setattr(offered, "load_offered", down)
    rasa.replies = [{"text": "已记录"}]
    client.post("/api/chat/messages", json={"text": "服务态度不好"})
    assert rasa.received[-1]["message"] == prompt["buttons"][3]["payload"]
    rasa.replies = [{"text": prompt["text"], "buttons": prompt["buttons"]},
                    {"custom": prompt["json_message"]}]
    client.post("/api/chat/messages", json={"text": "非常不满意"})
    rasa.replies = [{"text": "已记录"}]
    client.post("/api/chat/messages", json={"text": "材料说了三遍"})
    assert json.loads(rasa.received[-1]["message"].removeprefix("/rate_service"))["reason"] \
        == "材料说了三遍"


def test_with_rasa_down_a_typed_rating_and_its_reason_still_count(client, rasa, services,
                                                                   monkeypatch):
    """The gateway's fallback records the 差评 at once, asks why with the same prompt, and
    the typed reason completes it: every rating counts while Rasa is away."""
    from sqlalchemy import select

    from ratings.cases import BadRatingCase
    from xiaobao.db import session_scope
    from xiaobao.events import Event

    rating = next(p for p in PROMPTS if p.name == "utter_ask_rating")
    rasa.replies = [{"text": "请评价", "buttons": rating.buttons}, {"custom": rating.custom}]
    client.post("/api/chat/messages", json={"text": "我要评价"})
    monkeypatch.setattr(services, "settings",
                        services.settings.model_copy(update={"rasa_url": "http://127.0.0.1:9"}))
    asked = client.post("/api/chat/messages", json={"text": "差评"}).json()["messages"]
    assert "原因" in asked[-1]["text"] and len(asked[-1]["buttons"]) == 4
    thanks = client.post("/api/chat/messages", json={"text": "等了半小时没人理"}).json()
    assert "已记录您的评价（不满意）" in thanks["messages"][-1]["text"]
    conv = conversation_of(client)
    with session_scope(services.engine) as s:
        kinds = [(e.kind, e.data.get("rating"), e.data.get("reason")) for e in s.scalars(
            select(Event).where(Event.conversation_id == conv,
                                Event.kind.in_(["rating", "rating_reason"])).order_by(Event.pk))]
        reasons = [c.reason for c in s.scalars(select(BadRatingCase).where(
            BadRatingCase.conversation_id == conv))]
    assert kinds == [("rating", "不满意", ""), ("rating_reason", "不满意", "等了半小时没人理")]
    assert reasons == ["等了半小时没人理"]

"""Typing where buttons are offered: a typed answer is as good as a click.

Rasa's NLU reads "等待时间太长" after the 差评 reason prompt as something out of scope, and the
差评 was lost. So before Rasa sees a message, the gateway compares it with the buttons the
bot's last reply offered (:mod:`api.conversation` keeps them):

* a button's title, or a close variant of it ("差评" / "1星" / "一般" for the rating levels,
  "没用" for 没帮助, "第二个" for the second button), selects that button: Rasa gets its
  payload, the record keeps what the user typed;
* where the prompt invites free text (the bot's message carries ``custom.free_text``, e.g. the
  差评 reason), any other text becomes that field of the prompt's payload, as the user wrote it
  (Rasa drops the unknown entity; the action reads it from the payload);
* anything else — a request for a person, which always means what it says, and a new
  question — goes to Rasa as typed; when the bot does not understand it either, the gateway
  says the prompt's own sentence once instead (``custom.reask``, :func:`api.offered.reask`).

Pure functions: no web, no Redis.
"""
from __future__ import annotations

import json
import re
import unicodedata

from bot.replies import FREE_TEXT, NOT_UNDERSTOOD, REASK  # noqa: F401  (custom keys)

MAX_FREE_TEXT_CHARS = 500  # bot.actions.rating.MAX_REASON_CHARS keeps as many

_CN_DIGITS = "一二三四五六七八九"
_STARS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
_CN_NUMBER = {n: _CN_DIGITS[n - 1] for n in range(1, 10)} | {2: "二"}


def _star_variants(n: int) -> set[str]:
    words = {str(n), _CN_NUMBER[n]} | ({"两"} if n == 2 else set())
    return {f"{w}{unit}" for w in words for unit in ("星", "颗星", "分", "星级")}


# Close variants of a button's title, by the title they select (after :func:`normalise`).
ALIASES: dict[str, set[str]] = {
    "非常满意": {"很满意", "十分满意", "特别满意", "超级满意", "非常好", "非常棒", "太棒了",
             "满分"} | _star_variants(5),
    "满意": {"好评", "挺满意", "比较满意", "还不错", "挺好", "不错", "很好"} | _star_variants(4),
    "基本满意": {"一般", "一般般", "还行", "还可以", "凑合", "中评", "马马虎虎", "勉强"}
    | _star_variants(3),
    "不满意": {"差评", "不太满意", "不好", "不怎么样", "较差", "有点差"} | _star_variants(2),
    "非常不满意": {"很不满意", "十分不满意", "特别不满意", "非常差", "很差", "太差",
              "极差", "很烂", "太烂"} | _star_variants(1),
    "有帮助": {"有用", "帮到了", "解决了", "清楚了", "明白了", "有帮到"},
    "没帮助": {"没用", "没有用", "没有帮助", "没帮到", "没有帮到", "没解决", "没有解决", "无用"},
    "转人工": {"人工", "人工帮办", "人工服务", "人工客服", "找人工", "转人工服务"},
    "人工帮办": {"人工", "转人工", "人工服务", "人工客服", "找人工"},
    "12345回电": {"回电", "12345", "预约回电", "电话回访", "12345热线回电", "请12345回电"},
}

# Typed words that ask for a person whatever the prompt (never free text; the fallback's
# 转人工 too): "转人工" anywhere, or a short message that only asks for a person ("人工",
# "我要人工服务"); "人工智能企业怎么备案" is a question.
_WANTS_HUMAN = re.compile(r"转人工|^(我要|我想|请|帮我)?(找|接|转)?人工(帮办|服务|客服|坐席)?"
                          r"[。.!！]?$")

_PREFIX = re.compile(r"^(?:我选择|我选|选择|选|点|就选|就|我要给|我给|给个|给你|给|打)")
_SUFFIX = re.compile(r"(?:吧|啊|呀|呢|哦|了|的|哈|嘛)+$")
_ORDINAL = re.compile(rf"^第([1-9{_CN_DIGITS}])(?:个|项|条|种|项原因)?$")


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, no spaces, punctuation or symbols."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).lower())


def _forms(text: str) -> set[str]:
    """The typed text and what is left of it without a leading 我选 / trailing 吧."""
    base = normalise(text)
    trimmed = _SUFFIX.sub("", _PREFIX.sub("", base))
    return {f for f in (base, trimmed, _SUFFIX.sub("", base)) if f}


def button_for(typed: str, buttons: dict[str, str]) -> str | None:
    """The payload of the one offered button (payload → title) that ``typed`` selects, else
    None. An exact title beats a variant; a variant that fits two buttons selects neither."""
    if not buttons:
        return None
    forms = _forms(typed)
    by_title = {normalise(title): payload for payload, title in buttons.items() if title}
    exact = [by_title[f] for f in forms if f in by_title]
    if exact:
        return exact[0]
    for form in forms:
        ordinal = _ORDINAL.match(form)
        if ordinal:
            digit = ordinal.group(1)
            index = int(digit) if digit.isdigit() else _CN_DIGITS.index(digit) + 1
            payloads = list(buttons)
            return payloads[index - 1] if index <= len(payloads) else None
    chosen = {payload for title, payload in by_title.items()
              for form in forms if form in ALIASES.get(title, ())}
    return chosen.pop() if len(chosen) == 1 else None


def asks_for_a_person(typed: str) -> bool:
    return any(_WANTS_HUMAN.search(form) for form in {typed.strip(), *_forms(typed)})


# A new question, not an answer to the prompt: "公积金怎么开户？" after the 差评 reason prompt
# goes to the bot (and is answered; the 差评 stays recorded). "为什么等这么久" is a complaint.
_QUESTION = re.compile(r"[?？]\s*$|怎么|如何|哪些|哪里|哪个|能否|能不能|可不可以|可以.*吗|是否|"
                       r"(?<!为)什么|多少|吗\s*$")


def is_new_question(typed: str) -> bool:
    return bool(_QUESTION.search(typed))


def free_text_payload(template: dict, typed: str) -> str | None:
    """The prompt's payload with ``typed`` as its free-text field, e.g.
    ``/rate_service{"rating": "不满意", "reason": "等了半小时"}``; None for a template that is
    not one (it comes from Rasa's reply, but is checked like input)."""
    intent, field = template.get("intent"), template.get("field")
    entities = template.get("entities", {})
    if not (isinstance(intent, str) and re.fullmatch(r"[a-z_0-9]+", intent)
            and isinstance(field, str) and field and isinstance(entities, dict)):
        return None
    text = typed.strip()[:MAX_FREE_TEXT_CHARS]
    return f"/{intent}" + json.dumps({**entities, field: text}, ensure_ascii=False)

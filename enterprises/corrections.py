"""What an enterprise says has changed, read from its own words: "从业人数现在是80人",
"我们人数变成80了", "已经不是高新技术企业了", "注册地改成嘉定区了" → ``{field: value}``.

The fields are those of the policy dictionary (``policies/data/fields.yaml``): a field is named
by its label or one of the few everyday words for it below (:data:`SYNONYMS`; the longest name
wins, so 参保人数 is not 从业人数), and its value is read by the field's type — a number with
its unit (人; 万元, 亿元, 元; %), 是 / 不是 / 已经不是, one of its choices (嘉定 is 嘉定区), a date,
an industry code. A field named without a value that fits it is not a correction; a derived
field (企业规模, 成立年限) is computed, never corrected. No model: rules over the dictionary,
so a field an editor adds is recognised by its label.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from policies.facts import FactError, parse_value
from policies.fields import NUMERIC, Dictionary, Field, default_dictionary

# Everyday names of a field besides its label (the label always counts).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "district": ("注册地", "注册区", "注册在", "所在区", "注册地址"),
    "industry": ("所属行业", "行业代码", "行业"),
    "founded_on": ("成立于", "成立时间", "成立的日期", "成立"),
    "employees": ("人数", "员工人数", "员工", "职工人数", "职工", "雇员", "用工人数"),
    "insured_employees": ("社保人数", "缴社保的人数", "缴纳社保的职工", "参保职工"),
    "revenue": ("营业收入", "营收", "收入", "销售额"),
    "total_assets": ("总资产", "资产"),
    "taxable_income": ("应纳税所得额", "所得额"),
    "taxpayer_type": ("纳税人类型", "纳税人"),
    "tax_credit_level": ("纳税信用等级", "纳税信用", "信用等级", "信用级别"),
    "high_tech": ("高新技术企业", "高新企业", "高企"),
    "tech_sme": ("科技型中小企业", "科小"),
    "specialized": ("专精特新",),
    "rd_ratio": ("研发费用占比", "研发投入占比", "研发占比"),
    "layoff_rate": ("裁员率", "裁员比例"),
    "graduates_hired": ("高校毕业生", "毕业生"),
    "veterans_hired": ("退役士兵",),
    "is_individual_business": ("个体户",),
    "serious_dishonesty": ("严重失信", "失信名单", "失信"),
}
# Choices named without their full form.
CHOICE_ALIASES: dict[str, dict[str, str]] = {
    "specialized": {"小巨人": "专精特新“小巨人”企业", "专精特新中小企业": "专精特新中小企业",
                    "创新型": "创新型中小企业"},
    "taxpayer_type": {"小规模": "小规模纳税人", "一般纳税人": "一般纳税人"},
}
_DISTRICT_SHORT = {"浦东": "浦东新区"}
VALUE_ALONE = ("district", "taxpayer_type", "specialized")
_MOVED = re.compile(r"搬|迁|改|变|换|现在|已经")

# Said before or after a yes/no fact's name: no longer so, or so now.
_NEGATIVE = re.compile(r"不是|不再|没有|没|不属于|取消|失效|过期|到期|撤销|移出|移除|退出|非")
_POSITIVE = re.compile(r"是|成为|获得|拿到|认定|评上|通过|属于|列入|入库|有")
_CLAUSES = re.compile(r"[，,；;。！!？?\n]|以及|另外")
_NUMBER = re.compile(r"(\d+(?:\.\d+)?|[零一二两三四五六七八九十百千万]+)\s*(亿|万|千)?"
                     r"\s*(元|人|名|个|%)?")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_CODE = re.compile(r"(?<![A-Z])([A-T]\d{1,4})(?!\d)")
_CN = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


@dataclass(frozen=True)
class _Mention:
    field: str
    start: int
    end: int


def _names(dictionary: Dictionary) -> list[tuple[str, str]]:
    """(name, field) for every field that may be corrected, longest name first."""
    out = []
    for f in dictionary.fields.values():
        if f.derived:
            continue
        label = re.sub(r"（.*?）", "", f.label)
        for name in {label, *SYNONYMS.get(f.name, ())}:
            out.append((name, f.name))
    return sorted(out, key=lambda n: -len(n[0]))


def _mentions(clause: str, names: list[tuple[str, str]]) -> list[_Mention]:
    """The fields named in ``clause``, each span once (the longest name there wins)."""
    taken = [False] * len(clause)
    found = []
    for name, field in names:
        for m in re.finditer(re.escape(name), clause):
            if not any(taken[m.start():m.end()]):
                taken[m.start():m.end()] = [True] * len(name)
                found.append(_Mention(field, m.start(), m.end()))
    return sorted(found, key=lambda m: m.start)


def _chinese_number(text: str) -> float | None:
    """"八十" 80, "一百二十" 120, "两千" 2000, "三万" 30000; None when it is none."""
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _CN:
            digit = _CN[ch]
        elif ch in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        elif ch == "万":
            total += (section + (digit or 0)) * 10_000
            section, digit = 0, None
        else:
            return None
    value = total + section + (digit or 0)
    return float(value) if text and value or text == "零" else None


def _number(f: Field, window: str) -> float | None:
    """The first number in ``window`` in the field's unit: 1.2万人 is 12000 人, 5000000元 is
    500 万元, 1.2亿 is 12000 万元."""
    for m in _NUMBER.finditer(window):
        digits, scale, unit = m.groups()
        value = float(digits) if digits[0].isdigit() else _chinese_number(digits)
        if value is None:
            continue
        factor = {"亿": 1e8, "万": 1e4, "千": 1e3, None: 1.0}[scale]
        if f.unit == "万元":
            # a bare number is in the field's unit (万元); 元 alone means yuan
            value = value * factor / 1e4 if (scale or unit == "元") else value
        else:
            value *= factor
        return value
    return None


def _boolean(window: str) -> bool | None:
    if _NEGATIVE.search(window):
        return False
    if _POSITIVE.search(window):
        return True
    return None


def _choice(f: Field, window: str) -> str | None:
    aliases = dict(CHOICE_ALIASES.get(f.name, {}))
    if f.name == "district":
        aliases |= {c[:-1]: c for c in f.choices if c.endswith("区") and len(c) > 2}
        aliases |= _DISTRICT_SHORT
    if f.name == "tax_credit_level":
        letter = re.search(r"(?<![A-Za-z])([ABMCD])(?:级|类)?(?![A-Za-z])", window.upper())
        return letter.group(1) if letter else None
    for choice in sorted(f.choices, key=len, reverse=True):
        if choice in window:
            return choice
    for alias in sorted(aliases, key=len, reverse=True):
        if alias in window:
            return aliases[alias]
    return None


def _value(f: Field, after: str, around: str) -> Any:
    """``f``'s value said in ``after`` (the words after its name) or, for yes/no,
    ``around`` (before too: 已经不是高新技术企业); None when none fits."""
    raw: Any
    if f.type == "boolean":
        raw = _boolean(around)
    elif f.type in NUMERIC:
        raw = _number(f, after)
        if raw is not None and f.type == "integer" and raw.is_integer():
            raw = int(raw)
    elif f.type == "date":
        m = _DATE.search(after)
        raw = "-".join(m.groups()) if m else None
    elif f.type == "code":
        m = _CODE.search(after.upper())
        raw = m.group(1) if m else None
    elif f.choices:
        raw = _choice(f, around)
    else:
        raw = after.strip() or None
    if raw is None:
        return None
    try:
        return parse_value(f, raw)
    except (FactError, ValueError):
        return None


def _choice_alone(clause: str, dictionary: Dictionary) -> dict[str, Any]:
    """A choice that names its field by itself: "评上小巨人了", "我们现在是小规模纳税人",
    and a district with a word of change ("我们搬到嘉定区了"; "嘉定区有什么政策" is none)."""
    out = {}
    for name in VALUE_ALONE:
        if name not in dictionary:
            continue
        value = _choice(dictionary[name], clause)
        if value is not None and (name != "district" or _MOVED.search(clause)):
            out[name] = value
    return out


def parse_corrections(text: str, dictionary: Dictionary | None = None) -> dict[str, Any]:
    """The facts ``text`` states, typed by the dictionary: {} when it names no field with a
    value that fits. A district named alone ("我们搬到嘉定区了") is the district."""
    dictionary = dictionary or default_dictionary()
    names = _names(dictionary)
    out: dict[str, Any] = {}
    normal = unicodedata.normalize("NFKC", text).replace("％", "%")
    for clause in _CLAUSES.split(normal):
        mentions = _mentions(clause, names)
        for i, m in enumerate(mentions):
            f = dictionary[m.field]
            before = mentions[i - 1].end if i else 0
            stop = mentions[i + 1].start if i + 1 < len(mentions) else len(clause)
            after, prior = clause[m.end:stop], clause[before:m.start]
            # the value after the name ("人数变成80了"), else before it ("有80名员工")
            # a choice may hold the name itself: 一般纳税人 names 纳税人
            value = _value(f, after, clause if f.choices else prior + after)
            if value is None and f.type != "boolean":
                value = _value(f, prior, prior)
            if value is not None and m.field not in out:
                out[m.field] = value
        if not mentions:
            out |= {n: v for n, v in _choice_alone(clause, dictionary).items() if n not in out}
    return out

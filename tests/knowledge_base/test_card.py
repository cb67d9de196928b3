"""The answer card says validity and source only as the knowledge base knows them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from knowledge_base.card import DEFAULT_SOURCE, answer_card, validity_text


@dataclass
class Entry:
    answer: str = "  登录一网通办办理。 "
    source: str = "宝山区政务服务中心办事指南"
    source_url: str = ""
    department: str = "区市场监管局"
    effective_from: dt.date | None = None
    expires_on: dt.date | None = None


@pytest.mark.parametrize("start,end,said", [
    (dt.date(2026, 1, 1), dt.date(2026, 12, 31), "2026-01-01 至 2026-12-31"),
    (dt.date(2026, 1, 1), None, "2026-01-01 起施行（未注明截止日期"),
    (None, dt.date(2026, 12, 31), "有效至 2026-12-31"),
    (None, None, "未注明"),
])
def test_validity_is_never_invented(start, end, said):
    text = validity_text(start, end)
    assert said in text
    assert "长期有效" not in text


def test_card_lines():
    card = answer_card(Entry(source_url="https://zwdt.sh.gov.cn/x"))
    lines = card.split("\n")
    assert lines[0] == "登录一网通办办理。" and lines[1] == ""
    assert lines[2] == "来源：宝山区政务服务中心办事指南（区市场监管局）"
    assert lines[3] == "链接：https://zwdt.sh.gov.cn/x"
    assert lines[4].startswith("有效期：未注明")


def test_source_defaults_and_department_not_repeated():
    assert f"来源：{DEFAULT_SOURCE}" in answer_card(Entry(source="", department=""))
    card = answer_card(Entry(source="区市场监管局办事指南", department="区市场监管局"))
    assert "来源：区市场监管局办事指南\n" in card

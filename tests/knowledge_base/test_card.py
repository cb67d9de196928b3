"""The answer card says validity, review and source only as the knowledge base knows them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from knowledge_base.card import (
    DEFAULT_SOURCE,
    UNREVIEWED_TEXT,
    answer_card,
    is_home_page,
    link_line,
    review_state,
    validity_text,
)


@dataclass
class Entry:
    answer: str = "  登录一网通办办理。 "
    source: str = "《市场主体登记管理条例》"
    source_url: str = ""
    department: str = "区市场监管局"
    effective_from: dt.date | None = None
    expires_on: dt.date | None = None
    long_term: bool = False
    reviewed_on: dt.date | None = None


@pytest.mark.parametrize("start,end,long_term,said", [
    (dt.date(2022, 11, 1), None, False, "自2022-11-01起施行"),
    (None, dt.date(2027, 12, 31), False, "有效期至2027-12-31"),
    (dt.date(2022, 11, 1), dt.date(2027, 12, 31), False, "自2022-11-01起施行，有效期至2027-12-31"),
    (dt.date(2022, 11, 1), None, True, "自2022-11-01起施行，长期有效"),
    (None, None, True, "长期有效"),
    (None, None, False, ""),
])
def test_validity_says_only_what_the_entry_says(start, end, long_term, said):
    assert validity_text(start, end, long_term) == said


def test_long_term_is_never_claimed_without_the_flag():
    for start in (None, dt.date(2022, 11, 1)):
        card = answer_card(Entry(effective_from=start))
        assert "长期有效" not in card


def test_card_lines_for_a_reviewed_entry_with_a_deep_link():
    card = answer_card(Entry(source_url="https://zwdt.sh.gov.cn/govPortals/item/123",
                             effective_from=dt.date(2022, 3, 1),
                             reviewed_on=dt.date(2026, 11, 30)))
    assert card.split("\n") == [
        "登录一网通办办理。", "",
        "来源：《市场主体登记管理条例》（区市场监管局）",
        "链接：https://zwdt.sh.gov.cn/govPortals/item/123",
        "有效期：自2022-03-01起施行",
        "最近核对：2026-11-30",
    ]


def test_unreviewed_entry_says_to_follow_the_latest_documents():
    card = answer_card(Entry())
    assert card.split("\n")[-1] == UNREVIEWED_TEXT == "以最新文件和窗口受理意见为准"
    assert "有效期" not in card  # nothing known, nothing said


def test_a_home_page_is_shown_as_the_place_to_apply_not_as_the_source():
    assert is_home_page("https://zwdt.sh.gov.cn/") and is_home_page("https://www.shgjj.com")
    assert not is_home_page("https://zwdt.sh.gov.cn/item?id=1")
    assert not is_home_page("https://www.gov.cn/zhengce/content/2024-07/01/c.htm")
    assert not is_home_page("")
    assert link_line("https://zwdt.sh.gov.cn/") == "办理入口：上海“一网通办”（https://zwdt.sh.gov.cn/）"
    assert link_line("https://unknown.example.cn/") == \
        "办理入口：unknown.example.cn（https://unknown.example.cn/）"
    card = answer_card(Entry(source_url="https://zwdt.sh.gov.cn/"))
    assert "链接：" not in card and "办理入口：上海“一网通办”" in card


def test_source_defaults_and_department_not_repeated():
    assert DEFAULT_SOURCE == "本中心整理"
    assert f"来源：{DEFAULT_SOURCE}" in answer_card(Entry(source="", department=""))
    card = answer_card(Entry(source="区市场监管局办事指南", department="区市场监管局"))
    assert "来源：区市场监管局办事指南\n" in card


def test_review_state():
    today = dt.date(2026, 12, 1)
    assert review_state(None, 180, today) == "unreviewed"
    assert review_state(today - dt.timedelta(days=180), 180, today) == "current"
    assert review_state(today - dt.timedelta(days=181), 180, today) == "stale"

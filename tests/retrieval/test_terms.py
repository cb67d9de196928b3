"""The colloquial → official term map: parsing, word-boundary matching, and what it changes."""
from __future__ import annotations

import pytest

from retrieval.terms import DEFAULT_PATH, TermMap, TermMapError


def test_shipped_map_is_valid_and_large_enough():
    terms = TermMap.load(DEFAULT_PATH)
    assert len(terms) >= 300
    assert terms.official_terms("我想开个小饭馆，要办什么证") == ["餐饮", "餐饮服务"]
    assert "营业执照" in terms.official_terms("营业直照丢了怎么补")  # a 拼音 typo
    assert "法定代表人" in terms.official_terms("公司老板换人了")


def test_keys_match_on_word_boundaries_only():
    terms = TermMap.parse("开公司\t设立\n社保\t社会保险\n")
    assert terms.official_terms("我想开公司") == ["设立"]
    assert terms.official_terms("离开公司以后社保怎么办") == ["社会保险"]


def test_longest_key_wins_and_traditional_and_case_are_folded():
    terms = TermMap.parse("执照\t营业执照\n营业执照丢了\t遗失补领\nuscc\t统一社会信用代码\n")
    assert terms.official_terms("營業執照丟了") == ["遗失补领"]
    assert terms.official_terms("USCC在哪看") == ["统一社会信用代码"]


def test_rewrite_adds_and_never_replaces():
    terms = TermMap.parse("饭馆\t餐饮\n")
    assert terms.rewrite("开饭馆") == "开饭馆 餐饮"
    assert terms.rewrite("天气") == "天气"


@pytest.mark.parametrize("text, reason", [
    ("饭馆餐饮\n", "line 1"),  # no tab
    ("饭馆\t\n", "line 1"),  # nothing to map to
    ("饭馆\t饭馆\n", "itself"),
    ("饭馆\t餐饮\n饭馆\t住宿\n", "redefines"),
])
def test_bad_lines_are_named(text, reason):
    with pytest.raises(TermMapError) as exc:
        TermMap.parse(text)
    assert reason in str(exc.value)


def test_missing_file_is_an_empty_map(tmp_path):
    terms = TermMap.load(tmp_path / "none.tsv")
    assert len(terms) == 0 and terms.official_terms("饭馆") == []

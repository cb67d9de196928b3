"""Quality gates on held-out entries: one fold of `make bench`'s group 5-fold, both forms of the
seed (with its similar questions, and without them, as a centre's own FAQ list looks).

Nothing measured here was fitted on: the fold's entries and their queries are kept from the
fusion weights, the decision and the encoder's adaptation (the fold's adapted encoder is the one
`xiaobao model adapt` trained for its own held-out check, cached). The targets (README, "Answer
quality") are the bench's; the gates leave a margin for one fold's ~80 queries.
"""
from __future__ import annotations

from collections import Counter

import pytest

from retrieval.adapt import read_record
from retrieval.evaluate import load_examples
from tests.bench.bench_retrieval import EVAL_FILES, FROZEN_FILES, SEED_FILES, heldout
from xiaobao.settings import get_settings


@pytest.fixture(scope="module")
def fold0():
    record = read_record(get_settings().adapted_models_dir) or {}
    report = heldout([0], adapt=bool(record.get("use")))
    for form in ("seed", "bare"):
        print(f"\nheld-out fold 0, {form}:", report[form]["folds"][0])
    return report


def test_seed_knowledge_base_is_complete():
    from knowledge_base.io import parse_entries

    entries = [e for f in SEED_FILES for e in parse_entries(f)]
    assert len({e.id for e in entries}) == len(entries) >= 150
    assert all(e.status == "published" for e in entries)
    assert all(len(e.similar_questions) >= 2 and e.department and e.source for e in entries)
    assert len(Counter(e.category for e in entries)) >= 12


def test_evaluation_set_is_large_and_has_every_style():
    examples = load_examples(EVAL_FILES)
    kinds = Counter(e.kind for e in examples)
    assert kinds["in_scope"] >= 500 and kinds["out_of_scope"] >= 40
    assert kinds["near_domain"] >= 100
    frozen = load_examples(FROZEN_FILES)
    assert all(e.frozen for e in frozen)
    styles = Counter(e.style for e in frozen)
    for style in ("short", "rambling", "typo", "traditional", "abbreviation"):
        assert styles[style] >= 40, style
    assert styles["enterprise"] == 60
    assert all(3 <= len(e.query) <= 6 for e in frozen if e.style == "short")


@pytest.mark.parametrize("form", ["seed", "bare"])
def test_answers_given_are_right(fold0, form):
    assert fold0[form]["folds"][0]["answer_precision"] >= 0.90  # target 0.95


@pytest.mark.parametrize("form", ["seed", "bare"])
def test_in_scope_questions_are_answered_or_offered_the_right_entry(fold0, form):
    assert fold0[form]["folds"][0]["in_scope_served"] >= 0.80  # target 0.85


@pytest.mark.parametrize(("form", "floor"), [("seed", 0.40), ("bare", 0.30)])
def test_in_scope_questions_are_answered_in_the_first_reply(fold0, form, floor):
    """The first reply is the right entry's card (with 相关问题 or without). Measured on fold 0
    (2026-12-08): seed 0.53, bare 0.41, up from 0.32 / 0.24 on the five folds before the
    ``missing`` feature and the alternatives band; the issue's targets (0.75 / 0.55) are not
    reached yet — the floor holds what was gained."""
    assert fold0[form]["folds"][0]["in_scope_answered_right"] >= floor


@pytest.mark.parametrize("form", ["seed", "bare"])
def test_a_wrong_entry_is_rarely_the_first_reply(fold0, form):
    assert fold0[form]["folds"][0]["in_scope_answered_wrong"] <= 0.05  # target 0.03


@pytest.mark.parametrize("form", ["seed", "bare"])
def test_the_bot_rarely_abstains_when_it_ranked_the_right_entry_first(fold0, form):
    assert fold0[form]["folds"][0]["abstained_right_first"] <= 0.12  # target 0.08


@pytest.mark.parametrize("form", ["seed", "bare"])
def test_uncovered_questions_are_not_answered(fold0, form):
    figures = fold0[form]["folds"][0]
    assert figures["out_of_scope_answered"] == 0
    assert figures["near_domain_answered"] <= 0.15  # target 0.05 (one fold: ~20 such queries)


@pytest.mark.parametrize("query", ["宠物犬登记在哪里办", "养狗要办什么证", "明天宝山天气怎么样",
                                   "给我讲个笑话"])
def test_uncovered_questions_get_no_answer_from_the_shipped_decision(seeded_retriever, query):
    assert seeded_retriever.search(query).decision != "answer"


def test_a_small_restaurant_finds_the_catering_licence(seeded_retriever):
    """The issue's example: 饭馆 is not 餐饮 to BM25 without the term map."""
    result = seeded_retriever.search("我想开个小饭馆，要办什么证")
    assert result.decision in ("answer", "suggest")
    assert "kb-licence-001" in [h.id for h in result.hits[:3]]

from collections import Counter

import pytest

from retrieval.folds import assign_folds, query_fold


def _entries(n_per_category=7, categories=("a", "b", "c")):
    return [(f"{c}-{i}", c) for c in categories for i in range(n_per_category)]


def test_every_entry_gets_one_fold_and_folds_are_balanced_per_category():
    entries = _entries()
    folds = assign_folds(entries, k=5)
    assert set(folds) == {i for i, _ in entries}
    for category in "abc":
        sizes = Counter(f for i, f in folds.items() if i.startswith(category))
        assert max(sizes.values()) - min(sizes.values()) <= 1
    total = Counter(folds.values())
    assert max(total.values()) - min(total.values()) <= 1


def test_adding_an_entry_moves_no_other_entry_of_another_category():
    entries = _entries()
    before = assign_folds(entries)
    after = assign_folds(entries + [("zz-new", "zz")])  # a category sorted last
    assert all(after[i] == f for i, f in before.items())


def test_query_follows_its_entry_and_unanswerable_queries_spread():
    folds = assign_folds(_entries())
    assert query_fold("随便问", "a-3", folds) == folds["a-3"]
    spread = Counter(query_fold(f"问题{i}", None, folds) for i in range(200))
    assert set(spread) == set(range(5)) and min(spread.values()) > 20
    assert query_fold("同一个问题", None, folds) == query_fold("同一个问题", None, folds)


def test_k_must_be_at_least_two():
    with pytest.raises(ValueError):
        assign_folds(_entries(), k=1)

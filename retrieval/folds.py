"""Group k-fold over entries: the split that keeps every fitting step away from the entries
it is measured on.

Every entry stays in the index in every fold (it is an answer), but the weights, the
decision, the encoder's adaptation and anything else fitted in fold *f* see neither the
entries of fold *f* nor the queries that expect them. Entries are dealt to folds within
their category (so each fold holds every kind of question) in an order fixed by a hash of
their id: adding an entry moves no other entry to another fold.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

K = 5


def _order(key: str, seed: int) -> str:
    return hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).hexdigest()


def assign_folds(entries: Iterable[tuple[str, str]], k: int = K, seed: int = 0) -> dict[str, int]:
    """``{entry id: fold}`` for ``(id, category)`` pairs; folds differ in size by at most one
    within a category."""
    if k < 2:
        raise ValueError("k must be at least 2")
    by_category: dict[str, list[str]] = defaultdict(list)
    for entry_id, category in entries:
        by_category[category].append(entry_id)
    folds: dict[str, int] = {}
    start = 0
    for category in sorted(by_category):
        ids = sorted(by_category[category], key=lambda i: _order(i, seed))
        for n, entry_id in enumerate(ids):
            folds[entry_id] = (start + n) % k
        start = (start + len(ids)) % k  # the next category starts where this one ended
    return folds


def query_fold(query: str, expected: str | None, entry_folds: dict[str, int], k: int = K,
               seed: int = 0) -> int:
    """A query's fold: its expected entry's, or for a question the knowledge base does not
    cover, one fixed by a hash of its text."""
    if expected is not None and expected in entry_folds:
        return entry_folds[expected]
    return int(_order(query, seed), 16) % k

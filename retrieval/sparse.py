"""Sparse index: BM25 (bm25s) over jieba tokens, for exact terms such as 12345 or 数电发票.

Rebuilt whole on every change: it takes milliseconds for thousands of entries.
"""
from __future__ import annotations

import bm25s
import numpy as np


class SparseIndex:
    def __init__(self, k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.ids: list[str] = []
        self._bm25: bm25s.BM25 | None = None

    def build(self, docs: dict[str, list[str]]) -> None:
        self.ids = list(docs)
        if not self.ids:
            self._bm25 = None
            return
        bm25 = bm25s.BM25(k1=self.k1, b=self.b)
        # bm25s cannot index an empty document: give it a token no query contains.
        bm25.index([docs[i] or ["\x00"] for i in self.ids], show_progress=False)
        self._bm25 = bm25

    def scores(self, tokens: list[str]) -> dict[str, float]:
        """Raw BM25 of every entry with a non-zero score."""
        if self._bm25 is None or not tokens:
            return {}
        vocab = self._bm25.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return {}
        raw = np.asarray(self._bm25.get_scores(known))
        nz = np.nonzero(raw > 0)[0]
        return {self.ids[i]: float(raw[i]) for i in nz}

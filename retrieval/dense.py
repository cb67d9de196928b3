"""Dense index: FAISS inner product over L2-normalised embeddings (= cosine).

Each entry owns a block of vector ids: its question and similar questions
(``key * 64 + i``) and one passage vector of the whole entry (``key * 64 + 63``),
so one entry can be replaced or removed without touching the rest of the index.
FAISS proposes candidate entries; :meth:`DenseIndex.vectors` gives their stored
vectors back for exact scoring.

>>> idx = DenseIndex(dim=384)
>>> idx.upsert(key, question_vectors, passage_vector)
>>> idx.search(query_vectors, k=10)   # [{key: best cosine}, ...]
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import faiss
import numpy as np

VARIANTS = 64  # vector ids reserved per entry: key * 64 + i
PASSAGE = VARIANTS - 1  # the slot of the entry's passage vector


def entry_key(entry_id: str) -> int:
    """A stable 56-bit integer for an entry id (FAISS ids are int64)."""
    return int.from_bytes(hashlib.blake2b(entry_id.encode(), digest_size=7).digest(), "big")


class DenseIndex:
    """Exact search (``IndexFlatIP``) by default; ``ivf`` for large bases (see `make bench`)."""

    def __init__(self, dim: int, kind: str = "flat", nlist: int = 1024, nprobe: int = 32):
        if dim <= 0:
            raise ValueError("dim must be positive")
        if kind not in ("flat", "ivf"):
            raise ValueError("kind must be 'flat' or 'ivf'")
        self.dim, self.kind = dim, kind
        self.index: faiss.Index
        if kind == "flat":
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        else:
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            ivf.nprobe = nprobe
            # A hash map from id to list position: lets `vectors` reconstruct and `remove`
            # delete by id without scanning every list. (faiss's stubs omit DirectMap.)
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
            self.index = ivf
        self._quantizer = None if kind == "flat" else quantizer

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def train(self, sample: np.ndarray) -> None:
        """IVF only: learn the coarse clusters from a sample of vectors."""
        if self.kind == "ivf" and not self.index.is_trained:
            self.index.train(np.ascontiguousarray(sample, dtype=np.float32))

    def remove(self, key: int) -> None:
        # An explicit id array: the IVF direct map accepts no other selector.
        ids = np.arange(key * VARIANTS, (key + 1) * VARIANTS, dtype=np.int64)
        self.index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)))

    @staticmethod
    def _ids(key: int, n_questions: int, with_passage: bool) -> np.ndarray:
        ids = list(range(key * VARIANTS, key * VARIANTS + n_questions))
        if with_passage:
            ids.append(key * VARIANTS + PASSAGE)
        return np.array(ids, dtype=np.int64)

    def upsert(self, key: int, questions: np.ndarray, passage: np.ndarray | None = None) -> None:
        self.remove(key)
        self.add_many([key], [questions], None if passage is None else [passage])

    def add_many(self, keys: list[int], questions: list[np.ndarray],
                 passages: list[np.ndarray] | None = None) -> None:
        """Add entries' vectors (no removal first: for a fresh index or after ``remove``)."""
        if not keys:
            return
        questions = [q[:PASSAGE] for q in questions]
        ids = np.concatenate([self._ids(k, len(q), passages is not None)
                              for k, q in zip(keys, questions)])
        blocks = [np.vstack([q, p[None, :]]) for q, p in zip(questions, passages)] \
            if passages is not None else questions
        self.index.add_with_ids(np.ascontiguousarray(np.vstack(blocks), dtype=np.float32), ids)

    def vectors(self, key: int, n_questions: int) -> tuple[np.ndarray, np.ndarray]:
        """The stored question vectors and passage vector of one entry."""
        ids = self._ids(key, min(n_questions, PASSAGE), True)
        stored = self.index.reconstruct_batch(ids)
        return stored[:-1], stored[-1]

    def search(self, queries: np.ndarray, k: int = 10) -> list[dict[int, float]]:
        """For each query, the best cosine of each of the top entries."""
        if self.ntotal == 0:
            return [{} for _ in range(len(queries))]
        n = min(self.ntotal, max(k * 8, 64))
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), n)
        out = []
        for row_scores, row_ids in zip(scores, ids):
            best: dict[int, float] = {}
            for s, i in zip(row_scores, row_ids):
                if i < 0:
                    continue
                key = int(i) // VARIANTS
                if key not in best:  # results come best first
                    best[key] = float(s)
                    if len(best) >= k:
                        break
            out.append(best)
        return out

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        faiss.write_index(self.index, str(tmp))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        # read_index returns the concrete class; keep that object (a downcast copy of it
        # would not own the C++ index and reads freed memory once the original is gone).
        index = faiss.read_index(str(path))
        obj = cls.__new__(cls)
        obj.dim, obj.index, obj._quantizer = index.d, index, None
        obj.kind = "ivf" if isinstance(index, faiss.IndexIVF) else "flat"
        return obj

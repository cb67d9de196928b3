"""The retriever: knowledge base → (dense + BM25) → fusion → decision, wired in one place.

One instance lives in the gateway process (the bot's actions call it there).
It loads its saved index at start-up when the fingerprint matches the database
and rebuilds otherwise; an editor's change is applied to the one entry
(:meth:`Retriever.refresh`) without re-embedding the rest.

>>> r = get_retriever()
>>> r.search("开公司要去哪领证").decision
'answer'
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, select

from knowledge_base.models import Entry
from knowledge_base.store import entry_data, fingerprint, is_answerable
from retrieval.decision import FEATURES, DecisionConfig
from retrieval.dense import DenseIndex, entry_key
from retrieval.fusion import Candidate, DenseScore, fuse
from retrieval.indexed import IndexedEntry, hit_of
from retrieval.queries import validate_queries, validate_query
from retrieval.sparse import SparseIndex
from retrieval.terms import DEFAULT_PATH as TERM_MAP_PATH
from retrieval.terms import TermMap, TermMapError, file_state, found_in
from retrieval.tokenize import dictionary_fingerprint, search_tokens, words
from retrieval.types import Decision, Hit, QueryError, SearchResult
from xiaobao.db import session_scope

log = logging.getLogger(__name__)
CANDIDATES = 20  # entries each side proposes before fusion
INDEX_FORMAT = 3  # bump when what is embedded changes (3: passages without similar questions)


class Retriever:
    def __init__(self, engine: Engine, embedder, index_dir: Path | None = None,
                 config: DecisionConfig | None = None, max_chars: int = 2000,
                 approximate_above: int = 300_000, term_map_path: Path | None = TERM_MAP_PATH):
        self.engine = engine
        self.embedder = embedder
        self.index_dir = index_dir
        self.config = config or DecisionConfig.load()
        self.max_chars = max_chars
        self.approximate_above = approximate_above
        self._lock = threading.RLock()
        self._entries: dict[str, IndexedEntry] = {}
        self._by_key: dict[int, str] = {}
        self._versions: dict[str, int] = {}  # the version of each entry the index holds
        self.dense = DenseIndex(embedder.dim)
        self.sparse = SparseIndex()
        self._idf: dict[str, float] = {}
        self._fingerprint = ""
        self.term_map_path = term_map_path
        self.terms = TermMap.load(term_map_path) if term_map_path else TermMap()
        self._terms_state = file_state(term_map_path) if term_map_path else (-1, -1)
        self._terms_checked = 0.0

    # --- building and keeping current -------------------------------------
    def _published(self) -> dict[str, IndexedEntry]:
        with session_scope(self.engine) as s:
            rows = s.scalars(select(Entry).where(Entry.status == "published")).all()
            self._versions = {e.id: e.version for e in rows}
            return {e.id: IndexedEntry.of(entry_data(e)) for e in rows}

    def stale(self) -> list[str]:
        """Entries whose published version is not the one indexed (new, edited, withdrawn)."""
        with session_scope(self.engine) as s:
            now = dict(s.execute(select(Entry.id, Entry.version)
                                 .where(Entry.status == "published")).all())
        with self._lock:
            return sorted({i for i, v in now.items() if self._versions.get(i) != v}
                          | (self._versions.keys() - now.keys()))

    def catch_up(self) -> int:
        """Refresh what changed while no announcement reached this process; how many."""
        ids = self.stale()
        if ids:
            self.refresh(ids)
        return len(ids)

    def _current_fingerprint(self) -> str:
        with session_scope(self.engine) as s:
            kb = fingerprint(s)
        model = Path(getattr(self.embedder, "model_dir", "model")).name
        return f"{INDEX_FORMAT}:{model}:{dictionary_fingerprint()[:16]}:{kb}"

    def _rebuild_sparse(self) -> None:
        self.sparse.build({i: e.bm25_tokens() for i, e in self._entries.items()})
        df: dict[str, int] = {}
        for e in self._entries.values():
            for w in e.word_set:
                df[w] = df.get(w, 0) + 1
        n = len(self._entries)
        self._idf = {w: math.log((n + 1) / (c + 1)) + 1 for w, c in df.items()}
        self._idf_unknown = math.log(n + 1) + 1

    def build(self) -> None:
        """Embed every published entry (a fresh index)."""
        with self._lock:
            entries = self._published()
            items = list(entries.values())
            questions, passages = self._embed(items)
            n_vectors = sum(len(q) + 1 for q in questions)
            if n_vectors > self.approximate_above:
                # See `make bench`: exact search stays under ~15 ms up to about 100,000 vectors
                # on 2 cores and grows linearly; IVF answers in ~1 ms at a small recall cost.
                dense = DenseIndex(self.embedder.dim, kind="ivf",
                                   nlist=int(4 * np.sqrt(n_vectors)), nprobe=32)
                dense.train(np.vstack(questions + [np.vstack(passages)]))
            else:
                dense = DenseIndex(self.embedder.dim)
            dense.add_many([entry_key(e.data.id) for e in items], questions, passages)
            self.dense, self._entries = dense, entries
            self._by_key = {entry_key(i): i for i in entries}
            self._rebuild_sparse()
            self._fingerprint = self._current_fingerprint()
            self.save()

    def _embed(self, items: list[IndexedEntry]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if not items:
            return [], []
        texts = [t for e in items for t in e.embed_texts()]
        qv = self.embedder.encode_queries(texts)
        pv = self.embedder.encode_passages([e.passage_text() for e in items])
        questions, pos = [], 0
        for e in items:
            n = len(e.embed_texts())
            questions.append(qv[pos:pos + n])
            pos += n
        return questions, list(pv)

    def load_or_build(self) -> str:
        """Load the saved index when it matches the database ("loaded"), or when only entries
        changed since it was saved, embedding just those ("caught up": a gateway restarted
        after edits must not embed the whole base again, minutes on a busy machine); rebuild
        otherwise ("built": another model, format or dictionary)."""
        current = self._current_fingerprint()
        meta_path = self.index_dir / "meta.json" if self.index_dir else None
        meta = json.loads(meta_path.read_text("utf-8")) if meta_path and meta_path.exists() else {}
        saved, kind = meta.get("versions"), str(meta.get("fingerprint", "")).rsplit(":", 1)[0]
        if meta_path and (meta.get("fingerprint") == current
                          or (saved is not None and kind == current.rsplit(":", 1)[0])):
            with self._lock:
                self.dense = DenseIndex.load(meta_path.with_name("dense.faiss"))
                entries, now = self._published(), self._versions
                if saved is not None:  # what the saved vectors are of
                    self._versions = {i: int(v) for i, v in saved.items()}
                self._entries = {i: e for i, e in entries.items()
                                 if self._versions.get(i) == now[i]}
                self._by_key = {entry_key(i): i for i in self._entries}
                self._rebuild_sparse()
                self._fingerprint = current
            return "caught up" if self.catch_up() else "loaded"
        self.build()
        return "built"

    def save(self) -> None:
        if not self.index_dir:
            return
        self.dense.save(self.index_dir / "dense.faiss")
        tmp = self.index_dir / "meta.json.tmp"
        tmp.write_text(json.dumps({"fingerprint": self._fingerprint, "entries": len(self._entries),
                                   "vectors": self.dense.ntotal, "versions": self._versions}),
                       "utf-8")
        tmp.replace(self.index_dir / "meta.json")

    def refresh(self, entry_ids: list[str]) -> None:
        """Bring the given entries up to date (published → indexed, otherwise removed)."""
        with session_scope(self.engine) as s:
            found = s.scalars(select(Entry).where(Entry.id.in_(entry_ids)))
            rows = {e.id: (entry_data(e), e.version) for e in found}
        changed = {i: IndexedEntry.of(d) for i, (d, _v) in rows.items() if d.status == "published"}
        # Embed outside the lock: searches go on meanwhile.
        questions, passages = self._embed(list(changed.values()))
        vectors = dict(zip(changed, zip(questions, passages)))
        with self._lock:
            for entry_id in entry_ids:
                key = entry_key(entry_id)
                if entry_id in changed:
                    self.dense.upsert(key, *vectors[entry_id])
                    self._entries[entry_id] = changed[entry_id]
                    self._by_key[key] = entry_id
                    self._versions[entry_id] = rows[entry_id][1]
                elif entry_id in self._entries or entry_id in self._versions:
                    self.dense.remove(key)
                    self._entries.pop(entry_id, None)
                    self._by_key.pop(key, None)
                    self._versions.pop(entry_id, None)
            self._rebuild_sparse()
            self._fingerprint = self._current_fingerprint()
            self.save()

    # --- searching --------------------------------------------------------
    # --- the term map -----------------------------------------------------
    def reload_terms(self) -> bool:
        """Re-read the term map file; a malformed file is logged and the old map kept."""
        if not self.term_map_path:
            return False
        state = file_state(self.term_map_path)
        try:
            terms = TermMap.load(self.term_map_path)
        except TermMapError as exc:
            log.error("term map not reloaded, keeping %d pairs: %s", len(self.terms), exc)
            self._terms_state = state
            return False
        with self._lock:
            self.terms, self._terms_state = terms, state
        log.info("term map reloaded: %d pairs (%s)", len(terms), terms.fingerprint)
        return True

    def _check_terms_file(self) -> None:
        """Reload when the file changed (checked at most once a second)."""
        now = time.monotonic()
        if not self.term_map_path or now - self._terms_checked < 1.0:
            return
        self._terms_checked = now
        if file_state(self.term_map_path) != self._terms_state:
            self.reload_terms()

    def _coverage(self, qwords: list[str], text: str,
                  alternatives: dict[str, tuple[str, ...]] | None = None) -> float:
        """IDF share of the query's words found in ``text``; a word also counts as found when
        one of its official terms is."""
        total = sum(self._idf.get(w, self._idf_unknown) for w in qwords)
        if total == 0:
            return 0.0
        found = sum(self._idf.get(w, self._idf_unknown) for w in qwords
                    if found_in(w, text, alternatives or {}))
        return found / total

    def _missing(self, qwords: list[str], text: str,
                 alternatives: dict[str, tuple[str, ...]]) -> float:
        """The rarest query word not found in ``text``, as a share of the rarest possible:
        one missing key word (药品 against a 食品 entry) where the rest match."""
        return max((self._idf.get(w, self._idf_unknown) for w in qwords
                    if not found_in(w, text, alternatives)),
                   default=0.0) / (self._idf_unknown or 1.0)

    def _alternatives(self, text: str, qwords: list[str]) -> dict[str, tuple[str, ...]]:
        """For each query word, the official terms of the colloquial word it is part of."""
        out: dict[str, tuple[str, ...]] = {}
        for key, terms in self.terms.matches(text):
            for w in qwords:
                if w in key or key in w:
                    out[w] = out.get(w, ()) + terms
        return out

    def features(self, qwords: list[str], qtokens: list[str], ranked: list[Candidate],
                 alternatives: dict[str, tuple[str, ...]] | None = None) -> dict[str, float]:
        """The evidence the decision weighs (see retrieval/decision.py): the top entry's
        question and answer, and its lead in the ranking."""
        if not ranked:
            return dict.fromkeys(FEATURES, 0.0)
        top = ranked[0]
        entry = self._entries[top.id]
        return {
            "question": top.question,
            "passage": top.passage,
            "margin": top.fused - (ranked[1].fused if len(ranked) > 1 else 0.0),
            "coverage": self._coverage(qwords, entry.text_all, alternatives),
            "coverage_q": self._coverage(qwords, entry.text_q, alternatives),
            "missing": self._missing(qwords, entry.text_all, alternatives or {}),
        }

    def _dense_scores(self, qvec: np.ndarray, entry_ids) -> dict[str, DenseScore]:
        """Exact scores of the candidate entries from their stored vectors."""
        out = {}
        for entry_id in entry_ids:
            n = len(self._entries[entry_id].embed_texts())
            questions, passage = self.dense.vectors(entry_key(entry_id), n)
            raw = questions @ qvec  # the entry's own question first
            sims = np.sort(raw)[::-1]
            out[entry_id] = DenseScore(float(sims[0]), float(sims[:2].mean()),
                                       float(passage @ qvec), float(raw[0]))
        return out

    def candidates(self, text: str, qvec: np.ndarray, qtokens: list[str] | None = None
                   ) -> tuple[dict[str, DenseScore], dict[str, float]]:
        """Dense and BM25 scores of the entries either side proposes."""
        if qtokens is None:
            qtokens = search_tokens(text)
        with self._lock:
            dense_hits = self.dense.search(qvec[None, :], CANDIDATES)[0]
            sparse_all = self.sparse.scores(qtokens)
            sparse = dict(sorted(sparse_all.items(), key=lambda kv: -kv[1])[:CANDIDATES])
            ids = {self._by_key[k] for k in dense_hits if k in self._by_key} | sparse.keys()
            return self._dense_scores(qvec, ids), sparse

    def query_tokens(self, text: str) -> list[str]:
        """BM25 tokens of the query, plus those of the official terms its colloquial words map
        to (饭馆 → 餐饮)."""
        tokens = search_tokens(text)
        for term in self.terms.official_terms(text):
            tokens.extend(t for t in search_tokens(term) if t not in tokens)
        return tokens

    def _rank(self, text: str, qvec: np.ndarray,
              today: dt.date) -> tuple[list[Candidate], list[str], list[str]]:
        self._check_terms_file()
        qtokens = self.query_tokens(text)
        dense, sparse = self.candidates(text, qvec, qtokens)
        cfg = self.config
        with self._lock:
            ranked = [c for c in fuse(dense, sparse, cfg.passage_weight, cfg.sparse_weight)
                      if c.id in self._entries and is_answerable(self._entries[c.id].data, today)]
        return ranked, words(text), qtokens

    def judge(self, text: str, ranked: list[Candidate], qwords: list[str], qtokens: list[str],
              config: DecisionConfig | None = None
              ) -> tuple[Decision, float, float, dict[str, float]]:
        """Decision, P(right), P(plausible) and the features, for a ranking of ``text``."""
        config = config or self.config
        feats = self.features(qwords, qtokens, ranked, self._alternatives(text, qwords))
        if not ranked:
            return "abstain", 0.0, 0.0, feats
        p, plausible = config.probability(feats), config.plausibility(feats)
        return config.decide(p, plausible, feats["margin"]), p, plausible, feats

    def _result(self, query: str, text: str, qvec: np.ndarray, top_k: int,
                today: dt.date) -> tuple[SearchResult, dict[str, float]]:
        ranked, qwords, qtokens = self._rank(text, qvec, today)
        decision, p, plausible, feats = self.judge(text, ranked, qwords, qtokens)
        hits = [hit_of(c, self._entries[c.id].data) for c in ranked[:top_k]]
        reason = f"p={p:.3f} " + " ".join(f"{k}={v:.3f}" for k, v in feats.items())
        return SearchResult(query=query, decision=decision, hits=hits, reason=reason,
                            probability=round(p, 4), plausibility=round(plausible, 4),
                            features={k: round(v, 4) for k, v in feats.items()},
                            alternatives=self.config.with_alternatives(decision, p)), feats

    def search(self, query: str, top_k: int = 5, today: dt.date | None = None) -> SearchResult:
        """Raises QueryError for empty, over-long or text-less queries."""
        text = validate_query(query, self.max_chars)
        qvec = self.embedder.encode_queries([text])[0]
        return self._result(query, text, qvec, top_k, today or dt.date.today())[0]

    def search_many(self, queries: list[str], top_k: int = 5, today: dt.date | None = None,
                    with_features: bool = False) -> list:
        """Batch search (one encoding pass). Bad queries come back as their QueryError."""
        today = today or dt.date.today()
        texts = validate_queries(queries, self.max_chars)
        good = [t for t in texts if isinstance(t, str)]
        vecs = iter(self.embedder.encode_queries(good)) if good else iter(())
        out: list[SearchResult | QueryError | tuple[SearchResult, dict[str, float]]] = []
        for q, t in zip(queries, texts):
            if isinstance(t, QueryError):
                out.append(t)
                continue
            result, feats = self._result(q, t, next(vecs), top_k, today)
            out.append((result, feats) if with_features else result)
        return out

    def get_entry(self, entry_id: str) -> Hit | None:
        """An answerable entry by id (for a clicked suggestion), else None."""
        with self._lock:
            e = self._entries.get(entry_id)
        if e is None or not is_answerable(e.data):
            return None
        return hit_of(Candidate(entry_id, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0), e.data)

    @property
    def size(self) -> int:
        return len(self._entries)


def build_retriever(settings, engine: Engine, embedder=None) -> Retriever:
    """A retriever for these settings and this database (its index not loaded yet)."""
    if embedder is None:
        from retrieval.embedder import get_embedder

        embedder = get_embedder(settings)
    return Retriever(engine, embedder, settings.index_dir, max_chars=settings.max_message_chars,
                     approximate_above=settings.approximate_index_above,
                     term_map_path=settings.term_map_path)


@lru_cache(maxsize=1)
def get_retriever() -> Retriever:
    """The command line's retriever, built from the settings (loads or builds its index)."""
    from xiaobao.db import get_engine, upgrade
    from xiaobao.settings import get_settings

    engine = get_engine()
    upgrade(engine)
    retriever = build_retriever(get_settings(), engine)
    how = retriever.load_or_build()
    log.info("retrieval index %s: %d entries", how, retriever.size)
    return retriever

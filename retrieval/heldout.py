"""The held-out evaluation's machinery: a knowledge base in three forms, and each fold's encoder.

Forms of one knowledge base (each indexed in a scratch SQLite database of its own):

- ``seed``: the entries as they are, similar questions included;
- ``bare``: every similar question removed (what a centre's own FAQ list looks like).

Each is measured by group k-fold over entries (:func:`retrieval.evaluate.kfold`); with
``adapt``, fold *f* uses an encoder fine-tuned without fold *f*'s entries
(:mod:`retrieval.adapt`, cached, so `make test`'s one fold reuses what `xiaobao model adapt`
trained for its own held-out check).
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from knowledge_base.schema import EntryData
from retrieval.adapt import (
    DEFAULT_CONFIG,
    AdaptConfig,
    adapted_model,
    load_pairs,
    training_triplets,
)
from retrieval.embedder import Embedder
from retrieval.evaluate import Example, kfold
from retrieval.folds import K, assign_folds

FORMS = ("seed", "bare")


def bare(entries: list[EntryData]) -> list[EntryData]:
    """The entries with their similar questions removed."""
    return [e.model_copy(update={"similar_questions": []}) for e in entries]


def scratch_retriever(entries: list[EntryData], embedder, home: Path, term_map_path=None):
    """A retriever over ``entries`` in a fresh SQLite database under ``home``."""
    from knowledge_base import store
    from retrieval.service import TERM_MAP_PATH, Retriever
    from xiaobao.db import make_engine, session_scope, upgrade

    home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{home / 'kb.db'}")
    upgrade(engine)
    with session_scope(engine) as s:
        store.save_entries(s, entries, "evaluation")
    retriever = Retriever(engine, embedder, None,
                          term_map_path=term_map_path if term_map_path else TERM_MAP_PATH)
    retriever.build()
    return retriever


def fold_encoder(fold: int, entries: list[EntryData], base: Embedder, cache_root: Path,
                 k: int = K, pairs: list[dict] | None = None,
                 config: AdaptConfig = DEFAULT_CONFIG) -> Embedder:
    """The encoder fine-tuned without fold ``fold``'s entries (trained once, then cached)."""
    folds = assign_folds([(e.id, e.category) for e in entries], k)
    held_out = {i for i, f in folds.items() if f == fold}
    triplets = training_triplets(entries, load_pairs() if pairs is None else pairs, base,
                                 exclude=held_out)
    model_dir, _ = adapted_model(base.model_dir, triplets, cache_root, config)
    return Embedder(model_dir, batch_size=base.batch_size, threads=base.threads,
                    backend=base.backend)


def evaluate_forms(entries: list[EntryData], examples: list[Example], base: Embedder, *,
                   adapt: bool, cache_root: Path, folds: list[int] | None = None,
                   forms: tuple[str, ...] = FORMS, k: int = K,
                   progress: Callable[[str], None] | None = None,
                   tune_options: dict | None = None) -> dict:
    """``{form: kfold result}`` for each form of the knowledge base. With the base encoder
    (no ``adapt``) every fold shares one index of the form, built and queried once."""
    encoders: dict[int, Embedder] = {}

    def encoder(f: int) -> Embedder:
        if not adapt:
            return base
        if f not in encoders:
            encoders[f] = fold_encoder(f, entries, base, cache_root, k)
        return encoders[f]

    out = {}
    pairs = [(e.id, e.category) for e in entries]
    with tempfile.TemporaryDirectory(prefix="xiaobao-heldout-") as tmp:
        for form in forms:
            form_entries = entries if form == "seed" else bare(entries)

            built: dict[int, object] = {}

            def make(f: int, form=form, form_entries=form_entries, built=built):
                key = f if adapt else -1  # one index for every fold on the base encoder
                if key not in built:
                    built.clear()  # one index of a form alive at a time
                    built[key] = scratch_retriever(form_entries, encoder(f),
                                                   Path(tmp) / f"{form}-{key}")
                return built[key]

            say = None
            if progress is not None:
                def say(message: str, form: str = form) -> None:
                    progress(f"{form} {message}")
            out[form] = kfold(make, pairs, examples, folds, k, progress=say,
                              tune_options=tune_options)
    return out

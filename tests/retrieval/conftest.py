"""Real model, real FAISS: one embedder for the whole session (loading takes seconds)."""
from __future__ import annotations

import pytest

from retrieval.embedder import get_embedder


@pytest.fixture(scope="session")
def embedder():
    return get_embedder()

import numpy as np
import pytest

from retrieval.dense import VARIANTS, DenseIndex, entry_key


def unit(rng, n, d=32):
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_entry_scores_by_its_best_vector_and_updates_in_place(tmp_path):
    rng = np.random.default_rng(0)
    idx = DenseIndex(32)
    a, b = entry_key("a"), entry_key("b")
    va, vb = unit(rng, 3), unit(rng, 2)
    idx.upsert(a, va, unit(rng, 1)[0])
    idx.upsert(b, vb, unit(rng, 1)[0])
    assert idx.ntotal == 7
    questions, passage = idx.vectors(a, 3)
    assert np.allclose(questions, va) and passage.shape == (32,)
    (best,) = idx.search(va[1:2], k=2)
    assert list(best)[0] == a and best[a] == pytest.approx(1.0, abs=1e-5)
    idx.upsert(a, vb[:1], vb[1])  # replace a's vectors with copies of b's
    assert idx.ntotal == 5
    (best,) = idx.search(va[1:2], k=2)
    assert best.get(a, 0) < 0.99
    idx.remove(b)
    assert idx.ntotal == 2
    idx.save(tmp_path / "i.faiss")
    loaded = DenseIndex.load(tmp_path / "i.faiss")
    assert loaded.ntotal == 2 and loaded.dim == 32
    assert loaded.search(vb[:1], 1)[0][a] == pytest.approx(1.0, abs=1e-5)


def test_keys_are_stable_and_fit_in_int64():
    assert entry_key("kb-tax-001") == entry_key("kb-tax-001") != entry_key("kb-tax-002")
    assert entry_key("x") * VARIANTS < 2**63


def test_ivf_index_finds_the_nearest():
    rng = np.random.default_rng(1)
    data = unit(rng, 4000)
    idx = DenseIndex(32, kind="ivf", nlist=32, nprobe=8)
    idx.train(data)
    idx.add_many(list(range(4000)), [data[i:i + 1] for i in range(4000)])
    assert idx.ntotal == 4000
    hits = idx.search(data[:20], k=1)
    assert sum(list(h)[0] == i for i, h in enumerate(hits)) >= 18
    idx.remove(0)
    assert idx.ntotal == 3999
    idx.upsert(7, data[8:9], data[9])  # replace entry 7: one question and a passage
    questions, passage = idx.vectors(7, 1)
    assert np.allclose(questions[0], data[8]) and np.allclose(passage, data[9])
    assert idx.ntotal == 4000


def test_bad_arguments():
    with pytest.raises(ValueError):
        DenseIndex(0)
    with pytest.raises(ValueError):
        DenseIndex(8, kind="hnsw")

import pytest

from retrieval.fusion import DenseScore, fuse


def d(mean2, passage=0.0, best=None):
    return DenseScore(best if best is not None else mean2, mean2, passage)


def test_weights_trade_dense_for_sparse():
    dense = {"a": d(0.90), "b": d(0.85)}
    sparse = {"b": 10.0, "c": 5.0}
    assert [c.id for c in fuse(dense, sparse, 0.0, 0.0)][:2] == ["a", "b"]
    assert [c.id for c in fuse(dense, sparse, 0.0, 1.0)][0] == "b"
    mixed = {c.id: c for c in fuse(dense, sparse, 0.0, 1.0)}
    assert mixed["b"].fused == pytest.approx((0.85 + 1.0) / 2)
    assert mixed["c"].sparse == pytest.approx(0.5) and mixed["c"].dense == 0.0


def test_passage_weight_counts_the_passage_cosine():
    dense = {"a": d(0.90, passage=0.70), "b": d(0.88, passage=0.85)}
    assert fuse(dense, {}, 0.0, 0.0)[0].id == "a"
    top = fuse(dense, {}, 1.0, 0.0)[0]
    assert top.id == "b" and top.fused == pytest.approx((0.88 + 0.85) / 2)


def test_empty_sides():
    assert fuse({}, {}, 0.5, 0.1) == []
    assert [c.id for c in fuse({"a": d(0.3)}, {}, 0.5, 0.1)] == ["a"]


def test_negative_weight_is_refused():
    with pytest.raises(ValueError):
        fuse({}, {}, -0.1, 0.0)

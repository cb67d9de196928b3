import pytest

from retrieval.fusion import fuse


def test_weights_trade_dense_for_sparse():
    dense = {"a": 0.90, "b": 0.85}
    sparse = {"b": 10.0, "c": 5.0}
    assert [c.id for c in fuse(dense, sparse, 1.0)][:2] == ["a", "b"]
    assert [c.id for c in fuse(dense, sparse, 0.0)][:2] == ["b", "c"]
    mixed = {c.id: c for c in fuse(dense, sparse, 0.5)}
    assert mixed["b"].fused == pytest.approx(0.5 * 0.85 + 0.5 * 1.0)
    assert mixed["c"].sparse == pytest.approx(0.5) and mixed["c"].dense == 0.0


def test_empty_sides():
    assert fuse({}, {}, 0.5) == []
    assert [c.id for c in fuse({"a": 0.3}, {}, 0.5)] == ["a"]


def test_weight_out_of_range_is_refused():
    with pytest.raises(ValueError):
        fuse({}, {}, 1.5)

"""The embedder on the real converted model (installed by `xiaobao model install`,
or converted here on first use by get_embedder)."""
from __future__ import annotations

import numpy as np
import pytest

from retrieval.embedder import Embedder, get_embedder
from xiaobao.settings import get_settings


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder()


def test_get_embedder_is_loaded_once_for_the_settings_model_dir(embedder: Embedder) -> None:
    assert get_embedder() is embedder
    assert embedder.model_dir == get_settings().model_dir
    assert embedder.batch_size == get_settings().embedding_batch_size


@pytest.mark.parametrize("method", ["encode_queries", "encode_passages"])
def test_shapes_dtype_and_unit_length(embedder: Embedder, method: str) -> None:
    texts = ["怎么办理居住证？", "营业执照遗失补办", "How to renew a passport 护照", "谢谢"]
    vectors = getattr(embedder, method)(texts)
    assert embedder.dim == 384
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    empty = getattr(embedder, method)([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32


def test_a_single_string_is_refused(embedder: Embedder) -> None:
    with pytest.raises(TypeError):
        embedder.encode_queries("怎么办理居住证？")  # type: ignore[arg-type]


def test_query_and_passage_prompts_give_different_vectors(embedder: Embedder) -> None:
    text = ["怎么办理居住证？"]
    q, p = embedder.encode_queries(text)[0], embedder.encode_passages(text)[0]
    assert float(q @ p) < 0.99  # the prefix is really applied
    assert float(q @ p) > 0.8  # …and the rest of the text still dominates


def test_paraphrase_scores_higher_than_unrelated(embedder: Embedder) -> None:
    q = embedder.encode_queries(["怎么办理居住证", "营业执照丢了怎么补办"])
    p = embedder.encode_passages(["居住证的申办流程和所需材料", "营业执照遗失补领", "医保报销比例"])
    scores = q @ p.T
    assert scores[0, 0] > scores[0, 1] + 0.03 and scores[0, 0] > scores[0, 2] + 0.03
    assert scores[1, 1] > scores[1, 0] + 0.03 and scores[1, 1] > scores[1, 2] + 0.03
    pair = embedder.encode_queries(["居住证办理需要哪些材料", "申请居住证要带什么证件",
                                    "今天天气怎么样"])
    assert pair[0] @ pair[1] > pair[0] @ pair[2] + 0.1


def test_batching_and_padding_do_not_change_vectors(embedder: Embedder) -> None:
    texts = ["短", "一网通办平台上怎么预约宝山区行政服务中心的窗口，周六能去吗？", "护照"]
    together = embedder.encode_passages(texts)
    one_by_one = np.vstack([embedder.encode_passages([t]) for t in texts])
    np.testing.assert_allclose((together * one_by_one).sum(axis=1), 1.0, atol=1e-5)


def test_missing_model_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="xiaobao model install"):
        Embedder(tmp_path / "nothing-here")

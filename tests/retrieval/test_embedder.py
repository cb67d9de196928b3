"""The embedder on the real converted model (installed by `xiaobao model install`,
or converted here on first use by get_embedder), on ONNX Runtime and on torch."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from retrieval import onnx_export
from retrieval.embedder import Embedder, get_embedder
from xiaobao.settings import get_settings

# Short, long, mixed-script and over-long (truncated at 512 tokens) texts.
TEXTS = ["证", "怎么办理居住证？", "USCC是什么 CA证书过期了怎么办", "營業執照遺失補辦",
         "我们公司去年在宝山开了一家小饭馆，现在想再开一家分店，" * 6, "税" * 700]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder()


@pytest.fixture(scope="module")
def torch_embedder(embedder: Embedder) -> Embedder:
    return Embedder(embedder.model_dir, threads=1, backend="torch")


def test_get_embedder_is_loaded_once_for_the_settings_model_dir(embedder: Embedder) -> None:
    assert get_embedder() is embedder
    assert embedder.model_dir == get_settings().model_dir
    assert embedder.batch_size == get_settings().embedding_batch_size
    assert embedder.backend == get_settings().encoder_backend == "onnx"


@pytest.mark.parametrize("method", ["encode_queries", "encode_passages"])
def test_onnx_runtime_gives_sentence_transformers_vectors(embedder: Embedder,
                                                          torch_embedder: Embedder,
                                                          method: str) -> None:
    """The exported graph is the same function: prompts, mean pooling over the mask,
    normalisation and truncation at 512 tokens included, batched or one by one."""
    ours = getattr(embedder, method)(TEXTS)
    reference = getattr(torch_embedder, method)(TEXTS)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    single = np.vstack([getattr(embedder, method)([t]) for t in TEXTS])
    np.testing.assert_allclose(single, reference, atol=1e-5)


def test_the_graph_is_exported_once_and_kept_beside_the_weights(embedder: Embedder) -> None:
    graph = onnx_export.graph_path(embedder.model_dir)
    assert graph.is_file() and graph.parent == embedder.model_dir / "onnx"
    before = graph.stat().st_mtime_ns
    assert onnx_export.onnx_graph(embedder.model_dir) == graph
    assert graph.stat().st_mtime_ns == before
    # Nothing half-written left, and the weights in their own (mapped) file, not in the graph.
    data = onnx_export.data_path(graph)
    assert sorted(graph.parent.iterdir()) == sorted([graph, data])
    assert data.stat().st_size > 100 * graph.stat().st_size


def test_other_weights_or_configuration_get_another_graph(tmp_path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 20_000)
    (folder / "config.json").write_text('{"hidden_size": 384}')
    first = onnx_export.fingerprint(folder)
    assert onnx_export.fingerprint(folder) == first
    weights = bytearray((folder / "model.safetensors").read_bytes())
    weights[-1] ^= 0xFF  # retrained weights: the tail changed
    (folder / "model.safetensors").write_bytes(bytes(weights))
    second = onnx_export.fingerprint(folder)
    assert second != first
    (folder / "config.json").write_text('{"hidden_size": 768}')
    assert onnx_export.fingerprint(folder) not in (first, second)


def test_a_pipeline_the_graph_would_not_reproduce_is_refused(embedder: Embedder,
                                                              tmp_path) -> None:
    folder = tmp_path / "cls"
    folder.mkdir()
    for name in ("modules.json", "config.json"):
        shutil.copy(embedder.model_dir / name, folder / name)
    shutil.copytree(embedder.model_dir / "1_Pooling", folder / "1_Pooling")
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    with pytest.raises(onnx_export.NotExportable, match="pooling"):
        onnx_export.check_pipeline(folder)
    with pytest.raises(ValueError, match="backend"):
        Embedder(embedder.model_dir, backend="tensorflow")


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

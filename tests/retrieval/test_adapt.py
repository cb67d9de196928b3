"""Domain adaptation of the encoder: what it trains on, that it trains for real, caching, and
which model the gateway ends up using."""
from __future__ import annotations

import json

import numpy as np
import pytest

from knowledge_base.schema import EntryData
from retrieval import adapt
from retrieval.embedder import Embedder
from xiaobao.settings import get_settings

ENTRIES = [
    EntryData(id="e-food", question="如何办理食品经营许可证？",
              similar_questions=["开餐饮店要什么证"], answer="向区市场监管局申请。",
              category="证照", department="区市场监管局", source="指南"),
    EntryData(id="e-beauty", question="开美容店需要办理什么许可？",
              similar_questions=["美发店要办哪些证"], answer="办理营业执照和卫生许可。",
              category="证照", department="区卫健委", source="指南"),
    EntryData(id="e-tax", question="新办企业如何申领发票？", similar_questions=["第一次开票怎么办"],
              answer="在电子税务局办理。", category="税务", department="区税务局", source="指南"),
]
PAIRS = [{"query": "开个小饭馆要办啥", "entry": "e-food"},
         {"query": "公司头一回开票", "entry": "e-tax"},
         {"anchor": "老板换人", "positive": "法定代表人变更"},
         {"anchor": "不干了", "positive": "企业注销"}]


def test_triplets_keep_held_out_entries_out_entirely(embedder):
    triplets = adapt.training_triplets(ENTRIES, PAIRS, embedder, exclude={"e-tax"})
    texts = {t for tr in triplets for t in (tr.anchor, tr.positive, tr.negative)}
    assert not any("发票" in t or "开票" in t for t in texts)
    assert ("开个小饭馆要办啥", "如何办理食品经营许可证？") in {(t.anchor, t.positive)
                                                        for t in triplets}
    # The hard negative of 开餐饮店 is the other licence entry, not the tax one.
    food = next(t for t in triplets if t.anchor == "开餐饮店要什么证")
    assert food.negative == "开美容店需要办理什么许可？"
    assert {"老板换人", "不干了"} <= {t.anchor for t in triplets}


def test_inputs_hash_follows_data_and_settings(embedder):
    base = get_settings().model_dir
    triplets = adapt.training_triplets(ENTRIES, PAIRS, embedder)
    h = adapt.inputs_hash(base, triplets, adapt.AdaptConfig())
    assert h == adapt.inputs_hash(base, list(triplets), adapt.AdaptConfig())
    assert h != adapt.inputs_hash(base, triplets[:-1], adapt.AdaptConfig())
    assert h != adapt.inputs_hash(base, triplets, adapt.AdaptConfig(seed=14))


def test_bad_pairs_file_names_the_line(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"query": "a", "entry": "x"}\n{"query": "b"}\n', "utf-8")
    with pytest.raises(ValueError, match="第2行"):
        adapt.load_pairs(path)


def test_a_real_training_run_changes_the_model_and_is_cached(embedder, tmp_path):
    """A small, real fine-tune (one layer, short inputs): the weights move, the same inputs
    come back from the cache, and two runs with one seed give the same model."""
    config = adapt.AdaptConfig(batch_size=4, max_seq_length=16, trainable_layers=1, epochs=2,
                               learning_rate=1e-3)
    triplets = adapt.training_triplets(ENTRIES, PAIRS, embedder)
    first, trained = adapt.adapted_model(embedder.model_dir, triplets, tmp_path / "a", config)
    assert trained and (first / "modules.json").is_file()
    again, trained_again = adapt.adapted_model(embedder.model_dir, triplets, tmp_path / "a",
                                               config)
    assert again == first and not trained_again
    second, _ = adapt.adapted_model(embedder.model_dir, triplets, tmp_path / "b", config)
    texts = ["开个小饭馆要办啥", "公司头一回开票"]
    base_v = embedder.encode_queries(texts)
    # The first on ONNX Runtime (its own graph, exported from the new weights), the second
    # on torch: the same model twice, whichever runs it.
    a_v = Embedder(first).encode_queries(texts)
    b_v = Embedder(second, backend="torch").encode_queries(texts)
    assert np.abs(a_v - base_v).max() > 1e-3  # it learned something
    assert np.abs(a_v - b_v).max() < 1e-4  # seeded: the same model twice


def test_the_model_in_use_follows_the_record(tmp_path):
    base = tmp_path / "base"
    assert adapt.model_in_use(base, tmp_path) == base  # no record
    (tmp_path / "m1").mkdir()
    (tmp_path / "m1" / "modules.json").write_text("[]")
    adapt.write_record(tmp_path, {"use": True, "model": "m1"})
    assert adapt.model_in_use(base, tmp_path) == tmp_path / "m1"
    adapt.write_record(tmp_path, {"use": False, "model": "m1"})
    assert adapt.model_in_use(base, tmp_path) == base
    adapt.write_record(tmp_path, {"use": True, "model": "gone"})
    assert adapt.model_in_use(base, tmp_path) == base  # a missing folder falls back


def test_a_check_on_the_same_inputs_is_not_run_again(tmp_path):
    """`make setup` runs `xiaobao model adapt` every time: with nothing changed it reuses the
    recorded verdict instead of embedding the knowledge base again."""
    base = get_settings().model_dir
    inputs = adapt.check_inputs_hash(base, ENTRIES, PAIRS, "seed")
    assert inputs == adapt.check_inputs_hash(base, list(reversed(ENTRIES)), PAIRS, "seed")
    edited = ENTRIES[0].model_copy(update={"answer": "改了"})
    for other in (adapt.check_inputs_hash(base, [edited, *ENTRIES[1:]], PAIRS, "seed"),
                  adapt.check_inputs_hash(base, ENTRIES, PAIRS[:-1], "seed"),
                  adapt.check_inputs_hash(base, ENTRIES, PAIRS, "live")):
        assert other != inputs
    (tmp_path / "check").mkdir()
    (tmp_path / "check" / "modules.json").write_text("[]")
    adapt.write_record(tmp_path, {"use": False, "check_model": "check", "inputs": inputs})
    assert adapt.recorded_verdict(tmp_path, inputs)["check_model"] == "check"
    assert adapt.recorded_verdict(tmp_path, "changed") is None
    adapt.write_record(tmp_path, {"use": True, "check_model": "check", "model": "gone",
                                  "inputs": inputs})
    assert adapt.recorded_verdict(tmp_path, inputs) is None  # its model is missing: run again


def test_setup_ran_the_held_out_check_and_the_command_reports_it():
    """`make setup` runs `xiaobao model adapt`; run again it is all cache (seconds) and says
    the same."""
    from typer.testing import CliRunner

    from cli.main import app

    settings = get_settings()
    record = adapt.read_record(settings.adapted_models_dir)
    assert record is not None, "run `xiaobao model adapt` (make setup does)"
    assert record["held_out_queries"] >= 100
    assert record["use"] == (record["adapted_top1"] - record["base_top1"] >= adapt.MIN_GAIN)
    result = CliRunner().invoke(app, ["model", "adapt", "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.output.strip().splitlines()[-1])
    for key in ("use", "base_top1", "adapted_top1", "check_model", "held_out_queries"):
        assert again[key] == record[key]

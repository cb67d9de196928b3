import pytest

from retrieval.decision import FEATURES, DecisionConfig


def test_probability_rises_with_evidence_and_thresholds_decide(tmp_path):
    cfg = DecisionConfig(coefficients=dict.fromkeys(FEATURES, 1.0), intercept=0.0,
                         answer_threshold=0.8, suggest_threshold=0.4)
    weak = dict.fromkeys(FEATURES, -2.0)
    strong = dict.fromkeys(FEATURES, 2.0)
    assert cfg.probability(weak) < 0.4 < cfg.probability(dict.fromkeys(FEATURES, 0.0)) < 0.8
    assert cfg.probability(strong) > 0.99
    assert [cfg.decide(p) for p in (0.9, 0.5, 0.1)] == ["answer", "suggest", "abstain"]
    path = tmp_path / "d.json"
    cfg.save(path)
    assert DecisionConfig.load(path) == cfg


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError):
        DecisionConfig(answer_threshold=0.3, suggest_threshold=0.5)


def test_shipped_config_is_fitted():
    cfg = DecisionConfig.load()
    assert cfg.fitted_on != "defaults", "run `xiaobao tune` and commit retrieval/data/decision.json"

import pytest

from retrieval.decision import FEATURES, DecisionConfig, Logistic


def _cfg(**kw) -> DecisionConfig:
    model = Logistic(dict.fromkeys(FEATURES, 1.0), 0.0)
    return DecisionConfig(right=model, plausible=Logistic(dict.fromkeys(FEATURES, 1.0), 2.0),
                          answer_threshold=0.8, suggest_threshold=0.4, **kw)


def test_probability_rises_with_evidence_and_thresholds_decide(tmp_path):
    cfg = _cfg()
    weak = dict.fromkeys(FEATURES, -2.0)
    strong = dict.fromkeys(FEATURES, 2.0)
    assert cfg.probability(weak) < 0.4 < cfg.probability(dict.fromkeys(FEATURES, 0.0)) < 0.8
    assert cfg.probability(strong) > 0.99
    assert cfg.plausibility(dict.fromkeys(FEATURES, 0.0)) > cfg.probability(
        dict.fromkeys(FEATURES, 0.0))
    assert [cfg.decide(p, q) for p, q in ((0.9, 0.9), (0.5, 0.5), (0.1, 0.1))] == \
        ["answer", "suggest", "abstain"]
    path = tmp_path / "d.json"
    cfg.save(path)
    assert DecisionConfig.load(path) == cfg


def test_a_near_tie_is_offered_not_answered():
    cfg = _cfg(tie_margin=0.01)
    assert cfg.decide(0.95, 0.95, margin=0.002) == "suggest"
    assert cfg.decide(0.95, 0.95, margin=0.05) == "answer"
    # Sure of the top entry but nothing else plausible: still offered, never dropped.
    assert cfg.decide(0.95, 0.1, margin=0.0) == "suggest"


def test_plausible_but_unsure_is_suggested_and_implausible_abstains():
    cfg = _cfg()
    assert cfg.decide(0.3, 0.6) == "suggest"
    assert cfg.decide(0.3, 0.2) == "abstain"


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        DecisionConfig(answer_threshold=1.3)
    with pytest.raises(ValueError):
        DecisionConfig(tie_margin=-0.1)


def test_shipped_config_is_fitted():
    cfg = DecisionConfig.load()
    assert cfg.fitted_on != "defaults", "run `xiaobao tune` and commit retrieval/data/decision.json"
    assert set(cfg.right.coefficients) == set(FEATURES) == set(cfg.plausible.coefficients)


def test_the_fairly_sure_band_answers_with_alternatives_and_is_saved(tmp_path):
    cfg = _cfg(alternatives_threshold=0.6)
    assert cfg.decide(0.7, 0.9) == "answer" and cfg.with_alternatives("answer", 0.7)
    assert cfg.decide(0.9, 0.9) == "answer" and not cfg.with_alternatives("answer", 0.9)
    assert cfg.decide(0.5, 0.9) == "suggest"
    assert cfg.decide(0.7, 0.9, margin=0.0) == "suggest"  # a near tie is still offered
    assert not _cfg().with_alternatives(_cfg().decide(0.7, 0.9), 0.7)  # no band: suggested
    path = tmp_path / "d.json"
    cfg.save(path)
    assert DecisionConfig.load(path).alternatives_threshold == 0.6
    with pytest.raises(ValueError):
        _cfg(alternatives_threshold=0.9)  # above the answer threshold

"""The bot's dialogue, checked by Rasa itself on the trained model.

scripts/test.sh runs `rasa data validate --fail-on-warnings` and the NLU gate
(scripts/rasa_nlu_gate.sh: intent macro-F1 ≥ 0.90 on a held-out split) before pytest.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.bot.stack import MODEL, RASA, REPO

pytestmark = pytest.mark.rasa
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
       "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
       "XIAOBAO_ACTION_TOKEN": "unused-by-rasa-test-0123456789"}  # endpoints.yml names it


def rasa(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(RASA), *args], cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_every_flow_of_the_test_stories_passes(tmp_path):
    out = rasa("test", "core", "--model", str(MODEL), "--stories", "bot/tests/test_stories.yml",
               "--out", str(tmp_path), "--fail-on-prediction-errors")
    failed = (tmp_path / "failed_test_stories.yml")
    detail = (failed.read_text("utf-8") if failed.exists()
              else out.stdout[-3000:] + out.stderr[-3000:])
    assert out.returncode == 0, detail
    report = json.loads((tmp_path / "story_report.json").read_text("utf-8"))
    assert report["accuracy"] == 1.0 or report.get("micro avg", {}).get("f1-score") == 1.0, report



def test_rasa_reads_the_action_token_from_the_environment():
    """endpoints.yml names the token as ${XIAOBAO_ACTION_TOKEN} in a header; Rasa expands it
    only in a plain (unquoted) scalar, sends it as that header and never in the query string
    (which access logs keep); the gateway answers 404 to a call without it."""
    script = ("from rasa.utils.endpoints import read_endpoint_config as r; "
              "e = r('endpoints.yml', 'action_endpoint'); "
              "print(e.headers.get('X-Xiaobao-Action-Token'), e.token, sorted(e.params))")
    out = subprocess.run([str(RASA.parent / "python"), "-c", script], cwd=REPO,
                         env={**ENV, "XIAOBAO_ACTION_TOKEN": "from-the-environment-123"},
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["from-the-environment-123", "None", "[]"]


def test_the_call_back_question_states_the_configured_service_hours():
    """The bot's words about call-back hours are the dispatch calendar's (handoff/config.yaml)."""
    import yaml

    from handoff.config import packaged_config

    domain = yaml.safe_load((REPO / "bot" / "domain.yml").read_text("utf-8"))
    [asked] = [r["text"] for r in domain["responses"]["utter_ask_time_window"]]
    weekly = packaged_config().hours.weekly
    for day in range(1, 7):
        for start, end in weekly[day]:
            assert f"{start:%H:%M}–{end:%H:%M}" in asked, day
    assert not weekly[7] and "法定节假日除外" in asked

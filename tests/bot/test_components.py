"""bot/components.py runs inside the Rasa server (.venv-rasa): checked there, against Rasa's
own functions it replaces — the same responses accepted, the same refused, every event type
resolved to the same class."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.bot.stack import RASA, REPO

pytestmark = pytest.mark.rasa

SCRIPT = r"""
import json, sys
sys.path.insert(0, ".")
import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

original_validate = RemoteAction._validate_action_result
original_resolve = Event.resolve_by_type
import bot.components as c  # installs the speed-ups

assert RemoteAction._validate_action_result is c.validate_action_result
assert Event.resolve_by_type is c.resolve_by_type
responses = [
    {"events": [{"event": "slot", "name": "a", "value": 1}], "responses": [{"text": "hi"}]},
    {"events": [{"event": "action", "name": "action_listen"}, {"event": "pause"}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [1, 2]},
]
out = {"validate": [], "resolve": {}}
for response in responses:
    verdicts = []
    for fn in (original_validate, c.validate_action_result):
        try:
            verdicts.append(fn(RemoteAction("x", None), response))
        except jsonschema.ValidationError as e:
            verdicts.append("refused: " + e.message)
    out["validate"].append(verdicts)
for name in sorted({cls.type_name for cls in all_subclasses(Event)} | {"topic", "nope"}):
    pair = []
    for fn in (original_resolve, c.resolve_by_type):
        try:
            found = fn(name)
            pair.append(found.__name__ if found else None)
        except ValueError as e:
            pair.append("error: " + str(e))
    out["resolve"][name] = pair
print("RESULT" + json.dumps(out))
"""


def test_the_speedups_change_no_outcome():
    proc = subprocess.run([str(RASA.parent / "python"), "-c", SCRIPT], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    for original, fast in out["validate"]:
        assert original == fast
    assert [v[0] for v in out["validate"]][:2] == [True, True]
    assert all(str(v[0]).startswith("refused") for v in out["validate"][2:])
    assert len(out["resolve"]) > 20
    for name, (original, fast) in out["resolve"].items():
        assert original == fast, name
    assert out["resolve"]["user"] == ["UserUttered", "UserUttered"]
    assert out["resolve"]["nope"][0].startswith("error")


NORMALIZER = r"""
import json, sys
sys.path.insert(0, ".")
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from bot.components import TextNormalizer

n = TextNormalizer()
texts = ["热气球观光项目要什么资质？", "  公司　变更 ", '/rate_service{"reason": "等了（很久）"}']
served = [m.get(TEXT) for m in n.process([Message(data={TEXT: t}) for t in texts])]
trained = [m.get(TEXT) for m in n.process_training_data(TrainingData(
    [Message(data={TEXT: t, "intent": "ask_question"}) for t in texts])).training_examples]
print("RESULT" + json.dumps({"served": served, "trained": trained}, ensure_ascii=False))
"""


def test_training_text_and_served_text_take_the_gateways_form():
    """The model is trained on the text the gateway serves it (NFKC): "？" is "?" for both."""
    out = subprocess.run([str(RASA.parent / "python"), "-c", NORMALIZER], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.split("RESULT", 1)[1])
    expected = ["热气球观光项目要什么资质?", "公司 变更", '/rate_service{"reason": "等了（很久）"}']
    assert result == {"served": expected, "trained": expected}

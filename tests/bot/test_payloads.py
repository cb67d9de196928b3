"""The payloads named in bot/payloads.py are the domain's intents, and build what Rasa reads."""
from __future__ import annotations

import json

import pytest
import yaml

from bot import payloads
from xiaobao.settings import REPO_ROOT

NAMED = [payloads.REQUEST_HUMAN, payloads.REQUEST_12345_CALL, payloads.RATE_SERVICE,
         payloads.POLICY_FACT, payloads.FEEDBACK]


@pytest.mark.parametrize("intent", NAMED)
def test_every_named_payload_is_a_domain_intent(intent):
    domain = yaml.safe_load((REPO_ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    assert intent in domain["intents"]


def test_payload_form():
    assert payloads.payload(payloads.REQUEST_HUMAN) == "/request_human"
    built = payloads.payload(payloads.POLICY_FACT, field="employees", value="30")
    assert built.startswith("/policy_fact{")
    assert json.loads(built[len("/policy_fact"):]) == {"field": "employees", "value": "30"}
    assert payloads.is_payload_of(built, payloads.POLICY_FACT)
    assert payloads.is_payload_of("/policy_fact", payloads.POLICY_FACT)
    assert not payloads.is_payload_of("/policy_factory", payloads.POLICY_FACT)
    assert not payloads.is_payload_of("policy_fact", payloads.POLICY_FACT)

"""The chat's check-up counts each answer it is given (once, in its bucket) and weighs its next
question with the counts (bot/actions/policy_check.py with policies/priors.py, real Redis)."""
from __future__ import annotations

import pytest

from bot.actions.policy_check import ActionPolicyCheck
from policies import store
from policies.priors import KEY_PREFIX, PolicyPriors
from tests.bot.conftest import FakeServices
from xiaobao.db import session_scope


@pytest.fixture
def seeded(engine, r):
    with session_scope(engine) as s:
        store.import_files(s, sorted(store.SEED.glob("*.yaml")), "seed")
    return FakeServices(engine=engine, policy_priors=PolicyPriors(r, cache_s=0))


async def test_each_answer_is_counted_once_in_its_bucket(seeded, r, tracker, dispatcher):
    action = ActionPolicyCheck(seeded)
    slots = {"policy_facts": {}, "policy_declined": [], "policy_asked": 1}

    async def say(text):
        nonlocal slots
        out = await action.run(dispatcher, tracker(text, "policy_fact", slots=slots), {})
        slots = {**slots, **{e["name"]: e["value"] for e in out if e["event"] == "slot"}}

    await say('/policy_fact{"field": "employees", "value": "大约25人"}')
    await say('/policy_fact{"field": "high_tech", "value": "true"}')
    await say('/policy_fact{"field": "taxpayer_type", "value": "不知道"}')  # declined: no count
    await say('/policy_fact{"field": "founded_on", "value": "2020-05-18"}')  # a date: no count
    assert r.hgetall(KEY_PREFIX + "employees") == {"20-100": "1"}  # the facts before: not again
    assert r.hgetall(KEY_PREFIX + "high_tech") == {"true": "1"}
    assert sorted(r.keys("*")) == [KEY_PREFIX + "employees", KEY_PREFIX + "high_tech"]


async def test_the_next_question_is_weighed_with_the_counts(seeded, r, tracker, dispatcher):
    seen = []
    real = seeded.policy_priors.read
    seeded.policy_priors.read = lambda d: seen.append(real(d)) or seen[-1]
    r.hincrby(KEY_PREFIX + "high_tech", "true", 7)
    await ActionPolicyCheck(seeded).run(dispatcher, tracker("政策体检", "check_policies"), {})
    assert seen == [{"high_tech": {"true": 7.0}}]
    assert (dispatcher.messages[-1].get("custom") or {}).get("field")

"""The check-up's answers feed the planner's priors (api/routes/policies.py with
policies/priors.py): POST /api/policy-check counts what a request answers, in buckets, on the
gateway's Redis; with Redis down the check still answers in full."""
from __future__ import annotations

import socket

from policies import store
from policies.priors import KEY_PREFIX, PolicyPriors
from xiaobao import redis_clients
from xiaobao.db import session_scope


def seed(services) -> None:
    with session_scope(services.engine) as s:
        store.import_files(s, sorted(store.SEED.glob("*.yaml")), "seed")


def test_the_check_counts_what_it_is_answered_in_buckets(client, services, redis_client):
    seed(services)
    facts = {"employees": 320, "taxpayer_type": "小规模纳税人", "founded_on": "2020-05-18"}
    assert client.post("/api/policy-check", json={"facts": facts}).status_code == 200
    assert redis_client.hgetall(KEY_PREFIX + "employees") == {"300-1000": "1"}
    assert redis_client.hgetall(KEY_PREFIX + "taxpayer_type") == {"小规模纳税人": "1"}
    assert not redis_client.exists(KEY_PREFIX + "founded_on")  # a date: not counted
    # The page says which fields a request answers: only they are counted again.
    more = {**facts, "high_tech": True}
    client.post("/api/policy-check", json={"facts": more, "answered": ["high_tech"]})
    client.post("/api/policy-check", json={"facts": more, "answered": []})
    assert redis_client.hgetall(KEY_PREFIX + "employees") == {"300-1000": "1"}
    assert redis_client.hgetall(KEY_PREFIX + "high_tech") == {"true": "1"}
    # A refused request counts nothing.
    client.post("/api/policy-check", json={"facts": {"employees": 5, "nope": 1}})
    assert redis_client.hgetall(KEY_PREFIX + "employees") == {"300-1000": "1"}


def test_the_next_question_is_weighed_with_what_enterprises_answered(client, services):
    seed(services)
    # The planner gets what is counted (this request's own answer included).
    seen = []
    real = services.policy_priors.read
    services.policy_priors.read = lambda d: seen.append(real(d)) or seen[-1]
    body = client.post("/api/policy-check", json={"facts": {"employees": 320}}).json()
    assert body["next_question"]["field"] and seen == [{"employees": {"300-1000": 1.0}}]


def test_redis_down_the_check_still_answers(client, services, caplog):
    seed(services)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead, _ = redis_clients.gateway_clients(f"redis://127.0.0.1:{port}/0")
    live_redis = services.redis
    services.redis, services.policy_priors = dead, PolicyPriors(dead)  # limits degrade too
    try:
        response = client.post("/api/policy-check", json={"facts": {"employees": 8,
                                                                    "high_tech": True}})
    finally:
        services.redis = live_redis
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_question"] and (body["eligible"] or body["possible"])
    assert any("counts skipped" in rec.getMessage() for rec in caplog.records)

"""Learned priors (policies/answers.py, policies/priors.py): answers are counted in the buckets
the planner tries (a choice, yes/no, a band; never the raw number), on a real Redis; the
planner then prefers the question whose likely answers decide more; Redis down costs nothing
but the counts."""
from __future__ import annotations

import logging
import socket
import time

import pytest

from policies.answers import answer_key, bucket
from policies.facts import Interval, parse_facts
from policies.planner import _answers, next_question
from policies.priors import KEY_PREFIX, PolicyPriors
from tests.policies.conftest import DAY, atom, policy
from xiaobao import redis_clients

# high_tech decides p1–p5 when the answer is 否 only; taxpayer_type decides p6–p7 on either
# answer; specialized decides p1–p5 only on 无 (1 of 4 answers).
WORLD = [*(policy(f"p{i}", {"all": [atom("high_tech", "is_true"),
                                    atom("specialized", "ne", "无")]}) for i in range(1, 6)),
         policy("p6", atom("taxpayer_type", "eq", "小规模纳税人")),
         policy("p7", atom("taxpayer_type", "eq", "小规模纳税人"))]


def test_priors_change_the_question_to_the_one_whose_likely_answers_decide_more():
    # Equal weights: 否 decides 5 policies, 是 none → 2.5 expected; taxpayer_type 2.
    equal = next_question(WORLD, {}, DAY)
    assert equal.field == "high_tech" and equal.worth == pytest.approx(2.5)
    # Most enterprises say 是 (which decides nothing here): taxpayer_type decides more.
    mostly_yes = {"high_tech": {"true": 90, "false": 10}}
    learned = next_question(WORLD, {}, DAY, priors=mostly_yes)
    assert learned.field == "taxpayer_type" and learned.worth == pytest.approx(2.0)
    # Most say 否: high_tech decides almost all five.
    mostly_no = next_question(WORLD, {}, DAY, priors={"high_tech": {"true": 5, "false": 95}})
    assert mostly_no.field == "high_tech" and mostly_no.worth == pytest.approx(5 * 96 / 102)
    # Counts of another field, or of answers the planner does not try, change nothing.
    assert next_question(WORLD, {}, DAY, priors={"revenue": {"0-100": 50},
                                                 "high_tech": {"maybe": 99}}).field == "high_tech"


def test_bands_choices_and_booleans_are_bucketed_as_the_planner_tries_them(dictionary):
    def b(name, raw):
        return bucket(dictionary[name], parse_facts({name: raw}, dictionary)[name])

    assert b("employees", 8) == "0-10"
    assert b("employees", 10) == "10-20"  # a band's low end is in it, its high end not
    assert b("employees", 320) == "300-1000"
    assert b("employees", 5000) == "1000-"  # the open top band
    assert b("revenue", 99.5) == "0-100"
    assert b("layoff_rate", 0) == "0-0.0001"
    assert b("employees", {"gte": 300, "lt": 1000}) == "300-1000"  # a band clicked
    assert b("employees", {"gte": 320, "lt": 400}) == "300-1000"  # inside one band
    assert b("employees", {"gte": 1000}) == "1000-"
    assert b("employees", {"gte": 250, "lt": 400}) is None  # spans two bands: not counted
    assert b("employees", {"gte": 300, "lte": 1000}) is None  # 1000 is the next band's
    assert b("employees", {"lt": 50}) is None
    assert b("taxpayer_type", "小规模纳税人") == "小规模纳税人"
    assert b("district", "宝山区") == "宝山区"
    assert b("high_tech", "是") == "true" and b("high_tech", False) == "false"
    # Dates, codes, numbers of a field without bands: not counted (never the raw value).
    assert b("founded_on", "2020-05-18") is None
    assert b("industry", "C3921") is None
    assert b("graduates_hired", 3) is None
    assert bucket(dictionary["scale"], "小型") is None  # derived: the planner never asks it
    assert bucket(dictionary["district"], "外省") is None  # not one of its choices


def test_every_answer_the_planner_tries_has_the_key_its_count_is_kept_under(dictionary):
    for f in dictionary.base_fields():
        for answer in _answers(f):
            assert answer_key(f, answer) is not None, (f.name, answer)
            assert bucket(f, answer) == answer_key(f, answer), (f.name, answer)
    assert answer_key(dictionary["employees"], Interval(300, 1000)) == "300-1000"


def test_answers_are_counted_in_redis_and_read_back_cached(r, dictionary):
    now = [100.0]
    priors = PolicyPriors(r, cache_s=5, clock=lambda: now[0])
    facts = parse_facts({"employees": 320, "high_tech": True, "taxpayer_type": "一般纳税人",
                         "founded_on": "2020-05-18", "industry": "C3921"}, dictionary)
    assert priors.count(facts, dictionary) == 3
    assert priors.count(parse_facts({"employees": {"gte": 300, "lt": 1000}}, dictionary),
                        dictionary) == 1
    # Only the fields a request answers, when it says which.
    assert priors.count(facts, dictionary, ["high_tech"]) == 1
    assert r.hgetall(KEY_PREFIX + "employees") == {"300-1000": "2"}
    assert r.hgetall(KEY_PREFIX + "high_tech") == {"true": "2"}
    # Nothing but the counts: no raw number, no date, no code, nobody.
    assert sorted(r.keys("*")) == [KEY_PREFIX + n for n in ("employees", "high_tech",
                                                             "taxpayer_type")]
    read = priors.read(dictionary)
    assert read == {"employees": {"300-1000": 2.0}, "high_tech": {"true": 2.0},
                    "taxpayer_type": {"一般纳税人": 1.0}}
    priors.count(parse_facts({"high_tech": False}, dictionary), dictionary)
    assert priors.read(dictionary)["high_tech"] == {"true": 2.0}  # cached for a few seconds
    now[0] += 6
    assert priors.read(dictionary)["high_tech"] == {"true": 2.0, "false": 1.0}
    # What they are for: the planner weighs with them.
    assert next_question(WORLD, {}, DAY, priors=priors.read(dictionary)).field == "high_tech"


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_redis_down_skips_the_counts_fast_and_logs_once(dictionary, caplog):
    blocking, _ = redis_clients.gateway_clients(f"redis://127.0.0.1:{_dead_port()}/0")
    priors = PolicyPriors(blocking)
    facts = parse_facts({"employees": 8, "high_tech": True}, dictionary)
    with caplog.at_level(logging.WARNING, logger="policies.priors"):
        t0 = time.perf_counter()
        assert priors.count(facts, dictionary) == 0
        for _ in range(20):  # skipped at once while Redis is known to be down
            assert priors.count(facts, dictionary) == 0
            assert priors.read(dictionary) == {}
        elapsed = time.perf_counter() - t0
    assert elapsed < 2.0
    warnings = [rec for rec in caplog.records if rec.name == "policies.priors"]
    assert len(warnings) == 1 and "counts skipped" in warnings[0].getMessage()
    # No Redis at all (a test's services): nothing counted, equal weights.
    assert PolicyPriors(None).count(facts, dictionary) == 0
    assert PolicyPriors(None).read(dictionary) == {}


def test_the_command_line_weighs_with_the_counts_only_when_asked(tmp_path, r, redis_server):
    import json
    import os
    import subprocess
    import sys

    from xiaobao.settings import REPO_ROOT

    item = {"title": "测试", "document": {"title": "测试文件"}, "category": "减免",
            "mode": "依申请", "benefit": "测试"}
    world = [{**item, "id": f"p{i}", "conditions": {"all": [
        atom("high_tech", "is_true"), atom("specialized", "ne", "无")]}} for i in range(1, 6)]
    world += [{**item, "id": f"p{i}", "conditions": atom("taxpayer_type", "eq", "小规模纳税人")}
              for i in (6, 7)]
    (tmp_path / "world.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n"
                                                  for p in world), "utf-8")
    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "blank", "facts": {}}) + "\n")
    r.hset(KEY_PREFIX + "high_tech", mapping={"true": 90, "false": 10})

    def asked(*extra):
        env = dict(os.environ, XIAOBAO_HOME=str(tmp_path), XIAOBAO_REDIS_URL=redis_server.url)
        out = subprocess.run([sys.executable, "-m", "cli.main", "policy", "check", "--profiles",
                              str(tmp_path / "p.jsonl"), "--policies",
                              str(tmp_path / "world.jsonl"), "--json", "--date", "2026-12-07",
                              *extra], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["next_question"]["field"]

    assert asked() == "high_tech"
    assert asked("--learned") == "taxpayer_type"

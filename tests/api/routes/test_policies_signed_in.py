"""The signed-in 政策体检 over HTTP (api/routes/policies.py), in-process, the enterprise signed in
through the simulator provider: the check starts from the register's facts in one sentence
naming their source and as-of date, never asks what the register knows, and a correction is
stored as the enterprise's own word beside the authority's. Anonymous callers get no register
fact, whatever USCC their body names."""
from __future__ import annotations

import datetime as dt

import pytest

from enterprises import register
from enterprises.importing import import_files
from policies.store import SEED
from policies.store import import_files as import_policies
from tests.api.routes.test_enterprise_auth import USCC, sign_in
from xiaobao.db import session_scope

AS_OF = dt.date(2026, 11, 1)
REGISTER_CSV = ("uscc,name,district,founded_on,employees\n"
                f"{USCC},上海宝山示例科技有限公司,宝山区,2019-05-10,60\n")
TAX_CSV = f"uscc,taxpayer_type\n{USCC},一般纳税人\n"


@pytest.fixture
def seeded(services, tmp_path):
    (tmp_path / "market.csv").write_text(REGISTER_CSV, encoding="utf-8")
    (tmp_path / "tax.csv").write_text(TAX_CSV, encoding="utf-8")
    with session_scope(services.engine) as s:
        import_policies(s, sorted(SEED.glob("*.yaml")), "seed")
        import_files(s, [tmp_path / "market.csv"], source="市场监管登记", by="test",
                     as_of=AS_OF)
        import_files(s, [tmp_path / "tax.csv"], source="税务", by="test",
                     as_of=dt.date(2026, 10, 1))


def test_the_check_starts_from_the_register_and_asks_only_the_unknown(client, seeded):
    sign_in(client)
    result = client.post("/api/policy-check", json={}).json()
    assert result["register_sentence"] == (
        "根据登记信息（市场监管登记，2026-11-01）：注册地所在区宝山区，成立日期2019-05-10，"
        "从业人数60人；（税务，2026-10-01）：增值税纳税人类型一般纳税人，如有变化请告诉我。")
    rows = {r["field"]: r for r in result["from_register"]}
    assert rows["employees"] == {"field": "employees", "label": "从业人数", "value": 60,
                                 "shown": "60人", "source": "市场监管登记",
                                 "as_of": "2026-11-01"}
    known = set(rows)
    asked = result["next_question"]["field"]
    assert asked not in known
    # Answering what is asked, round after round, never reaches a known fact.
    facts: dict = {}
    declined: list[str] = []
    for _ in range(12):
        question = client.post("/api/policy-check",
                               json={"facts": facts, "declined": declined}).json()
        if question["next_question"] is None:
            break
        assert question["next_question"]["field"] not in known
        declined.append(question["next_question"]["field"])


def test_the_register_facts_decide_as_if_given(client, seeded):
    given = {"district": "宝山区", "founded_on": "2019-05-10", "employees": 60,
             "taxpayer_type": "一般纳税人"}
    anonymous = client.post("/api/policy-check", json={"facts": given}).json()
    sign_in(client)
    signed_in = client.post("/api/policy-check", json={}).json()
    for status in ("eligible", "possible", "ineligible"):
        assert [c["id"] for c in signed_in[status]] == [c["id"] for c in anonymous[status]]


def test_a_correction_is_stored_beside_the_authority(client, services, seeded):
    sign_in(client)
    corrected = client.post("/api/policy-check/corrections", json={"facts": {"employees": 62}})
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["stored"] == 1
    row = next(r for r in corrected.json()["from_register"] if r["field"] == "employees")
    assert (row["value"], row["source"]) == (60, "市场监管登记")  # the authority still counts
    assert row["declared"]["shown"] == "62人" and row["declared"]["source"] == "企业自报"
    with session_scope(services.engine) as s:
        kept = [(h["value"], h["source"]) for h in register.history(s, USCC, "employees")]
    assert kept == [(60, "市场监管登记"), (62, "企业自报")]  # both kept, nothing over the other
    again = client.post("/api/policy-check", json={}).json()
    assert next(r for r in again["from_register"] if r["field"] == "employees")["declared"][
        "value"] == 62


def test_a_bad_correction_is_refused_and_stores_nothing(client, services, seeded):
    sign_in(client)
    with session_scope(services.engine) as s:
        before = register.fact_count(s)
    bad = client.post("/api/policy-check/corrections", json={"facts": {"employees": "很多"}})
    assert bad.status_code == 422 and "error" in bad.json()
    derived = client.post("/api/policy-check/corrections",
                          json={"facts": {"years_since_founded": 3}})
    assert derived.status_code == 422
    with session_scope(services.engine) as s:
        assert register.fact_count(s) == before


def test_anonymous_sees_nothing_whatever_uscc_it_names(client, services, seeded):
    result = client.post("/api/policy-check", json={"uscc": USCC, "facts": {}})
    assert result.status_code == 200
    body = result.json()
    assert body["from_register"] == [] and body["register_sentence"] == ""
    assert "宝山区" not in result.text and "2019-05-10" not in result.text
    refused = client.post("/api/policy-check/corrections",
                          json={"uscc": USCC, "facts": {"employees": 1}})
    assert refused.status_code == 401
    with session_scope(services.engine) as s:
        assert [h["source"] for h in register.history(s, USCC, "employees")] == ["市场监管登记"]

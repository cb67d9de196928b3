"""政策体检 over HTTP (api/routes/policies.py): the check on the published policies with
titles and reasons, the next question with its input, clear errors, an edit seen at once."""
from __future__ import annotations

from policies import store
from policies.fields import default_dictionary
from xiaobao.db import session_scope

SMALL = {"taxable_income": 50, "employees": 8, "total_assets": 200,
         "is_individual_business": False, "industry": "I6510", "taxpayer_type": "小规模纳税人"}


def seed(services) -> None:
    with session_scope(services.engine) as s:
        store.import_files(s, sorted(store.SEED.glob("*.yaml")), "seed")


def test_the_check_gives_cards_with_reasons_and_the_next_question(client, services):
    seed(services)
    body = client.post("/api/policy-check", json={"facts": {**SMALL, "employees": 320},
                                                  "date": "2026-12-07"}).json()
    assert body["date"] == "2026-12-07"
    [small_profit] = [c for c in body["ineligible"] if c["id"] == "tax-small-profit-cit"]
    assert small_profit["document"]["doc_no"] == "财政部 税务总局公告2023年第12号"
    assert small_profit["failed"] == [{"field": "employees",
                                       "reason": "从业人数不超过300人 —— 您填报 320人（第三条）"}]
    vat = next(c for c in body["eligible"] if c["id"] == "tax-small-scale-vat")
    assert vat["mode"] == "免申即享" and vat["why"] == ["增值税小规模纳税人"]
    assert vat["unmodelled"]  # shown as 需核实
    high_tech = next(c for c in body["possible"] if c["id"] == "tax-high-tech-cit")
    assert high_tech["unknown"] == [{"field": "high_tech", "label": "有效期内高新技术企业"}]
    question = body["next_question"]  # one a still-possible policy needs, with its input
    assert question["field"] in {u["field"] for c in body["possible"] for u in c["unknown"]}
    assert question["field"] not in SMALL and question["text"]
    assert question["type"] == default_dictionary()[question["field"]].type


def test_outside_its_dates_a_policy_is_not_in_force(client, services):
    seed(services)
    body = client.post("/api/policy-check", json={"facts": SMALL, "date": "2028-01-01"}).json()
    assert "tax-small-profit-cit" in [c["id"] for c in body["not_in_force"]]


def test_bad_facts_are_refused_clearly(client, services):
    for facts, word in (({"employees": "很多"}, "从业人数"), ({"nope": 1}, "未知字段"),
                        ({"taxpayer_type": "大型"}, "一般纳税人")):
        response = client.post("/api/policy-check", json={"facts": facts})
        assert response.status_code == 422, response.text
        assert word in response.json()["error"]["message"]
    assert client.post("/api/policy-check", json={"declined": ["nope"]}).status_code == 422
    assert client.post("/api/policy-check", json={"date": "soon"}).status_code == 422


def test_a_published_change_is_checked_at_once(client, services):
    seed(services)
    before = client.post("/api/policy-check", json={"facts": SMALL}).json()
    assert any(c["id"] == "tax-small-scale-vat" for c in before["eligible"])
    with session_scope(services.engine) as s:
        store.archive(s, "tax-small-scale-vat", "rev", "测试下线")
    after = client.post("/api/policy-check", json={"facts": SMALL}).json()
    ids = [c["id"] for status in ("eligible", "possible", "ineligible") for c in after[status]]
    assert "tax-small-scale-vat" not in ids


def test_the_field_dictionary_lists_every_field_with_its_input(client):
    fields = {f["name"]: f for f in client.get("/api/policy-fields").json()["fields"]}
    assert {"district", "industry", "founded_on", "employees", "scale",
            "years_since_founded"} <= set(fields)
    assert fields["employees"]["bands"][0] == {"low": 0.0, "high": 10.0, "label": "10人以下"}
    assert fields["scale"]["derived_from"] == ["industry", "employees", "revenue",
                                               "total_assets"]


def test_an_item_not_yet_compared_with_its_document_has_no_check_date(client, services):
    seed(services)
    response = client.post("/api/policy-check", json={"facts": SMALL, "date": "2026-12-07"})
    cards = {c["id"]: c for status in ("eligible", "possible", "ineligible")
             for c in response.json()[status]}
    assert cards["tax-small-profit-cit"]["checked_on"] == "2026-12-07"
    assert cards["tax-staff-education-8pct"]["checked_on"] is None  # the page shows no date
    assert "None" not in response.text

"""The policy editors' API through HTTP (api/routes/policies_edit.py, policies_files.py,
policies_trial.py), as logged-in editors use it: the flows from a draft to a published item
the public check sees, review by a second editor, the checks before publishing, clear
refusals, imports with a dry run, export, and the test panel with its boundary cases."""
from __future__ import annotations

import copy

import pytest
import yaml

ITEM = {"id": "p-edit", "title": "高新技术企业培育奖励",
        "document": {"title": "宝山区科技创新扶持办法", "doc_no": "宝府规〔2026〕1号",
                     "issuer": "宝山区人民政府"},
        "clause": "第五条", "category": "奖补", "mode": "依申请", "department": "区科委",
        "benefit": "一次性奖励10万元。", "valid_from": "2026-01-01", "valid_to": "2030-12-31",
        "apply": "一网通办“科技企业奖励”事项。", "checked_on": "2026-12-01",
        "conditions": {"all": [{"field": "employees", "op": "le", "value": 300,
                                "clause": "第五条"},
                               {"field": "high_tech", "op": "is_true"}]}}
DAY = "2026-12-07"


def item(**changes) -> dict:
    return {**copy.deepcopy(ITEM), **changes}


@pytest.fixture
def editors(staff):
    """Three editors, each with a browser of their own."""
    return staff("ann", "editor"), staff("bob", "editor"), staff("cat", "editor")


def test_a_draft_is_edited_reviewed_and_published_by_a_second_editor(editors, client):
    ann, bob, _ = editors
    created = ann.post("/api/policies", json={"item": item(status="published"), "why": "新政策"})
    assert created.status_code == 201, created.text
    policy = created.json()["policy"]
    assert (policy["status"], policy["version"], policy["updated_by"]) == ("draft", 1, "ann")

    found = ann.get("/api/policies", params={"q": "培育 宝府规", "status": "draft"}).json()
    assert [p["id"] for p in found["items"]] == ["p-edit"] and found["total"] == 1
    assert ann.get("/api/policies", params={"q": "没有这个词"}).json()["total"] == 0

    edited = ann.put("/api/policies/p-edit", json={
        "item": item(benefit="一次性奖励20万元。"), "version": 1, "why": "按原文更正金额"})
    assert edited.status_code == 200 and edited.json()["policy"]["version"] == 2
    stale = bob.put("/api/policies/p-edit", json={"item": item(), "version": 1})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"

    assert ann.post("/api/policies/p-edit/submit", json={"why": "请审核"}).status_code == 200
    own = ann.post("/api/policies/p-edit/publish", json={})
    assert own.status_code == 403 and own.json()["error"]["code"] == "same_reviewer"
    published = bob.post("/api/policies/p-edit/publish", json={"why": "已核对原文"})
    assert published.status_code == 200, published.text
    assert published.json()["policy"]["status"] == "published"

    checked = client.post("/api/policy-check", json={
        "facts": {"employees": 20, "high_tech": True}, "date": DAY}).json()
    [card] = [c for c in checked["eligible"] if c["id"] == "p-edit"]
    assert card["benefit"] == "一次性奖励20万元。"

    history = ann.get("/api/policies/p-edit/history").json()["versions"]
    assert [(v["action"], v["actor"], v["why"]) for v in history] == [
        ("publish", "bob", "已核对原文"), ("submit", "ann", "请审核"),
        ("edit", "ann", "按原文更正金额"), ("create", "ann", "新政策")]
    assert history[-1]["data"]["benefit"] == "一次性奖励10万元。"
    assert history[0]["at"].endswith("+00:00")
    diff = ann.get("/api/policies/p-edit/diff", params={"from": 1, "to": 2}).json()["fields"]
    assert [d["field"] for d in diff if d["changed"]] == ["benefit"]

    rolled = ann.post("/api/policies/p-edit/rollback", json={"version": 1, "why": "撤回修改"})
    assert rolled.status_code == 200
    back = rolled.json()["policy"]
    assert (back["status"], back["version"], back["benefit"]) == ("draft", 5, "一次性奖励10万元。")
    archived = bob.post("/api/policies/p-edit/archive", json={"why": "停止执行"})
    assert archived.json()["policy"]["status"] == "archived"


def test_the_last_author_cannot_publish_what_a_colleague_submitted(editors):
    ann, bob, cat = editors
    ann.post("/api/policies", json={"item": item()})
    bob.post("/api/policies/p-edit/submit")
    refused = ann.post("/api/policies/p-edit/publish")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "same_author"
    assert "另一位编辑" in refused.json()["error"]["message"]
    assert bob.post("/api/policies/p-edit/publish").status_code == 403  # the submitter
    assert cat.post("/api/policies/p-edit/publish").status_code == 200


def test_publishing_is_refused_while_a_check_finds_an_error(editors):
    ann, bob, _ = editors
    bad = item(document={"title": "宝山区科技创新扶持办法"}, department="", mode="免申即享",
               conditions={"all": [{"field": "rd_ratio", "op": "ge", "value": 5},
                                   {"field": "employees", "op": "le", "value": 100},
                                   {"field": "employees", "op": "gt", "value": 200}]})
    assert ann.post("/api/policies", json={"item": bad}).status_code == 201
    got = ann.get("/api/policies/p-edit").json()
    codes = {c["code"] for c in got["checks"] if c["level"] == "error"}
    assert codes == {"missing_doc_no", "missing_department", "never_holds", "declared_only"}
    ann.post("/api/policies/p-edit/submit")
    refused = bob.post("/api/policies/p-edit/publish")
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "checks_failed" and "文号" in error["message"]
    assert {e["code"] for e in error["errors"]} == codes
    assert ann.get("/api/policies/p-edit").json()["policy"]["status"] == "in_review"
    expired = bob.post("/api/policies/p-edit/publish", json={"date": "2031-01-01"}).json()
    assert "expired" in {e["code"] for e in expired["error"]["errors"]}


def test_bad_input_is_refused_clearly(editors, staff, client):
    ann, _, _ = editors
    bad = ann.post("/api/policies", json={"item": item(category="其他", benefit="")})
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "invalid_policy"
    assert {e["field"] for e in error["errors"]} == {"category", "benefit"}
    unknown = ann.post("/api/policies", json={"item": item(conditions={
        "field": "nope", "op": "eq", "value": 1})})
    assert unknown.status_code == 422 and "未知字段" in unknown.json()["error"]["message"]
    assert ann.post("/api/policies", json={"item": item()}).status_code == 201
    taken = ann.post("/api/policies", json={"item": item()})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "policy_exists"
    other_id = ann.put("/api/policies/p-edit", json={"item": item(id="p-other"), "version": 1})
    assert other_id.status_code == 422
    missing = ann.get("/api/policies/nope")
    assert missing.status_code == 404 and "找不到事项" in missing.json()["error"]["message"]
    assert ann.get("/api/policies/p-edit/diff", params={"from": 1, "to": 9}).status_code == 404
    assert ann.post("/api/policies/p-edit/publish").json()["error"]["code"] == "not_in_review"
    assert ann.post("/api/policies", json={"title": "无 item"}).status_code == 422
    assert ann.post("/api/policies", content=b"{not json",
                    headers={"Content-Type": "application/json"}).status_code == 422
    helper = staff("hal", "helper", ["区市场监管局"])
    assert helper.get("/api/policies").status_code == 403
    assert client.get("/api/policies").status_code == 401
    for response in (bad, unknown, taken, missing):
        assert "Traceback" not in response.text


def test_an_import_dry_run_lists_every_bad_row_and_stores_nothing(editors):
    ann, bob, _ = editors
    rows = [item(), item(id="p-bad", category="其他"), item(id="p-bad2", conditions={
        "field": "employees", "op": "le", "value": "很多"})]
    upload = {"file": ("policies.yaml", yaml.safe_dump(rows, allow_unicode=True).encode())}
    refused = ann.post("/api/policies/import", params={"dry_run": "true"}, files=upload)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "import_failed" and error["total_errors"] == 2
    assert [(e["row"], e["field"].split(".")[0]) for e in error["errors"]] == [
        (2, "category"), (3, "conditions")]
    assert ann.get("/api/policies").json()["total"] == 0

    good = [item(), item(id="p-two", status="published")]
    upload = {"file": ("policies.jsonl", "".join(
        __import__("json").dumps(r, ensure_ascii=False) + "\n" for r in good).encode())}
    preview = ann.post("/api/policies/import", params={"dry_run": "true"}, files=upload)
    assert preview.json() == {"dry_run": True, "rows": 2, "created": ["p-edit", "p-two"],
                              "updated": [], "unchanged": []}
    assert ann.get("/api/policies").json()["total"] == 0
    done = ann.post("/api/policies/import", files=upload).json()
    assert done["created"] == ["p-edit", "p-two"]
    statuses = {p["id"]: p["status"] for p in ann.get("/api/policies").json()["items"]}
    assert statuses == {"p-edit": "draft", "p-two": "in_review"}  # a file cannot publish here
    assert ann.post("/api/policies/p-two/publish").json()["error"]["code"] == "same_author"
    assert bob.post("/api/policies/p-two/publish").status_code == 200

    exported = ann.get("/api/policies/export", params={"format": "yaml"})
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    again = ann.post("/api/policies/import", files={"file": ("back.yaml", exported.content)})
    assert again.json()["unchanged"] == ["p-edit", "p-two"]
    wrong = ann.post("/api/policies/import", files={"file": ("x.csv", b"id\n1\n")})
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "unsupported_file_type"
    for fmt in ("jsonl", "xlsx"):
        assert ann.get("/api/policies/export", params={"format": fmt}).status_code == 200


def test_the_test_panel_marks_each_condition_and_lists_boundary_cases(editors):
    ann, _, _ = editors
    body = {"item": item(), "facts": {"employees": 320, "high_tech": True}, "date": DAY}
    tested = ann.post("/api/policies/test", json=body)
    assert tested.status_code == 200, tested.text
    out = tested.json()
    assert out["result"]["status"] == "ineligible" and out["publishable"]
    assert out["result"]["failed"] == [
        {"field": "employees", "reason": "从业人数不超过300人 —— 您填报 320人（第五条）"}]
    marks = [(n["path"], n["mark"], n.get("given")) for n in out["result"]["nodes"]]
    assert marks == [("conditions", "❌", None), ("conditions.all[0]", "❌", "320人"),
                     ("conditions.all[1]", "✅", "是")]
    cases = {(c["field"], c["case"]): c for c in out["boundaries"]}
    assert {k: (c["value"], c["expected"]) for k, c in cases.items()
            if k[0] == "employees"} == {
        ("employees", "below"): (299, "eligible"), ("employees", "at"): (300, "eligible"),
        ("employees", "above"): (301, "ineligible"), ("employees", "unknown"): (None,
                                                                              "possible")}
    assert cases[("date", "above")]["value"] == "2031-01-01"
    assert [c["expected"] for c in out["boundaries"] if c["field"] == "date"] == [
        "not_in_force", "ineligible", "ineligible", "ineligible", "ineligible", "not_in_force"]

    unknown = ann.post("/api/policies/test", json={**body, "facts": {"high_tech": True}}).json()
    assert [n["mark"] for n in unknown["result"]["nodes"]] == ["❓", "❓", "✅"]
    assert unknown["result"]["unknown"] == [{"field": "employees", "label": "从业人数"}]
    # No sample: the cases start from an enterprise that qualifies.
    alone = ann.post("/api/policies/test", json={"item": item(), "date": DAY}).json()
    assert alone["base"] == {"employees": 299, "high_tech": True}
    assert {c["case"]: c["expected"] for c in alone["boundaries"]
            if c["field"] == "employees"}["above"] == "ineligible"

    unfinished = ann.post("/api/policies/test", json={"item": {"conditions": {
        "all": [{"field": "employees", "op": "le"}]}}, "date": DAY}).json()
    assert unfinished["result"] is None and not unfinished["publishable"]
    assert "invalid_condition" in {c["code"] for c in unfinished["checks"]}
    bad_fact = ann.post("/api/policies/test", json={**body, "facts": {"employees": "很多"}})
    assert bad_fact.status_code == 422 and bad_fact.json()["error"]["code"] == "invalid_fact"

    ann.post("/api/policies", json={"item": item()})
    saved = ann.post("/api/policies/p-edit/test", json={"facts": {"employees": 20,
                                                                  "high_tech": True},
                                                        "date": DAY}).json()
    assert saved["result"]["status"] == "eligible"
    assert ann.post("/api/policies/nope/test", json={}).status_code == 404


def test_saved_test_cases_are_kept_with_the_item_and_guard_publishing(editors):
    ann, bob, _ = editors
    cases = [{"name": "小企业", "facts": {"employees": 20, "high_tech": True},
              "expected": "eligible"}]
    assert ann.post("/api/policies", json={"item": item(tests=cases)}).status_code == 201
    saved = ann.get("/api/policies/p-edit").json()["policy"]["tests"]
    assert saved == [{**cases[0], "declined": []}]
    tested = ann.post("/api/policies/p-edit/test", json={"date": DAY}).json()
    assert tested["cases"] == [{"index": 0, "name": "小企业", "expected": "eligible",
                                "actual": "eligible", "passed": True}]
    tighter = item(tests=cases, conditions={"field": "employees", "op": "le", "value": 10})
    ann.put("/api/policies/p-edit", json={"item": tighter, "version": 1, "why": "收紧"})
    ann.post("/api/policies/p-edit/submit")
    refused = bob.post("/api/policies/p-edit/publish", json={"date": DAY})
    assert refused.status_code == 422
    assert [e["code"] for e in refused.json()["error"]["errors"]] == ["test_failed"]

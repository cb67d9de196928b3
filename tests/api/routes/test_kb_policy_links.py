"""An entry names the 政策体检 policies it is about (issue 23): ``policy_ids`` through the
editors' API — refused with a clear 422 when the store does not hold one — suggested by 文号 in
the preview and for a saved entry, and through an import; and ``POST /api/policy-check``
restricted to some policies."""
from __future__ import annotations

import json

import pytest

from policies import store
from xiaobao.db import session_scope

CIT = "tax-small-profit-cit"
ENTRY = {"question": "小微企业所得税怎么优惠？",
         "answer": "按财政部 税务总局公告2023年第12号执行。",
         "source": "财政部 税务总局公告2023年第12号"}


@pytest.fixture
def editor(services, login):
    with session_scope(services.engine) as s:
        store.import_files(s, sorted(store.SEED.glob("*.yaml")), "seed")
    return login("ed", roles=["editor"])


def test_an_entry_names_policies_and_an_unknown_one_is_refused(editor):
    bad = editor.post("/api/kb/entries", json={**ENTRY, "policy_ids": [CIT, "no-such-policy"]})
    assert bad.status_code == 422, bad.text
    error = bad.json()["error"]
    assert error["code"] == "invalid_entry" and "no-such-policy" in error["message"]
    assert error["errors"][0]["field"] == "policy_ids"
    assert editor.get("/api/kb/entries", params={"q": "小微企业所得税"}).json()["total"] == 0

    entry = editor.post("/api/kb/entries", json={**ENTRY, "policy_ids": [CIT]}).json()["entry"]
    assert entry["policy_ids"] == [CIT]
    again = editor.get(f"/api/kb/entries/{entry['id']}").json()["entry"]
    assert again["policy_ids"] == [CIT]
    refused = editor.put(f"/api/kb/entries/{entry['id']}",
                         json={"version": entry["version"], "policy_ids": "x|" + CIT})
    assert refused.status_code == 422 and "x" in refused.json()["error"]["message"]
    cleared = editor.put(f"/api/kb/entries/{entry['id']}",
                         json={"version": entry["version"], "policy_ids": []}).json()["entry"]
    assert cleared["policy_ids"] == [] and cleared["version"] == entry["version"] + 1
    bad_kind = editor.post("/api/kb/entries", json={**ENTRY, "policy_ids": [{"a": 1}]})
    assert bad_kind.status_code == 422


def test_links_are_suggested_by_document_number(editor):
    preview = editor.post("/api/kb/preview", json=ENTRY).json()
    suggested = [s["id"] for s in preview["policy_links"]["suggestions"]]
    assert CIT in suggested and "tax-six-taxes-two-fees" in suggested  # the same 文号
    assert preview["policy_links"]["linked"] == []
    entry = editor.post("/api/kb/entries", json={**ENTRY, "policy_ids": [CIT]}).json()["entry"]
    body = editor.get(f"/api/kb/entries/{entry['id']}/policy-suggestions").json()
    assert body["linked"] == [{"id": CIT, "title": body["linked"][0]["title"],
                               "status": "published"}]
    same_doc_no = sorted(i["id"] for path in store.SEED.glob("*.yaml")
                         for i in store.load_file(path)
                         if i["document"]["doc_no"] == ENTRY["source"] and i["id"] != CIT)
    assert "tax-six-taxes-two-fees" in same_doc_no
    assert [s["id"] for s in body["suggestions"]] == same_doc_no
    assert {s["matched"] for s in body["suggestions"]} == {"doc_no"}
    assert editor.get("/api/kb/entries/nope/policy-suggestions").status_code == 404


def test_an_import_naming_an_unknown_policy_writes_nothing(editor):
    rows = [{**ENTRY, "id": "kb-linked", "policy_ids": [CIT]},
            {**ENTRY, "id": "kb-bad", "question": "另一个", "policy_ids": ["ghost"]}]
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    response = editor.post("/api/kb/import", files={"file": ("e.jsonl", data)})
    assert response.status_code == 422, response.text
    assert "ghost" in response.json()["error"]["message"]
    assert editor.get("/api/kb/entries/kb-linked").status_code == 404
    good = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[:1]).encode()
    assert editor.post("/api/kb/import", files={"file": ("e.jsonl", good)}).status_code == 200
    assert editor.get("/api/kb/entries/kb-linked").json()["entry"]["policy_ids"] == [CIT]


def test_the_check_restricted_to_a_policy(client, editor):
    whole = client.post("/api/policy-check", json={"facts": {}, "date": "2026-12-07"}).json()
    assert len(whole["possible"]) > 1
    one = client.post("/api/policy-check", json={"facts": {}, "date": "2026-12-07",
                                                 "policies": [CIT]}).json()
    assert [c["id"] for s in ("eligible", "possible", "ineligible", "not_in_force")
            for c in one[s]] == [CIT]
    needs = {u["field"] for u in one["possible"][0]["unknown"]}
    assert one["next_question"]["field"] in needs
    done = client.post("/api/policy-check", json={
        "facts": {"taxable_income": 50, "employees": 8, "total_assets": 200,
                  "is_individual_business": False, "industry": "I6510"},
        "date": "2026-12-07", "policies": [CIT]}).json()
    assert [c["id"] for c in done["eligible"]] == [CIT] and done["next_question"] is None
    for ids in (["no-such-policy"], [CIT, "x" * 64]):
        refused = client.post("/api/policy-check", json={"policies": ids})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "unknown_policy"
    assert client.post("/api/policy-check", json={"policies": ["x" * 65]}).status_code == 422


def test_a_link_the_entry_has_already_is_kept_though_the_store_lacks_it(services, login):
    """A knowledge base loaded before its policies (the seed names some) still edits and
    re-imports; a new unknown link is refused all the same."""
    from knowledge_base.schema import EntryData

    services.kb.save(EntryData.model_validate({**ENTRY, "id": "kb-early",
                                               "policy_ids": [CIT]}), "seed")
    editor = login("ed2", roles=["editor"])  # no policy in the store
    entry = editor.get("/api/kb/entries/kb-early").json()["entry"]
    edited = editor.put("/api/kb/entries/kb-early", json={**entry, "answer": "改过的答案。"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["entry"]["policy_ids"] == [CIT]
    exported = editor.get("/api/kb/export", params={"format": "jsonl"}).content
    again = editor.post("/api/kb/import", files={"file": ("e.jsonl", exported)})
    assert again.status_code == 200, again.text
    more = editor.put("/api/kb/entries/kb-early", json={
        "version": edited.json()["entry"]["version"], "policy_ids": [CIT, "tax-small-scale-vat"]})
    assert more.status_code == 422 and "tax-small-scale-vat" in more.json()["error"]["message"]

"""免申即享 through the gateway, end to end in-process (api/routes/register.py, worklists.py,
my_policies.py): a registrar imports the register from an authority's file, which re-runs the
batch; the department's leader finds the enterprise on the work list with why it qualifies and
confirms it; the enterprise, signed in through the simulator provider, sees it under 我的政策,
confirms with one click; the leader records the grant, and the outcomes count it. Anonymous
callers and enterprises read no register fact; a read needs a reason and is logged."""
from __future__ import annotations

import pytest

from enterprises import audit
from policies.store import SEED
from policies.store import import_files as import_policies
from tests.api.routes.test_enterprise_auth import USCC, sign_in
from xiaobao.db import session_scope

SMALL_PROFIT = "tax-small-profit-cit"
AUTHORITY_CSV = ("uscc,name,taxable_income,employees,total_assets,is_individual_business,"
                 f"taxpayer_type\n{USCC},上海宝山示例科技有限公司,120,35,900,否,一般纳税人\n")


@pytest.fixture
def seeded(services):
    with session_scope(services.engine) as s:
        import_policies(s, sorted(SEED.glob("*.yaml")), "seed")


def login(client, make_account, name, roles, departments=()):
    password = make_account(name, roles=roles, departments=list(departments))
    assert client.post("/api/auth/login", json={"username": name, "password": password}
                       ).status_code == 200


def test_from_the_register_to_the_grant(client, make_account, services, seeded):
    login(client, make_account, "reg", ["registrar"])
    imported = client.post("/api/register/import", data={"source": "税务"},
                           files={"file": ("tax.csv", AUTHORITY_CSV.encode())})
    assert imported.status_code == 200, imported.text
    assert imported.json()["batch"]["work_items"] >= 1

    login(client, make_account, "lead", ["leader"], ["区税务局"])
    listed = client.get("/api/worklists", params={"policy_id": SMALL_PROFIT}).json()["items"]
    [item] = [i for i in listed if i["uscc"] == USCC]
    assert item["title"].startswith("小型微利企业")
    assert item["why"]["facts"]["employees"] == 35
    assert item["why"]["sources"]["employees"]["source"] == "税务"
    assert client.post(f"/api/worklists/{item['id']}/decision",
                       json={"confirm": True}).status_code == 200

    sign_in(client)
    mine = client.get("/api/enterprise/policies")
    assert mine.status_code == 200, mine.text
    assert [(w["id"], w["status"]) for w in mine.json()["work_items"]] == [
        (item["id"], "confirmed")]
    assert SMALL_PROFIT in [p["id"] for p in mine.json()["eligible"]]
    accepted = client.post(f"/api/enterprise/work-items/{item['id']}/accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"

    granted = client.post(f"/api/worklists/{item['id']}/grant")
    assert granted.status_code == 200 and granted.json()["status"] == "granted"
    outcomes = client.get("/api/worklists/outcomes").json()
    row = next(r for r in outcomes["policies"] if r["policy_id"] == SMALL_PROFIT)
    assert (row["confirmed"], row["accepted"], row["granted"]) == (1, 1, 1)
    assert outcomes["departments"]["区税务局"]["granted"] == 1


def test_a_bad_import_is_refused_row_by_row_and_stores_nothing(client, make_account, seeded):
    login(client, make_account, "reg", ["registrar"])
    column = client.post("/api/register/import", data={"source": "税务"}, files={"file": (
        "bad.csv", b"uscc,employees,colour\n913101130000000000,12,red\n")})
    assert column.status_code == 422
    assert [e["field"] for e in column.json()["error"]["errors"]] == ["colour"]
    rows = client.post("/api/register/import", data={"source": "税务"}, files={"file": (
        "bad.csv", f"uscc,employees\n913101130000000000,12\n{USCC},很多\n".encode())})
    assert rows.status_code == 422, rows.text
    assert [(e["row"], e["field"]) for e in rows.json()["error"]["errors"]] == [
        (2, "uscc"), (3, "employees")]
    exported = client.get("/api/register/export", params={"format": "csv"})
    assert exported.status_code == 200 and exported.text.strip().count("\n") == 0  # header only


def test_register_reads_need_a_role_and_a_reason_and_are_logged(client, make_account, services,
                                                                 seeded):
    login(client, make_account, "reg", ["registrar"])
    client.post("/api/register/import", data={"source": "税务"},
                files={"file": ("tax.csv", AUTHORITY_CSV.encode())})
    client.cookies.clear()
    assert client.get(f"/api/register/enterprises/{USCC}",
                      params={"reason": "x"}).status_code == 401
    sign_in(client)  # an enterprise is no staff: its own facts come through 我的政策 only
    assert client.get(f"/api/register/enterprises/{USCC}",
                      params={"reason": "x"}).status_code == 401
    login(client, make_account, "sup", ["supervisor"])
    bare = client.get(f"/api/register/enterprises/{USCC}")
    assert bare.status_code == 403 and "理由" in bare.json()["error"]["message"]
    read = client.get(f"/api/register/enterprises/{USCC}", params={"reason": "核查补贴申请"})
    assert read.status_code == 200
    fields = {f["field"]: f for f in read.json()["fields"]}
    assert fields["employees"]["source"] == "税务"
    with session_scope(services.engine) as s:
        reads = audit.entries(s, uscc=USCC, action="read")
    assert [(r["actor"], r["reason"]) for r in reads] == [("sup", "核查补贴申请")]


def test_an_enterprise_opts_out_of_notifications(client, seeded):
    assert client.post("/api/enterprise/opt-out").status_code == 401
    sign_in(client)
    assert client.post("/api/enterprise/opt-out").json() == {"opted_out": True}
    mine = client.get("/api/enterprise/policies").json()
    assert mine["opted_out"] is True and mine["in_register"] is False  # not in the register
    assert mine["eligible"] == [] and mine["possible"]  # every fact unknown: all to ask


def test_publishing_a_policy_notifies_the_newly_eligible_once(client, make_account, services,
                                                              seeded):
    from sqlalchemy import select

    from notifications.models import Notification
    from policies import editing
    from policies import store as policy_store

    login(client, make_account, "reg", ["registrar"])
    client.post("/api/register/import", data={"source": "税务"},
                files={"file": ("tax.csv", AUTHORITY_CSV.encode())})
    with session_scope(services.engine) as s:
        editing.create(s, {"id": "hire-30", "title": "吸纳就业补贴", "category": "奖补",
                           "mode": "依申请", "department": "区人社局",
                           "document": {"title": "文件", "doc_no": "宝人社〔2026〕9号"},
                           "benefit": "每人补贴。", "apply": "一网通办“就业补贴”事项。",
                           "conditions": {"field": "employees", "op": "ge", "value": 30}},
                       "author")
        policy_store.submit(s, "hire-30", "author")
    login(client, make_account, "ed", ["editor"])
    impact = client.get("/api/policies/hire-30/impact").json()
    assert impact["newly_eligible"]["count"] == 1
    published = client.post("/api/policies/hire-30/publish", json={"why": "上线"})
    assert published.status_code == 200, published.text
    assert published.json()["batch"]["notifications"] == 1
    with session_scope(services.engine) as s:
        rows = s.scalars(select(Notification).where(Notification.policy_id == "hire-30")).all()
        assert [(n.uscc, n.kind) for n in rows] == [(USCC, "eligible")]
        assert "吸纳就业补贴" in rows[0].text and "退订" in rows[0].text


def test_a_td_reply_opts_out_only_with_the_providers_key(app, client, services):
    from notifications.optouts import opted_out

    body = {"uscc": USCC, "text": " td "}
    assert client.post("/api/notify/sms-reply", json=body).status_code == 401  # no key set
    app.state.settings.notify_sms_key = services.settings.notify_sms_key = "provider-key-123"
    assert client.post("/api/notify/sms-reply", json=body,
                       headers={"X-Notify-Key": "wrong"}).status_code == 401
    told = client.post("/api/notify/sms-reply", json=body,
                       headers={"X-Notify-Key": "provider-key-123"})
    assert told.status_code == 200 and told.json() == {"opted_out": True}
    assert client.post("/api/notify/sms-reply", json={"uscc": USCC, "text": "谢谢"}, headers={
        "X-Notify-Key": "provider-key-123"}).json() == {"opted_out": False}
    with session_scope(services.engine) as s:
        assert opted_out(s, USCC)


def test_the_opt_out_link_of_a_message_opens_my_policies_opt_out(client):
    went = client.get("/notifications/opt-out", follow_redirects=False)
    assert went.status_code == 303 and went.headers["location"] == "/my-policies#mp-optout-title"
    assert "退订政策推送" in client.get(went.headers["location"]).text

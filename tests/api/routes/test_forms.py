"""智能填表 over HTTP (api/routes/forms.py): the enterprise signed in through the simulator
gets a policy's form pre-filled from the register as JSON and as a PDF; anonymous callers get
401 and no register value; a policy it does not qualify for is a 404. The app runs on the
``engine`` fixture's database: SQLite, and PostgreSQL when configured."""
from __future__ import annotations

import datetime as dt
import io

import pypdf
import pytest

from api.deps import conversation_id_from_cookies
from enterprises.register import ensure_enterprise, new_facts, write_facts
from policies import editing, store
from policies.checkups import record_checkup
from policies.evaluator import CheckResult
from policies.store import SEED
from policies.store import import_files as import_policies
from tests.api.routes.test_enterprise_auth import USCC, sign_in
from xiaobao.clock import today
from xiaobao.db import session_scope

POLICY = "tax-small-profit-cit"
NAME = "上海宝山示例科技有限公司"
FORM = [{"key": "employees", "label": "从业人数", "fact": "employees", "required": True},
        {"key": "contact", "label": "联系人", "required": True},
        {"key": "founded_on", "label": "成立日期", "fact": "founded_on"}]
FACTS = {"taxable_income": 120, "employees": 35, "total_assets": 900,
         "is_individual_business": False}


@pytest.fixture
def settings(settings, engine):
    """The API conftest's settings on the migrated test database of ``engine``."""
    return settings.model_copy(update={
        "database_url": engine.url.render_as_string(hide_password=False)})


@pytest.fixture
def seeded(services, engine):
    assert services.engine.url == engine.url  # the app reads and writes the fixture's database
    with session_scope(services.engine) as s:
        import_policies(s, sorted(SEED.glob("*.yaml")), "seed")
        item = store.get_item(s, POLICY)
        data = editing.validate({**item.data, "form": FORM,
                                 "materials": ["从业人数证明", "营业执照副本"]}).stored()
        store.write_version(s, item, data, "published", "test", "edit", "")
        ensure_enterprise(s, USCC, NAME)
        write_facts(s, new_facts(USCC, FACTS, "税务", today() - dt.timedelta(days=10), set()),
                    by="test", batch="")


def test_the_signed_in_enterprise_gets_its_form_as_json_and_pdf(client, seeded):
    sign_in(client)
    got = client.get(f"/api/enterprise/forms/{POLICY}")
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["uscc"], body["name"], body["status"]) == (USCC, NAME, "eligible")
    employees = body["fields"][0]
    assert (employees["value"], employees["source"], employees["state"]) == (35, "税务",
                                                                             "authority")
    assert body["to_fill"] == ["contact", "founded_on"]
    assert [m["proven"] for m in body["materials"]] == [True, False]

    pdf = client.get(f"/api/enterprise/forms/{POLICY}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert pdf.content.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert NAME in text and USCC in text and "35人" in text


def test_this_browsers_check_up_fills_what_the_register_lacks(client, seeded):
    assert client.get("/").status_code == 200  # the visitor cookie: this browser's conversation
    settings = client.app.state.services.settings
    conversation = conversation_id_from_cookies(dict(client.cookies), settings)
    with session_scope(client.app.state.services.engine) as s:
        record_checkup(s, conversation, {"founded_on": "2020-03-15", "employees": 999}, [],
                       today(), CheckResult([]))
    sign_in(client)
    fields = {f["key"]: f for f in client.get(f"/api/enterprise/forms/{POLICY}").json()["fields"]}
    assert (fields["founded_on"]["value"], fields["founded_on"]["source"],
            fields["founded_on"]["state"]) == ("2020-03-15", "对话中填报", "given")
    assert fields["employees"]["value"] == 35  # the register's, not the check-up's


def test_anonymous_callers_get_401_and_no_register_value(client, seeded):
    for path in (f"/api/enterprise/forms/{POLICY}", f"/api/enterprise/forms/{POLICY}.pdf"):
        got = client.get(path)
        assert got.status_code == 401
        assert "35" not in got.text and NAME not in got.text


def test_a_policy_it_does_not_qualify_for_is_404(client, seeded):
    sign_in(client)
    # a published policy the enterprise neither qualifies for nor may (its facts decide it)
    mine = client.get("/api/enterprise/policies").json()
    open_ids = {p["id"] for p in mine["eligible"] + mine["possible"]}
    shut = next(p["id"] for p in store_items(client) if p["id"] not in open_ids)
    for path in (f"/api/enterprise/forms/{shut}", f"/api/enterprise/forms/{shut}.pdf",
                 "/api/enterprise/forms/no-such-policy"):
        got = client.get(path)
        assert got.status_code == 404, path
        assert got.json()["error"]["code"] == "no_form"
        assert "没有可为贵企业填写的申请表" in got.json()["error"]["message"]


def store_items(client) -> list[dict]:
    with session_scope(client.app.state.services.engine) as s:
        return store.all_items(s, "published")

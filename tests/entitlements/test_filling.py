"""智能填表: the seed's 小型微利企业 policy given a form, filled for the small register's
enterprises — values and sources from the register, the enterprise's own word and its
check-up marked as such, a stale authority marked stale, the rest to fill, the materials the
register proves; a policy the enterprise does not qualify for is refused."""
from __future__ import annotations

import datetime as dt
import io

import pypdf
import pytest

from enterprises.register import new_facts, write_facts
from entitlements.errors import EntitlementError
from entitlements.filling import fill
from entitlements.filling_pdf import TO_FILL, pdf_bytes
from policies import editing, store
from tests.entitlements.conftest import DAY, code

POLICY = "tax-small-profit-cit"
FORM = [{"key": "employees", "label": "从业人数", "fact": "employees", "required": True},
        {"key": "taxable_income", "label": "上年应纳税所得额", "fact": "taxable_income"},
        {"key": "founded_on", "label": "成立日期", "fact": "founded_on"},
        {"key": "contact", "label": "联系人", "required": True, "help": "经办人姓名和电话"}]
MATERIALS = ["从业人数证明（社保缴纳记录）", "上年应纳税所得额证明", "营业执照副本"]


@pytest.fixture
def formed(session):
    item = store.get_item(session, POLICY)
    data = editing.validate({**item.data, "form": FORM, "materials": MATERIALS}).stored()
    store.write_version(session, item, data, "published", "test", "edit", "")
    return session


def by_key(filled) -> dict:
    return {f.key: f for f in filled.fields}


def test_values_and_sources_come_from_the_register(formed):
    filled = fill(formed, code(1), POLICY, DAY)
    fields = by_key(filled)
    assert (filled.name, filled.status) == ("甲公司", "eligible")
    assert (fields["employees"].value, fields["employees"].shown) == (20, "20人")
    assert (fields["employees"].source, fields["employees"].as_of) == (
        "税务", DAY - dt.timedelta(days=30))
    assert fields["employees"].state == "authority"
    assert [k for k, f in fields.items() if f.to_fill] == ["founded_on", "contact"]
    out = filled.to_dict()
    assert out["to_fill"] == ["founded_on", "contact"]
    assert out["fields"][0]["as_of"] == (DAY - dt.timedelta(days=30)).isoformat()


def test_materials_named_by_authoritative_fields_are_proven(formed):
    materials = {m.name: m for m in fill(formed, code(1), POLICY, DAY).materials}
    assert materials["从业人数证明（社保缴纳记录）"].proven_by == ["从业人数"]
    assert materials["上年应纳税所得额证明"].proven
    assert not materials["营业执照副本"].proven  # names no field: to provide
    declared = {m.name: m for m in fill(formed, code(2), POLICY, DAY).materials}
    assert not any(m.proven for m in declared.values())  # the enterprise's word proves nothing


def test_the_enterprises_own_word_is_marked_as_such(formed):
    fields = by_key(fill(formed, code(2), POLICY, DAY))
    assert (fields["employees"].state, fields["employees"].source) == ("declared", "企业自报")


def test_a_check_up_fills_what_the_register_lacks(formed):
    given = {"employees": 12, "taxable_income": 50, "total_assets": 300,
             "is_individual_business": False, "founded_on": "2020-03-15"}
    filled = fill(formed, code(4), POLICY, DAY, given)
    fields = by_key(filled)
    assert filled.status == "eligible"
    assert (fields["employees"].state, fields["employees"].source) == ("given", "对话中填报")
    assert fields["founded_on"].shown == "2020-03-15"
    # the register's value wins over the check-up's
    assert by_key(fill(formed, code(1), POLICY, DAY, given))["employees"].value == 20


def test_a_stale_authoritative_value_is_marked_stale(formed):
    old = DAY - dt.timedelta(days=400)
    write_facts(formed, new_facts(code(1), {"founded_on": dt.date(2019, 5, 10)}, "市场监管登记",
                                  old, set()), by="test", batch="")
    founded = by_key(fill(formed, code(1), POLICY, DAY))["founded_on"]
    assert (founded.state, founded.as_of, founded.source) == ("stale", old, "市场监管登记")


def test_a_policy_the_enterprise_does_not_qualify_for_is_refused(formed):
    with pytest.raises(EntitlementError) as caught:
        fill(formed, code(3), POLICY, DAY)  # too big
    assert caught.value.status == 404 and "没有可为贵企业填写的申请表" in caught.value.message
    with pytest.raises(EntitlementError):
        fill(formed, code(1), "no-such-policy", DAY)


def test_the_pdf_shows_the_values_and_highlights_what_to_fill(formed):
    content = pdf_bytes(fill(formed, code(1), POLICY, DAY))
    assert content.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages)
    for said in ("甲公司", code(1), "20人", "税务", TO_FILL, "待提供", "√ 登记信息已证明",
                 "预先填写", "电子税务局"):
        assert said in text, said

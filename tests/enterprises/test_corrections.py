"""Reading a correction from free text (enterprises/corrections.py): each field type of the
shipped dictionary, the units, the negations, and what is no correction at all."""
from __future__ import annotations

import datetime as dt

import pytest

from enterprises.corrections import parse_corrections
from policies.fields import parse_dictionary


@pytest.mark.parametrize(("text", "expected"), [
    # integer, with 人 / 名, digits or Chinese numerals, after or before the field's name
    ("从业人数现在是80人", {"employees": 80}),
    ("我们人数变成80了", {"employees": 80}),
    ("我们有八十名员工", {"employees": 80}),
    ("员工一百二十人了", {"employees": 120}),
    ("参保人数30", {"insured_employees": 30}),  # the longest name: not 人数 (从业人数)
    ("今年招了5名高校毕业生", {"graduates_hired": 5}),
    # number in 万元: 万, 亿 and 元 converted
    ("营收500万", {"revenue": 500.0}),
    ("上年营业收入1.2亿", {"revenue": 12000.0}),
    ("营业收入5000000元", {"revenue": 500.0}),
    ("资产总额3000万元", {"total_assets": 3000.0}),
    ("研发费用占比5%", {"rd_ratio": 5.0}),
    ("研发费用占营业收入比例是6％", {"rd_ratio": 6.0}),  # not 营业收入
    # boolean: 是 / 不是 / 已经不是 / lost or gained
    ("已经不是高新技术企业了", {"high_tech": False}),
    ("我们不是高企", {"high_tech": False}),
    ("高新技术企业资格过期了", {"high_tech": False}),
    ("我们评上高新技术企业了", {"high_tech": True}),
    ("我们是高新企业", {"high_tech": True}),
    ("不是个体户", {"is_individual_business": False}),
    ("已经移出失信名单", {"serious_dishonesty": False}),
    # choice, named or by its value alone
    ("纳税信用等级变成A级了", {"tax_credit_level": "A"}),
    ("我们现在是一般纳税人", {"taxpayer_type": "一般纳税人"}),
    ("纳税人类型改为小规模", {"taxpayer_type": "小规模纳税人"}),
    ("评上小巨人了", {"specialized": "专精特新“小巨人”企业"}),
    # district: a choice of the dictionary, short names too
    ("注册地改成嘉定区了", {"district": "嘉定区"}),
    ("注册地改成嘉定了", {"district": "嘉定区"}),
    ("我们搬到浦东了", {"district": "浦东新区"}),
    # date and industry code
    ("成立日期其实是2018年3月1日", {"founded_on": dt.date(2018, 3, 1)}),
    ("2019-05-10成立的", {"founded_on": dt.date(2019, 5, 10)}),
    ("行业代码是i6510", {"industry": "I6510"}),
    # two facts in one message
    ("营收500万，从业人数80人", {"revenue": 500.0, "employees": 80}),
])
def test_a_correction_is_read_by_its_fields_type(text, expected):
    assert parse_corrections(text) == expected


@pytest.mark.parametrize("text", [
    "从业人数怎么算",  # named, but no value
    "今天天气不错",
    "嘉定区有什么政策",  # a district without a word of change is a question, not a move
    "我公司能享受哪些政策",
    "纳税信用等级变了",
    "成立日期改了",
    "true",  # a clicked answer's value names nothing
    '{"gte": 100, "lt": 300}',
])
def test_no_correction(text):
    assert parse_corrections(text) == {}


def test_a_value_that_does_not_fit_the_field_is_none():
    assert parse_corrections("从业人数是80.5人") == {}  # an integer field
    assert parse_corrections("成立日期是2019年13月40日") == {}


def test_derived_fields_are_never_corrected():
    assert "scale" not in parse_corrections("企业规模现在是小型，从业人数80人")


def test_a_field_an_editor_adds_is_named_by_its_label():
    dictionary = parse_dictionary({
        "disabled_employees": {"type": "integer", "unit": "人", "label": "残疾人职工人数"},
        "employees": {"type": "integer", "unit": "人", "label": "从业人数"}})
    assert parse_corrections("残疾人职工人数现在12人", dictionary) == {"disabled_employees": 12}

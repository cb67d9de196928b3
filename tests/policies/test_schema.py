"""A policy item's application form (智能填表): its fields name dictionary facts or none, keys
are unique, and an item without a form is stored as before."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from policies.schema import PolicyData

ITEM = {"id": "form-item", "title": "表单事项", "document": {"title": "文件"}, "category": "奖补",
        "mode": "依申请", "benefit": "补贴。"}


def test_a_form_is_kept_with_the_item():
    form = [{"key": "employees", "label": "从业人数", "fact": "employees", "required": True},
            {"key": "contact", "label": "联系人", "help": "经办人姓名"}]
    stored = PolicyData.model_validate({**ITEM, "form": form}).stored()
    assert stored["form"] == [{**form[0], "help": ""},
                              {**form[1], "fact": "", "required": False}]


def test_an_item_without_a_form_stores_none():
    assert "form" not in PolicyData.model_validate(ITEM).stored()
    assert "form" not in PolicyData.model_validate({**ITEM, "form": []}).stored()


@pytest.mark.parametrize(("field", "said"), [
    ({"key": "x", "label": "颜色", "fact": "colour"}, "字段词典中没有"),
    ({"key": "x", "label": "成立年限", "fact": "years_since_founded"}, "由其他字段计算"),
    ({"key": "1x", "label": "编号"}, "pattern"),
    ({"key": "x", "label": ""}, "at least 1"),
])
def test_a_bad_form_field_is_refused(field, said):
    with pytest.raises(ValidationError) as caught:
        PolicyData.model_validate({**ITEM, "form": [field]})
    assert said in str(caught.value)


def test_form_keys_are_unique():
    twice = [{"key": "a", "label": "甲"}, {"key": "a", "label": "乙"}]
    with pytest.raises(ValidationError, match="表单字段编号重复"):
        PolicyData.model_validate({**ITEM, "form": twice})

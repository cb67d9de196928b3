"""enterprises.checkup_start: the sentence a signed-in check-up starts from, the values as a
person reads them, and nothing for an anonymous visitor or an enterprise not in the register."""
from __future__ import annotations

import datetime as dt

import pytest

from enterprises.checkup_start import KnownFact, register_sentence, register_start, shown_value
from policies.facts import Interval
from policies.fields import default_dictionary

D = default_dictionary()


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("employees", 60, "60人"), ("revenue", 1200.5, "1200.5万元"), ("high_tech", True, "是"),
    ("founded_on", dt.date(2019, 5, 10), "2019-05-10"), ("district", "宝山区", "宝山区"),
    ("employees", Interval(50, 100), "50–100人"),
])
def test_shown_value(field, value, shown):
    assert shown_value(D[field], value) == shown


def test_the_sentence_groups_by_source_and_date():
    day = dt.date(2026, 11, 1)
    known = [KnownFact("district", "注册地所在区", "宝山区", "宝山区", "市场监管登记", day),
             KnownFact("high_tech", "有效期内高新技术企业", True, "是", "科委认定名单", day),
             KnownFact("employees", "从业人数", 60, "60人", "市场监管登记", day)]
    assert register_sentence(known) == (
        "根据登记信息（市场监管登记，2026-11-01）：注册地所在区宝山区，从业人数60人；"
        "（科委认定名单，2026-11-01）：有效期内高新技术企业：是，如有变化请告诉我。")
    assert register_sentence([]) == ""


def test_nothing_for_anonymous_or_an_unknown_enterprise(session):
    assert register_start(session, None, dt.date(2026, 12, 1)).known == []
    assert register_start(session, "91310113MA1GL2K3XG", dt.date(2026, 12, 1)).facts == {}

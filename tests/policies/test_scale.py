"""企业规模 by 工信部联企业〔2011〕300号: every industry group at its thresholds, three-valued."""
from __future__ import annotations

import pytest

from policies import scale
from policies.facts import Interval
from tests.policies.conftest import DAY

GROUPS = scale.standard_on(DAY).groups


def example_code(group: scale.Group) -> str:
    code = group.codes[0] if group.codes else "S9410"  # 其他: e.g. 社会组织 (section S)
    return code + "1" * (5 - len(code)) if len(code) < 5 else code


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
@pytest.mark.parametrize("size", ["大型", "中型", "小型"])
def test_each_group_at_and_just_below_its_thresholds(group, size):
    thresholds = {"大型": group.large, "中型": group.medium, "小型": group.small}[size]
    facts = {"industry": example_code(group), **thresholds}
    assert scale.classify(facts, DAY).value == size
    lower = scale.SIZES[scale.SIZES.index(size) + 1]
    for name, threshold in thresholds.items():  # any one indicator just below: the next size
        below = {**facts, name: threshold - 0.5}
        assert scale.classify(below, DAY).value == lower, (group.name, size, name)


def test_every_code_section_maps_to_its_group():
    standard = scale.standard_on(DAY)
    assert standard.group_of("C3921").name == "工业"
    assert standard.group_of("F5211").name == "零售业"
    assert standard.group_of("G5990").name == "仓储业"
    assert standard.group_of("I6510").name == "软件和信息技术服务业"
    assert standard.group_of("I6410").name == "信息传输业"
    assert standard.group_of("K7010").name == "房地产开发经营"
    assert standard.group_of("K7020").name == "物业管理"
    assert standard.group_of("M7320").name == "其他未列明行业"


def test_unknown_figures_leave_it_unknown_unless_they_cannot_change_it():
    assert scale.classify({}, DAY) == scale.ScaleResult(None, ("industry",))
    # 工业 with 15 people is 微型 whatever the revenue; with 500 people it depends on revenue.
    assert scale.classify({"industry": "C3921", "employees": 15}, DAY).value == "微型"
    undecided = scale.classify({"industry": "C3921", "employees": 500}, DAY)
    assert undecided.value is None and undecided.missing == ("revenue",)
    # A band decides when it can: 300–1000 people and 2000万+ revenue is 中型.
    band = {"industry": "C3921", "employees": Interval(300, 1000), "revenue": Interval(2000)}
    assert scale.classify(band, DAY).value == "中型"

"""Links between knowledge-base answers and policies (policies/links.py): suggestions by 文号
or title, the published ones an answer card offers, and a check-up restricted to one policy
that asks only its questions."""
from __future__ import annotations

from policies import store
from policies.evaluator import CheckResult, Resolver, check_policy, policy_from_dict
from policies.links import published_links, restrict, suggest_links, unknown_ids
from policies.planner import next_question
from tests.policies.conftest import DAY

SMALL_PROFIT = {"id": "tax-small-profit-cit", "title": "小型微利企业减按25%计入应纳税所得额",
                "status": "published",
                "document": {"title": "关于进一步支持小微企业和个体工商户发展有关税费政策的公告",
                             "doc_no": "财政部 税务总局公告2023年第12号"}}
SCALE = {"id": "scale-rule", "title": "中小企业划型", "status": "draft",
         "document": {"title": "中小企业划型标准规定", "doc_no": "工信部联企业〔2011〕300号"}}
SHORT = {"id": "short", "title": "稳岗返还", "status": "published", "document": {"title": "通知"}}
ITEMS = [SMALL_PROFIT, SCALE, SHORT]


def test_a_document_number_is_found_whatever_its_spacing_and_brackets():
    found = suggest_links(["按财政部税务总局公告2023年第12号执行。"], ITEMS)
    assert [(s["id"], s["matched"]) for s in found] == [("tax-small-profit-cit", "doc_no")]
    found = suggest_links(["", "来源：工信部联企业[2011]300号"], ITEMS)
    assert [(s["id"], s["matched"], s["status"]) for s in found] == [
        ("scale-rule", "doc_no", "draft")]
    assert found[0]["doc_no"] == "工信部联企业〔2011〕300号"


def test_a_title_is_found_but_not_a_short_common_phrase():
    text = "《关于进一步支持小微企业和个体工商户发展有关税费政策的公告》规定……可申请稳岗返还。"
    assert [(s["id"], s["matched"]) for s in suggest_links([text], ITEMS)] == [
        ("tax-small-profit-cit", "title")]


def test_nothing_is_suggested_twice_or_from_nothing():
    text = "财政部 税务总局公告2023年第12号；工信部联企业〔2011〕300号"
    assert [s["id"] for s in suggest_links([text], ITEMS, linked=["scale-rule"])] == [
        "tax-small-profit-cit"]
    assert suggest_links(["", None], ITEMS) == []  # type: ignore[list-item]
    assert suggest_links(["公告2023年第1号"], ITEMS) == []  # not 第12号


def test_only_published_links_are_offered_in_the_entrys_order():
    assert published_links(["scale-rule", "short", "gone", "tax-small-profit-cit", "short"],
                           ITEMS) == [{"id": "short", "title": "稳岗返还"},
                                      {"id": "tax-small-profit-cit",
                                       "title": SMALL_PROFIT["title"]}]
    assert unknown_ids(["a", "short", "b"], [i["id"] for i in ITEMS]) == ["a", "b"]


def _seed() -> list:
    return [(policy_from_dict(r), r) for path in sorted(store.SEED.glob("*.yaml"))
            for r in store.load_file(path)]


def test_a_check_restricted_to_one_policy_asks_only_its_questions(dictionary):
    items = _seed()
    assert restrict(items, None) == items and restrict(items, []) == items
    [(one, data)] = restrict(items, ["tax-small-profit-cit"])
    assert one.id == "tax-small-profit-cit"
    facts: dict = {}
    asked = []
    for _ in range(20):  # answer every question as a small enterprise would
        question = next_question([one], facts, DAY, dictionary=dictionary)
        if question is None:
            break
        assert question.field in one.needs, question.field
        asked.append(question.field)
        facts[question.field] = {"employees": 8, "total_assets": 200, "taxable_income": 50,
                                 "is_individual_business": False,
                                 "industry": "I6510"}.get(question.field, False)
    assert asked and len(asked) == len(set(asked))
    resolve = Resolver(facts, DAY, dictionary, frozenset())
    assert check_policy(one, resolve).status == "eligible"
    # over every policy the first question may be one this policy never needs
    everything = next_question([p for p, _ in items], {}, DAY, dictionary=dictionary,
                               result=CheckResult([check_policy(p, Resolver({}, DAY, dictionary,
                                                                            frozenset()))
                                                   for p, _ in items]))
    assert everything is not None

"""The 政策体检 page (/policy-check) in a real browser, against the real processes and the
shipped policy seed (policies/seed/tax.yaml, published): the next question first, answers in
the form or by the question's buttons, the result cards changing as they are given (an eligible
item with why, source, 文号, validity and 免申即享; an ineligible one with its failed condition and
clause), 不知道 / 跳过 sent as ``declined``, the API's refusals (422, 429) said in Chinese, the
page at phone width without sideways scrolling, 长辈模式 with its larger text, and axe-core;
and a knowledge-base answer about a policy (the seed's kb-tax-007 names two) offering
看看我是否符合, which in the chat asks only that policy's questions, and ?policy= on the page.

Screenshots: results/screenshots/xiaobao_policy_check_*.png.
"""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.browser import VENV_BIN, Stack, say, screenshot, serious_axe_violations

pytestmark = pytest.mark.rasa

DAY = "2026-12-07"  # the check's day (?date=): the seed's validity as on a fixed day
PAGE = f"/policy-check?date={DAY}"
PHONE = {"width": 375, "height": 812}
ELDER = re.compile(r"\belder\b")


@pytest.fixture(scope="module")
def base(stack: Stack) -> str:
    """The shared stack with the policy seed in its store (idempotent: other files may seed)."""
    stack.run([str(VENV_BIN / "xiaobao"), "policy", "seed"])
    return stack.base


def card(page: Page, status: str, policy_id: str):
    return page.locator(f".pc-group.{status} .pc-card[data-policy='{policy_id}']")


def open_page(browser: Browser, base: str, viewport: dict) -> tuple[Page, list[str]]:
    errors: list[str] = []
    page = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda d: errors.append(f"dialog {d.message}"))
    page.goto(base + PAGE)
    expect(page.locator("#pc-summary")).to_contain_text("项")
    return page, errors


def checked(page: Page, action) -> dict:
    """Do ``action`` and return the body of the check it sends, once its answer is shown."""
    with page.expect_request(lambda r: r.url.endswith("/api/policy-check")) as request:
        action()
    expect(page.locator("#pc-results")).to_have_attribute("aria-busy", "false")
    return json.loads(request.value.post_data)


def refusal(status: int, message: str):
    """A route handler answering the check as the gateway refuses it."""
    def fulfil(route, _request) -> None:
        route.fulfill(status=status, content_type="application/json",
                      headers={"Retry-After": "30"} if status == 429 else {},
                      body=json.dumps({"error": {"code": "refused", "message": message}}))
    return fulfil


def no_sideways_scroll(page: Page) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, "
                           "document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths


def px(page: Page, selector: str) -> float:
    """The font size of the first match, in px. A live re-check may redraw the cards between
    finding the element and reading it (a detached element has no computed size: NaN), so it
    is read again, for up to 5 s, until it is a number."""
    size = float("nan")
    for _ in range(50):
        size = page.locator(selector).first.evaluate(
            "e => parseFloat(getComputedStyle(e).fontSize)")
        if size == size:  # not NaN
            return size
        page.wait_for_timeout(100)
    return size


def test_the_form_checks_live_and_explains_each_result(base: str, browser: Browser) -> None:
    page, errors = open_page(browser, base, {"width": 1366, "height": 900})
    # Reached from the portal's header, and back.
    page.goto(base + "/")
    page.get_by_role("link", name="政策体检").click()
    page.wait_for_url("**/policy-check")
    expect(page.get_by_role("link", name="返回小宝对话")).to_have_attribute("href", "/")
    page.goto(base + PAGE)

    # Nothing given: nothing decided, the most useful question first, the whole form below.
    expect(page.locator("#pc-summary")).to_contain_text("暂未确定符合的政策；另有")
    expect(page.locator("#pc-date")).to_contain_text(DAY)
    question = page.locator("#pc-question-text").inner_text()
    assert question.endswith("？")
    asked = page.locator(".pc-field.next").get_attribute("data-field")
    assert asked
    assert page.locator(f".pc-field[data-field={asked}] .pc-q").first.inner_text() == question
    base_fields = page.evaluate("""async () => (await (await fetch('/api/policy-fields'))
        .json()).fields.filter((f) => !f.derived_from).map((f) => f.name)""")
    assert len(base_fields) >= 19
    expect(page.locator(".pc-field")).to_have_count(len(base_fields))  # no derived one
    expect(page.locator(".pc-field[data-field=scale]")).to_have_count(0)
    assert serious_axe_violations(page) == []

    # 小规模纳税人: the VAT relief is eligible, with why, its source, 文号, validity, 免申即享.
    body = checked(page, lambda: page.select_option("#pc-taxpayer_type", "小规模纳税人"))
    # ``answered``: what changed since the last request (the planner's priors count only it).
    assert body == {"facts": {"taxpayer_type": "小规模纳税人"}, "declined": [], "date": DAY,
                    "answered": ["taxpayer_type"]}
    vat = card(page, "eligible", "tax-small-scale-vat")
    expect(vat).to_be_visible()
    expect(vat.locator(".mark.free")).to_have_text("免申即享")
    expect(vat).to_contain_text("增值税小规模纳税人")
    expect(vat).to_contain_text("财政部 税务总局公告2023年第19号")
    expect(vat).to_contain_text("2023-01-01 至 2027-12-31")
    expect(vat).to_contain_text("需核实")  # what the system cannot check
    expect(page.locator("#pc-summary")).to_contain_text(re.compile(r"已确定符合 \d+ 项"))

    # 320 people, exactly: the small-profit relief fails on it, said with its clause.
    page.select_option("#pc-employees", "exact")
    expect(page.locator("#pc-employees-exact")).to_be_visible()
    checked(page, lambda: page.fill("#pc-employees-exact", "320"))
    small_profit = card(page, "ineligible", "tax-small-profit-cit")
    expect(small_profit).to_contain_text("从业人数不超过300人 —— 您填报 320人（第三条）")
    expect(small_profit).to_contain_text("财政部 税务总局公告2023年第12号")
    expect(card(page, "ineligible", "fee-disability-fund-exemption")).to_contain_text("30人")

    # A band instead: "10人以下" decides both thresholds without the number.
    body = checked(page, lambda: page.select_option("#pc-employees", label="10人以下"))
    assert body["facts"]["employees"] == {"gte": 0, "lt": 10}
    assert body["answered"] == ["employees"]  # taxpayer_type was counted before
    expect(card(page, "eligible", "fee-disability-fund-exemption")).to_be_visible()
    expect(card(page, "ineligible", "tax-small-profit-cit")).to_have_count(0)
    expect(card(page, "possible", "tax-small-profit-cit")).to_contain_text("还需回答")

    # The question's own buttons answer it: the next question is another one.
    question = page.locator("#pc-question-text").inner_text()
    field = page.locator(".pc-field.next").get_attribute("data-field")
    answers = page.locator("#pc-question-answers button.option")
    quick = [b for b in answers.all() if b.inner_text() not in ("去填写", "填写准确数字")]
    checked(page, quick[0].click)  # its first answer, or 不知道 / 跳过 for a typed one
    expect(page.locator("#pc-question-text")).not_to_have_text(question)
    assert page.locator(".pc-field.next").get_attribute("data-field") != field

    # 不知道 / 跳过: sent as declined, never asked again, shown on the cards that wait for it.
    body = checked(page, lambda: page.check("#pc-high_tech-skip"))
    assert "high_tech" in body["declined"] and "high_tech" not in body["facts"]
    assert "high_tech" not in body["answered"]  # 不知道 is no answer to count
    expect(page.locator("#pc-high_tech-true")).to_be_disabled()
    high_tech = card(page, "possible", "tax-high-tech-cit")
    expect(high_tech).to_contain_text("有效期内高新技术企业（您选择了不知道）")
    assert page.locator(".pc-field.next").get_attribute("data-field") != "high_tech"
    # ... and answered after all: 是 makes it eligible.
    checked(page, lambda: page.uncheck("#pc-high_tech-skip"))
    expect(page.locator("#pc-high_tech-true")).to_be_enabled()
    page.check("#pc-high_tech-true")
    expect(card(page, "eligible", "tax-high-tech-cit")).to_contain_text("有效期内的高新技术企业")

    # A value that cannot be a fact is said at the field and kept out of the check.
    body = checked(page, lambda: page.fill("#pc-industry", "软件"))
    expect(page.locator("#pc-industry-error")).to_contain_text("C3921")
    expect(page.locator("#pc-industry")).to_have_attribute("aria-invalid", "true")
    assert "industry" not in body["facts"]
    body = checked(page, lambda: page.fill("#pc-industry", "i6510"))
    assert body["facts"]["industry"] == "I6510"
    expect(page.locator("#pc-industry-error")).to_be_hidden()
    screenshot(page, "policy_check_desktop")
    assert serious_axe_violations(page) == []

    # The API's refusals, in Chinese, in the page; the answers stay and the check comes back.
    for status, message, district in (
            (429, "政策体检过于频繁，请30秒后再试。 / Too many requests", "宝山区"),
            (422, "从业人数的值“x”不符合格式（integer）。 / employees: bad", "浦东新区")):
        page.route("**/api/policy-check", refusal(status, message))
        page.select_option("#pc-district", district)
        expect(page.locator("#pc-error")).to_be_visible()
        expect(page.locator("#pc-error-text")).to_contain_text(message.split(" / ")[0])
        assert "Too many" not in page.locator("#pc-error-text").inner_text()
        page.unroute("**/api/policy-check")
        checked(page, lambda: page.click("#pc-retry"))
        expect(page.locator("#pc-error")).to_be_hidden()
    expect(card(page, "eligible", "tax-small-scale-vat")).to_be_visible()
    assert errors == []


def test_phone_width_and_elders_mode(base: str, browser: Browser) -> None:
    page, errors = open_page(browser, base, PHONE)
    no_sideways_scroll(page)
    checked(page, lambda: page.select_option("#pc-taxpayer_type", "小规模纳税人"))
    page.select_option("#pc-employees", "exact")
    checked(page, lambda: page.fill("#pc-employees-exact", "320"))
    expect(card(page, "ineligible", "tax-small-profit-cit")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "policy_check_phone")
    assert serious_axe_violations(page) == []

    # 长辈模式: text of 24 px and more, still no sideways scrolling; remembered on reload.
    benefit = ".pc-card.eligible .pc-benefit"
    assert px(page, benefit) < 24
    toggle = page.get_by_role("button", name="长辈模式")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("html")).to_have_class(ELDER)
    for selector in (benefit, "#pc-question-text", "#pc-summary", ".pc-q", ".pc-card h4"):
        assert px(page, selector) >= 24, selector
    radio = page.locator(".pc-field[data-field=high_tech] .pc-radio").first.bounding_box()
    assert radio and radio["height"] >= 60
    no_sideways_scroll(page)
    screenshot(page, "policy_check_phone_elders")
    assert serious_axe_violations(page) == []
    page.reload()
    expect(page.locator("#pc-summary")).to_contain_text("项")
    expect(page.get_by_role("button", name="长辈模式")).to_have_attribute("aria-pressed", "true")
    assert px(page, "#pc-question-text") >= 24
    page.get_by_role("button", name="长辈模式").click()
    expect(page.locator("html")).not_to_have_class(ELDER)

    # The portal, with its new link, fits the phone too.
    page.goto(base + "/")
    expect(page.get_by_role("link", name="政策体检")).to_be_visible()
    no_sideways_scroll(page)
    assert errors == []


CIT = "tax-small-profit-cit"
CIT_FIELDS = {"taxable_income", "employees", "total_assets", "is_individual_business"}


def test_an_answer_about_a_policy_checks_that_policy_alone(base: str, browser: Browser) -> None:
    page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base + "/")
    questions = page.evaluate("""async () => Object.fromEntries((await (await
        fetch('/api/policy-fields')).json()).fields.map((f) => [f.question, f.name]))""")
    say(page, "小微企业所得税优惠怎么享受")
    answer = page.locator(".msg.bot").last
    expect(answer).to_contain_text("财政部 税务总局公告2023年第12号")
    offers = answer.locator("button.policy-check")
    expect(offers).to_have_count(2)  # 小型微利企业所得税 and 六税两费
    offer = offers.filter(has_text="小型微利企业减按25%")
    expect(offer).to_have_text(re.compile("^看看我是否符合："))
    screenshot(page, "policy_link_answer")

    before = page.locator(".msg.bot").count()
    offer.click()
    expect(page.locator(".msg.bot")).to_have_count(before + 1, timeout=60_000)
    asked = page.locator(".msg.bot").last
    expect(asked).to_contain_text("好的，看看您是否符合“小型微利企业减按25%")
    fields = []
    for _ in range(6):  # each question is one this policy needs; the first answer offered
        text = asked.locator(".text").inner_text()
        if text.startswith("核对结果："):
            break
        field = next((name for q, name in questions.items() if q and q in text), None)
        assert field in CIT_FIELDS, text
        fields.append(field)
        before = page.locator(".msg.bot").count()
        asked.locator("button.option").first.click()
        expect(page.locator(".msg.bot")).to_have_count(before + 1, timeout=60_000)
        asked = page.locator(".msg.bot").last
    assert fields and len(fields) == len(set(fields))
    expect(asked).to_contain_text("小型微利企业减按25%")
    expect(asked).not_to_contain_text("政策体检结果")  # that policy's result, not every one
    screenshot(page, "policy_link_checked")
    assert serious_axe_violations(page) == []

    # The page restricted to it: one card, the request naming it, the note saying so.
    with page.expect_request(lambda r: r.url.endswith("/api/policy-check")) as request:
        page.goto(f"{base}{PAGE}&policy={CIT}")
    assert json.loads(request.value.post_data)["policies"] == [CIT]
    expect(page.locator("#pc-date")).to_contain_text("只核对所选的 1 项政策")
    expect(page.locator(".pc-card")).to_have_count(1)
    expect(page.locator(f".pc-card[data-policy='{CIT}']")).to_be_visible()
    next_field = page.locator(".pc-field.next").get_attribute("data-field")
    assert next_field in CIT_FIELDS
    assert errors == []

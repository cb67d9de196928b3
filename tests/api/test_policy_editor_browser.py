"""The workbench's 政策 view in a real browser (Debian's Chromium) against the gateway under
uvicorn (a stand-in Rasa: no bot is needed here): an editor builds a condition (a group, 除外 a
GB/T 4754 section picked by name) and sees it read back in one sentence, tests a sample
enterprise (each condition ✅/❌/❓, the boundary cases), keeps the sample as a test case, saves
and submits; publishing it herself is refused, a second editor publishes it, and the public
check sees it at once. axe-core finds nothing serious; screenshots at desktop and phone width
go to results/screenshots/xiaobao_editor_policies_*.png."""
from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.browser import login, screenshot, serious_axe_violations
from xiaobao.accounts import create_account
from xiaobao.db import session_scope

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "editor-pass-1"


@pytest.fixture
def gateway(gateway_process):
    with session_scope(gateway_process.engine) as session:
        for name in ("ann", "bob"):
            create_account(session, name, PASSWORD, roles=["editor"], display_name=name)
    gateway_process.start()
    return gateway_process


def editor_page(browser: Browser, base: str, username: str, errors: list[str]) -> Page:
    page = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, base, username, PASSWORD, "/editor")
    expect(page.locator("#nav-policies")).to_be_visible()
    return page


def test_an_editor_builds_tests_and_submits_and_a_second_editor_publishes(gateway, browser):
    errors: list[str] = []
    ann = editor_page(browser, gateway.base, "ann", errors)
    ann.click("#nav-policies a")
    expect(ann.locator("#h-policies")).to_be_focused()
    ann.click("#pol-new")
    expect(ann.locator("#pol-edit-box")).to_be_visible()
    fields = {"#p-id": "p-browser", "#p-title": "科技小巨人培育奖励",
              "#p-doc-title": "宝山区科技创新扶持办法", "#p-doc-no": "宝府规〔2026〕1号",
              "#p-department": "区科委", "#p-benefit": "一次性奖励10万元。",
              "#p-apply": "一网通办“科技企业奖励”事项。", "#p-valid-from": "2026-01-01",
              "#p-valid-to": "2030-12-31", "#p-checked-on": "2026-12-01"}
    for selector, value in fields.items():
        ann.fill(selector, value)
    ann.select_option("#p-category", "奖补")
    ann.select_option("#p-mode", "依申请")
    expect(ann.locator("#pol-sentence")).to_have_text("未设置条件：所有企业都符合。")

    builder = ann.locator("#pol-builder")
    builder.get_by_role("button", name="添加条件", exact=True).first.click()
    builder.locator("select[aria-label='字段']").nth(0).select_option("employees")
    builder.locator("select[aria-label='条件：从业人数']").select_option("le")
    builder.locator("input[aria-label='取值：从业人数']").fill("300")
    expect(ann.locator("#pol-sentence")).to_have_text("符合条件：从业人数不超过300人。")
    builder.get_by_role("button", name="添加条件", exact=True).first.click()
    builder.locator("select[aria-label='字段']").nth(1).select_option("high_tech")
    expect(ann.locator("#pol-sentence")).to_have_text(
        "符合条件：从业人数不超过300人，且有效期内高新技术企业为“是”。")

    # 除外 a section of GB/T 4754, picked by its name.
    builder.get_by_role("button", name="添加除外").first.click()
    builder.locator("select[aria-label='字段']").nth(2).select_option("industry")
    builder.locator("select[aria-label='按门类添加行业代码']").select_option("K")
    expect(ann.locator("#pol-sentence")).to_have_text(
        "符合条件：从业人数不超过300人，且有效期内高新技术企业为“是”，"
        "且不属于“所属行业（国民经济行业分类代码）代码开头为K（房地产业）”的情形。")
    ann.fill("#ps-employees", "320")
    ann.select_option("#ps-high_tech", "true")
    expect(ann.locator("#pol-result")).to_contain_text("不符合")
    expect(ann.locator("#pol-marks")).to_contain_text("❌ 从业人数不超过300人（样例：320人）")
    expect(ann.locator("#pol-marks")).to_contain_text("✅ 有效期内高新技术企业")
    expect(builder.locator("[data-mark-path='conditions.all[0]']")).to_have_text("❌")
    boundaries = ann.locator("#pol-boundaries")
    expect(boundaries).to_contain_text("刚好等于")
    expect(boundaries.locator("tr", has_text="301人")).to_contain_text("不符合")
    expect(boundaries.locator("tr", has_text="300人").first).to_contain_text("符合")
    ann.fill("#ps-employees", "20")
    ann.fill("#ps-industry", "I6510")
    expect(ann.locator("#pol-result")).to_contain_text("✅ 符合")
    expect(ann.locator("#pol-checks")).to_contain_text("没有发现问题")
    ann.fill("#pol-case-name", "小型高新企业")
    ann.click("#pol-case-save")
    expect(ann.locator("#pol-cases")).to_contain_text("✅ 小型高新企业：预期符合")

    ann.fill("#p-why", "新政策")
    ann.click("#p-save")
    expect(ann.locator("#pol-state")).to_have_text("草稿")
    expect(ann.locator("#pol-history")).to_contain_text("新建")
    expect(ann.locator("#pol-cases")).to_contain_text("小型高新企业")  # saved with the item
    ann.click("#p-submit")
    expect(ann.locator("#pol-state")).to_have_text("待审核")
    ann.click("#p-publish")
    expect(ann.locator("#pol-error")).to_contain_text("另一位编辑")
    for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
        ann.set_viewport_size(size)
        assert serious_axe_violations(ann) == [], width
        screenshot(ann, f"editor_policies_{width}")

    bob = editor_page(browser, gateway.base, "bob", errors)
    bob.click("#nav-policies a")
    bob.fill("#pol-q", "科技小巨人")
    bob.click("#pol-filters button[type=submit]")
    expect(bob.locator("#pol-rows")).to_contain_text("待审核")
    bob.click("#pol-rows a")
    expect(bob.locator("#pol-sentence")).to_contain_text("从业人数不超过300人")
    expect(bob.locator("#pol-cases")).to_contain_text("✅ 小型高新企业")
    bob.click("#p-publish")
    expect(bob.locator("#pol-state")).to_have_text("已发布")
    expect(bob.locator("#pol-history")).to_contain_text("发布")
    bob.locator("#pol-history").get_by_role("button", name="与上一版比较：版本 3").click()
    expect(bob.locator("#pol-diff")).to_contain_text("第 2 版 → 第 3 版")
    expect(bob.locator("#pol-diff-rows")).to_contain_text("待审核")
    expect(bob.locator("#pol-diff-rows")).to_contain_text("已发布")

    checked = httpx.post(gateway.base + "/api/policy-check", headers={"Origin": gateway.base},
                         json={"facts": {"employees": 20, "high_tech": True, "industry": "I6510"},
                               "date": "2026-12-07"}).json()
    assert "p-browser" in [c["id"] for c in checked["eligible"]]
    assert errors == []

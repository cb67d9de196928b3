"""免申即享 end to end in a real browser (issue 24) on the shared stack: the register says the
simulator's first sample enterprise is a 小型微利企业 (税务's facts), the batch puts it on
区税务局's work list for tax-small-profit-cit; a leader of 区税务局 refuses to decline it
without a note, then confirms it in the console's 免申即享待办; the enterprise signs in through
the simulator provider and finds it on 我的政策, clicks 一键确认 (已确认，等待兑现); the leader
records 登记兑现; the enterprise sees it under 已兑现 and opts out of 政策推送 with the page's
own confirmation; the supervisors' dashboard counts it. An anonymous visitor of 我的政策 sees
企业登录 and no data. axe-core clean in every state.
Screenshots: results/screenshots/xiaobao_a11y_entitlements_*.png."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from api.oidc_simulator import SAMPLES
from tests.api.browser import SUPERVISOR, SUPERVISOR_PASSWORD, VENV_BIN, Stack, login
from tests.api.test_accessibility_browser import assert_clean

pytestmark = pytest.mark.rasa
USCC, NAME = SAMPLES[0]
POLICY = "tax-small-profit-cit"
TITLE = "小型微利企业减按25%计入应纳税所得额、按20%税率缴纳企业所得税"
LEADER, LEADER_PASSWORD = "tax_lead", "tax-leader-pass-1"
MASKED = USCC[:8] + "*****" + USCC[13:]


@pytest.fixture(scope="module")
def registered(stack: Stack, tmp_path_factory) -> Stack:
    """The policies, the enterprise in the register (税务's facts, as of today), the batch
    run, and a leader of 区税务局."""
    xiaobao = str(VENV_BIN / "xiaobao")
    stack.run([xiaobao, "policy", "seed"])  # idempotent: others may seed
    facts = Path(tmp_path_factory.mktemp("register")) / "tax.csv"
    facts.write_text("uscc,name,taxable_income,employees,total_assets,is_individual_business\n"
                     f"{USCC},{NAME},120,20,800,否\n", encoding="utf-8")
    stack.run([xiaobao, "enterprises", "import", str(facts), "--source", "税务"])
    stack.run([xiaobao, "policy", "batch", "--policy", POLICY])
    stack.run([xiaobao, "users", "add", LEADER, "--role", "leader", "--department", "区税务局",
               "--display-name", "税务科长", "--password", LEADER_PASSWORD])
    return stack


def worklist(page: Page, status: str):
    """The console's 免申即享待办 with ``status`` chosen; the stack's item of POLICY."""
    page.get_by_role("tab", name="免申即享待办").click()
    page.select_option("#wl-filter", status)
    return page.locator("#wl-list li.wl-item", has_text=TITLE)  # the list shows titles


def sign_in_enterprise(page: Page, base: str) -> None:
    page.goto(f"{base}/")
    page.locator("#enterprise-login").click()
    page.get_by_role("button", name=f"以“{NAME}”登录").click()
    page.wait_for_url(f"{base}/")
    expect(page.locator("#enterprise-policies")).to_be_visible()
    page.locator("#enterprise-policies").click()
    page.wait_for_url(f"{base}/my-policies")


def test_confirm_accept_and_grant_a_mianshen_benefit(registered: Stack, browser) -> None:
    base = registered.base
    errors: list[str] = []

    # --- anonymous: 我的政策 says to sign in, and shows nothing of any enterprise -------------
    anonymous = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    anonymous.on("pageerror", lambda exc: errors.append(str(exc)))
    anonymous.goto(f"{base}/my-policies")
    expect(anonymous.locator("#mp-anonymous")).to_be_visible()
    expect(anonymous.locator("#mp-anonymous a")).to_have_text("企业登录")
    expect(anonymous.locator("#mp-board")).to_be_hidden()
    assert NAME not in anonymous.content() and TITLE not in anonymous.content()
    assert anonymous.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert_clean(anonymous, "entitlements_my_policies_anonymous_phone")
    anonymous.context.close()

    # --- the leader of 区税务局: the item with why; a decline needs a note; confirm ----------
    staff = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    staff.on("pageerror", lambda exc: errors.append(str(exc)))
    login(staff, base, LEADER, LEADER_PASSWORD, "/console")
    item = worklist(staff, "pending")
    expect(item).to_have_count(1)
    expect(item).to_contain_text(MASKED)
    assert USCC not in item.inner_text()
    expect(item.locator(".wl-why li", has_text="上年应纳税所得额")).to_contain_text(
        "上年应纳税所得额 = 120万元（税务，")
    expect(item.locator(".wl-why li", has_text="从业人数")).to_contain_text("20人")
    assert_clean(staff, "entitlements_console_pending")
    item.get_by_role("button", name="不予确认").click()
    expect(item.locator(".form-error")).to_have_text("不予确认须填写说明。")
    expect(item.locator("textarea")).to_be_focused()
    assert_clean(staff, "entitlements_console_note_required")
    item.get_by_role("button", name="确认", exact=True).click()
    expect(staff.locator("#wl-status")).to_have_text("已确认，将通知企业。")
    expect(worklist(staff, "confirmed")).to_contain_text("已确认，待企业确认")

    # --- the enterprise: signs in, finds it on 我的政策, 一键确认 ---------------------------
    enterprise = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    enterprise.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_enterprise(enterprise, base)
    pending = enterprise.locator("#mp-pending li", has_text=TITLE)
    expect(pending).to_contain_text("待您确认")
    expect(pending).to_contain_text("【免申即享】")
    eligible = enterprise.locator("#mp-eligible li", has_text=TITLE)
    expect(eligible).to_contain_text("区税务局")
    expect(enterprise.get_by_role("link", name="开始政策体检，补充信息")).to_be_visible()
    assert_clean(enterprise, "entitlements_my_policies_to_confirm")
    pending.get_by_role("button", name=f"一键确认：{TITLE}").click()
    expect(pending).to_contain_text("已确认，等待兑现")
    expect(pending.get_by_role("button")).to_have_count(0)
    expect(enterprise.locator("#mp-status")).to_contain_text("等待主管部门兑现")
    assert_clean(enterprise, "entitlements_my_policies_accepted")

    # --- the leader records the grant ---------------------------------------------------------
    accepted = worklist(staff, "accepted")
    expect(accepted).to_contain_text("企业已确认，待兑现")
    accepted.get_by_role("button", name="登记兑现").click()
    expect(staff.locator("#wl-status")).to_have_text("已登记兑现。")
    expect(worklist(staff, "granted")).to_contain_text("已兑现")
    assert_clean(staff, "entitlements_console_granted")

    # --- the enterprise: 已兑现; then it opts out of 政策推送, confirmed in the page ----------
    enterprise.reload()
    expect(enterprise.locator("#mp-granted li", has_text=TITLE)).to_contain_text("已兑现")
    expect(enterprise.locator("#mp-pending li", has_text=TITLE)).to_have_count(0)
    enterprise.on("dialog", lambda d: errors.append(f"a browser dialog: {d.message}"))
    enterprise.get_by_role("button", name="退订政策推送").click()
    expect(enterprise.locator("#mp-optout-confirm")).to_be_visible()
    expect(enterprise.locator("#mp-optout-no")).to_be_focused()
    assert_clean(enterprise, "entitlements_my_policies_opt_out_asked")
    enterprise.get_by_role("button", name="确定退订").click()
    expect(enterprise.locator("#mp-optout-state")).to_contain_text("已退订政策推送")
    expect(enterprise.locator("#mp-optout")).to_be_hidden()
    assert enterprise.request.get(f"{base}/api/enterprise/policies").json()["opted_out"] is True
    enterprise.set_viewport_size({"width": 390, "height": 844})
    assert enterprise.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert_clean(enterprise, "entitlements_my_policies_phone")

    # --- the supervisors' dashboard counts it -------------------------------------------------
    board = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    board.on("pageerror", lambda exc: errors.append(str(exc)))
    login(board, base, SUPERVISOR, SUPERVISOR_PASSWORD, "/dashboard")
    row = board.locator("#outcome-policy-rows tr", has_text=POLICY)
    expect(row.locator("td")).to_have_count(8)
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text("1")  # 符合
    expect(cells.nth(1)).to_have_text("1")  # 已确认
    expect(cells.nth(2)).to_have_text("1")  # 企业确认
    expect(cells.nth(3)).to_have_text("1")  # 已兑现
    expect(cells.nth(4)).to_have_text("0")  # 不予确认
    expect(cells.nth(7)).to_contain_text("小时")  # 企业确认→兑现: measured now
    expect(board.locator("#outcome-dept-rows tr", has_text="区税务局")).to_be_visible()
    board.locator("#sec-outcomes").scroll_into_view_if_needed()
    assert_clean(board, "entitlements_dashboard_outcomes")

    # --- a supervisor's console: the work list alone, read only --------------------------------
    login(board, base, SUPERVISOR, SUPERVISOR_PASSWORD, "/console")
    readonly = worklist(board, "")
    expect(readonly).to_contain_text("已兑现")
    expect(board.locator("#wl-readonly")).to_be_visible()
    expect(readonly.get_by_role("button")).to_have_count(0)
    tab = board.get_by_role("tab", name="免申即享待办")
    tab.press("ArrowRight")  # the only tab shown: the keyboard stays on it
    expect(tab).to_be_focused()
    expect(board.get_by_role("tab")).to_have_count(1)
    assert_clean(board, "entitlements_console_supervisor")
    assert errors == []

"""Every page passes axe-core (no serious or critical violation) in every state a user or helper
reaches, on a desktop (1366 × 900) and a phone (390 × 844), and the portal's 长辈模式 (elders'
mode, after MIIT's 2021 《互联网网站适老化通用设计规范》) keeps its promises: text of 24 px and
more that scales with the reader's own text size, line height 1.5 and more, targets of
60 × 60 px and more, remembered across visits and on before the first paint, and nothing popping
up (no alert/confirm/prompt, no new window, the 留言 form inline).

Against the real processes (tests/api/browser.py): gateway, trained Rasa model, seeded knowledge
base. Screenshots: results/screenshots/xiaobao_a11y_<page>_<state>_<desktop|phone>.png.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.api.browser import (
    HELPER,
    HELPER_PASSWORD,
    VENV_BIN,
    Stack,
    hand_off,
    login,
    say,
    screenshot,
    serious_axe_violations,
)

pytestmark = pytest.mark.rasa

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
LEADER, LEADER_PASSWORD = "lena", "leader-pass-1"
MIN_TEXT_PX, MIN_TARGET_PX = 24, 60
ELDER_CLASS = re.compile(r"\belder\b")
# What 长辈模式 sizes: the controls of the conversation and of the composer (and the 留言 form).
TARGETS = ", ".join(f"{scope} {tag}" for scope in ("#composer", "#messages", "#form-leave")
                    for tag in ("button", "a", "input", "textarea", "select"))

# Every element with text of its own, with its computed size and line height.
TEXT_SIZES = """() => {
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width < 2 || box.height < 2) continue;  // no text, or visually hidden
    const style = getComputedStyle(el);
    if (style.visibility === "hidden") continue;
    out.push({what: el.tagName + "." + el.className + " " + el.textContent.trim().slice(0, 16),
              size: parseFloat(style.fontSize), line: parseFloat(style.lineHeight)});
  }
  return out;
}"""


def assert_clean(page: Page, name: str) -> None:
    """axe-core finds nothing serious or critical; the state's screenshot is kept."""
    screenshot(page, f"a11y_{name}")
    violations = serious_axe_violations(page)
    assert violations == [], f"{name}:\n" + "\n".join(violations)


def assert_elders_sizes(page: Page) -> None:
    """Text ≥ 24 px with line height ≥ 1.5 × its size everywhere on the page; every visible
    control of the conversation, the composer and the 留言 form ≥ 60 × 60 px."""
    texts = page.evaluate(TEXT_SIZES)
    assert len(texts) > 10
    small = [t for t in texts if t["size"] < MIN_TEXT_PX]
    assert small == [], small
    tight = [t for t in texts if not t["line"] >= 1.5 * t["size"]]  # NaN ("normal") fails
    assert tight == [], tight
    boxes = [(c.evaluate("e => e.outerHTML.slice(0, 80)"), c.bounding_box())
             for c in page.locator(TARGETS).all() if c.is_visible()]
    assert any("send" in html for html, _ in boxes)
    tiny = [(html, box) for html, box in boxes
            if box is None or box["width"] < MIN_TARGET_PX or box["height"] < MIN_TARGET_PX]
    assert tiny == [], tiny


def elders_mode(page: Page, on: bool) -> None:
    toggle = page.get_by_role("button", name="长辈模式")
    if (toggle.get_attribute("aria-pressed") == "true") != on:
        toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true" if on else "false")
    if on:
        expect(page.locator("html")).to_have_class(ELDER_CLASS)
    else:
        expect(page.locator("html")).not_to_have_class(ELDER_CLASS)


def check_in_both_modes(page: Page, name: str, viewport: str) -> None:
    """axe in the normal mode and in 长辈模式 (with its sizes), then back to normal."""
    assert_clean(page, f"portal_{name}_{viewport}")
    elders_mode(page, True)
    assert_elders_sizes(page)
    assert_clean(page, f"portal_{name}_elders_{viewport}")
    elders_mode(page, False)


def text_px(page: Page, selector: str) -> float:
    return page.locator(selector).last.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")


def go_away(staff: Page) -> None:
    """Off duty, so the next test's user finds nobody on duty (best effort: cleanup)."""
    try:
        staff.evaluate("""() => fetch('/api/helper/status', {
            method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({status: 'away'})})""")
    except Exception:  # noqa: BLE001 - the page may be gone already
        pass


@pytest.fixture(scope="module")
def leader(stack: Stack) -> str:
    """A leader who also works tickets: the console's 领导升级 tab shows for them."""
    stack.run([str(VENV_BIN / "xiaobao"), "users", "add", LEADER, "--role", "leader",
               "--role", "helper", "--department", "区市场监管局", "--display-name", "林科长",
               "--password", LEADER_PASSWORD])
    return LEADER


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_portal_login_and_console_pass_axe_in_every_state(stack: Stack, browser, leader: str,
                                                          viewport: str) -> None:
    size = VIEWPORTS[viewport]
    popups: list[str] = []

    # --- the login page, with an error shown; the console with the helper away -----------------
    staff = browser.new_context(viewport=size).new_page()
    staff.on("dialog", lambda d: popups.append(f"console dialog {d.message}"))
    staff.goto(stack.base + "/console")
    staff.wait_for_url("**/login?next=/console")
    assert_clean(staff, f"login_load_{viewport}")
    staff.fill("#username", HELPER)
    staff.fill("#password", "wrong-password")
    staff.click("button[type=submit]")
    expect(staff.locator("#login-error")).to_contain_text("用户名或密码错误")
    assert_clean(staff, f"login_error_{viewport}")
    staff.fill("#password", HELPER_PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_url("**/console")
    expect(staff.locator("#who-name")).to_have_text("王帮办")
    if staff.locator("#duty-label").inner_text() == "在岗":  # left on duty by another test
        staff.click("#duty-toggle")
    expect(staff.locator("#duty-label")).to_have_text("离开")  # the user will find nobody on duty
    expect(staff.locator("#queues tr").first).to_be_visible()
    assert_clean(staff, f"console_queues_{viewport}")

    user_context = browser.new_context(viewport=size)
    # The first animation frame comes before the first paint: what mode was on by then.
    user_context.add_init_script(
        "requestAnimationFrame(() => { window.firstFrameClass = document.documentElement"
        ".className; });")
    user = user_context.new_page()
    user_context.on("page", lambda p: popups.append(f"new page {p.url}"))
    user.on("dialog", lambda d: popups.append(f"dialog {d.type}: {d.message}"))
    user.on("pageerror", lambda exc: popups.append(f"page error {exc}"))

    # --- the portal on load, and an answer from the knowledge base -----------------------------
    user.goto(stack.base + "/")
    expect(user.locator(".msg.bot").first).to_contain_text("企业管家小宝")
    viewport_meta = user.locator("meta[name=viewport]").get_attribute("content")
    assert "maximum-scale" not in viewport_meta and "user-scalable" not in viewport_meta
    check_in_both_modes(user, "load", viewport)

    say(user, "个体工商户怎么办理营业执照？")
    answer = user.locator(".msg.bot").last
    expect(answer).to_contain_text("来源")
    expect(answer.locator("button.option")).to_contain_text(["有帮助", "没帮助", "转人工"])
    answer_text = answer.locator(".text").inner_text()
    assert_clean(user, f"portal_answer_{viewport}")

    # --- 长辈模式: on, big, scalable, remembered, on before the first paint, then off ----------
    normal_px = text_px(user, ".msg .text")
    assert normal_px < MIN_TEXT_PX
    elders_mode(user, True)
    assert text_px(user, ".msg .text") >= MIN_TEXT_PX
    assert_elders_sizes(user)
    assert_clean(user, f"portal_answer_elders_{viewport}")
    # In rem: the reader's own text size scales it.
    user.evaluate("() => { document.documentElement.style.fontSize = '32px'; }")
    assert text_px(user, ".msg .text") == 32
    user.evaluate("() => { document.documentElement.style.fontSize = ''; }")
    # Remembered, and applied by a blocking script in <head> before anything is painted.
    assert user.evaluate("""() => Array.from(document.head.querySelectorAll('script[src]'))
                            .some((s) => s.src.includes('elder') && !s.async && !s.defer)""")
    user.reload()
    expect(user.locator(".msg.notice")).to_contain_text(["以上是您之前的对话记录"])
    assert "elder" in user.evaluate("() => window.firstFrameClass")
    expect(user.get_by_role("button", name="长辈模式")).to_have_attribute("aria-pressed", "true")
    assert text_px(user, ".msg .text") >= MIN_TEXT_PX
    assert_elders_sizes(user)  # the reloaded conversation too
    elders_mode(user, False)
    assert text_px(user, ".msg .text") == normal_px
    user.reload()
    expect(user.locator(".msg.notice")).to_contain_text(["以上是您之前的对话记录"])
    assert "elder" not in user.evaluate("() => window.firstFrameClass")
    expect(user.get_by_role("button", name="长辈模式")).to_have_attribute("aria-pressed", "false")

    # --- a handoff: the queue banner, and the 留言 form inline in the page ---------------------
    hand_off(user)
    expect(user.locator("#leave-row")).to_be_visible()
    check_in_both_modes(user, "handoff", viewport)
    user.click("#leave-open")
    expect(user.locator("#form-leave")).to_be_visible()
    expect(user.locator("#leave-notice")).to_contain_text("号码仅用于")
    expect(user.locator("#leave-text")).to_be_focused()
    assert user.locator("dialog").count() == 0  # in the page, not a modal pop-up
    user.click("#form-leave button[value=ok]")  # empty: said inline, no browser bubble
    expect(user.locator("#leave-error")).to_have_text("请填写留言内容。")
    check_in_both_modes(user, "leave_message", viewport)
    user.click("#form-leave button[value=cancel]")
    expect(user.locator("#form-leave")).to_be_hidden()
    expect(user.locator("#leave-open")).to_be_focused()
    ticket_id = user.evaluate(
        "async () => (await (await fetch('/api/chat/queue')).json()).ticket.id")

    try:
        # --- the console: on duty now, claims the user's ticket --------------------------------
        staff.click("#duty-toggle")
        expect(staff.locator("#duty-label")).to_have_text("在岗")
        assert staff.evaluate(f"""async () => (await fetch('/api/helper/tickets/{ticket_id}/claim',
                                                           {{method: 'POST'}})).status""") == 200
        # The ticket in the list is a button: the keyboard opens it.
        opener = staff.locator("#my-tickets .ticket-open", has_text=ticket_id)
        opener.focus()
        staff.keyboard.press("Enter")
        expect(staff.locator("#reply")).to_be_visible()
        expect(opener).to_have_attribute("aria-current", "true")
        expect(staff.locator("#transcript")).to_contain_text("转人工")
        # The knowledge-base candidates show the answer card exactly as the bot sent it.
        expect(staff.locator("#ctx-candidates .candidate .a").first).to_be_visible()
        assert answer_text in staff.locator("#ctx-candidates .candidate .a").all_inner_texts()
        assert_clean(staff, f"console_ticket_{viewport}")

        staff.fill("#reply-input", "您好，我是王帮办，营业执照可以全程网办。")
        staff.press("#reply-input", "Enter")
        expect(user.locator(".msg.helper").last).to_contain_text("全程网办", timeout=15_000)
        check_in_both_modes(user, "human", viewport)

        # The tabs: one tab stop, the arrow keys move between them (the leader tab is hidden).
        staff.focus("#tab-mine-btn")
        staff.keyboard.press("ArrowRight")
        expect(staff.locator("#tab-left-btn")).to_be_focused()
        expect(staff.locator("#tab-left-btn")).to_have_attribute("aria-selected", "true")
        expect(staff.locator("#tab-left")).to_be_visible()
        assert_clean(staff, f"console_left_messages_{viewport}")
        staff.click("#tab-mine-btn")

        # --- resolved: back in the portal, the 好差评 rating -----------------------------------
        staff.click("#btn-resolve")
        staff.fill("#close-note", "已告知网办流程")
        staff.click("#form-close button[value=ok]")
        expect(user.locator(".rating")).to_be_visible(timeout=30_000)
        check_in_both_modes(user, "rating", viewport)
        bots = user.locator(".msg.bot").count()
        user.locator(".rating button", has_text="非常满意").click()
        expect(user.locator(".msg.bot")).to_have_count(bots + 1, timeout=60_000)
        expect(user.locator("#mode-banner")).to_be_hidden()
        staff.click("#logout")  # off duty, then out
        staff.wait_for_url("**/login")

        # --- a leader's console: the 领导升级 tab ----------------------------------------------
        login(staff, stack.base, leader, LEADER_PASSWORD, "/console")
        expect(staff.locator("#tab-leader-btn")).to_be_visible()
        staff.click("#tab-leader-btn")
        expect(staff.locator("#tab-leader")).to_be_visible()
        assert_clean(staff, f"console_leader_{viewport}")
    finally:
        go_away(staff)
        staff.context.close()
    assert popups == []
    user_context.close()

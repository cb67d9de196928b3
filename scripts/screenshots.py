"""The README's screenshots: one of each page, taken from the real processes.

Starts the browser tests' stack (``tests.api.browser.Stack``: Redis of its own, the gateway
under uvicorn, ``rasa run`` with the trained model, the seed knowledge base and three staff
accounts in a temporary home), then drives Debian's Chromium through Playwright (never
``playwright install``) through one short story, so every page shows something real:

1. the portal: a question answered from the knowledge base with its source; its 政策体检 page
   with two answers given (the policy seed loaded first);
2. the console: the same visitor asks for a person, the helper goes on duty, claims the
   ticket and answers; then resolves it and the visitor rates the service;
3. the editors' workbench: the entry list;
4. the supervisors' dashboard: the rates of the last 30 days.

Writes ``docs/images/{portal,policy_check,console,editor,dashboard}.png``. Needs ``make setup`` and
``make train`` (a model under ``models/``) and ``apt-get install -y chromium fonts-noto-cjk``.

    .venv/bin/python scripts/screenshots.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from tests.api.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    EDITOR,
    EDITOR_PASSWORD,
    HELPER,
    HELPER_PASSWORD,
    SUPERVISOR,
    SUPERVISOR_PASSWORD,
    VENV_BIN,
    Stack,
    hand_off,
    login,
    say,
)

IMAGES = REPO / "docs" / "images"
WIDE = {"width": 1366, "height": 860}
PORTAL = {"width": 1100, "height": 860}


def save(page: Page, name: str) -> None:
    path = IMAGES / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"wrote {path.relative_to(REPO)}")


def take_policy_check(browser, base: str) -> None:
    """The 政策体检 page after two answers: the next question, the summary and the cards."""
    page = browser.new_context(viewport=WIDE, locale="zh-CN").new_page()
    page.goto(base + "/policy-check")
    expect(page.locator("#pc-summary")).to_contain_text("项")
    page.select_option("#pc-taxpayer_type", "小规模纳税人")
    page.select_option("#pc-employees", label="10人以下")
    expect(page.locator(".pc-group.eligible .pc-card").nth(1)).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.evaluate("window.scrollTo(0, 0)")
    save(page, "policy_check")


def take(stack: Stack) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        user = browser.new_context(viewport=PORTAL, locale="zh-CN").new_page()
        user.goto(stack.base + "/")
        expect(user.locator(".msg.bot").first).to_contain_text("企业管家小宝")
        say(user, "个体工商户怎么办理营业执照？")
        expect(user.locator(".msg.bot").last).to_contain_text("来源")
        save(user, "portal")
        stack.run([str(VENV_BIN / "xiaobao"), "policy", "seed"])
        take_policy_check(browser, stack.base)

        hand_off(user)
        staff = browser.new_context(viewport=WIDE, locale="zh-CN").new_page()
        login(staff, stack.base, HELPER, HELPER_PASSWORD, "/console")
        if staff.locator("#duty-label").inner_text() != "在岗":
            staff.click("#duty-toggle")
        expect(staff.locator("#duty-label")).to_have_text("在岗")
        staff.click("#claim-online")
        expect(staff.locator("#reply")).to_be_visible()
        staff.fill("#reply-input", "您好，我是王帮办。个体工商户营业执照可以在“一网通办”全程网办。")
        staff.press("#reply-input", "Enter")
        expect(user.locator(".msg.helper").last).to_contain_text("全程网办", timeout=15_000)
        user.fill("#input", "好的，需要带什么材料？")
        user.press("#input", "Enter")
        expect(staff.locator("#transcript")).to_contain_text("需要带什么材料", timeout=15_000)
        staff.wait_for_timeout(5_000)  # the claim's toast fades
        staff.evaluate("window.scrollTo(0, 0)")  # the reply box took the focus and scrolled
        save(staff, "console")

        # Close the case so the dashboard has a ticket and a rating to count.
        staff.click("#btn-resolve")
        staff.fill("#close-note", "已告知网办流程")
        staff.click("#form-close button[value=ok]")
        expect(user.locator(".rating")).to_be_visible(timeout=30_000)
        user.locator(".rating button", has_text="非常满意").click()

        editor = browser.new_context(viewport=WIDE, locale="zh-CN").new_page()
        login(editor, stack.base, EDITOR, EDITOR_PASSWORD, "/editor")
        expect(editor.locator("#editor-nav")).to_be_visible()
        editor.wait_for_load_state("networkidle")
        save(editor, "editor")

        board = browser.new_context(viewport=WIDE, locale="zh-CN").new_page()
        login(board, stack.base, SUPERVISOR, SUPERVISOR_PASSWORD, "/dashboard")
        expect(board.locator("#status")).to_contain_text("已更新", timeout=60_000)
        board.wait_for_load_state("networkidle")
        save(board, "dashboard")
        browser.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="xiaobao-shots-") as home:
        stack = Stack(Path(home))
        try:
            stack.up()
            take(stack)
        except Exception:
            print(stack.tail(), file=sys.stderr)
            raise
        finally:
            stack.down()


if __name__ == "__main__":
    main()

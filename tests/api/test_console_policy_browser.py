"""The helper sees the conversation's 政策体检 in the console's context pack (issue 23), in a
real browser against the real processes (gateway, the trained Rasa model, Redis) and the
shipped policy seed: the user starts a check-up in the chat, answers one question, says
不知道 to the next, asks for a person; the helper opens the ticket and finds the facts given
(labels and units from the field dictionary, the declined one as 不知道/跳过) and what the
published policies decide today. Screenshot: results/screenshots/xiaobao_console_policy_check.png.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.api.browser import (
    HELPER,
    HELPER_PASSWORD,
    VENV_BIN,
    Stack,
    hand_off,
    login,
    say,
    screenshot,
    staff_client,
)

pytestmark = pytest.mark.rasa


def test_the_helper_sees_the_check_up_the_user_had_before_the_handoff(stack: Stack,
                                                                     browser) -> None:
    stack.run([str(VENV_BIN / "xiaobao"), "policy", "seed"])  # idempotent: others may seed
    errors: list[str] = []
    user = browser.new_context(viewport={"width": 1000, "height": 860}).new_page()
    user.on("pageerror", lambda exc: errors.append(str(exc)))
    user.goto(stack.base + "/")
    expect(user.locator(".msg.bot").first).to_contain_text("企业管家小宝")

    say(user, "我公司能享受哪些政策")
    asked = user.locator(".msg.bot").last
    expect(asked).to_contain_text("政策体检")
    first = asked.locator("button.option").first  # the first answer offered
    bots = user.locator(".msg.bot").count()
    first.click()
    expect(user.locator(".msg.bot")).to_have_count(bots + 1, timeout=60_000)
    bots += 1
    user.locator(".msg.bot").last.locator("button.option", has_text="不知道").click()
    expect(user.locator(".msg.bot")).to_have_count(bots + 1, timeout=60_000)
    hand_off(user)
    ticket_id = user.evaluate(
        "async () => (await (await fetch('/api/chat/queue')).json()).ticket.id")

    ann = staff_client(stack, HELPER, HELPER_PASSWORD)
    try:
        assert ann.post("/api/helper/status", json={"status": "on_duty"}).status_code == 200
        assert ann.post(f"/api/helper/tickets/{ticket_id}/claim").status_code == 200
        check = ann.get(f"/api/helper/tickets/{ticket_id}").json()["policy_check"]
        given = [f for f in check["facts"] if not f["declined"]]
        declined = [f for f in check["facts"] if f["declined"]]
        assert len(given) == 1 and len(declined) == 1, check["facts"]

        staff = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        staff.on("pageerror", lambda exc: errors.append(str(exc)))
        login(staff, stack.base, HELPER, HELPER_PASSWORD, "/console")
        staff.locator("#my-tickets .ticket-open", has_text=ticket_id).click()
        section = staff.locator("#ctx-policy")
        expect(section).to_be_visible()
        expect(section.locator("h3")).to_have_text("政策体检")
        facts = section.locator("dl.policy-facts")
        expect(facts.locator("dt")).to_have_text([given[0]["label"], declined[0]["label"]])
        expect(facts.locator("dd").nth(1)).to_have_text("不知道/跳过")
        if given[0]["unit"] and isinstance(given[0]["value"], int | float):
            expect(facts.locator("dd").first).to_contain_text(given[0]["unit"])
        expect(section).to_contain_text(
            f"已确定符合 {len(check['eligible'])} 项 · 可能符合 {len(check['possible'])} 项")
        expect(section.locator("h4", has_text="已确定符合")).to_be_visible()
        expect(section.locator("h4", has_text="可能符合")).to_be_visible()
        for row in check["possible"][:2]:
            expect(section).to_contain_text(row["title"])
            if row["needed"]:
                expect(section).to_contain_text("还需：" + "、".join(row["needed"]))
        if check["ineligible"]:
            section.locator("summary", has_text="不符合").click()
            expect(section).to_contain_text(check["ineligible"][0]["failed"][0])
        screenshot(staff, "console_policy_check")
    finally:
        ann.post(f"/api/helper/tickets/{ticket_id}/resolve", json={"note": ""})
        # Off duty again: later files on this stack expect nobody on duty (留言 is offered).
        ann.post("/api/helper/status", json={"status": "away"})
        ann.close()
    assert errors == []

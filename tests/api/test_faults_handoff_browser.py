"""The helper console in a real browser when its connection drops after the gateway saved a
reply: the helper sends again and the console re-sends the same message id, so the user gets
the reply once (the gateway's side of it: tests/api/test_faults_handoff.py).

The gateway runs under uvicorn with the stand-in Rasa (no model needed); Chromium is Debian's.
"""
from __future__ import annotations

import json

from playwright.sync_api import Route, expect

from tests.api.browser import login
from tests.api.support import stored_messages
from tests.api.test_restart import browser as user_browser
from tests.api.test_restart import hand_off, staff


def test_the_console_resends_a_reply_whose_ack_was_lost(gateway_process, browser, rasa):
    gateway = gateway_process
    gateway.start()
    user = user_browser(gateway)
    conversation_id = gateway.conversation_of(user)
    hand_off(gateway, user)
    staff(gateway, "ann")  # the account, on duty

    sent: list[dict] = []

    def lose_the_first_ack(route: Route) -> None:
        sent.append(json.loads(route.request.post_data or "{}"))
        if len(sent) == 1:
            route.fetch()  # the gateway gets it and answers; the answer never arrives
            route.abort("connectionreset")
        else:
            route.continue_()

    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, gateway.base, "ann", "correct-horse", "/console")
    expect(page.locator("#queues tr").first).to_be_visible()  # the console is wired
    page.click("#claim-online")
    expect(page.locator("#reply")).to_be_visible()
    page.route("**/api/helper/tickets/*/messages", lose_the_first_ack)

    text = "您好，营业执照可以在一窗通全程网办。"
    page.fill("#reply-input", text)
    page.press("#reply-input", "Enter")
    expect(page.locator(".toast.error")).to_contain_text("网络连接失败")
    expect(page.locator("#reply-input")).to_have_value(text)  # kept for another try
    page.press("#reply-input", "Enter")
    expect(page.locator("#reply-input")).to_have_value("")

    assert len(sent) == 2 and sent[0]["message_id"] == sent[1]["message_id"]
    assert [m.text for m in stored_messages(gateway.engine, conversation_id)
            if m.role == "helper"] == [text]
    # (the console draws the helper's own lines with the class "user", on the right)
    expect(page.locator("#transcript .msg", has_text=text)).to_have_count(1)
    history = user.get("/api/chat/history").json()["messages"]
    assert [m["text"] for m in history if m["role"] == "helper"] == [text]

    # A different reply afterwards is a new message, not a resend.
    page.fill("#reply-input", "还有其他问题吗？")
    page.press("#reply-input", "Enter")
    expect(page.locator("#transcript .msg", has_text="还有其他问题吗？")).to_have_count(1)
    assert len(sent) == 3 and sent[2]["message_id"] != sent[0]["message_id"]
    assert errors == []

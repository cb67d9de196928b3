"""A send that failed is not shown as sent (issue 21, "Database faults"): the portal keeps the
text in the box, says "发送失败，请重试" (role=alert), and sending it again carries the same
message id, so the record keeps the message once even when the failed attempt reached it.

The gateway runs under uvicorn with the stand-in Rasa; Playwright refuses the page's socket (so
it sends over REST) and turns the first answer into the gateway's 503 after the gateway has
kept the message — the worst case: recorded, yet the user was told it failed.
"""
from __future__ import annotations

import json

from playwright.sync_api import Route, WebSocketRoute, expect

from tests.api.support import stored_messages
from xiaobao.conversations import conversation_id_for

SEND_FAILED = {"error": {"code": "send_failed",
                         "message": "发送失败，请重试。 / The message was not sent; please retry."}}


def test_a_failed_send_keeps_the_text_and_its_resend_is_kept_once(gateway_process, browser,
                                                                   rasa):
    gateway = gateway_process
    gateway.start()
    rasa.replies = [{"text": "您好，请问办理什么业务？"}]
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    bodies: list[dict] = []

    def no_socket(ws: WebSocketRoute) -> None:
        ws.close(code=1006, reason="network down")

    def send(route: Route) -> None:
        bodies.append(json.loads(route.request.post_data or "{}"))
        answer = route.fetch()  # the gateway keeps the message …
        if len(bodies) == 1:  # … and the page is told it failed
            route.fulfill(status=503, content_type="application/json",
                          body=json.dumps(SEND_FAILED))
        else:
            route.fulfill(response=answer)

    page.route_web_socket("**/ws/chat", no_socket)
    page.route("**/api/chat/messages", send)
    page.goto(gateway.base + "/")
    expect(page.locator("#messages .msg.bot")).to_have_count(1)  # the welcome

    page.fill("#input", "怎么办理营业执照")
    page.press("#input", "Enter")
    alert = page.locator("#composer-error[role=alert]")
    expect(alert).to_have_text("发送失败，请重试。")
    expect(page.locator("#input")).to_have_value("怎么办理营业执照")
    expect(page.locator("#messages .msg.user")).to_have_count(0)  # not shown as sent

    page.press("#input", "Enter")  # again, the same text
    expect(page.locator("#messages .msg.bot", has_text="请问办理什么业务")).to_have_count(1)
    expect(alert).to_be_hidden()
    expect(page.locator("#input")).to_have_value("")
    expect(page.locator("#messages .msg.user[data-id]")).to_have_count(1)

    assert len(bodies) == 2 and bodies[0]["message_id"] == bodies[1]["message_id"]
    secret = next(c["value"] for c in page.context.cookies() if c["name"] == "xiaobao_visitor")
    users = [m.text for m in stored_messages(gateway.engine,
                                             conversation_id_for(secret, gateway.secret_key))
             if m.role == "user"]
    assert users == ["怎么办理营业执照"]
    assert errors == []

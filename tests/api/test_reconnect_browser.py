"""After a dropped connection the portal and the console show what was said while they were
away: every message once, in the record's order, without a reload (issue 21).

The page's network goes away (its WebSocket is closed and refused, and its REST calls fail,
through Playwright's routing), the other side goes on talking, then the network is back: the
page reconnects by itself and re-reads the record after the last message it showed
(api/static/timeline.js; the API's side: tests/api/routes/test_message_ids.py). The gateway
runs under uvicorn with the stand-in Rasa; Chromium is Debian's.
"""
from __future__ import annotations

import httpx
from playwright.sync_api import Page, Route, WebSocketRoute, expect

from handoff.requests import request_handoff
from tests.api.browser import login
from tests.api.support import RATING_QUESTION, handoff_request, stored_messages
from tests.api.test_restart import browser as user_browser
from tests.api.test_restart import hand_off, staff
from xiaobao.conversations import conversation_id_for

BACK_S = 40_000  # ms: the socket's back-off after a few failed attempts, and the re-read


class Network:
    """The page's connection to the gateway, which the test takes away and gives back."""

    def __init__(self, page: Page, socket_path: str):
        self.away = False
        self.sockets: list[WebSocketRoute] = []
        self.opened = 0
        page.route_web_socket(f"**{socket_path}", self._socket)
        page.route("**/api/**", self._rest)

    def _socket(self, ws: WebSocketRoute) -> None:
        if self.away:
            ws.close(code=1006, reason="network down")
            return
        ws.connect_to_server()
        self.opened += 1
        self.sockets.append(ws)

    def _rest(self, route: Route) -> None:
        if self.away:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    def drop(self) -> None:
        self.away = True
        for ws in self.sockets:
            ws.close(code=1006, reason="network down")
        self.sockets.clear()

    def restore(self) -> None:
        self.away = False


def lines_on(page: Page, selector: str, key: str) -> list[tuple[int, str]]:
    """(id, text) of the page's lines that are messages of the record, in page order."""
    return [(pk, text) for pk, text in page.evaluate(
        """([selector, key]) => Array.from(document.querySelectorAll(selector))
             .filter((li) => li.dataset[key])
             .map((li) => [Number(li.dataset[key]),
                           (li.querySelector('.text') || li.querySelector('.notice-text')
                            || li.querySelector('.bubble')).textContent])""",
        [selector, key])]


def record(gateway, conversation_id: str) -> list[tuple[int, str]]:
    return [(m.pk, m.text) for m in stored_messages(gateway.engine, conversation_id)]


def test_the_portal_shows_what_the_helper_said_while_it_was_away(gateway_process, browser,
                                                                 rasa):
    gateway = gateway_process
    gateway.start()
    ann = staff(gateway, "ann")
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    network = Network(page, "/ws/chat")
    page.goto(gateway.base + "/")
    expect(page.locator("#messages .msg.bot")).to_have_count(1)  # the welcome
    secret = next(c["value"] for c in page.context.cookies() if c["name"] == "xiaobao_visitor")
    conversation_id = conversation_id_for(secret, gateway.secret_key)
    ticket_id = request_handoff(handoff_request(conversation_id), ctx=gateway.ctx).ticket_id
    assert ann.post("/api/helper/claim", json={}).json()["ticket"]["id"] == ticket_id
    page.evaluate("() => { window.notReloaded = true; }")

    def helper_says(text: str) -> None:
        sent = ann.post(f"/api/helper/tickets/{ticket_id}/messages", json={"text": text})
        assert sent.status_code == 200, sent.text

    helper = page.locator("#messages .msg.helper")
    helper_says("您好，我是帮办。")
    expect(helper).to_have_count(1)

    # Away: the helper goes on, and the user writes from another tab of the same browser.
    network.drop()
    other_tab = httpx.Client(base_url=gateway.base, headers={"Origin": gateway.base},
                             cookies={"xiaobao_visitor": secret}, timeout=10)
    helper_says("请问是哪家企业？")
    assert other_tab.post("/api/chat/messages", json={"text": "上海宝宝科技"}).json()["mode"] \
        == "human"
    helper_says("需要带营业执照原件。")
    page.wait_for_timeout(1500)
    expect(helper).to_have_count(1)  # nothing of it reached the page yet
    opened = network.opened

    network.restore()
    expect(helper).to_have_count(3, timeout=BACK_S)
    expect(page.locator("#messages .msg.user")).to_have_count(1)
    assert network.opened > opened  # it came back by its own reconnect
    assert lines_on(page, "#messages li", "id") == record(gateway, conversation_id)

    # Live again: the helper's next line and the user's own, each once.
    helper_says("还有其他问题吗？")
    expect(helper).to_have_count(4)
    page.fill("#input", "没有了，谢谢")
    page.press("#input", "Enter")
    expect(page.locator("#messages .msg.user")).to_have_count(2)
    expect(page.locator("#messages .msg.user[data-id]")).to_have_count(2)

    # Away while the helper closes the ticket: back, the rating question is there, once.
    network.drop()
    resolved = ann.post(f"/api/helper/tickets/{ticket_id}/resolve", json={"note": "已解答"})
    assert resolved.status_code == 200 and resolved.json()["bot_resumed"]
    network.restore()
    expect(page.locator("#messages .msg.bot", has_text=RATING_QUESTION)).to_have_count(
        1, timeout=BACK_S)
    expect(page.locator("#mode-banner")).to_be_hidden()
    page.wait_for_timeout(1500)  # the second re-read (once subscribed) adds nothing
    expect(page.locator("#messages .msg.bot", has_text=RATING_QUESTION)).to_have_count(1)
    assert lines_on(page, "#messages li", "id") == record(gateway, conversation_id)
    assert page.evaluate("() => window.notReloaded") is True
    assert errors == []


def test_the_console_shows_what_the_user_said_while_it_was_away(gateway_process, browser,
                                                                rasa):
    gateway = gateway_process
    gateway.start()
    user = user_browser(gateway)
    conversation_id = gateway.conversation_of(user)
    ticket_id = hand_off(gateway, user)
    staff(gateway, "ann")  # the account, on duty
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    network = Network(page, "/ws/console")
    login(page, gateway.base, "ann", "correct-horse", "/console")
    expect(page.locator("#queues tr").first).to_be_visible()  # the console is wired
    page.click("#claim-online")
    expect(page.locator("#reply")).to_be_visible()
    page.fill("#reply-input", "您好，请问有什么可以帮您？")
    page.press("#reply-input", "Enter")
    transcript = page.locator("#transcript .msg")
    expect(page.locator("#transcript .msg", has_text="有什么可以帮您")).to_have_count(1)
    page.evaluate("() => { window.notReloaded = true; }")

    def user_says(text: str) -> None:
        assert user.post("/api/chat/messages", json={"text": text}).json()["mode"] == "human"

    user_says("营业执照怎么办？")
    expect(page.locator("#transcript .msg", has_text="营业执照怎么办")).to_have_count(1)
    shown = transcript.count()

    # Away: the user writes twice.
    network.drop()
    user_says("我是新开的公司")
    user_says("要带哪些材料？")
    page.wait_for_timeout(1500)
    expect(transcript).to_have_count(shown)
    opened = network.opened

    network.restore()
    expect(transcript).to_have_count(shown + 2, timeout=BACK_S)
    assert network.opened > opened
    # The ticket list came back from the reconnect's snapshot, the ticket still selected.
    expect(page.locator(f'#my-tickets li.active[data-ticket="{ticket_id}"]')).to_have_count(1)
    expect(page.locator("#reply")).to_be_visible()
    live = [(pk, text) for pk, text in record(gateway, conversation_id)
            if pk in {p for p, _ in lines_on(page, "#transcript li", "pk")}]
    assert lines_on(page, "#transcript li", "pk") == live
    texts = [text for _, text in live]
    assert texts[-3:] == ["营业执照怎么办？", "我是新开的公司", "要带哪些材料？"]

    # Live again: the user's next line and the helper's reply, each once, in order.
    user_says("好的")
    expect(page.locator("#transcript .msg", has_text="好的")).to_have_count(1)
    page.fill("#reply-input", "请带身份证原件。")
    page.press("#reply-input", "Enter")
    expect(page.locator("#transcript .msg", has_text="请带身份证原件")).to_have_count(1)
    page.wait_for_timeout(1000)
    ticket_lines = [(m.pk, m.text) for m in stored_messages(gateway.engine, conversation_id)
                    if m.ticket_id == ticket_id]
    shown_lines = lines_on(page, "#transcript li", "pk")
    assert [line for line in shown_lines if line[0] >= ticket_lines[0][0]] == ticket_lines
    assert page.evaluate("() => window.notReloaded") is True
    assert errors == []

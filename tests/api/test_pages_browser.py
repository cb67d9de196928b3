"""The pages in a real browser, against the real processes: gateway under uvicorn, the trained
Rasa model, a Redis of our own and the seeded knowledge base in a temp home.

One user and one helper go through a whole conversation: a question answered from the
knowledge base with its source, a typed Rasa command shown as text, a handoff with the
queue position, the live chat both ways, resolution, and the 好差评 rating. Screenshots
are written to results/screenshots/xiaobao_page_*.png.

Chromium is Debian's (/usr/bin/chromium); Playwright only drives it (never `playwright install`).
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.api.browser import HELPER, HELPER_PASSWORD, SHOTS, Stack, hand_off, say

pytestmark = pytest.mark.rasa


def test_portal_and_console_through_a_whole_conversation(stack: Stack, browser) -> None:
    errors: list[str] = []
    user = browser.new_context(viewport={"width": 1000, "height": 860}).new_page()
    user.on("pageerror", lambda exc: errors.append(str(exc)))
    user.on("dialog", lambda d: errors.append(f"dialog opened: {d.message}"))
    user.goto(stack.base + "/")
    expect(user.locator(".msg.bot").first).to_contain_text("企业管家小宝")

    # A question answered from the knowledge base, with its source and the feedback buttons.
    say(user, "个体工商户怎么办理营业执照？")
    answer = user.locator(".msg.bot").last
    expect(answer).to_contain_text("来源")
    expect(answer.locator("button.option")).to_contain_text(["有帮助", "没帮助", "转人工"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    user.screenshot(path=str(SHOTS / "xiaobao_page_portal_answer.png"))

    # A typed Rasa command and markup: shown as the text typed, never run or parsed.
    typed = '/request_human{"phone": "x"} <img src=x onerror=alert(1)>'
    say(user, typed)
    expect(user.locator(".msg.user .text").last).to_have_text(typed)
    assert user.locator(".messages img").count() == 0

    # Over the limit: refused before sending, with the reason.
    user.fill("#input", "长" * 2001)
    expect(user.locator("#counter")).to_have_class("counter over")
    user.press("#input", "Enter")
    expect(user.locator("#composer-error")).to_contain_text("最多2000个字")
    user.fill("#input", "")

    # Hand off: answer the form's questions with 跳过 until the queue banner shows.
    hand_off(user)
    # Nobody on duty yet: 留言咨询 is offered, with the personal-information notice first.
    expect(user.locator("#leave-row")).to_be_visible()
    user.screenshot(path=str(SHOTS / "xiaobao_page_portal_waiting.png"))
    user.click("#leave-open")
    expect(user.locator("#leave-notice")).to_contain_text("号码仅用于")
    user.screenshot(path=str(SHOTS / "xiaobao_page_portal_leave_message.png"))
    user.click("#form-leave button[value=cancel]")
    expect(user.locator("#mode-banner")).to_be_visible()

    # The helper logs in, goes on duty and claims the ticket.
    staff = browser.new_context(viewport={"width": 1400, "height": 860}).new_page()
    staff.on("pageerror", lambda exc: errors.append(str(exc)))
    staff.goto(stack.base + "/console")
    staff.wait_for_url("**/login?next=/console")
    staff.screenshot(path=str(SHOTS / "xiaobao_page_login.png"))
    staff.fill("#username", HELPER)
    staff.fill("#password", "wrong-password")
    staff.click("button[type=submit]")
    expect(staff.locator("#login-error")).to_contain_text("用户名或密码错误")
    staff.fill("#password", HELPER_PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_url("**/console")
    expect(staff.locator("#who-name")).to_have_text("王帮办")
    if staff.locator("#duty-label").inner_text() != "在岗":
        staff.click("#duty-toggle")
    expect(staff.locator("#duty-label")).to_have_text("在岗")
    expect(staff.locator("#queues tr").first).to_be_visible()
    staff.click("#claim-online")
    expect(staff.locator("#reply")).to_be_visible()
    expect(staff.locator("#transcript")).to_contain_text("转人工")

    # Live chat both ways; markup stays text on both pages.
    staff.fill("#reply-input", "您好，我是王帮办。<b>营业执照</b>可以全程网办。")
    staff.press("#reply-input", "Enter")
    helper_line = user.locator(".msg.helper").last
    expect(helper_line).to_contain_text("<b>营业执照</b>可以全程网办", timeout=15_000)
    expect(helper_line.locator(".meta")).to_contain_text("王帮办")
    expect(user.locator("#mode-banner")).to_contain_text("正在为您服务")
    user.fill("#input", "好的，需要带什么材料？")
    user.press("#input", "Enter")
    expect(staff.locator("#transcript .msg.helper").last).to_contain_text("需要带什么材料",
                                                                          timeout=15_000)

    # A message that arrives live while the console re-reads the transcript (as after a claim
    # or a resync) still shows last: the re-read's answer is held until the message is shown.
    held = []
    staff.route(lambda url: "/api/helper/tickets/" in url and url.count("/") == 6,
                lambda route: held.append((route, route.fetch())))
    staff.locator("#my-tickets .ticket-open").first.click()
    for _ in range(100):
        if held:
            break
        staff.wait_for_timeout(100)
    assert held, "the console did not re-read the transcript"
    user.fill("#input", "办理要收费吗？")
    user.press("#input", "Enter")
    expect(staff.locator("#transcript")).to_contain_text("办理要收费吗", timeout=15_000)
    route, stale = held[0]
    route.fulfill(response=stale)  # the older lines arrive after the newer one
    expect(staff.locator("#transcript")).to_contain_text("转人工")
    expect(staff.locator("#transcript li").last).to_contain_text("办理要收费吗")
    staff.unroute_all()
    staff.screenshot(path=str(SHOTS / "xiaobao_page_console.png"))
    user.screenshot(path=str(SHOTS / "xiaobao_page_portal_human.png"))

    # Resolution: back to the bot, which asks for the rating; the user rates.
    staff.click("#btn-resolve")
    staff.fill("#close-note", "已告知网办流程")
    staff.click("#form-close button[value=ok]")
    expect(user.locator(".rating")).to_be_visible(timeout=30_000)
    expect(user.locator(".msg.notice").last).to_contain_text("人工服务已结束")
    user.screenshot(path=str(SHOTS / "xiaobao_page_portal_rating.png"))
    bots = user.locator(".msg.bot").count()
    user.locator(".rating button", has_text="非常满意").click()
    expect(user.locator(".msg.bot")).to_have_count(bots + 1, timeout=60_000)
    expect(user.locator(".msg.bot").last).to_contain_text("评价")
    assert user.locator("#mode-banner").is_hidden()

    # A returning user (same browser, new tab) finds the conversation.
    again = user.context.new_page()
    again.goto(stack.base + "/")
    expect(again.locator(".msg.notice")).to_contain_text(["以上是您之前的对话记录"])
    expect(again.locator(".msg.helper").last).to_contain_text("可以全程网办")
    assert errors == []


def test_console_leader_queue_and_left_messages_with_the_portals_call_back(
        gateway_process, redis_client, rasa, browser) -> None:
    """No Rasa needed: the gateway alone, tickets and 留言 made as the bot and portal make them."""
    import datetime as dt
    import uuid

    from handoff import left_messages
    from handoff.config import packaged_config
    from handoff.requests import Candidate, HandoffRequest, request_handoff
    from handoff.store import Ticket
    from xiaobao.accounts import create_account
    from xiaobao.conversations import conversation_id_for
    from xiaobao.db import session_scope

    dept = "区市场监管局"
    category = next(c for c, d in packaged_config().routing.items() if d == dept)
    gateway = gateway_process
    engine, ctx = gateway.engine, gateway.ctx  # as the bot and the portal would write
    with session_scope(engine) as s:
        create_account(s, "lead", "leader-pass-1", roles=["leader", "helper"], departments=[dept],
                       display_name="李科长")

    def ticket(complaint: bool, topic: str, waited_s: float = 0) -> str:
        conv = uuid.uuid4().hex
        ticket_id = request_handoff(HandoffRequest(
            request_id=uuid.uuid4().hex, conversation_id=conv, channel="online_helper",
            topic=topic, company="上海宝宝科技有限公司", phone="13812345678",
            complaint=complaint, candidates=[Candidate(id="kb-1", question=topic,
                                                       category=category, score=0.4)]),
            ctx=ctx).ticket_id
        with session_scope(engine) as s:
            row = s.get(Ticket, ticket_id)
            row.queued_at = row.queued_at - dt.timedelta(seconds=waited_s)
        return ticket_id

    late = ticket(False, "食品经营许可证办理进度", waited_s=300)
    ticket(True, "窗口办理态度<script>alert(1)</script>投诉")
    # The browser's cookie holds a secret; the 留言 is kept under the id derived from it.
    secret = "visitor-" + uuid.uuid4().hex
    visitor = conversation_id_for(secret, gateway.secret_key)
    left = left_messages.leave_message(visitor, "想咨询个体工商户<b>变更</b>经营范围需要哪些材料？",
                                       phone="13912345678", visitor_id=visitor, department=dept,
                                       ctx=ctx)
    left_messages.leave_message("visitor-" + uuid.uuid4().hex, "周末能否办理营业执照？",
                                department=dept, ctx=ctx)
    gateway.start()

    errors: list[str] = []
    user_context = browser.new_context(viewport={"width": 1000, "height": 800})
    user_context.add_cookies([{"name": "xiaobao_visitor", "value": secret,
                               "url": gateway.base}])
    user = user_context.new_page()
    user.on("pageerror", lambda exc: errors.append(str(exc)))
    user.goto(gateway.base + "/")
    expect(user.locator(".msg.notice").last).to_contain_text("已提交，工作人员答复后")

    staff = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    staff.on("pageerror", lambda exc: errors.append(str(exc)))
    staff.goto(gateway.base + "/login?next=/console")
    staff.fill("#username", "lead")
    staff.fill("#password", "leader-pass-1")
    staff.click("button[type=submit]")
    staff.wait_for_url("**/console")
    expect(staff.locator("#tab-leader-btn")).to_be_visible()
    expect(staff.locator("#esc-count")).to_have_text("2")
    expect(staff.locator("#lm-count")).to_have_text("2")
    staff.click("#tab-leader-btn")
    expect(staff.locator("#escalations > li")).to_have_count(2)
    expect(staff.locator("#escalations > li").first).to_contain_text("超时未响应")
    expect(staff.locator("#escalations > li").nth(1)).to_contain_text("<script>alert(1)</script>")
    expect(staff.locator("#left-messages > li")).to_have_count(2)
    staff.locator("#escalations > li").first.locator("summary").click()  # its history
    staff.screenshot(path=str(SHOTS / "xiaobao_page_console_leader.png"))
    staff.click("[data-tab=tab-left]")
    expect(staff.locator("#left-messages > li").first).to_contain_text("139****5678")
    staff.screenshot(path=str(SHOTS / "xiaobao_page_console_left_messages.png"))

    # Answer the 留言: the user, online, sees it at once and asks for a 12345 call-back.
    staff.locator("#left-messages > li").first.locator("button").click()
    expect(staff.locator("#answer-question")).to_contain_text("<b>变更</b>")
    staff.fill("#answer-text", "请携带营业执照正本和经营者身份证，到宝山区行政服务中心办理。")
    staff.screenshot(path=str(SHOTS / "xiaobao_page_console_answer.png"))
    staff.click("#form-answer button[value=ok]")
    expect(staff.locator("#left-messages > li")).to_have_count(1)
    answer = user.locator(".msg.helper").last
    expect(answer).to_contain_text("请携带营业执照正本", timeout=10_000)
    answer.locator("button", has_text="请12345回电").click()
    expect(user.locator("#mode-banner")).to_contain_text("12345热线回电")
    expect(answer).to_contain_text("12345回电：已预约")
    user.screenshot(path=str(SHOTS / "xiaobao_page_portal_callback.png"))
    assert left_messages.answers_for(visitor, ctx=ctx)[0].id == left.id

    # The leader takes the ticket that waited too long.
    staff.click("#tab-leader-btn")
    staff.locator("#escalations > li").first.locator("button", has_text="接手").click()
    expect(staff.locator("#ctx-id")).to_have_text(late)
    expect(staff.locator("#reply")).to_be_visible()
    expect(staff.locator("#escalations > li")).to_have_count(2)  # claimed, not yet answered
    staff.fill("#reply-input", "您好，我是李科长，马上为您查询进度。")
    staff.press("#reply-input", "Enter")
    expect(staff.locator("#escalations > li")).to_have_count(1, timeout=15_000)
    staff.screenshot(path=str(SHOTS / "xiaobao_page_console_leader_took.png"))
    assert staff.locator("script").filter(has_text="alert").count() == 0
    assert errors == []


def test_ending_the_conversation_offers_a_rating_and_clears_the_page(stack: Stack,
                                                                      browser) -> None:
    """结束会话 without a dialog: the five levels and a reason, or no rating; the page is then
    empty and the rating counts (a 差评 with the reason typed beside it)."""
    from sqlalchemy import select

    from xiaobao.db import make_engine, session_scope
    from xiaobao.events import Event

    errors: list[str] = []
    user = browser.new_context(viewport={"width": 1000, "height": 860}).new_page()
    user.on("pageerror", lambda exc: errors.append(str(exc)))
    user.on("dialog", lambda d: errors.append(f"dialog opened: {d.message}"))
    user.goto(stack.base + "/")
    say(user, "个体工商户怎么办理营业执照？")
    expect(user.locator(".msg.bot").last).to_contain_text("来源")
    visitor = next(c["value"] for c in user.context.cookies() if c["name"] == "xiaobao_visitor")
    user.click("#end-conversation")
    panel = user.locator("#end-panel")
    expect(panel.locator("button.option")).to_contain_text(
        ["非常满意", "满意", "基本满意", "不满意", "非常不满意", "不评价，直接结束"])
    user.fill("#end-reason", "材料清单和窗口说的不一样")
    with user.expect_navigation():
        panel.get_by_role("button", name="不满意", exact=True).click()
    expect(user.locator(".msg.bot").first).to_contain_text("企业管家小宝")
    expect(user.locator(".msg.user")).to_have_count(0)
    assert next(c["value"] for c in user.context.cookies()
                if c["name"] == "xiaobao_visitor") != visitor
    engine = make_engine(f"sqlite:///{stack.home / 'xiaobao.db'}")
    with session_scope(engine) as s:
        rated = [(e.data["rating"], e.data["reason"]) for e in s.scalars(
            select(Event).where(Event.kind == "rating").order_by(Event.pk.desc()).limit(1))]
    engine.dispose()
    assert rated == [("不满意", "材料清单和窗口说的不一样")]
    assert errors == []

"""The supervisors' dashboard (/dashboard) in a real browser, against the real processes (the
shared stack of tests/api/browser.py): a supervisor logs in, reads the rates of a scripted
scenario — the same numbers as ``GET /api/reports/summary`` — against their target lines, the
trend by day, a breakdown, the 差评 queue with its timers, the knowledge gaps and the tickets
clustered by meaning; reviews a 差评 as 不属实 and records a rectification step, and sees the
queue and the rates follow. Without the chart library the page shows tables instead.

The scenario is made the way the running system makes it: tickets by
:func:`handoff.requests.request_handoff` (the bot's handoff action), claimed, answered and
closed through the helper API, rated with :func:`ratings.record.record_rating` (the rating
action's call). Other browser tests share the stack, so the rates are checked as what the
scenario adds to them (before and after), and the page against the API at the same moment.

axe-core finds no serious violation; screenshots at desktop and phone width:
results/screenshots/xiaobao_dashboard_*.png.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest
import redis as redis_lib
from playwright.sync_api import Browser, Page, expect

from handoff.closing import abandon_ticket
from handoff.config import packaged_config
from handoff.context import HandoffContext
from handoff.requests import Candidate, HandoffRequest, request_handoff
from ratings.cases import BadRatingCase
from ratings.record import record_rating
from tests.api.browser import (
    HELPER,
    HELPER_PASSWORD,
    SUPERVISOR,
    SUPERVISOR_PASSWORD,
    Stack,
    login,
    say,
    screenshot,
    serious_axe_violations,
    staff_client,
)
from xiaobao.db import make_engine, session_scope

pytestmark = pytest.mark.rasa

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
DEPT = "区市场监管局"  # one of the helper's departments
CATEGORY = next(c for c, d in packaged_config().routing.items() if d == DEPT)
DOG = ["宠物犬登记在哪里办", "养狗要办什么证", "狗证在哪里办"]
RATES = ("satisfaction_rate", "unfounded_rate", "first_contact_resolution_rate", "response_rate",
         "resolution_rate", "bot_resolution_rate", "containment_rate", "active_rating_rate",
         "rectified_in_time_rate", "follow_up_rate")


# --- helpers --------------------------------------------------------------------------------------

def shown(value: float | None) -> str:
    """A rate as the page writes it."""
    return "不可用" if value is None else f"{value * 100:.1f}%"


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def window() -> dict:
    return {"from": (today() - dt.timedelta(days=29)).isoformat(), "to": today().isoformat()}


def audit(page: Page, name: str) -> None:
    for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        assert serious_axe_violations(page) == [], f"{name} at {width}"
        screenshot(page, f"dashboard_{name}_{width}")
    page.set_viewport_size(DESKTOP)


def expect_rates_as_api(page: Page, summary: dict) -> None:
    """Every rate tile says the API's value and fraction."""
    for metric in RATES:
        tile = page.locator(f"#kpis li[data-metric={metric}]")
        rate = summary[metric]
        expect(tile.locator(".kpi-value")).to_have_text(shown(rate["value"]))
        expect(tile.locator(".kpi-fraction")).to_have_text(
            f"分子/分母 {rate['numerator']} / {rate['denominator']}")


class Scenario:
    """Tickets, their closing and their ratings, on the stack's database and Redis."""

    def __init__(self, stack: Stack):
        self.engine = make_engine(f"sqlite:///{stack.home / 'xiaobao.db'}")
        self.ctx = HandoffContext(engine=self.engine, config=packaged_config(),
                                  redis=redis_lib.Redis(port=stack.redis_port,
                                                        decode_responses=True))
        self.helper = staff_client(stack, HELPER, HELPER_PASSWORD)

    def ticket(self, topic: str) -> str:
        return request_handoff(HandoffRequest(
            request_id=uuid.uuid4().hex, conversation_id=uuid.uuid4().hex,
            channel="online_helper", topic=topic, summary=f"咨询：{topic}",
            candidates=[Candidate(id="kb-x", question=topic, category=CATEGORY, score=0.3)]),
            ctx=self.ctx).ticket_id

    def answer_and_close(self, ticket_id: str, outcome: str) -> None:
        """The helper takes the ticket, answers at once, and closes it (resolve | unresolve)."""
        for path, body in ((f"/api/helper/tickets/{ticket_id}/claim", None),
                           (f"/api/helper/tickets/{ticket_id}/messages",
                            {"text": "您好，我来帮您办理。"}),
                           (f"/api/helper/tickets/{ticket_id}/{outcome}", {"note": "已答复"})):
            response = self.helper.post(path, json=body)
            assert response.status_code == 200, (path, response.text)

    def rate(self, rating: str, reason: str = "", ticket_id: str = "") -> int | None:
        """What the rating action records; the 差评 work order's id, if one opened."""
        with session_scope(self.engine) as s:
            conversation, department, handler = uuid.uuid4().hex, "", ""
            if ticket_id:
                from handoff.store import Ticket

                t = s.get(Ticket, ticket_id)
                conversation, department, handler = t.conversation_id, t.department, t.helper
            event = record_rating(s, conversation, rating, ticket_id=ticket_id, reason=reason,
                                  department=department, handler=handler or "")
            case = s.query(BadRatingCase).filter_by(rating_event_pk=event.pk).one_or_none()
            return case.id if case is not None else None

    def opened_days_ago(self, case_id: int, days: int) -> None:
        """An older 差评: its timers ran out meanwhile."""
        with session_scope(self.engine) as s:
            case = s.get(BadRatingCase, case_id)
            case.opened_at = case.opened_at - dt.timedelta(days=days)

    def close(self) -> None:
        self.helper.close()
        self.ctx.redis.close()
        self.engine.dispose()


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def supervisor_api(stack: Stack) -> Iterator[httpx.Client]:
    client = staff_client(stack, SUPERVISOR, SUPERVISOR_PASSWORD)
    yield client
    client.close()


@pytest.fixture(scope="module")
def scenario(stack: Stack, supervisor_api: httpx.Client) -> Iterator[dict]:
    """Three dog-licence tickets resolved, one unresolved, one abandoned; rated 非常满意, 满意
    and 不满意 (a 差评 with a reason); a 差评 of the bot's service opened 10 days ago. The
    summary before and after, for the numbers the scenario adds."""
    before = supervisor_api.get("/api/reports/summary", params=window()).json()
    made = Scenario(stack)
    try:
        dogs = [made.ticket(text) for text in DOG]
        for ticket_id in dogs:
            made.answer_and_close(ticket_id, "resolve")
        unresolved = made.ticket("营业执照年报逾期怎么补报")
        made.answer_and_close(unresolved, "unresolve")
        abandon_ticket(made.ticket("食品经营许可证延续"), actor="user", ctx=made.ctx)
        made.rate("非常满意", ticket_id=dogs[0])
        made.rate("满意", ticket_id=dogs[1])
        founded = made.rate("不满意", "狗证在哪里办没人说清楚", ticket_id=dogs[2])
        bot_case = made.rate("非常不满意", "排队太久一直没人回复")
        made.opened_days_ago(bot_case, 10)
    finally:
        made.close()
    after = supervisor_api.get("/api/reports/summary", params=window()).json()
    yield {"before": before, "after": after, "case": founded, "bot_case": bot_case,
           "dogs": dogs}


@pytest.fixture(scope="module")
def page_errors() -> list[str]:
    return []


@pytest.fixture(scope="module")
def dashboard(stack: Stack, browser: Browser, scenario: dict,
              page_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("console", lambda m: page_errors.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text else None)
    page.goto(stack.base + "/dashboard")
    page.wait_for_url("**/login?next=/dashboard")  # a login first
    login(page, stack.base, SUPERVISOR, SUPERVISOR_PASSWORD, "/dashboard")
    expect(page.locator("#board")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("已更新", timeout=60_000)
    yield page
    context.close()
    assert page_errors == []


# --- the tests ------------------------------------------------------------------------------------

def test_the_scenario_adds_what_was_scripted(scenario: dict) -> None:
    """The API's figures move by exactly the scenario (the page is checked against the API)."""
    before, after = scenario["before"], scenario["after"]

    def added(metric: str) -> tuple[int, int]:
        return (after[metric]["numerator"] - before[metric]["numerator"],
                after[metric]["denominator"] - before[metric]["denominator"])

    assert added("resolution_rate") == (3, 5)  # 3 resolved of 5 closed (1 unresolved, 1 left)
    assert added("satisfaction_rate") == (2, 4)  # 非常满意, 满意 of four ratings (two 差评)
    assert added("response_rate") == (4, 4)  # answered at once; the abandoned one left out
    assert added("first_contact_resolution_rate") == (3, 3)
    assert added("follow_up_rate") == (0, 2)  # two 差评, neither followed up yet


def test_a_supervisor_reads_the_rates_against_their_targets(
        dashboard: Page, supervisor_api: httpx.Client, scenario: dict) -> None:
    page = dashboard
    expect(page.locator("#from")).to_have_value(window()["from"])  # the last 30 days
    expect(page.locator("#to")).to_have_value(window()["to"])
    summary = supervisor_api.get("/api/reports/summary", params=window()).json()
    expect_rates_as_api(page, summary)
    satisfaction = page.locator("#kpis li[data-metric=satisfaction_rate]")
    expect(satisfaction.locator(".kpi-target")).to_contain_text("目标 ≥ 90%")
    verdict = "达标" if summary["satisfaction_rate"]["value"] >= 0.9 else "未达标"
    expect(satisfaction.locator(".kpi-target .mark")).to_have_text(verdict)
    expect(page.locator("#kpis li[data-metric=unfounded_rate] .kpi-target")).to_contain_text(
        "目标 ≤ 20%")
    # A rate with nothing to count says so: 不可用, never 0%.
    empty = supervisor_api.get("/api/reports/summary",
                               params={"from": "2001-01-01", "to": "2001-01-31"}).json()
    assert empty["satisfaction_rate"]["value"] is None
    page.fill("#from", "2001-01-01")
    page.fill("#to", "2001-01-31")
    page.click("#range-form button[type=submit]")
    expect(page.locator("#status")).to_contain_text("已更新：2001-01-01 至 2001-01-31")
    expect(satisfaction.locator(".kpi-value")).to_have_text("不可用")
    expect(satisfaction.locator(".kpi-target")).to_contain_text("无法判断")
    page.click("#last-30")
    expect(page.locator("#status")).to_contain_text("已更新：" + window()["from"])
    expect_rates_as_api(page, summary)

    # The trend: a chart drawn by the gateway's own Chart.js, and its table with the API's days.
    series = supervisor_api.get("/api/reports/series",
                                params={**window(), "metric": "satisfaction_rate"}).json()
    assert page.evaluate("() => typeof window.Chart") == "function"
    expect(page.locator("#trend-chart-box")).to_be_visible()
    assert page.locator("#trend-chart").bounding_box()["height"] > 100
    rows = page.locator("#trend-rows tr")
    expect(rows).to_have_count(30)
    last = series["points"][-1]
    expect(rows.last).to_contain_text(shown(last["value"]))
    expect(rows.last).to_contain_text(f"{last['numerator']} / {last['denominator']}")

    # The breakdown by department: the scenario's department with the API's numbers.
    by_dept = supervisor_api.get("/api/reports/summary",
                                 params={**window(), "by": "department"}).json()
    row = next(r for r in by_dept["breakdown"]["rows"] if r["key"] == DEPT)
    page.select_option("#breakdown-by", "department")
    shown_row = page.locator(f"#breakdown-rows tr[data-key='{DEPT}']")
    expect(shown_row).to_contain_text(shown(row["resolution_rate"]["value"]))
    expect(shown_row).to_contain_text(
        f"{row['resolution_rate']['numerator']} / {row['resolution_rate']['denominator']}")
    page.select_option("#breakdown-by", "channel")
    expect(page.locator("#breakdown-caption")).to_contain_text("按渠道分项")
    expect(page.locator("#breakdown-rows")).to_contain_text("在线帮办")

    # 工单聚类分析: the dog-licence tickets and their 差评 are one line.
    dogs = page.locator("#cluster-rows tr", has_text="狗证在哪里办没人说清楚")
    expect(dogs).to_have_count(1)
    cells = dogs.locator("td")
    expect(cells.nth(0)).to_have_text("4")
    expect(cells.nth(1)).to_have_text("3")
    expect(cells.nth(2)).to_have_text("1")
    expect(cells.nth(3)).to_contain_text(f"{DEPT} 4")
    expect(page.locator("#sec-gaps a[href='/editor#gaps']")).to_be_visible()
    expect(page.locator("#gaps-summary")).to_contain_text("组")
    audit(page, "rates")


def test_a_supervisor_reviews_a_bad_rating_and_records_a_rectification(
        dashboard: Page, supervisor_api: httpx.Client, scenario: dict) -> None:
    page = dashboard
    case_id, bot_case = scenario["case"], scenario["bot_case"]
    case = page.locator(f"#bad-list > li[data-case-id='{case_id}']")
    expect(case).to_contain_text("狗证在哪里办没人说清楚")
    expect(case).to_contain_text("未复核")
    expect(case.locator(".timers")).to_contain_text("1个工作日内联系用户")
    # Ten days old and never contacted: overdue, said in words.
    old = page.locator(f"#bad-list > li[data-case-id='{bot_case}']")
    expect(old.locator("h3")).to_contain_text("（已超期）")
    expect(old.locator(".timers")).to_contain_text("已超期，尚未完成")
    count = int(page.locator("#bad-count").inner_text())

    # 不属实 without a note is refused in the page; with one it is recorded.
    case.get_by_label("不属实", exact=True).check()
    case.get_by_role("button", name=f"提交复核：差评 {case_id}").click()
    expect(case.locator(".field-error").first).to_contain_text("写明理由")
    case.get_by_label("复核说明（认定不属实须写明理由）").fill("通话录音显示已告知办理地点")
    case.get_by_role("button", name=f"提交复核：差评 {case_id}").click()
    expect(page.locator("#status")).to_contain_text(f"差评 {case_id} 已复核为“不属实”")
    # Upheld 不属实 needs nothing more: it leaves the 待处理 queue; the rates follow.
    expect(case).to_have_count(0)
    expect(page.locator("#bad-count")).to_have_text(str(count - 1))
    expect(page.locator("#h-bad")).to_be_focused()
    after = supervisor_api.get("/api/reports/summary", params=window()).json()
    assert after["unfounded_rate"]["numerator"] == \
        scenario["after"]["unfounded_rate"]["numerator"] + 1
    expect_rates_as_api(page, after)
    page.select_option("#bad-status", "unfounded")
    reviewed = page.locator(f"#bad-list > li[data-case-id='{case_id}']")
    expect(reviewed).to_contain_text("复核：不属实")
    expect(reviewed).to_contain_text("通话录音显示已告知办理地点")
    assert reviewed.locator("form").count() == 0  # a supervisor does not overturn

    # The bot's 差评: contacted, by keyboard, with its complexity.
    page.select_option("#bad-status", "active")
    old = page.locator(f"#bad-list > li[data-case-id='{bot_case}']")
    old.get_by_label("联系用户情况").fill("已电话联系用户，告知狗证在区农业农村委办理")
    old.get_by_label("问题复杂度").select_option("complex")
    old.get_by_role("button", name=f"记录联系用户：差评 {bot_case}").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text(f"差评 {bot_case}：已记录联系用户")
    expect(old.locator("h3")).to_contain_text("已联系")
    expect(old.locator(".timers")).to_contain_text("超期完成")  # contacted after its day
    expect(old.locator(".timers")).to_contain_text("15个工作日内整改完成（复杂）")
    expect(old.get_by_role("button", name=f"记录整改完成：差评 {bot_case}")).to_be_visible()
    stored = supervisor_api.get("/api/reports/bad-ratings", params={"status": "all"}).json()
    mine = next(c for c in stored["cases"] if c["id"] == bot_case)
    assert (mine["status"], mine["complexity"]) == ("contacted", "complex")
    audit(page, "bad_ratings")


def test_without_the_chart_library_the_numbers_are_tables(
        stack: Stack, browser: Browser, supervisor_api: httpx.Client, scenario: dict) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    context.route(re.compile(r".*/vendor/chart\.umd\.min\.js$"), lambda route: route.abort())
    page = context.new_page()
    login(page, stack.base, SUPERVISOR, SUPERVISOR_PASSWORD, "/dashboard")
    expect(page.locator("#status")).to_contain_text("已更新", timeout=60_000)
    assert page.evaluate("() => typeof window.Chart") == "undefined"
    expect(page.locator("#trend-chart-box")).to_be_hidden()
    expect(page.locator("#chart-note")).to_be_visible()
    expect(page.locator("#trend-rows tr")).to_have_count(30)
    expect(page.locator("#trend-table")).to_be_visible()
    expect_rates_as_api(page, supervisor_api.get("/api/reports/summary", params=window()).json())
    audit(page, "no_charts")
    context.close()


def test_other_staff_are_told_the_dashboard_is_not_theirs(stack: Stack, browser: Browser) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    login(page, stack.base, HELPER, HELPER_PASSWORD, "/dashboard")
    expect(page.locator("#denied")).to_be_visible()
    expect(page.locator("#denied-text")).to_contain_text("没有督导看板权限")
    expect(page.locator("#board")).to_be_hidden()
    assert serious_axe_violations(page) == []
    context.close()


def test_the_top_gaps_are_the_editors_gaps(stack: Stack, browser: Browser, dashboard: Page,
                                          supervisor_api: httpx.Client) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 860})
    portal = context.new_page()
    portal.goto(stack.base + "/")
    expect(portal.locator(".msg.bot").first).to_contain_text("企业管家小宝")
    say(portal, "公司组织员工去火星考察需要办理哪些审批？")  # nothing in the knowledge base
    context.close()
    gaps = supervisor_api.get("/api/kb/gaps", params=window()).json()["clusters"]
    assert any("火星" in text for c in gaps for text in c["examples"])
    dashboard.click("#range-form button[type=submit]")
    expect(dashboard.locator("#gaps-summary")).to_contain_text(f"归为 {len(gaps)} 组",
                                                               timeout=30_000)
    expect(dashboard.locator("#gaps-list > li h3")).to_have_text(
        [f"{c['size']} 个问题：{c['examples'][0]}" for c in gaps[:5]])

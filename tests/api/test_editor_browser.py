"""The knowledge editors' workbench (/editor) in a real browser, against the real processes:
gateway under uvicorn, the trained Rasa model, a Redis of our own and the seeded knowledge base
(the shared stack of tests/api/browser.py). What an editor does in the page must change what
the portal's users are told, within seconds, through the same retriever the chat uses.

Every view is checked with axe-core (no serious or critical violation) and photographed at
desktop (1366×900) and phone (390×844) width: results/screenshots/xiaobao_editor_*.png.
Each test makes its own entries, on topics the seed does not cover.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis as redis_lib
from playwright.sync_api import Browser, Page, expect

from handoff.closing import abandon_ticket
from handoff.config import packaged_config
from handoff.context import HandoffContext
from handoff.requests import Candidate, HandoffRequest, request_handoff
from knowledge_base.io import ImportFailed, parse_entries
from tests.api.browser import (
    EDITOR,
    EDITOR_PASSWORD,
    HELPER,
    HELPER_PASSWORD,
    SUPERVISOR,
    SUPERVISOR_PASSWORD,
    VENV_BIN,
    Stack,
    login,
    say,
    screenshot,
    serious_axe_violations,
    staff_client,
)
from xiaobao.db import make_engine

pytestmark = pytest.mark.rasa

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
ANSWER_WAIT_S = 5.0  # an editor's change reaches the chat's retriever within this


# --- helpers --------------------------------------------------------------------------------------

def audit(page: Page, view: str) -> None:
    """axe-core clean and a screenshot, at desktop and at phone width."""
    for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        assert serious_axe_violations(page) == [], f"{view} at {width}"
        screenshot(page, f"editor_{view}_{width}")
    page.set_viewport_size(DESKTOP)


def open_view(page: Page, hash_: str, heading: str) -> None:
    page.evaluate("(h) => { location.hash = h; }", hash_)
    view = hash_.lstrip("#").split("/")[0]
    expect(page.locator(f"#view-{view}")).to_be_visible()
    expect(page.locator(f"#h-{view}")).to_contain_text(heading)


def last_bot_text(portal: Page) -> str:
    return portal.locator(".msg.bot .text").last.inner_text()


def ask_until(portal: Page, question: str, wanted: Callable[[str], bool],
              timeout_s: float = ANSWER_WAIT_S) -> str:
    """Ask again until the bot's reply satisfies ``wanted`` or ``timeout_s`` pass."""
    deadline = time.monotonic() + timeout_s
    while True:
        say(portal, question)
        text = last_bot_text(portal)
        if wanted(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    client = staff_client(stack, EDITOR, EDITOR_PASSWORD)
    yield client
    client.close()


@pytest.fixture(scope="module")
def page_errors() -> list[str]:
    return []


@pytest.fixture(scope="module")
def editor(stack: Stack, browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("dialog", lambda d: page_errors.append(f"dialog opened: {d.message}"))
    login(page, stack.base, EDITOR, EDITOR_PASSWORD, "/editor")
    expect(page.locator("#editor-nav")).to_be_visible()
    yield page
    context.close()
    assert page_errors == []


@pytest.fixture
def portal(stack: Stack, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1000, "height": 860})
    page = context.new_page()
    page.goto(stack.base + "/")
    expect(page.locator(".msg.bot").first).to_contain_text("企业管家小宝")
    yield page
    context.close()


def publish_entry(api: httpx.Client, fields: dict) -> dict:
    created = api.post("/api/kb/entries", json=fields)
    assert created.status_code == 201, created.text
    entry = created.json()["entry"]
    published = api.post(f"/api/kb/entries/{entry['id']}/publish",
                         json={"version": entry["version"]})
    assert published.status_code == 200, published.text
    return published.json()["entry"]


# --- the tests ------------------------------------------------------------------------------------

def test_the_page_asks_for_a_login_and_tells_other_staff_they_may_not(
        stack: Stack, browser: Browser) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(stack.base + "/editor")
    page.wait_for_url("**/login?next=/editor")
    login(page, stack.base, HELPER, HELPER_PASSWORD, "/editor")
    expect(page.locator("#denied")).to_be_visible()
    expect(page.locator("#denied-text")).to_contain_text("没有知识库编辑权限")
    expect(page.locator("#editor-nav")).to_be_hidden()
    audit(page, "denied")
    context.close()


def test_an_edited_answer_is_what_the_portal_says_next(
        editor: Page, api: httpx.Client, portal: Page) -> None:
    question = "游艇俱乐部经营备案去哪里办理？"
    entry = publish_entry(api, {
        "question": question, "similar_questions": ["游艇俱乐部备案怎么办"],
        "answer": "游艇俱乐部经营备案请向区交通委咨询（旧答案）。", "category": "其他",
        "source": "本中心整理"})
    assert "旧答案" in ask_until(portal, question, lambda t: "旧答案" in t)

    # The list finds it by words and by meaning; each row says its status and review state.
    open_view(editor, "#list", "条目列表")
    editor.fill("#f-q", "游艇俱乐部")
    editor.click("#list-filters button[type=submit]")
    row = editor.locator("#list-rows tr", has_text=entry["id"])
    expect(row).to_contain_text("已发布")
    expect(row).to_contain_text("未核对")
    audit(editor, "list")

    row.locator("a").click()
    expect(editor.locator("#h-edit")).to_contain_text(entry["id"])
    expect(editor.locator("#e-answer")).to_have_value(entry["answer"])
    new_answer = "游艇俱乐部经营备案：登录一网通办搜索“游艇俱乐部备案”在线提交（新答案）。"
    editor.fill("#e-answer", new_answer)
    # The live preview shows the card exactly as the bot will, through the server's card code.
    expect(editor.locator("#preview-text")).to_contain_text("在线提交（新答案）")
    expect(editor.locator("#preview-text")).to_contain_text("来源：本中心整理")
    # 相似问法 one by one, by keyboard: Enter adds, each item has its own named 删除.
    editor.fill("#e-similar-input", "游艇会备案要准备什么")
    editor.press("#e-similar-input", "Enter")
    expect(editor.locator("#e-similar li")).to_have_count(2)
    remove = editor.get_by_role("button", name="删除相似问法：游艇会备案要准备什么")
    remove.focus()
    editor.keyboard.press("Enter")
    expect(editor.locator("#e-similar li")).to_have_count(1)
    editor.click("#e-reviewed-today")
    expect(editor.locator("#preview-text")).to_contain_text("最近核对：")
    audit(editor, "edit")

    # Unsaved changes: leaving asks inline (no pop-up); Escape stays.
    editor.locator("#editor-nav a[data-view=export]").click()
    expect(editor.locator("#unsaved-warning")).to_be_visible()
    expect(editor.locator("#view-edit")).to_be_visible()
    editor.keyboard.press("Escape")
    expect(editor.locator("#unsaved-warning")).to_be_hidden()

    editor.click("#e-save")
    expect(editor.locator("#status")).to_contain_text("已保存")
    expect(editor.locator("#e-version")).to_contain_text(f"版本 {entry['version'] + 1}")
    said = ask_until(portal, question, lambda t: "新答案" in t)
    assert said.startswith(new_answer) and "最近核对：" in said

    # Someone else saves meanwhile: the page's save is refused with the server's message and
    # offers to reload; nothing of the other editor's work is lost.
    current = api.get(f"/api/kb/entries/{entry['id']}").json()["entry"]
    other = {k: current[k] for k in ("question", "similar_questions", "category", "source",
                                     "status")}
    changed = api.put(f"/api/kb/entries/{entry['id']}",
                      json={**other, "answer": new_answer + "（同事修改）",
                            "version": current["version"]})
    assert changed.status_code == 200, changed.text
    editor.fill("#e-answer", new_answer + "（我的修改）")
    editor.click("#e-save")
    expect(editor.locator("#edit-error")).to_contain_text("已被他人修改")
    expect(editor.locator("#edit-reload")).to_be_visible()
    editor.click("#edit-reload")
    expect(editor.locator("#e-answer")).to_have_value(new_answer + "（同事修改）")

    # History: pick two versions, a side-by-side diff marked with text, then roll back.
    editor.click("#e-history")
    expect(editor.locator("#history-rows tr")).to_have_count(current["version"] + 1)
    editor.locator("input[name=v-old][value='1']").check()
    editor.click("#history-compare")
    answer_row = editor.locator("#diff-rows tr", has_text="答案")
    expect(answer_row).to_have_class("changed")
    expect(answer_row.locator("th")).to_contain_text("已修改")
    expect(answer_row).to_contain_text("旧答案")
    expect(editor.locator("#diff-rows tr", has_text="分类")).not_to_have_class("changed")
    audit(editor, "history")
    editor.get_by_role("button", name="回滚到此版本：版本 1").click()
    expect(editor.locator("#rollback-confirm")).to_be_visible()
    editor.keyboard.press("Escape")
    expect(editor.locator("#rollback-confirm")).to_be_hidden()
    editor.get_by_role("button", name="回滚到此版本：版本 1").click()
    editor.click("#rollback-ok")
    expect(editor.locator("#status")).to_contain_text("已回滚到版本 1")
    assert api.get(f"/api/kb/entries/{entry['id']}").json()["entry"]["answer"] == entry["answer"]


def test_a_new_entry_is_published_found_by_a_paraphrase_and_archived(
        editor: Page, portal: Page) -> None:
    paraphrase = "搞无人机航拍的公司，飞行空域要怎么申请？"
    before = ask_until(portal, paraphrase, lambda t: True, timeout_s=0)
    assert "无人机航拍企业申请飞行空域" not in before

    open_view(editor, "#edit/new", "新建条目")
    editor.fill("#e-question", "无人机航拍企业如何申请飞行空域？")
    for similar in ("无人机航拍公司怎么申请空域", "航拍无人机飞行需要报批吗"):
        editor.fill("#e-similar-input", similar)
        editor.click("#e-similar-add")
    answer = "无人机航拍企业申请飞行空域：通过民航“无人驾驶航空器综合管理平台”提交飞行活动申请。"
    editor.fill("#e-answer", answer)
    editor.fill("#e-category", "其他")
    editor.fill("#e-source", "本中心整理")
    editor.fill("#e-source-url", "https://zwdt.sh.gov.cn/")
    expect(editor.locator("#preview-warnings")).to_contain_text("深链接")
    expect(editor.locator("#preview-text")).to_contain_text("办理入口")
    editor.click("#e-save")
    expect(editor.locator("#e-status")).to_have_text("草稿")
    entry_id = editor.locator("#e-id").input_value()
    assert entry_id and editor.evaluate("location.hash") == f"#edit/{entry_id}"

    editor.click("#e-publish")
    expect(editor.locator("#e-status")).to_have_text("已发布")
    said = ask_until(portal, paraphrase, lambda t: t.startswith(answer))
    assert said.startswith(answer)

    editor.click("#e-archive")
    expect(editor.locator("#e-status")).to_have_text("已归档")
    said = ask_until(portal, paraphrase, lambda t: not t.startswith(answer))
    assert not said.startswith(answer)


def test_an_import_with_a_bad_row_names_it_and_writes_nothing(
        editor: Page, api: httpx.Client, tmp_path: Path) -> None:
    good_id, bad_id = unique("imp-good"), unique("imp-bad")
    # Drafts: the imported rows never answer another test's question.
    bad_csv = ("id,question,answer,effective_from,status\n"
               f"{good_id},潜水俱乐部经营许可怎么办？,向区文旅局申请。,2026-01-01,draft\n"
               f"{bad_id},潜水教练证书在哪里年审？,向行业协会咨询。,2026-13-45,draft\n"
               ).encode()
    with pytest.raises(ImportFailed) as failed:  # what the parser itself says of the file
        parse_entries(Path("bad.csv"), bad_csv)
    (expected,) = failed.value.errors
    total_before = api.get("/api/kb/entries", params={"page_size": 1}).json()["total"]

    # By keyboard: the navigation is links; the current one says so (aria-current), and the
    # view's heading takes the focus.
    editor.locator("#editor-nav a[data-view=import]").focus()
    editor.keyboard.press("Enter")
    expect(editor.locator("#editor-nav a[data-view=import]")).to_have_attribute(
        "aria-current", "page")
    expect(editor.locator("#h-import")).to_be_focused()
    editor.set_input_files("#import-file", files=[
        {"name": "bad.csv", "mimeType": "text/csv", "buffer": bad_csv}])
    editor.click("#import-check")
    error_row = editor.locator("#import-errors tr")
    expect(error_row).to_have_count(1)
    expect(error_row.locator("td").nth(0)).to_have_text(str(expected.row))
    expect(error_row.locator("td").nth(1)).to_contain_text(expected.field)
    expect(editor.locator("#import-result-text")).to_contain_text("没有写入任何数据")
    expect(editor.locator("#import-confirm")).to_be_hidden()
    audit(editor, "import")
    assert api.get("/api/kb/entries", params={"page_size": 1}).json()["total"] == total_before
    assert api.get(f"/api/kb/entries/{good_id}").status_code == 404

    # A clean file: the dry run says what would happen and still writes nothing; then 确认导入.
    good_csv = bad_csv.replace(b"2026-13-45", b"2026-02-01")
    editor.set_input_files("#import-file", files=[
        {"name": "good.csv", "mimeType": "text/csv", "buffer": good_csv}])
    expect(editor.locator("#import-result")).to_be_hidden()
    editor.click("#import-check")
    expect(editor.locator("#import-summary")).to_contain_text(good_id)
    expect(editor.locator("#import-confirm")).to_be_visible()
    assert api.get(f"/api/kb/entries/{good_id}").status_code == 404
    editor.click("#import-confirm")
    expect(editor.locator("#import-result-title")).to_have_text("导入完成")
    assert api.get(f"/api/kb/entries/{bad_id}").json()["entry"]["effective_from"] == "2026-02-01"
    assert api.get("/api/kb/entries", params={"page_size": 1}).json()["total"] == total_before + 2

    # Export: the link follows the chosen format and status, and downloads that file.
    open_view(editor, "#export", "导出条目")
    editor.select_option("#export-format", "csv")
    editor.select_option("#export-status", "draft")
    expect(editor.locator("#export-link")).to_have_attribute(
        "href", "/api/kb/export?format=csv&status=draft")
    audit(editor, "export")
    with editor.expect_download() as download:
        editor.click("#export-link")
    saved = tmp_path / "export.csv"
    download.value.save_as(saved)
    exported = saved.read_text("utf-8-sig")
    assert good_id in exported and "kb-licence-001" not in exported  # drafts only


def test_the_hit_test_decides_as_the_chat_does(editor: Page, portal: Page) -> None:
    open_view(editor, "#hittest", "命中测试")
    decisions = set()
    # The seed answers the first, offers 个体户 and 公司 side by side for the second (a near
    # tie), only suggests for the third and has nothing on the fourth.
    for text in ("个体工商户怎么办理营业执照？", "怎么办理营业执照？",
                 "申请营业性演出许可证需要哪些材料？", "热气球观光项目要什么资质？"):
        say(portal, text)
        chat_text = last_bot_text(portal)
        chat_buttons = portal.locator(".msg.bot").last.locator("button").all_inner_texts()
        editor.fill("#hit-query", text)
        editor.click("#hit-form button[type=submit]")
        expect(editor.locator("#status")).to_contain_text("测试完成")
        expect(editor.locator("#hit-reply")).to_have_text(chat_text)
        # Waits: two suggestions in a row share the reply text "您是不是想问：".
        expect(editor.locator("#hit-buttons li")).to_have_text(chat_buttons)
        decision = editor.locator("#hit-decision").inner_text()
        decisions.add(decision[:2])
        if text == "怎么办理营业执照？":
            assert chat_buttons[:2] == ["个体工商户怎么办理营业执照？",
                                        "在宝山新开一家公司，怎么申请营业执照？"]
        if chat_text.startswith("您是不是想问"):
            assert decision.startswith("推荐")
            expect(editor.locator("#hit-entry")).to_contain_text("不直接回答")
        elif "来源：" in chat_text:
            assert decision.startswith("回答")
            entry_id = editor.locator("#hit-entry a").inner_text()
            assert editor.locator("#hit-candidates tr").first.locator("td").nth(1).inner_text() \
                == entry_id
        else:
            assert decision.startswith("不回答")
        expect(editor.locator("#hit-features tr").first).to_be_visible()
    audit(editor, "hittest")
    assert decisions == {"回答", "推荐", "不回"}  # 不回答: every decision was compared


def test_a_helpers_proposal_accepted_in_the_inbox_is_answered(
        stack: Stack, editor: Page, api: httpx.Client, portal: Page) -> None:
    question = "烟花爆竹零售经营许可证怎么申请？"
    answer = "烟花爆竹零售经营许可：向区应急管理局提交申请，现场核查合格后发证。"
    amended = publish_entry(api, {
        "question": "燃放孔明灯需要向哪个部门报备？", "answer": "请咨询街道（旧答案）。",
        "category": "其他", "source": "本中心整理"})
    edited = "燃放孔明灯：按规定禁止燃放，详情请咨询区消防救援支队（编辑修订）。"
    helper = staff_client(stack, HELPER, HELPER_PASSWORD)
    # A ticket of the helper's department, made the way the bot's handoff action makes it,
    # on the stack's own database and Redis; closed again afterwards so no other test's
    # helper claims it.
    engine = make_engine(f"sqlite:///{stack.home / 'xiaobao.db'}")
    ctx = HandoffContext(engine=engine, config=packaged_config(),
                         redis=redis_lib.Redis(port=stack.redis_port, decode_responses=True))
    dept = "区市场监管局"
    category = next(c for c, d in packaged_config().routing.items() if d == dept)
    ticket_id = request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=uuid.uuid4().hex, channel="online_helper",
        topic="烟花爆竹零售", company="上海宝宝烟花有限公司", phone="13812345678",
        candidates=[Candidate(id="kb-x", question=question, category=category, score=0.2)]),
        ctx=ctx).ticket_id
    try:
        for body in ({"question": question, "answer": answer},
                     {"question": "帮办提议的测试问题，请不要采纳？", "answer": "测试答案。"},
                     {"question": amended["question"], "replaces_entry_id": amended["id"],
                      "answer": "孔明灯：请咨询消防部门（帮办提议）。"}):
            made = helper.post(f"/api/helper/tickets/{ticket_id}/kb-draft", json=body)
            assert made.status_code == 201, made.text
    finally:
        abandon_ticket(ticket_id, actor="test", ctx=ctx)
        helper.close()
        engine.dispose()

    open_view(editor, "#drafts", "帮办提议")
    ours = editor.locator("#drafts-list > li").filter(has_text=ticket_id)
    expect(ours).to_have_count(3)
    proposal = ours.filter(has_text=question)
    expect(proposal).to_contain_text(HELPER)
    # A change to an entry: side by side with the entry it would amend, changes marked in words.
    change = ours.filter(has_text="孔明灯")
    expect(change.locator("thead")).to_contain_text(f"现有条目 {amended['id']}")
    answer_row = change.locator("tbody tr", has_text="答案")
    expect(answer_row).to_contain_text("旧答案")
    expect(answer_row).to_contain_text("帮办提议")
    expect(answer_row.locator("th")).to_contain_text("有改动")

    other = ours.filter(has_text="请不要采纳")
    # 不采纳 needs a reason, asked inline; Escape closes the form again.
    reject = other.get_by_role("button", name="不采纳：帮办提议的测试问题，请不要采纳？")
    reject.click()
    reason = other.locator("textarea")
    expect(reason).to_be_focused()
    editor.keyboard.press("Escape")
    expect(reason).to_have_count(0)
    expect(reject).to_be_focused()
    reject.click()
    other.get_by_role("button", name="确认不采纳").click()
    expect(other.locator(".field-error")).to_contain_text("请写明")
    audit(editor, "drafts")
    other.locator("textarea").fill("与已有条目重复")
    other.get_by_role("button", name="确认不采纳").click()
    expect(other).to_have_count(0)

    # 修改后采纳: the editor's own wording of the helper's change becomes the entry's next version.
    change.get_by_role("button", name=f"修改后采纳：{amended['question']}").click()
    change.get_by_label("答案").fill(edited)
    change.get_by_role("button", name="确认采纳").click()
    expect(editor.locator("#status")).to_contain_text(f"已采纳：条目 {amended['id']}")
    expect(change).to_have_count(0)

    proposal.get_by_role("button", name=f"采纳：{question}", exact=True).click()
    expect(editor.locator("#status")).to_contain_text("已采纳")
    expect(ours).to_have_count(0)
    said = ask_until(portal, question, lambda t: t.startswith(answer))
    assert said.startswith(answer)
    said = ask_until(portal, amended["question"], lambda t: t.startswith(edited))
    assert said.startswith(edited)
    assert api.get(f"/api/kb/entries/{amended['id']}").json()["entry"]["version"] \
        == amended["version"] + 1


def test_a_knowledge_gap_becomes_an_entry_the_portal_answers(
        editor: Page, portal: Page) -> None:
    asked = ["企业养蜜蜂要办什么手续？", "开蜂场需要办理什么证？", "蜜蜂养殖场备案怎么办？"]
    for text in asked:
        say(portal, text)
        assert "来源：" not in last_bot_text(portal)  # not answered: a gap

    # The gateway keeps questions normalised (full-width punctuation made half-width).
    asked = [text.replace("？", "?") for text in asked]
    open_view(editor, "#gaps", "知识缺口")
    editor.click("#gaps-form button[type=submit]")
    cluster = editor.locator("#gaps-list > li", has_text=asked[1])
    expect(cluster).to_have_count(1)
    for text in asked:
        expect(cluster.locator("ul.examples").first).to_contain_text(text)
    reasons = dict(line.rsplit(" ", 1) for line in
                   cluster.locator(".reasons").inner_text().splitlines())
    # Abstained on, or offered look-alikes: neither answered.
    assert int(reasons.get("未回答", 0)) + int(reasons.get("只给推荐", 0)) >= len(asked)
    audit(editor, "gaps")

    cluster.get_by_role("button", name="新建条目", exact=False).click()
    expect(editor.locator("#view-edit")).to_be_visible()
    expect(editor.locator("#h-edit")).to_have_text("新建条目")
    prefilled = [editor.locator("#e-question").input_value(),
                 *editor.locator("#e-similar li span").all_inner_texts()]
    assert sorted(prefilled) == sorted(asked)
    answer = "蜜蜂养殖：向区农业农村委办理养蜂备案，领取养蜂证后即可放蜂。"
    editor.fill("#e-answer", answer)
    editor.fill("#e-source", "本中心整理")
    editor.click("#e-save")
    expect(editor.locator("#e-status")).to_have_text("草稿")
    editor.click("#e-publish")
    expect(editor.locator("#e-status")).to_have_text("已发布")
    said = ask_until(portal, asked[0], lambda t: t.startswith(answer))
    assert said.startswith(answer)


def test_a_supervisor_reads_the_gaps_and_changes_nothing(stack: Stack, browser: Browser,
                                                          portal: Page) -> None:
    say(portal, "公司组织员工去南极科考需要哪些审批？")  # nothing in the knowledge base says
    assert "来源：" not in last_bot_text(portal)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    login(page, stack.base, SUPERVISOR, SUPERVISOR_PASSWORD, "/editor")
    expect(page.locator("#view-gaps")).to_be_visible()
    expect(page.locator("#readonly-note")).to_be_visible()
    expect(page.locator("#editor-nav a:visible")).to_have_count(1)
    page.evaluate("() => { location.hash = '#edit'; }")  # no way into the other views
    expect(page.locator("#view-gaps")).to_be_visible()
    assert page.locator("#view-edit").is_hidden()
    page.click("#gaps-form button[type=submit]")
    expect(page.locator("#gaps-summary")).to_contain_text("归为", timeout=30_000)  # clustered
    cluster = page.locator("#gaps-list > li", has_text="南极")
    expect(cluster).to_have_count(1)
    assert cluster.get_by_role("button", name="新建条目", exact=False).count() == 0
    audit(page, "gaps_supervisor")
    context.close()


def test_the_default_days_are_the_centres_whatever_the_browsers_zone(
        stack: Stack, browser: Browser) -> None:
    """At 20:00 UTC it is already tomorrow at the centre (Asia/Shanghai) and still today in Los
    Angeles: the pages' default ranges are the centre's days, as the API counts them, or a
    question asked a moment ago falls outside them."""
    now = dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.UTC)
    context = browser.new_context(viewport=DESKTOP, timezone_id="America/Los_Angeles")
    page = context.new_page()
    page.clock.set_fixed_time(now)
    login(page, stack.base, SUPERVISOR, SUPERVISOR_PASSWORD, "/editor")
    expect(page.locator("#view-gaps")).to_be_visible()
    expect(page.locator("#gaps-to")).to_have_value("2026-12-02")
    expect(page.locator("#gaps-from")).to_have_value("2026-11-03")  # 30 days, as the API's
    page.goto(stack.base + "/dashboard")
    expect(page.locator("#to")).to_have_value("2026-12-02")
    expect(page.locator("#from")).to_have_value("2026-11-03")
    context.close()


def test_a_link_to_a_policy_is_suggested_by_its_document_number(stack: Stack,
                                                                 editor: Page) -> None:
    """关联政策: the form suggests the 政策体检 items whose 文号 its answer cites, 关联 accepts
    one (and the others stay suggested), and an id the store does not hold is refused next
    to the field."""
    stack.run([str(VENV_BIN / "xiaobao"), "policy", "seed"])  # idempotent
    open_view(editor, "#edit/new", "新建条目")
    editor.fill("#e-question", "小企业残保金能免吗？")
    editor.fill("#e-answer", "在职职工人数30人（含）以下的企业暂免征收残疾人就业保障金，"
                             "依据财政部公告2023年第8号。")
    editor.fill("#e-source", "本中心整理")
    links = editor.locator("#e-policy-links")
    expect(links).to_contain_text("建议关联：在职职工30人（含）以下的企业暂免征收残疾人就业保障金")
    expect(links).to_contain_text("财政部公告2023年第8号")
    expect(links).to_contain_text("文号相符")
    links.get_by_role("button", name="关联政策：在职职工30人").click()
    expect(editor.locator("#e-policy-ids")).to_have_value("fee-disability-fund-exemption")
    expect(links).to_contain_text("已关联：在职职工30人（含）以下的企业暂免征收残疾人就业保障金（已发布）")
    # The linked item leaves the suggestions; another item citing the same 公告 stays.
    expect(links).not_to_contain_text("建议关联：在职职工30人")
    expect(links).to_contain_text("建议关联：残疾人就业保障金按安排残疾人就业比例分档减缴")
    assert serious_axe_violations(editor) == []

    editor.fill("#e-policy-ids", "fee-disability-fund-exemption，no-such-policy")
    editor.click("#e-save")
    expect(editor.locator("#edit-error-list")).to_contain_text(
        "关联政策：政策库中没有这项政策：no-such-policy")
    expect(editor.locator("#e-policy-ids")).to_have_attribute("aria-invalid", "true")
    editor.fill("#e-policy-ids", "fee-disability-fund-exemption")
    editor.click("#e-save")
    expect(editor.locator("#e-status")).to_have_text("草稿")
    entry_id = editor.locator("#e-id").input_value()
    saved = editor.evaluate("""async (id) => (await (await fetch('/api/kb/entries/' + id))
        .json()).entry.policy_ids""", entry_id)
    assert saved == ["fee-disability-fund-exemption"]
    screenshot(editor, "editor_policy_links")

"""The workbench's 申请表字段 (api/static/editor_policy_fields.js) in a real browser against the
gateway under uvicorn: an editor adds two fields to a new item — one filled from the
dictionary's 从业人数 (its label and key proposed), one for the applicant, 必填 — moves the
second up, removes a third, saves, and the item holds the form in that order; reopened, the
rows are there. axe-core finds nothing serious in the form with its rows."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from policies import store
from tests.api.browser import login, serious_axe_violations
from xiaobao.accounts import create_account
from xiaobao.db import session_scope

PASSWORD = "editor-pass-1"


@pytest.fixture
def gateway(gateway_process):
    with session_scope(gateway_process.engine) as session:
        create_account(session, "ann", PASSWORD, roles=["editor"], display_name="ann")
    gateway_process.start()
    return gateway_process


def test_an_editor_gives_an_item_its_application_form(gateway, browser):
    errors: list[str] = []
    page = browser.new_context(viewport={"width": 1366, "height": 900},
                               locale="zh-CN").new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, gateway.base, "ann", PASSWORD, "/editor")
    page.click("#nav-policies a")
    page.click("#pol-new")
    for selector, value in {"#p-id": "p-form", "#p-title": "稳岗补贴",
                            "#p-doc-title": "稳岗办法", "#p-benefit": "按人补贴。"}.items():
        page.fill(selector, value)
    box = page.locator("#pol-form-fields")
    expect(box).to_contain_text("尚无申请表字段")
    for _ in range(3):
        box.get_by_role("button", name="添加字段").click()
    box.locator("select[aria-label='填自登记信息：第 1 行']").select_option("employees")
    expect(box.locator("input[aria-label='名称：第 1 行']")).to_have_value("从业人数")
    expect(box.locator("input[aria-label='编号：第 1 行']")).to_have_value("employees")
    box.locator("input[aria-label='编号：第 2 行']").fill("contact")
    box.locator("input[aria-label='名称：第 2 行']").fill("联系人")
    box.locator("input[aria-label='必填：第 2 行']").check()
    box.locator("input[aria-label='填写说明：第 2 行']").fill("经办人姓名和电话")
    box.get_by_role("button", name="上移：第 2 行").click()
    expect(box.locator("input[aria-label='编号：第 1 行']")).to_have_value("contact")
    box.locator("input[aria-label='编号：第 3 行']").fill("spare")
    box.get_by_role("button", name="删除：第 3 行").click()
    assert serious_axe_violations(page) == []
    page.click("#p-save")
    expect(page.locator("#pol-state")).to_have_text("草稿")
    with session_scope(gateway.engine) as session:
        form = store.get_item(session, "p-form").data["form"]
    assert form == [{"key": "contact", "label": "联系人", "fact": "", "required": True,
                     "help": "经办人姓名和电话"},
                    {"key": "employees", "label": "从业人数", "fact": "employees",
                     "required": False, "help": ""}]
    page.reload()
    expect(page.locator("input[aria-label='名称：第 2 行']")).to_have_value("从业人数")
    assert errors == []

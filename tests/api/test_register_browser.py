"""企业档案 (/register) in a real browser on the shared stack: a registrar's dry run lists the
bad rows and stores nothing, the import goes in; a supervisor (who may not import) reads, with
a reason, each fact with its source and date. The workbench's impact view of a policy on the
register. axe-clean in each state; screenshots: results/screenshots/xiaobao_register_*.png."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from enterprises.uscc import check_character
from tests.api.browser import VENV_BIN, Stack, login, screenshot, serious_axe_violations

pytestmark = pytest.mark.rasa
FIRST17 = "91310113MA1GR0001"
USCC = FIRST17 + check_character(FIRST17)


def clean(page, name: str) -> None:
    screenshot(page, f"register_{name}")
    assert serious_axe_violations(page) == [], name


def test_a_registrar_imports_and_a_supervisor_reads_with_a_reason(stack: Stack, browser,
                                                                  tmp_path: Path) -> None:
    for name, role in (("rita", "registrar"), ("sven", "supervisor")):
        stack.run([str(VENV_BIN / "xiaobao"), "users", "add", name, "--role", role,
                   "--password", f"{name}-pass-12345"])
    bad = tmp_path / "bad.csv"
    bad.write_text(f"uscc,name,employees\n913101130000000000,坏码公司,5\n{USCC},档案公司,很多\n",
                   encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text(f"uscc,name,employees,total_assets\n{USCC},档案公司,42,800\n",
                    encoding="utf-8")
    errors: list[str] = []
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, stack.base, "rita", "rita-pass-12345", "/register")
    expect(page.locator("#sec-import")).to_be_visible()
    expect(page.locator("#sec-read")).to_be_visible()  # a registrar reads too
    page.set_input_files("#import-file", str(bad))
    page.select_option("#import-source", "人社")
    page.click("#import-form button[value=dry]")
    expect(page.locator("#import-result li")).to_have_count(2)
    expect(page.locator("#import-result")).to_contain_text("第3行 employees")
    clean(page, "import_errors")
    page.set_input_files("#import-file", str(good))
    page.click("#import-go")
    expect(page.locator("#import-result")).to_contain_text("新增企业 1 家")
    clean(page, "imported")

    reader = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    reader.on("pageerror", lambda exc: errors.append(str(exc)))
    login(reader, stack.base, "sven", "sven-pass-12345", "/register")
    expect(reader.locator("#sec-read")).to_be_visible()
    expect(reader.locator("#sec-import")).to_be_hidden()  # a supervisor reads, never imports
    reader.fill("#read-uscc", USCC)
    reader.fill("#read-reason", "核查补贴申请")
    reader.click("#read-form button[type=submit]")
    row = reader.locator("#profile-rows tr", has_text="从业人数")
    expect(row).to_contain_text("42")
    expect(row).to_contain_text("人社")
    clean(reader, "read")
    assert errors == []


def test_the_workbench_shows_a_policys_impact_on_the_register(stack: Stack, browser) -> None:
    stack.run([str(VENV_BIN / "xiaobao"), "policy", "seed"])
    stack.run([str(VENV_BIN / "xiaobao"), "users", "add", "edda", "--role", "editor",
               "--password", "edda-pass-12345"])
    errors: list[str] = []
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, stack.base, "edda", "edda-pass-12345", "/editor")
    page.goto(stack.base + "/editor#policies/tax-small-profit-cit")
    expect(page.locator("#pol-heading")).not_to_have_text("新建事项")
    page.click("#pol-impact-run")
    box = page.locator("#pol-impact")
    expect(box).to_contain_text("与当前已发布版本相比")
    expect(box.locator("h4")).to_have_text([re.compile(r"新增符合：\d+ 家"),
                                            re.compile(r"不再符合：0 家"),
                                            re.compile(r"新增可能符合：0 家")])
    clean(page, "impact")
    assert errors == []

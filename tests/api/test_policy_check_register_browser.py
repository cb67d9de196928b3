"""The signed-in 政策体检 page in a real browser (api/static/policy_check_register.js): a real
gateway process, the enterprise signed in through the simulator provider; the page starts from
the register's sentence, and a correction filed there shows beside the authority's value
("登记：60人…；您填报：62人…"). Signed out, the page shows no register fact.
Screenshot: results/screenshots/xiaobao_policy_check_register.png."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from api.oidc_simulator import SAMPLES
from enterprises.importing import import_files
from tests.api.browser import screenshot, serious_axe_violations
from xiaobao.db import session_scope

USCC, NAME = SAMPLES[0]
CSV = f"uscc,name,district,employees\n{USCC},{NAME},宝山区,60\n"


@pytest.fixture
def gateway(gateway_process, tmp_path):
    (tmp_path / "market.csv").write_text(CSV, encoding="utf-8")
    with session_scope(gateway_process.engine) as s:
        import_files(s, [tmp_path / "market.csv"], source="市场监管登记", by="test",
                     as_of=dt.date(2026, 11, 1))
    gateway_process.start()
    return gateway_process


@pytest.fixture
def page(browser, gateway) -> Page:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    opened = context.new_page()
    yield opened
    context.close()


def test_the_page_starts_from_the_register_and_keeps_a_correction_beside_it(page, gateway):
    base = gateway.base
    page.goto(f"{base}/policy-check")
    expect(page.locator("#pc-summary")).not_to_be_empty()
    expect(page.locator("#pc-register")).to_be_hidden()  # anonymous: no register fact
    page.goto(f"{base}/")
    page.locator("#enterprise-login").click()
    page.get_by_role("button", name=f"以“{NAME}”登录").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/policy-check")
    box = page.locator("#pc-register")
    expect(box.locator(".pc-register-sentence")).to_have_text(
        "根据登记信息（市场监管登记，2026-11-01）：注册地所在区宝山区，从业人数60人，如有变化请告诉我。")
    row = box.locator("li[data-field=employees]")
    row.get_by_role("button", name="更正：从业人数").click()
    row.locator("input").fill("62")
    row.get_by_role("button", name="提交更正").click()
    expect(row.locator(".pc-register-line")).to_contain_text("登记：60人（市场监管登记，2026-11-01）")
    expect(box.locator("li[data-field=employees] .pc-register-line")).to_contain_text(
        "；您填报：62人（企业自报，")
    screenshot(page, "policy_check_register")
    assert serious_axe_violations(page) == []

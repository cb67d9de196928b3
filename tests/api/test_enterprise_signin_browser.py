"""Enterprise sign-in (一网通办 法人) in a real browser against the simulator provider the
gateway mounts: a real gateway process (tests/api/conftest.py ``gateway_process``; no Rasa is
needed, so not the shared stack) and Debian's Chromium. The portal offers 企业登录, the
simulator's page says plainly what it is, the signed-in enterprise's name shows in the header
(axe-core clean in both states), 退出 ends the session on the server and at the provider, and
a state or a nonce altered on the way is refused with the reason on the page.
Screenshots: results/screenshots/xiaobao_enterprise_signin_*.png."""
from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from api.oidc_simulator import LABEL, SAMPLES
from tests.api.browser import screenshot, serious_axe_violations

USCC, NAME = SAMPLES[0]


@pytest.fixture
def gateway(gateway_process):
    gateway_process.start()
    return gateway_process


@pytest.fixture
def page(browser, gateway) -> Page:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    opened = context.new_page()
    yield opened
    context.close()


def me_status(page: Page, base: str) -> int:
    return page.request.get(f"{base}/api/enterprise/me").status


def to_simulator(page: Page, base: str) -> None:
    page.goto(f"{base}/")
    login = page.locator("#enterprise-login")
    expect(login).to_be_visible()
    expect(login).to_have_text("企业登录")
    login.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(LABEL)


def test_sign_in_see_the_name_and_sign_out(page, gateway):
    base = gateway.base
    page.goto(f"{base}/")
    expect(page.locator("#enterprise-signed-in")).to_be_hidden()
    assert serious_axe_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator("#enterprise-login")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot(page, "enterprise_signin_anonymous_phone")
    page.set_viewport_size({"width": 1366, "height": 900})
    to_simulator(page, base)
    assert page.url.startswith(f"{base}/oidc-sim/authorize?")
    screenshot(page, "enterprise_signin_simulator")
    assert serious_axe_violations(page) == []

    page.get_by_role("button", name=f"以“{NAME}”登录").click()
    page.wait_for_url(f"{base}/")
    signed_in = page.locator("#enterprise-signed-in")
    expect(signed_in).to_have_text(f"已登录：{NAME}（退出）")
    expect(page.locator("#enterprise-login")).to_be_hidden()
    assert page.request.get(f"{base}/api/enterprise/me").json() == {"uscc": USCC, "name": NAME}
    screenshot(page, "enterprise_signin_portal")
    assert serious_axe_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the header still fits
    expect(signed_in).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot(page, "enterprise_signin_portal_phone")
    page.set_viewport_size({"width": 1366, "height": 900})
    cookie = next(c for c in page.context.cookies() if c["name"] == "xiaobao_enterprise")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.get_by_role("button", name="退出").click()  # to the provider's end-session, and back
    expect(page.locator("#enterprise-login")).to_be_visible()
    assert page.url == f"{base}/"
    assert me_status(page, base) == 401
    # The cookie a copy of this browser kept is ended on the server too.
    assert httpx.get(f"{base}/api/enterprise/me",
                     cookies={"xiaobao_enterprise": cookie["value"]}).status_code == 401


def test_the_typed_enterprise_signs_in(page, gateway):
    to_simulator(page, gateway.base)
    page.fill("#sim-uscc", SAMPLES[1][0].lower())  # as people type it
    page.fill("#sim-name", SAMPLES[1][1])
    page.click("#sim-submit")
    expect(page.locator("#enterprise-signed-in")).to_have_text(f"已登录：{SAMPLES[1][1]}（退出）")


@pytest.mark.parametrize("field, reason", [("state", "登录状态（state）不匹配"),
                                           ("nonce", "身份令牌无效（nonce）")])
def test_a_tampered_state_or_nonce_is_refused(page, gateway, field, reason):
    """The request the browser carries to the provider is altered (as a script on the way
    could): the state comes back other than this sign-in's, or the ID token carries another
    nonce. Either way the gateway refuses and no session is made."""
    base = gateway.base
    to_simulator(page, base)
    page.evaluate("""(field) => {
        for (const input of document.querySelectorAll(`input[name=${field}]`))
            input.value = "tampered-" + field;
    }""", field)
    with page.expect_response(lambda r: "/auth/enterprise/callback" in r.url) as answer:
        page.get_by_role("button", name=f"以“{NAME}”登录").click()
    assert answer.value.status == 400
    expect(page.locator("#signin-error")).to_contain_text(reason)
    expect(page.locator("#signin-error")).to_contain_text("请重新登录")
    screenshot(page, f"enterprise_signin_refused_{field}")
    assert serious_axe_violations(page) == []
    assert me_status(page, base) == 401
    page.goto(f"{base}/")
    expect(page.locator("#enterprise-login")).to_be_visible()

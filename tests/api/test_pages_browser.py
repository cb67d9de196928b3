"""The pages in a real browser, against the real processes: gateway under uvicorn, the trained
Rasa model, a Redis of our own and the seeded knowledge base in a temp home.

One user and one helper go through a whole conversation: a question answered from the
knowledge base with its source, a typed Rasa command shown as text, a handoff with the
queue position, the live chat both ways, resolution, and the 好差评 rating. Screenshots
are written to /tmp/xiaobao_page_*.png.

Chromium is Debian's (/usr/bin/chromium); Playwright only drives it (never `playwright install`).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from xiaobao.settings import REPO_ROOT, get_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
RASA = REPO_ROOT / ".venv-rasa" / "bin" / "rasa"
VENV_BIN = Path(sys.executable).parent
SHOTS = Path("/tmp")
HELPER, HELPER_PASSWORD = "ann", "helper-pass-1"

pytestmark = pytest.mark.rasa


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout_s: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(1)
    raise RuntimeError(f"{what} not ready after {timeout_s:.0f} s")


class Stack:
    """Redis, gateway and Rasa as subprocesses, stopped in reverse order."""

    def __init__(self, home: Path):
        self.home = home
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        self.redis_port, self.gateway_port, self.rasa_port = free_port(), free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.gateway_port}"
        model_dir = get_settings().model_dir
        self.env = {
            **os.environ,
            "XIAOBAO_HOME": str(home),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "XIAOBAO_EMBEDDING_MODEL_DIR": str(model_dir),
            "XIAOBAO_RASA_URL": f"http://127.0.0.1:{self.rasa_port}",
            "XIAOBAO_GATEWAY_PORT": str(self.gateway_port),  # where the call simulator posts
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
        self.env.pop("XIAOBAO_DATABASE_URL", None)

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = self.home / f"{name}.log"
        self.logs.append(log)
        proc = subprocess.Popen(args, cwd=REPO_ROOT, env=self.env, stdout=log.open("wb"),
                                stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def run(self, args: list[str]) -> None:
        subprocess.run(args, cwd=REPO_ROOT, env=self.env, check=True, capture_output=True,
                       timeout=300)

    def up(self) -> None:
        self.start("redis", [shutil.which("redis-server") or "redis-server", "--port",
                             str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"])
        self.run([str(VENV_BIN / "xiaobao"), "kb", "seed"])
        self.run([str(VENV_BIN / "xiaobao"), "users", "add", HELPER, "--role", "helper",
                  "--department", "综合窗口", "--department", "区市场监管局",
                  "--display-name", "王帮办", "--password", HELPER_PASSWORD])
        endpoints = self.home / "endpoints.yml"
        endpoints.write_text(
            f'action_endpoint:\n  url: "{self.base}/webhook"\n'
            f"tracker_store:\n  type: redis\n  url: 127.0.0.1\n  port: {self.redis_port}\n"
            f"  db: 1\n  key_prefix: xiaobao\n"
            f"lock_store:\n  type: redis\n  url: 127.0.0.1\n  port: {self.redis_port}\n"
            f"  db: 1\n  key_prefix: xiaobao\n", encoding="utf-8")
        gateway = self.start("gateway", [str(VENV_BIN / "uvicorn"), "--factory",
                                         "api.main:create_app", "--host", "127.0.0.1",
                                         "--port", str(self.gateway_port)])
        rasa = self.start("rasa", [str(RASA), "run", "--enable-api", "--auth-token",
                                   get_settings().rasa_token, "--endpoints", str(endpoints),
                                   "--credentials", "credentials.yml", "--model", "models",
                                   "--port", str(self.rasa_port), "--interface", "127.0.0.1"])
        wait_until(lambda: httpx.get(f"{self.base}/healthz", timeout=5).status_code == 200,
                   300, "gateway", gateway)
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{self.rasa_port}/status",
                                     params={"token": get_settings().rasa_token},
                                     timeout=5).status_code == 200, 400, "rasa", rasa)

    def down(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def tail(self) -> str:
        return "\n".join(f"--- {log.name}\n" + log.read_text(errors="replace")[-3000:]
                         for log in self.logs if log.exists())


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    assert Path(CHROMIUM).exists(), "apt-get install -y chromium"
    assert RASA.exists() and list((REPO_ROOT / "models").glob("*.tar.gz")), \
        "Rasa and a trained model are needed: make train"
    running = Stack(tmp_path_factory.mktemp("xiaobao-home"))
    try:
        running.up()
    except Exception:
        print(running.tail())
        running.down()
        raise
    yield running
    running.down()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def say(page: Page, text: str) -> None:
    """Type a message and wait for the bot's next reply (or an error line)."""
    before = page.locator(".msg.bot, .msg.error").count()
    page.fill("#input", text)
    page.press("#input", "Enter")
    expect(page.locator(".msg.bot, .msg.error")).to_have_count(before + 1, timeout=60_000)


def test_portal_and_console_through_a_whole_conversation(stack: Stack, browser) -> None:
    errors: list[str] = []
    user = browser.new_context(viewport={"width": 1000, "height": 860}).new_page()
    user.on("pageerror", lambda exc: errors.append(str(exc)))
    user.on("dialog", lambda d: errors.append(f"dialog opened: {d.message}"))
    user.goto(stack.base + "/")
    expect(user.locator(".msg.bot").first).to_contain_text("企业管家小宝")

    # A question answered from the knowledge base, with its source and the feedback buttons.
    say(user, "怎么办理营业执照？")
    answer = user.locator(".msg.bot").last
    expect(answer).to_contain_text("来源")
    expect(answer.locator("button.option")).to_contain_text(["有帮助", "没帮助", "转人工"])
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
    say(user, "转人工")
    for _ in range(4):
        if user.locator("#mode-banner").is_visible():
            break
        say(user, "跳过")
    expect(user.locator("#mode-banner")).to_contain_text("转接人工帮办")
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

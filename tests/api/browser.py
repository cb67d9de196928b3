"""The real processes for browser tests, shared by every browser test of the session: gateway
under uvicorn, the trained Rasa model, a Redis of our own and the seeded knowledge base in a
temp home; Debian's Chromium driven by Playwright (never `playwright install`); axe-core from
npm (``node_modules``, installed by ``make setup``) injected from disk, never a CDN.

Accounts: a helper (``HELPER``), a knowledge editor (``EDITOR``) and a supervisor
(``SUPERVISOR``). Tests share the stack: each makes its own entries and conversations.
Screenshots go to ``results/screenshots/`` (kept by the run, ignored by git).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.bot.stack import endpoints_yml
from tests.redis_server import redis_server_binary
from xiaobao.settings import REPO_ROOT, get_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
RASA = REPO_ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_TOKEN = "browser-test-rasa-token-0123456789"
ACTION_TOKEN = "browser-test-action-token-0123456789"
VENV_BIN = Path(sys.executable).parent
SHOTS = REPO_ROOT / "results" / "screenshots"
AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
HELPER, HELPER_PASSWORD = "ann", "helper-pass-1"
EDITOR, EDITOR_PASSWORD = "edna", "editor-pass-1"
SUPERVISOR, SUPERVISOR_PASSWORD = "sam", "supervisor-pass-1"

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
            "XIAOBAO_RASA_TOKEN": RASA_TOKEN, "XIAOBAO_ACTION_TOKEN": ACTION_TOKEN,
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            # Every browser file signs staff in from 127.0.0.1 on this one stack: past the
            # production ceiling (20 per 15 min) the later files met 429 in CI, in whichever
            # order they ran. The ceiling itself is tested in tests/api/test_limits.py.
            "XIAOBAO_LOGINS_PER_IP_PER_15_MINUTES": "10000",
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
        self.start("redis", [redis_server_binary(), "--port",
                             str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"])
        self.run([str(VENV_BIN / "xiaobao"), "kb", "seed"])
        self.run([str(VENV_BIN / "xiaobao"), "users", "add", HELPER, "--role", "helper",
                  "--department", "综合窗口", "--department", "区市场监管局",
                  "--display-name", "王帮办", "--password", HELPER_PASSWORD])
        self.run([str(VENV_BIN / "xiaobao"), "users", "add", EDITOR, "--role", "editor",
                  "--display-name", "李编辑", "--password", EDITOR_PASSWORD])
        self.run([str(VENV_BIN / "xiaobao"), "users", "add", SUPERVISOR, "--role", "supervisor",
                  "--display-name", "周主任", "--password", SUPERVISOR_PASSWORD])
        endpoints = self.home / "endpoints.yml"
        endpoints.write_text(endpoints_yml(f"{self.base}/webhook", self.redis_port,
                                           ACTION_TOKEN), encoding="utf-8")
        gateway = self.start("gateway", [str(VENV_BIN / "uvicorn"), "--factory",
                                         "api.main:create_app", "--no-proxy-headers",
                                         "--host", "127.0.0.1",
                                         "--port", str(self.gateway_port)])
        rasa = self.start("rasa", [str(RASA), "run", "--enable-api", "--auth-token",
                                   RASA_TOKEN, "--endpoints", str(endpoints),
                                   "--credentials", "credentials.yml", "--model", "models",
                                   "--port", str(self.rasa_port), "--interface", "127.0.0.1"])
        wait_until(lambda: httpx.get(f"{self.base}/healthz", timeout=5).status_code == 200,
                   300, "gateway", gateway)
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{self.rasa_port}/status",
                                     params={"token": RASA_TOKEN},
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


@pytest.fixture(scope="session")
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


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and pytest-asyncio's tests in later modules would find it there.
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




def hand_off(page: Page) -> None:
    """Ask for a person and answer the form's questions with 跳过 until the queue banner shows."""
    say(page, "转人工")
    for _ in range(4):
        if page.locator("#mode-banner").is_visible():
            break
        say(page, "跳过")
    expect(page.locator("#mode-banner")).to_contain_text("转接人工帮办")


def staff_client(stack: Stack, username: str, password: str) -> httpx.Client:
    """A logged-in API client of the stack that sends the same-origin header browsers send."""
    client = httpx.Client(base_url=stack.base, headers={"Origin": stack.base}, timeout=60)
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return client


def login(page: Page, base: str, username: str, password: str, next_path: str) -> None:
    """Log in through the login page and land on ``next_path``."""
    page.goto(f"{base}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    # The page itself, not the login page still showing: a glob "**/console" would also match
    # "/login?next=/console" and return before the log-in landed.
    page.wait_for_url(lambda url: url.startswith(base + next_path) and "/login" not in url)


def serious_axe_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    assert AXE.exists(), "axe-core is installed by `make setup` (npm ci)"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script>: the pages' CSP (default-src 'self') refuses
        # inline scripts, and loosening it for the test would hide the pages' own CSP faults.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['impact']}: {v['id']} ({v['help']}) at "
            + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def screenshot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"xiaobao_{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

"""The gateway under test: a temp SQLite database, a Redis server of our own, a stand-in Rasa.

The Redis server is a real ``redis-server`` on a free port (never the shared one), so the
tests may flush it. The stand-in Rasa is a real HTTP server speaking the REST channel's
wire format and the two HTTP-API calls of the hand-back; the real bot is tested end to end
in tests/bot. The app's collaborators are ``app.state.services`` (:mod:`api.services`):
fixtures ``services`` and ``ctx`` (its handoff context, with the return-to-bot hook).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from api.services import Services
from bot.signing import SIGNATURE_HEADER, verify
from handoff.config import packaged_config
from handoff.context import HandoffContext
from tests.api.browser import browser, stack  # noqa: F401  (fixtures for the browser tests)
from tests.api.support import SAME_ORIGIN
from tests.bot.stack import open_hours_config as write_open_hours_config
from tests.redis_server import redis_server_binary
from xiaobao.accounts import create_account
from xiaobao.conversations import conversation_id_for
from xiaobao.db import make_engine, session_scope, upgrade
from xiaobao.settings import REPO_ROOT, Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("redis-server did not start")
    yield url
    client.close()
    proc.terminate()
    proc.wait(5)


@dataclass
class StandInRasa:
    """Answers the REST channel with ``replies`` (or fails as told), and the two HTTP-API calls
    the gateway makes after a ticket closes: append ``resume``, execute ``utter_ask_rating``.

    Like Rasa, a conversation in ``paused`` (put there by a test, as the handoff action's
    ``ConversationPaused`` would) answers nothing until a ``resume`` event arrives."""

    url: str
    replies: list[dict] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0
    received: list[dict] = field(default_factory=list)
    api_calls: list[tuple[str, object]] = field(default_factory=list)
    executed_replies: list[dict] = field(default_factory=list)
    paused: set[str] = field(default_factory=set)
    # Like bot.channels: a turn must carry the HMAC of its body under this (the settings'
    # rasa_token), else 401 and nothing received.
    secret: str = "stand-in-rasa-token-0123456789"

    def reset(self) -> None:
        self.replies, self.status, self.delay_s = [{"text": "您好"}], 200, 0.0
        self.received.clear()
        self.api_calls.clear()
        self.paused.clear()
        self.executed_replies = [{"text": "请您对本次服务进行评价：", "buttons": [
            {"title": level, "payload": f'/rate_service{{"rating": "{level}"}}'}
            for level in ("非常满意", "满意", "基本满意", "不满意", "非常不满意")]}]


@pytest.fixture(scope="session")
def _rasa_server() -> Iterator[StandInRasa]:
    port = free_port()
    stand_in = StandInRasa(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            body = json.loads(raw)
            path = self.path.split("?")[0]
            if path == "/webhooks/xiaobao/webhook":
                if not verify(stand_in.secret, raw, self.headers.get(SIGNATURE_HEADER)):
                    self._reply(401, {"error": {"code": "bad_signature"}})
                    return
                stand_in.received.append(body)
                if stand_in.delay_s:
                    time.sleep(stand_in.delay_s)
                paused = body.get("sender") in stand_in.paused
                self._reply(stand_in.status, [] if paused else stand_in.replies)
            elif path.startswith("/conversations/") and parse_qs(urlsplit(self.path).query
                                                                 ).get("token"):
                stand_in.api_calls.append((path, body))
                if path.endswith("/execute"):
                    self._reply(stand_in.status, {"tracker": {},
                                                  "messages": stand_in.executed_replies})
                else:
                    if stand_in.status == 200 and {"event": "resume"} in body:
                        stand_in.paused.discard(path.split("/")[2])
                    self._reply(stand_in.status, {})
            else:
                # Rasa's HTTP API without the token answers 401; unknown paths 404.
                self._reply(401 if path.startswith("/conversations/") else 404, {})

        def _reply(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    server.shutdown()


@pytest.fixture
def rasa(_rasa_server: StandInRasa) -> StandInRasa:
    _rasa_server.reset()
    return _rasa_server


@pytest.fixture
def settings(tmp_path, redis_url: str, _rasa_server: StandInRasa) -> Settings:
    return Settings(home=tmp_path, redis_url=redis_url, rasa_url=_rasa_server.url,
                    rasa_token=_rasa_server.secret,
                    rasa_timeout_s=1.0, warm_retriever=False, secret_key="test-secret",
                    call_callback_secret="test-callback-secret",
                    # Off unless a test is about them (tests/api/test_timers.py): a timer
                    # dialling a test's 12345 call would race the test.
                    background_jobs=False, **GENEROUS_LIMITS)


# Every test request comes from one address in a burst: the per-address and per-visitor limits
# are raised here; tests/api/test_limits.py runs the real defaults.
GENEROUS_LIMITS = {"chat_per_visitor_per_minute": 10_000, "chat_per_ip_per_minute": 10_000,
                   "left_messages_per_visitor_per_hour": 10_000,
                   "left_messages_per_ip_per_hour": 10_000, "handoffs_per_ip_per_hour": 10_000,
                   "callbacks_per_ip_per_hour": 10_000, "logins_per_ip_per_15_minutes": 10_000}


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushall()
    yield client
    client.flushall()
    client.close()


@pytest.fixture
def app(settings: Settings, redis_client: redis.Redis):
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, headers=SAME_ORIGIN) as test_client:
        yield test_client


@pytest.fixture
def services(app) -> Services:
    """The app's collaborators, built once by ``create_app``."""
    return app.state.services


@pytest.fixture
def ctx(services: Services) -> HandoffContext:
    """The app's handoff context (with the gateway's return-to-bot hook)."""
    return services.handoff


@pytest.fixture
def make_account(client: TestClient):
    """Create an account in the app's database:
    ``make_account("ann", roles=[...], departments=[...])``."""

    def make(username: str, *, roles: list[str], departments: list[str] | None = None,
             password: str = "correct-horse", display_name: str = "") -> str:
        with session_scope(client.app.state.services.engine) as session:
            create_account(session, username, password, roles=roles, departments=departments,
                           display_name=display_name)
        return password

    return make


@pytest.fixture
def staff(app, client, make_account):
    """``staff("sam", "supervisor")``: a browser of its own (its own cookies), logged in with
    that role; ``departments`` for a helper or leader."""
    opened = []

    def make(username: str, role: str, departments: list[str] | None = None) -> TestClient:
        password = make_account(username, roles=[role], departments=departments or [])
        own = TestClient(app, headers=SAME_ORIGIN)
        opened.append(own)
        response = own.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return own

    yield make
    for opened_client in opened:
        opened_client.close()


@pytest.fixture
def login(client: TestClient, make_account):
    """Create an account and log the test client in as it."""

    def do_login(username: str = "helper1", *, roles: list[str] | None = None,
                 departments: list[str] | None = None) -> TestClient:
        password = make_account(username, roles=roles or ["helper"],
                                departments=departments or ["区市场监管局"])
        response = client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return client

    return do_login


@pytest.fixture
def open_hours_config(tmp_path) -> Path:
    """The packaged handoff configuration with the centre open around the clock, so a test
    that dials a 12345 call does not depend on the hour it runs at."""
    return write_open_hours_config(tmp_path)


@dataclass
class GatewayProcess:
    """The gateway under uvicorn in a process of its own, as it runs in production, so a test
    can kill it and start it again. Shares the test's SQLite file (under ``home``) and Redis."""

    home: Path
    redis_url: str
    rasa_url: str
    rasa_token: str = StandInRasa.secret  # must match the stand-in's, or every turn is a 401
    port: int = field(default_factory=free_port)
    engine: Engine | None = None  # the test's own connection to the same database
    redis: redis.Redis | None = None  # the test's own client of the same Redis
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    secret_key: str = "test-secret"  # the gateway's settings.secret_key (see ``env``)

    def conversation_of(self, visitor: httpx.Client) -> str:
        """The conversation id a browser's visitor cookie names on this gateway."""
        return conversation_id_for(visitor.cookies["xiaobao_visitor"], self.secret_key)

    @property
    def ctx(self) -> HandoffContext:
        """A handoff context on the gateway's database and Redis, as the command line builds
        one (no bot hook: hand-backs wait in the outbox for the gateway)."""
        return HandoffContext(engine=self.engine, redis=self.redis, config=packaged_config())

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("XIAOBAO_") and k != "REDIS_URL"}
        return {**env, "XIAOBAO_HOME": str(self.home), "REDIS_URL": self.redis_url,
                "XIAOBAO_RASA_URL": self.rasa_url, "XIAOBAO_RASA_TIMEOUT_S": "2",
                "XIAOBAO_RASA_TOKEN": self.rasa_token,
                "XIAOBAO_WARM_RETRIEVER": "false", "XIAOBAO_SECRET_KEY": self.secret_key,
                "XIAOBAO_CALL_CALLBACK_SECRET": "test-callback-secret",
                "XIAOBAO_GATEWAY_PORT": str(self.port)}

    def start(self, timeout_s: float = 60) -> None:
        self.starts += 1
        log = (self.home / f"gateway-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "uvicorn"), "--factory", "api.main:create_app",
             "--no-proxy-headers", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gateway not ready after {timeout_s} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when the machine or the process dies."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log(self) -> str:
        path = self.home / f"gateway-{self.starts}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


@pytest.fixture
def gateway_process(tmp_path, redis_url: str, redis_client, _rasa_server: StandInRasa):
    """A migrated database under a temp home and a gateway process on it (not started)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'xiaobao.db'}")
    upgrade(engine)
    gateway = GatewayProcess(home=tmp_path, redis_url=redis_url, rasa_url=_rasa_server.url,
                             rasa_token=_rasa_server.secret, engine=engine, redis=redis_client)
    yield gateway
    gateway.kill()
    engine.dispose()

"""A real bot stack for tests and the benchmark: Redis, the gateway, `rasa run`.

Everything runs in its own processes on free ports with its own XIAOBAO_HOME
(SQLite, the seed knowledge base and its index), so nothing touches the shared
Redis or database. The gateway serves the action endpoint as in production (the
actions built with its services: the real retriever and handoff); Rasa loads
``models/xiaobao.tar.gz``.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from api.routes.actions import ACTION_TOKEN_HEADER
from bot.signing import SIGNATURE_HEADER, sign
from tests.redis_server import redis_server_binary

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "xiaobao.tar.gz"
RASA = REPO / ".venv-rasa" / "bin" / "rasa"
XIAOBAO = REPO / ".venv" / "bin" / "xiaobao"
UVICORN = REPO / ".venv" / "bin" / "uvicorn"
TOKEN = "bot-test-token"
ACTION_TOKEN = "bot-test-action-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, proc: subprocess.Popen | None = None) -> float:
    """Poll ``check()`` until true; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if check():
                return time.monotonic() - start
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (Linux /proc)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


@dataclass
class BotStack:
    home: Path
    redis_port: int
    actions_port: int
    rasa_port: int
    env: dict
    rasa_start_s: float = 0.0
    procs: list[subprocess.Popen] = field(default_factory=list)
    rasa_proc: subprocess.Popen | None = None
    actions_proc: subprocess.Popen | None = None
    log_dir: Path | None = None

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.home / 'xiaobao.db'}"

    def browser(self) -> httpx.Client:
        """A user's browser on the stack's gateway (the portal's API, which checks typed
        answers before Rasa sees them): the portal sets its visitor cookie."""
        base = f"http://127.0.0.1:{self.actions_port}"
        client = httpx.Client(base_url=base, headers={"Origin": base}, timeout=120)
        client.get("/").raise_for_status()
        return client

    def say(self, sender: str, text: str, timeout: float = 120) -> list[dict]:
        """One turn through 小宝's channel, signed as a gateway signs it (bot.signing)."""
        body = json.dumps({"sender": sender, "message": text}).encode()
        r = self.post_webhook(body, sign(TOKEN, body), timeout)
        r.raise_for_status()
        return r.json()

    def post_webhook(self, body: bytes, signature: str | None,
                     timeout: float = 120) -> httpx.Response:
        """``body`` to bot.channels' webhook with ``signature`` (None: no signature header)."""
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        return httpx.post(f"{self.rasa_url}/webhooks/xiaobao/webhook", content=body,
                          headers=headers, timeout=timeout)

    def parse(self, text: str) -> dict:
        r = httpx.post(f"{self.rasa_url}/model/parse", params={"token": TOKEN},
                       json={"text": text}, timeout=60)
        r.raise_for_status()
        return r.json()

    def redis(self):
        import redis

        return redis.Redis(port=self.redis_port, decode_responses=True)

    def restart_gateway(self, env: dict[str, str] | None = None) -> None:
        """Start the gateway again with ``env`` over the stack's own settings (``None``: those
        alone); Rasa and Redis keep running. A test needing other gateway settings uses this
        rather than a second stack (a `rasa run` start is most of a stack's minute)."""
        old = self.actions_proc
        if old is not None and old.poll() is None:
            old.terminate()
            try:
                old.wait(timeout=5)
            except subprocess.TimeoutExpired:  # a keep-alive connection holds its shutdown
                old.kill()
                old.wait(timeout=10)
        self.actions_proc = self.spawn_gateway({**self.env, **(env or {})})
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{self.actions_port}/healthz",
                                     timeout=2).status_code == 200, 180, "gateway",
                   self.actions_proc)

    def spawn_gateway(self, env: dict) -> subprocess.Popen:
        starts = sum(1 for p in self.procs if "api.main:create_app" in p.args)
        name = f"gateway-{starts + 1}.log" if starts else "gateway.log"
        log = open((self.log_dir or self.home) / name, "wb")  # noqa: SIM115  (the child keeps it)
        proc = subprocess.Popen([str(UVICORN), "--factory", "api.main:create_app",
                                 "--no-proxy-headers", "--host", "127.0.0.1",
                                 "--port", str(self.actions_port)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _endpoints(actions_port: int, redis_port: int) -> str:
    return endpoints_yml(f"http://127.0.0.1:{actions_port}/webhook", redis_port)


def endpoints_yml(actions_url: str, redis_port: int, token: str = ACTION_TOKEN) -> str:
    """A test's endpoints.yml: the repository's shape, its own gateway and Redis, the token
    in the header (api.routes.actions)."""
    return (
        f'action_endpoint:\n  url: "{actions_url}"\n'
        f'  headers:\n    {ACTION_TOKEN_HEADER}: "{token}"\n'
        f"tracker_store:\n  type: bot.tracker_window.WindowedTrackerStore\n"
        f"  url: 127.0.0.1\n  port: {redis_port}\n"
        f"  db: 1\n  key_prefix: xiaobao\n"
        f"lock_store:\n  type: redis\n  url: 127.0.0.1\n  port: {redis_port}\n"
        f"  db: 1\n  key_prefix: xiaobao\n"
    )


# Abuse limits (xiaobao.settings) switched off for the stack: 0 is no limit.
LOAD_TEST_LIMITS = ("chat_per_visitor_per_minute", "chat_per_ip_per_minute",
                    "handoffs_per_visitor_per_hour", "callbacks_per_phone_per_day",
                    "callbacks_per_ip_per_hour", "left_messages_per_visitor_per_hour",
                    "left_messages_per_ip_per_hour", "handoffs_per_ip_per_hour",
                    "logins_per_ip_per_15_minutes")


def start_stack(home: Path, log_dir: Path | None = None,
                env: dict[str, str] | None = None) -> BotStack:
    """Start Redis, seed the knowledge base and build its index, then the two servers
    (``env``: settings of the caller's on top of these, e.g. the load's handoff hours)."""
    if not MODEL.exists():
        raise FileNotFoundError(f"{MODEL} missing: run `make train` first")
    from xiaobao.settings import Settings

    log_dir = log_dir or home
    model_dir = Settings().model_dir  # the embedding model installed by `make setup`
    stack = BotStack(home, free_port(), free_port(), free_port(), {}, log_dir=log_dir)
    stack.env = {
        **os.environ,
        "XIAOBAO_HOME": str(home),
        "XIAOBAO_DATABASE_URL": stack.db_url,
        "XIAOBAO_REDIS_URL": f"redis://127.0.0.1:{stack.redis_port}/0",
        "REDIS_URL": f"redis://127.0.0.1:{stack.redis_port}/0",
        "XIAOBAO_EMBEDDING_MODEL_DIR": str(model_dir),
        "XIAOBAO_RASA_URL": f"http://127.0.0.1:{stack.rasa_port}",
        "XIAOBAO_RASA_TOKEN": TOKEN,
        "XIAOBAO_ACTION_TOKEN": ACTION_TOKEN,
        "XIAOBAO_GATEWAY_PORT": str(stack.actions_port),
        # Benchmarks and end-to-end tests send everything from 127.0.0.1: no abuse limits.
        **{f"XIAOBAO_{name.upper()}": "0" for name in LOAD_TEST_LIMITS},
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        **(env or {}),
    }

    def spawn(args: list, name: str) -> subprocess.Popen:
        log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115  (the child keeps it open)
        proc = subprocess.Popen([str(a) for a in args], cwd=REPO, env=stack.env, stdout=log,
                                stderr=subprocess.STDOUT)
        stack.procs.append(proc)
        return proc

    try:
        redis_proc = spawn([redis_server_binary(), "--port", stack.redis_port,
                            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], "redis")
        wait_until(lambda: stack.redis().ping(), 20, "redis-server", redis_proc)
        # The second builds the index.
        for args in (["kb", "seed"], ["policy", "seed"], ["kb", "search", "营业执照怎么办理"]):
            subprocess.run([str(XIAOBAO), *args], cwd=REPO, env=stack.env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
        actions = stack.actions_proc = stack.spawn_gateway(stack.env)
        endpoints = home / "endpoints.yml"
        endpoints.write_text(_endpoints(stack.actions_port, stack.redis_port))
        started = time.monotonic()
        stack.rasa_proc = spawn([RASA, "run", "--model", MODEL, "--endpoints", endpoints,
                                 "--credentials", REPO / "credentials.yml",
                                 "--port", stack.rasa_port,
                                 "-i", "127.0.0.1", "--enable-api", "--auth-token", TOKEN], "rasa")
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{stack.actions_port}/healthz",
                                     timeout=2).status_code == 200, 180, "gateway", actions)
        wait_until(lambda: httpx.get(f"{stack.rasa_url}/status", params={"token": TOKEN},
                                     timeout=2).json().get("model_file"), 400, "rasa run",
                   stack.rasa_proc)
        stack.rasa_start_s = time.monotonic() - started
        return stack
    except BaseException:
        stack.stop()
        raise


def open_hours_config(directory: Path) -> Path:
    """The packaged handoff configuration, open around the clock, written to ``directory``:
    what a test or a load run is told must not depend on the hour or the day it runs at
    (at night or on a holiday it would meet 留言, not helpers)."""
    import yaml

    from handoff.config import DEFAULT_PATH

    raw = yaml.safe_load(DEFAULT_PATH.read_text("utf-8"))
    raw["hours"]["weekly"] = {day: ["00:00-23:59:59.999999"] for day in range(1, 8)}
    raw["hours"]["workday"] = ["00:00-23:59:59.999999"]  # a 调休 working day too
    raw["hours"]["holidays"] = []
    path = directory / "handoff-open.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    return path

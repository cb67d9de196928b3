"""The production layout on one machine: two gateways, two Rasa servers, one Redis, one database
and nginx in front with ``deploy/nginx.conf.example`` itself, rendered with free ports.

What "two machines" share is what production shares: Redis (queues, live relay, Rasa's tracker
and lock stores), the SQL database (PostgreSQL when ``XIAOBAO_TEST_POSTGRES_URL`` is set, a
fresh database of its own; otherwise one SQLite file) and the secrets. What each machine keeps
for itself is its own ``XIAOBAO_HOME`` (the saved index, copied from the first, as a new machine
would build or receive it). Every process listens on 127.0.0.1. The gateways reach Rasa, and
Rasa reaches the gateways' action endpoint, through nginx's internal listeners, so any gateway
may lead to any Rasa server and back.

``sentinel=True``: Redis is a primary, a replica and three Sentinels (tests/redis_sentinel.py),
and every process gets the Sentinel settings instead of one ``REDIS_URL`` (Rasa the Sentinel
store classes of bot/sentinel_stores.py). The 政策推送 dispatcher runs as ``make run`` runs it
(Procfile ``notify``, the simulator provider in-process): :meth:`Layout.start_notifier`. The
12345 dialler's simulator is no process of its own: it runs inside each gateway.

Used by tests/deploy/test_two_machines.py and the soaks (tests/bench/bench_layout.py,
tests/bench/soak.py).
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import httpx
from sqlalchemy import Engine, create_engine, make_url, text

from tests.bot.stack import (
    LOAD_TEST_LIMITS,
    MODEL,
    RASA,
    REPO,
    UVICORN,
    XIAOBAO,
    free_port,
    open_hours_config,
    wait_until,
)
from tests.bot.stack import endpoints_yml as stack_endpoints_yml
from tests.deploy import index_cache
from tests.redis_sentinel import MASTER, PASSWORD, SentinelSet
from tests.redis_server import RedisServer
from xiaobao.db import make_engine

NGINX = Path("/usr/sbin/nginx")
NGINX_TEMPLATE = REPO / "deploy" / "nginx.conf.example"
RASA_TOKEN = "layout-test-rasa-token-0123456789"
ACTION_TOKEN = "layout-test-action-token-0123456789"
SECRET_KEY = "layout-test-secret-key-0123456789"
GATEWAYS = ("a", "b")
RASAS = ("a", "b")
# Counted but never reached: the test reads which address a chat message was counted under.
CHAT_PER_IP_PER_MINUTE = 100_000

# Process-level settings of a test's nginx (the documented file is http-context only): its own
# pid, logs and temp folders, in the foreground; the access log names the gateway that served.
NGINX_MAIN = """\
$user_line
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 512; }
http {
    log_format upstream '$$request_method $$uri $$status $$upstream_addr';
    access_log $dir/access.log upstream;
    client_body_temp_path $dir/temp/body;
    proxy_temp_path $dir/temp/proxy;
    fastcgi_temp_path $dir/temp/fastcgi;
    uwsgi_temp_path $dir/temp/uwsgi;
    scgi_temp_path $dir/temp/scgi;
    include $dir/xiaobao.conf;
}
"""


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Layout:
    home: Path
    redis: RedisServer | SentinelSet
    db_url: str
    env: dict[str, str]
    ports: dict[str, int]
    gateways: dict[str, Server] = field(default_factory=dict)
    rasas: dict[str, Server] = field(default_factory=dict)
    nginx: subprocess.Popen | None = None
    notifier: subprocess.Popen | None = None
    start_s: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds from the start to each step
    drop_database: Callable[[], None] | None = None
    logs: list[Path] = field(default_factory=list)

    # --- addresses and clients ----------------------------------------------------------------
    @property
    def public(self) -> str:
        """The public origin (nginx, TLS)."""
        return f"https://127.0.0.1:{self.ports['https']}"

    @property
    def nginx_dir(self) -> Path:
        return self.home / "nginx"

    @property
    def ca_file(self) -> Path:
        return self.nginx_dir / "cert.pem"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(self, base: str, timeout: float = 60) -> httpx.Client:
        """A browser of ``base`` (a gateway's URL or :attr:`public`): same-origin header, and the
        test's certificate trusted."""
        return httpx.Client(base_url=base, headers={"Origin": base}, timeout=timeout,
                            verify=self.ssl_context())

    def engine(self) -> Engine:
        return make_engine(self.db_url)

    def served_by(self, method: str, path: str) -> list[str]:
        """The upstream addresses nginx used for ``method path``, oldest first (access log)."""
        log = self.nginx_dir / "access.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [parts[3] for parts in (line.split(" ", 3) for line in lines)
                if len(parts) == 4 and parts[0] == method and parts[1] == path]

    # --- processes ------------------------------------------------------------------------------
    def spawn(self, name: str, args: list, env: dict[str, str]) -> subprocess.Popen:
        log = self.home / f"{name}.log"
        self.logs.append(log)
        out = open(log, "ab")  # noqa: SIM115  (the child keeps it open)
        return subprocess.Popen([str(a) for a in args], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT)

    def gateway_env(self, name: str) -> dict[str, str]:
        return {**self.env, "XIAOBAO_HOME": str(self.home / f"gateway-{name}"),
                "XIAOBAO_GATEWAY_PORT": str(self.ports[f"gateway_{name}"])}

    def start_gateway(self, name: str) -> Server:
        port = self.ports[f"gateway_{name}"]
        proc = self.spawn(f"gateway-{name}", [UVICORN, "--factory", "api.main:create_app",
                                              "--host", "127.0.0.1", "--port", port],
                          self.gateway_env(name))
        self.gateways[name] = Server(name, port, proc)
        return self.gateways[name]

    def wait_gateway(self, name: str, timeout: float = 150) -> None:
        server = self.gateways[name]
        wait_until(lambda: httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200,
                   timeout, f"gateway {name}", server.proc)

    def kill_gateway(self, name: str) -> None:
        """SIGKILL, as a machine that lost power: no shutdown hook runs."""
        proc = self.gateways[name].proc
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def start_notifier(self) -> subprocess.Popen:
        """``xiaobao notify dispatch`` as the Procfile's ``notify`` line runs it."""
        self.notifier = self.spawn("notifier", [XIAOBAO, "notify", "dispatch"],
                                   self.gateway_env("a"))
        return self.notifier

    def start_rasa(self, name: str) -> Server:
        port = self.ports[f"rasa_{name}"]
        proc = self.spawn(f"rasa-{name}", [
            RASA, "run", "--model", MODEL, "--endpoints", self.home / "endpoints.yml",
            "--credentials", REPO / "credentials.yml", "--port", port, "-i", "127.0.0.1",
            "--enable-api", "--auth-token", RASA_TOKEN], {**self.env})
        self.rasas[name] = Server(name, port, proc)
        return self.rasas[name]

    def wait_rasa(self, name: str, timeout: float = 170) -> None:
        server = self.rasas[name]
        wait_until(lambda: httpx.get(f"{server.url}/status", params={"token": RASA_TOKEN},
                                     timeout=2).json().get("model_file"),
                   timeout, f"rasa {name}", server.proc)

    def tail(self, chars: int = 2500) -> str:
        logs = [*self.logs, self.nginx_dir / "error.log"]
        return "\n".join(f"--- {log.name}\n" + log.read_text(errors="replace")[-chars:]
                         for log in logs if log.exists())

    def stop(self) -> None:
        procs = [s.proc for s in self.gateways.values()] + [s.proc for s in self.rasas.values()]
        procs += [p for p in (self.nginx, self.notifier) if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.redis.stop()
        if self.drop_database is not None:
            self.drop_database()


# --- the pieces -----------------------------------------------------------------------------------

def fresh_database(home: Path, server_url: str | None = None
                   ) -> tuple[str, Callable[[], None] | None]:
    """A new PostgreSQL database on ``server_url`` or the server of ``XIAOBAO_TEST_POSTGRES_URL``
    (dropped by the returned function), else one SQLite file both gateways share."""
    server_url = server_url or os.environ.get("XIAOBAO_TEST_POSTGRES_URL", "")
    if not server_url:
        return f"sqlite:///{home / 'xiaobao.db'}", None
    name = f"xiaobao_layout_{uuid.uuid4().hex[:10]}"
    # pool_pre_ping: a server restarted meanwhile (the soak's PostgreSQL fault) leaves a dead
    # pooled connection, which the drop must not use.
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(server_url).set(database=name).render_as_string(hide_password=False), drop


def endpoints_yml(actions_url: str, redis: RedisServer | SentinelSet) -> str:
    """Every Rasa server's endpoints: actions through the proxy; trackers and locks in the one
    Redis (the lock store is what keeps two servers off one conversation at once), behind
    Sentinel through bot/sentinel_stores.py's classes."""
    if isinstance(redis, RedisServer):
        return stack_endpoints_yml(actions_url, redis.port, ACTION_TOKEN)
    plain = stack_endpoints_yml(actions_url, 0, ACTION_TOKEN)
    store = (f"  sentinels: {redis.sentinels}\n  sentinel_master: {MASTER}\n"
             f"  password: {PASSWORD}\n  db: 1\n  key_prefix: xiaobao\n")
    return (plain[:plain.index("tracker_store:")]
            + f"tracker_store:\n  type: bot.sentinel_stores.SentinelTrackerStore\n{store}"
            + f"lock_store:\n  type: bot.sentinel_stores.SentinelLockStore\n{store}")


def redis_env(redis: RedisServer | SentinelSet) -> dict[str, str]:
    if isinstance(redis, RedisServer):
        return {"REDIS_URL": redis.url, "XIAOBAO_REDIS_URL": redis.url}
    return {"XIAOBAO_REDIS_SENTINELS": redis.sentinels, "XIAOBAO_REDIS_SENTINEL_MASTER": MASTER,
            "XIAOBAO_REDIS_PASSWORD": PASSWORD,
            "PYTHONPATH": str(REPO)}  # Rasa imports bot.sentinel_stores from the checkout


def self_signed_certificate(folder: Path) -> None:
    """cert.pem / key.pem for 127.0.0.1 (the clients trust cert.pem itself)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True, timeout=30)


def render_nginx(layout: Layout) -> str:
    """``deploy/nginx.conf.example`` with the layout's addresses (every placeholder filled)."""
    p = layout.ports
    values = {
        "XB_SERVER_NAME": "127.0.0.1", "XB_PUBLIC_ADDR": "127.0.0.1",
        "XB_HTTPS_PORT": p["https"], "XB_HTTP_PORT": p["http"],
        "XB_TLS_CERT": layout.nginx_dir / "cert.pem", "XB_TLS_KEY": layout.nginx_dir / "key.pem",
        "XB_GATEWAY_1": f"127.0.0.1:{p['gateway_a']}",
        "XB_GATEWAY_2": f"127.0.0.1:{p['gateway_b']}",
        "XB_RASA_1": f"127.0.0.1:{p['rasa_a']}", "XB_RASA_2": f"127.0.0.1:{p['rasa_b']}",
        "XB_INTERNAL_ADDR": "127.0.0.1", "XB_INTERNAL_NET": "127.0.0.1/32",
        "XB_RASA_PROXY_PORT": p["rasa_proxy"], "XB_ACTIONS_PROXY_PORT": p["actions_proxy"],
    }
    # safe_substitute: nginx's own $variables are not placeholders and stay as they are.
    rendered = Template(NGINX_TEMPLATE.read_text("utf-8")).safe_substitute(
        {k: str(v) for k, v in values.items()})
    config_lines = [line for line in rendered.splitlines() if not line.lstrip().startswith("#")]
    unfilled = [line for line in config_lines if "${XB_" in line]
    if unfilled:
        raise ValueError(f"placeholders left in the nginx configuration: {unfilled}")
    return rendered


def start_nginx(layout: Layout) -> subprocess.Popen:
    folder = layout.nginx_dir
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "temp" / sub).mkdir(parents=True, exist_ok=True)
    self_signed_certificate(folder)
    (folder / "xiaobao.conf").write_text(render_nginx(layout), "utf-8")
    # As root the workers would switch to `nobody`, who cannot enter the test's folder.
    user_line = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(
        Template(NGINX_MAIN).substitute(dir=folder, user_line=user_line), "utf-8")
    args = [NGINX, "-p", folder, "-c", folder / "nginx.conf", "-e", folder / "error.log"]
    check = subprocess.run([str(a) for a in [*args, "-t"]], capture_output=True, text=True,
                           timeout=30)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t failed:\n{check.stderr}")
    proc = layout.spawn("nginx", args, {**layout.env})
    wait_until(lambda: httpx.get(f"http://127.0.0.1:{layout.ports['http']}/", timeout=2,
                                 follow_redirects=False).status_code == 301, 20, "nginx", proc)
    return proc


def start_layout(home: Path, *, sentinel: bool = False, notifier: bool = False,
                 postgres_url: str | None = None) -> Layout:
    """Everything, Rasa servers first (the slowest, in parallel), the knowledge base seeded and
    indexed once meanwhile; returns when nginx serves both gateways and both Rasa servers.
    ``sentinel``: Redis behind Sentinel; ``notifier``: the 政策推送 dispatcher too."""
    for needed in (MODEL, RASA, NGINX):
        if not needed.exists():
            raise FileNotFoundError(f"{needed} missing (make train; apt-get install nginx)")
    from xiaobao.settings import Settings

    started = time.monotonic()
    home.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in (
        "https", "http", "rasa_proxy", "actions_proxy", "gateway_a", "gateway_b",
        "rasa_a", "rasa_b")}
    redis = SentinelSet(home) if sentinel else RedisServer(home)
    db_url, drop = fresh_database(home, postgres_url)
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("REDIS_", "XIAOBAO_REDIS_"))}
    env = {
        **inherited, **redis_env(redis),
        "XIAOBAO_DATABASE_URL": db_url,
        "XIAOBAO_EMBEDDING_MODEL_DIR": str(Settings().model_dir),
        "XIAOBAO_RASA_URL": f"http://127.0.0.1:{ports['rasa_proxy']}",
        "XIAOBAO_RASA_TOKEN": RASA_TOKEN, "XIAOBAO_ACTION_TOKEN": ACTION_TOKEN,
        "XIAOBAO_SECRET_KEY": SECRET_KEY,  # the same on every gateway: it derives the ids
        "XIAOBAO_TRUSTED_PROXY_HEADER": "X-Real-IP",
        "XIAOBAO_HANDOFF_CONFIG": str(open_hours_config(home)),
        **{f"XIAOBAO_{name.upper()}": "0" for name in LOAD_TEST_LIMITS},
        "XIAOBAO_CHAT_PER_IP_PER_MINUTE": str(CHAT_PER_IP_PER_MINUTE),
        "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    layout = Layout(home, redis, db_url, env, ports, drop_database=drop)
    try:
        (home / "endpoints.yml").write_text(endpoints_yml(
            f"http://127.0.0.1:{ports['actions_proxy']}/webhook", redis), "utf-8")
        for name in RASAS:
            layout.start_rasa(name)
        layout.nginx = start_nginx(layout)
        layout.phases["nginx"] = time.monotonic() - started
        # The knowledge base once, into the shared database; the first machine builds the
        # index (the search does), the second receives a copy of it.
        first = layout.gateway_env("a")
        index_cache.restore(home / "gateway-a" / "index", env["XIAOBAO_EMBEDDING_MODEL_DIR"])
        for args in (["kb", "seed"], ["kb", "search", "营业执照怎么办理"]):
            subprocess.run([str(XIAOBAO), *args], cwd=REPO, env=first, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)
            layout.phases[f"kb {args[1]}"] = time.monotonic() - started
        index_cache.keep(home / "gateway-a" / "index", env["XIAOBAO_EMBEDDING_MODEL_DIR"])
        shutil.copytree(home / "gateway-a" / "index", home / "gateway-b" / "index")
        for name in GATEWAYS:
            layout.start_gateway(name)
        if notifier:
            layout.start_notifier()
        for name in GATEWAYS:
            layout.wait_gateway(name)
            layout.phases[f"gateway {name}"] = time.monotonic() - started
        for name in RASAS:
            layout.wait_rasa(name)
            layout.phases[f"rasa {name}"] = time.monotonic() - started
        ctx = layout.ssl_context()
        wait_until(lambda: httpx.get(f"{layout.public}/healthz", verify=ctx,
                                     timeout=2).status_code == 200, 20, "nginx → gateways")
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{ports['rasa_proxy']}/status",
                                     params={"token": RASA_TOKEN}, timeout=2).status_code == 200,
                   20, "nginx → rasa")
        layout.start_s = time.monotonic() - started
        return layout
    except BaseException:
        print(layout.tail())
        layout.stop()
        raise

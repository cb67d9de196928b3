"""The fault-injection soak (issue 21): visitors, helpers and an editor working at once through
nginx on the two-gateway layout with Redis behind Sentinel (tests/deploy/layout.py), while a
scheduler kills in turn, with SIGKILL, a gateway, a Rasa server, the Redis primary and the
政策推送 dispatcher, and restarts PostgreSQL (when tests/postgres_server.py can run one).
Afterwards an audit from the clients' own logs against the record.

The people:

* visitors (:class:`tests.bench.load.VirtualUser`, asyncio tasks): questions, 您是不是想问,
  转人工 with its form, the wait, the helper, the 好差评 after the close; every turn and receipt
  in the :class:`~tests.bench.load.Ledger`;
* helpers (:class:`SoakHelper`): sign in on the console API, on duty, heartbeat, claim, reply
  (each message with its message_id), resolve;
* an editor (:class:`Editor`, a thread): saves a knowledge-base answer with a unique marker and
  polls every gateway's hit test until it answers with it.

The audit (:func:`audit`): :func:`tests.bench.reconcile.reconcile` (every turn answered is one
row, every refused one none, every helper message once by its id, every receipt one ticket,
every acknowledged rating one rating event), tickets (each final, owned, or waiting in a
queue, whose wait timer the gateway runs), the ratings in ``xiaobao report``, the edits
answered by every gateway, the errors (each inside a fault's window: its start .. the
component back + 15 s) and each fault's recovery (the first success a client got after it).

The 12345 dialler's simulator runs inside each gateway (no process of its own in ``make
run``), so it is killed with the gateway. ``python -m tests.bench.soak [minutes]``; ``make
soak``; the short version is tests/deploy/test_soak.py.
"""
from __future__ import annotations

import asyncio
import importlib
import json
import os
import random
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx

from handoff.config import load_config
from tests.bench.load import (
    HANDOFF_HEAVY,
    TURN_TIMEOUT_S,
    Browser,
    HelperConsole,
    Ledger,
    VirtualUser,
    create_helpers,
    settle,
    user_questions,
)
from tests.deploy.layout import Layout, start_layout
from tests.deploy.soak_audit import Errors, Fault, audit, table
from tests.redis_sentinel import SentinelSet
from xiaobao.accounts import create_account
from xiaobao.db import session_scope

TAIL_S = 20.0  # visitors stay this long after the last fault is over
EDITOR = "soak-editor"
EDITOR_PASSWORD = "soak-editor-pass-1"
EDIT_QUESTION = "个体工商户怎么办理营业执照"  # answered (not only suggested) by the seed
EDIT_BUDGET_S = 90.0  # a restarting gateway answers once it is back


def _trusting(base: str, verify: ssl.SSLContext) -> httpx.AsyncClient:
    """A browser's client of the layout's public origin (its test certificate trusted)."""
    return httpx.AsyncClient(base_url=base, headers={"Origin": base}, timeout=TURN_TIMEOUT_S,
                             verify=verify)


class SoakBrowser(Browser):
    def __init__(self, base: str, ledger: Ledger, rng: random.Random, level: str,
                 verify: ssl.SSLContext) -> None:
        super().__init__(base, ledger, rng, level)
        self.client = _trusting(base, verify)


class SoakHelper(HelperConsole):
    """A helper whose failed requests (5xx, no answer) are logged with their time."""

    def __init__(self, base: str, username: str, ledger: Ledger, rng: random.Random,
                 errors: Errors, verify: ssl.SSLContext) -> None:
        super().__init__(base, username, ledger, rng)
        self.client = _trusting(base, verify)
        self.errors = errors

    async def post(self, path: str, body: dict | None = None) -> httpx.Response | None:
        response = await super().post(path, body)
        status = response.status_code if response is not None else 0
        if status == 0 or status >= 500:
            self.errors.add("helper", f"{path.split('/')[3]} {status or 'no answer'}")
        return response


class SoakUser(VirtualUser):
    """A visitor whose failed page loads are logged with their time too."""

    def __init__(self, *args, errors: Errors, verify: ssl.SSLContext) -> None:
        super().__init__(*args)
        self.errors, self.verify = errors, verify

    async def run(self, deadline: float, level: str) -> None:
        while time.monotonic() < deadline:
            browser = SoakBrowser(self.base, self.ledger, self.rng, level, self.verify)
            try:
                if await browser.open():
                    self.visits += 1
                    await self.visit(browser, deadline)
                else:
                    for status in browser.page_errors:
                        self.errors.add("visitor", f"page {status or 'no answer'}")
                    await asyncio.sleep(0.5)
            finally:
                await browser.close()


class Deadline:
    """When the visitors leave: ``minutes`` after the start, or later while faults are still
    being injected (a Rasa server's restart may take minutes on a busy machine), then
    :data:`TAIL_S` more so the last fault has clients to see it. Compares as a float
    (tests.bench.load's users compare ``time.monotonic()`` with it)."""

    def __init__(self, at: float, injector: threading.Thread) -> None:
        self.at, self.injector = at, injector
        self.done_at: float | None = None

    def value(self) -> float:
        if self.injector.is_alive():
            return max(self.at, time.monotonic() + TAIL_S)
        if self.done_at is None:
            self.done_at = time.monotonic()
        return max(self.at, self.done_at + TAIL_S)

    def __gt__(self, other: float) -> bool:
        return self.value() > other

    def __ge__(self, other: float) -> bool:
        return self.value() >= other

    def __lt__(self, other: float) -> bool:
        return self.value() < other

    def __le__(self, other: float) -> bool:
        return self.value() <= other


class Editor(threading.Thread):
    """Edits one entry's answer with a new marker every ``every_s``; an acknowledged edit must
    be answered by every gateway's own retriever (its hit test)."""

    def __init__(self, layout: Layout, stop: threading.Event, errors: Errors,
                 every_s: float) -> None:
        super().__init__(name="soak-editor", daemon=True)
        self.layout, self.stop, self.errors, self.every_s = layout, stop, errors, every_s
        self.edits: list[dict] = []  # marker, acknowledged, answered_by {gateway: seconds}

    def _call(self, client: httpx.Client, method: str, url: str, **kw) -> httpx.Response | None:
        try:
            response = client.request(method, url, **kw)
        except httpx.HTTPError:
            self.errors.add("editor", "no answer")
            return None
        if response.status_code >= 500:
            self.errors.add("editor", f"http {response.status_code}")
        return response

    def run(self) -> None:
        public = self.layout.public
        with self.layout.client(public, timeout=30) as client:
            while not self.stop.is_set():
                ok = self._call(client, "POST", "/api/auth/login",
                                json={"username": EDITOR, "password": EDITOR_PASSWORD})
                if ok is not None and ok.status_code == 200:
                    break
                time.sleep(1)
            found = self._call(client, "POST", "/api/kb/hit-test", json={"query": EDIT_QUESTION})
            entry_id = found.json()["entry_id"] if found is not None else None
            if not entry_id:
                raise RuntimeError(f"the editor found no entry for {EDIT_QUESTION}")
            original = client.get(f"/api/kb/entries/{entry_id}").json()["entry"]["answer"]
            while not self.stop.wait(self.every_s):
                self.edit(client, entry_id, original)

    def edit(self, client: httpx.Client, entry_id: str, original: str) -> None:
        got = self._call(client, "GET", f"/api/kb/entries/{entry_id}")
        if got is None or got.status_code != 200:
            return
        marker = f"（核对编号{uuid.uuid4().hex[:8]}）"
        saved = self._call(client, "PUT", f"/api/kb/entries/{entry_id}", json={
            "answer": original + marker, "version": got.json()["entry"]["version"]})
        answered: dict[str, float] = {}
        edit = {"marker": marker, "acknowledged": saved is not None and saved.status_code == 200,
                "answered_by": answered}
        self.edits.append(edit)
        if not edit["acknowledged"]:
            return
        began = time.monotonic()
        waiting = dict(self.layout.gateways)
        while waiting and time.monotonic() - began < EDIT_BUDGET_S:
            for name, server in list(waiting.items()):
                try:
                    reply = client.post(f"{server.url}/api/kb/hit-test",
                                        json={"query": EDIT_QUESTION},
                                        headers={"Origin": server.url}, timeout=10)
                    if reply.status_code == 200 and marker in reply.json()["reply"]["text"]:
                        answered[name] = round(time.monotonic() - began, 2)
                        del waiting[name]
                except (httpx.HTTPError, ValueError, KeyError):
                    pass  # that gateway is being restarted: asked again
            time.sleep(0.2)


# --- the faults ---------------------------------------------------------------------------------

def _sigkill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def fault_gateway(layout: Layout, fault: Fault, pg) -> None:
    _sigkill(layout.gateways[fault.target].proc)
    layout.start_gateway(fault.target)
    layout.wait_gateway(fault.target)


RASA_BACK_BUDGET_S = 600.0  # a Rasa server's start is CPU-bound: ~50 s on two quiet cores


def fault_rasa(layout: Layout, fault: Fault, pg) -> threading.Thread:
    """SIGKILL and start again; the start (building TensorFlow's graphs: ~50 s on this machine
    quiet, minutes under the soak's load, the other server answering meanwhile) is waited for
    in the background, so the faults after it are injected on time and the soak stays short;
    :func:`soak` joins it before the audit, which requires every component back."""
    _sigkill(layout.rasas[fault.target].proc)
    layout.start_rasa(fault.target)

    def wait() -> None:
        layout.wait_rasa(fault.target, timeout=RASA_BACK_BUDGET_S)
        fault.back = time.monotonic()
        print(f"[soak] rasa {fault.target} back in {fault.back_s} s", flush=True)

    waiter = threading.Thread(target=wait, name=f"soak-rasa-{fault.target}", daemon=True)
    waiter.start()
    return waiter


def fault_redis(layout: Layout, fault: Fault, pg) -> None:
    sentinels = layout.redis
    assert isinstance(sentinels, SentinelSet), "the soak's layout runs Redis behind Sentinel"
    killed_at = sentinels.kill_primary()
    fault.promoted_s = round(sentinels.wait_for_promotion(killed_at), 2)
    fault.target = f"primary :{sentinels.killed_port}"
    sentinels.restart_as_replica()


def fault_notifier(layout: Layout, fault: Fault, pg) -> None:
    assert layout.notifier is not None
    _sigkill(layout.notifier)
    proc = layout.start_notifier()
    time.sleep(2)
    if proc.poll() is not None:
        raise RuntimeError(f"the notifier exited with {proc.returncode}")


def fault_postgres(layout: Layout, fault: Fault, pg) -> None:
    pg.restart()


FAULTS = {"gateway": fault_gateway, "rasa": fault_rasa, "redis": fault_redis,
          "notifier": fault_notifier, "postgres": fault_postgres}


def schedule(layout: Layout, pg, rounds: int) -> list[tuple[str, str]]:
    """Each fault in turn, ``rounds`` times (the gateways and Rasa servers alternating)."""
    kinds = ["redis", "gateway", "notifier"] + (["postgres"] if pg is not None else []) + ["rasa"]
    return [(kind, "ab"[i % 2] if kind in ("gateway", "rasa") else "")
            for i in range(rounds) for kind in kinds]


def inject(layout: Layout, pg, plan: list[tuple[str, str]], gap_s: float,
           faults: list[Fault], stop: threading.Event, end_at: float,
           waiters: list[threading.Thread], failed: list[str]) -> None:
    """The plan's faults one after the other, ``gap_s`` apart; none begun after ``end_at``.
    A fault whose component does not come back ends the injection and is in ``failed``."""
    for kind, target in plan:
        if stop.wait(gap_s) or time.monotonic() > end_at:
            return
        # Not two Rasa servers down at once: the previous one's start is still being waited.
        if kind == "rasa" and any(w.is_alive() for w in waiters):
            continue
        fault = Fault(kind, target, time.monotonic())
        faults.append(fault)
        print(f"[soak] {kind} {target} killed", flush=True)
        try:
            waiter = FAULTS[kind](layout, fault, pg)
        except Exception as exc:  # the table shows it (back: None) and the audit fails
            failed.append(f"{kind} {fault.target}: {type(exc).__name__}: {exc}")
            print(f"[soak] {failed[-1]}", flush=True)
            return
        if waiter is not None:
            waiters.append(waiter)
            continue
        fault.back = time.monotonic()
        print(f"[soak] {kind} {fault.target} back in {fault.back_s} s", flush=True)


def postgres_for_soak(stack: ExitStack):
    """A PostgreSQL server of the soak's own (tests/postgres_server.py), which it may restart;
    None where that module or PostgreSQL's binaries are missing (SQLite then, and the table
    says "PostgreSQL: not run")."""
    try:
        module = importlib.import_module("tests.postgres_server")
        return stack.enter_context(module.postgres_server())
    except (ImportError, FileNotFoundError, RuntimeError) as exc:
        print(f"[soak] PostgreSQL: not run ({type(exc).__name__}: {exc})", flush=True)
        return None


# --- the run ------------------------------------------------------------------------------------

async def people(layout: Layout, ledger: Ledger, errors: Errors, helpers: list[str],
                 visitors: int, until: Deadline, seed: int) -> None:
    rng = random.Random(seed)
    base = layout.public
    verify = layout.ssl_context()
    consoles = [SoakHelper(base, name, ledger, random.Random(rng.random()), errors, verify)
                for name in helpers]
    for console in consoles:
        await console.start()
    stop = asyncio.Event()
    working = [asyncio.create_task(c.run(stop)) for c in consoles]
    questions = user_questions()
    users = [SoakUser(base, ledger, questions, HANDOFF_HEAVY, random.Random(rng.random()),
                      errors=errors, verify=verify) for _ in range(visitors)]
    try:
        await asyncio.gather(*(u.run(until, "soak") for u in users))  # type: ignore[arg-type]
        await settle(layout.db_url, timeout_s=60)  # the helpers close what is still open
    finally:
        stop.set()
        await asyncio.gather(*working, return_exceptions=True)
        for console in consoles:
            await console.close()
    await settle(layout.db_url, timeout_s=30)


def soak(layout: Layout, pg, minutes: float, *, rounds: int | None = None, gap_s: float = 20,
         visitors: int = 6, helpers: int = 2, edit_every_s: float = 20, seed: int = 21) -> dict:
    """``minutes`` of people on a running layout (Sentinel, the notifier), the faults of
    :func:`schedule` meanwhile (``rounds`` of each, default: as many as fit), then the audit."""
    departments = load_config(layout.env.get("XIAOBAO_HANDOFF_CONFIG")).departments
    names = create_helpers(layout.db_url, helpers, departments)
    engine = layout.engine()
    with session_scope(engine) as session:
        create_account(session, EDITOR, EDITOR_PASSWORD, roles=["editor"], departments=[])
    engine.dispose()
    ledger, errors, faults = Ledger(), Errors(), list[Fault]()
    waiters: list[threading.Thread] = []
    failed: list[str] = []
    stop = threading.Event()
    began = time.monotonic()
    injector = threading.Thread(target=inject, daemon=True, name="soak-faults", args=(
        layout, pg, schedule(layout, pg, rounds or 99), gap_s, faults, stop,
        began + minutes * 60, waiters, failed))
    until = Deadline(began + minutes * 60, injector)
    editor = Editor(layout, stop, errors, edit_every_s)
    editor.start()
    injector.start()
    try:
        asyncio.run(people(layout, ledger, errors, names, visitors, until, seed))
    finally:
        stop.set()
        injector.join(300)
        editor.join(EDIT_BUDGET_S + 30)
        for waiter in waiters:  # a Rasa server still starting (quicker once the people left)
            waiter.join(RASA_BACK_BUDGET_S)
    result = audit(layout, ledger, errors.seen, faults, editor.edits, began)
    result["failures"] += failed + [f"{f['kind']} {f['target']} not back" for f in
                                    result["faults"] if f["back_s"] is None]
    result.update(minutes=round((time.monotonic() - began) / 60, 1), postgres=pg is not None,
                  loadavg=[round(x, 2) for x in os.getloadavg()], cpus=os.cpu_count())
    if layout.home.exists():
        (layout.home / "ledger.json").write_text(json.dumps(ledger.to_dict(),
                                                            ensure_ascii=False), "utf-8")
    return result


def run(minutes: float = 10, keep: Path | None = None, **options) -> dict:
    """The soak on a layout of its own (PostgreSQL of its own where it can)."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        home = keep or Path(tmp)
        pg = postgres_for_soak(stack)
        layout = start_layout(home, sentinel=True, notifier=True,
                              postgres_url=pg.url if pg is not None else None)
        stack.callback(layout.stop)
        return soak(layout, pg, minutes, **options)


if __name__ == "__main__":
    import sys

    # The layout's logs (gateways, Rasa, nginx, the notifier) and the clients' ledger are kept
    # for whoever reads a failed audit: results/ is the test runs' folder (not in git).
    kept = Path(__file__).resolve().parents[2] / "results" / time.strftime("soak-%Y%m%d-%H%M%S")
    figures = run(float(sys.argv[1]) if len(sys.argv) > 1 else 10, keep=kept)
    print(table(figures, "make soak"))
    print(f"logs and the ledger: {kept}")
    print(json.dumps({k: v for k, v in figures.items() if k != "reconcile_counts"},
                     ensure_ascii=False, indent=1))
    sys.exit(1 if figures["failures"] else 0)

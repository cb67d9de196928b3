"""`xiaobao notify …`: its commands in process, and the key test as real processes: 200
enterprises queued, a provider failing half its sends at random (seeded; half of those after
keeping the message, as a lost acknowledgement), and a dispatcher SIGKILLed after the
provider took a message and before it could commit, then restarted: every enterprise ends
with exactly one message at the provider and one sent row."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from notifications.cli import app
from notifications.models import SENT, Notification
from notifications.notifier import Simulator, provider_id
from notifications.optouts import opted_out
from notifications.outbox import enqueue
from notifications.simulator import SimulatorServer
from xiaobao import db
from xiaobao import settings as settings_module
from xiaobao.db import session_factory
from xiaobao.settings import REPO_ROOT

from .conftest import PORTAL, item, uscc

ENTERPRISES = 200


def cli_env(engine, tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOBAO_")}
    env.update({
        "XIAOBAO_HOME": str(tmp_path),
        "XIAOBAO_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "XIAOBAO_NOTIFY_HOURS": '["00:00-24:00"]', "XIAOBAO_NOTIFY_EVERY_DAY": "true",
        "XIAOBAO_NOTIFY_PER_MINUTE": "100000", "XIAOBAO_NOTIFY_RETRY_BASE_S": "0",
        "XIAOBAO_NOTIFY_MAX_ATTEMPTS": "1000", "XIAOBAO_NOTIFY_INTERVAL_S": "0.05",
        "XIAOBAO_NOTIFY_TIMEOUT_S": "20", **extra})
    return env


def notify(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "notifications.cli", *args], cwd=REPO_ROOT,
                            env=env, **kwargs)


def sent_rows(engine) -> int:
    with session_factory(engine)() as s:
        return int(s.scalar(select(func.count()).select_from(Notification)
                            .where(Notification.status == SENT)) or 0)


def test_killed_dispatcher_and_a_flaky_provider_still_deliver_each_notification_once(
        engine, tmp_path):
    with session_factory(engine)() as s:
        enqueue(s, [item(n) for n in range(ENTERPRISES)], portal_url=PORTAL)
        s.commit()
    simulator = Simulator(fail_rate=0.25, lost_ack_rate=0.25, seed=24)
    server = SimulatorServer(simulator, hold_at=60).start()
    env = cli_env(engine, tmp_path, XIAOBAO_NOTIFY_SMS_URL=server.url)
    log = (tmp_path / "dispatch.log").open("w")
    processes: list[subprocess.Popen] = []
    try:
        first = notify("dispatch", env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.append(first)
        assert server.held.wait(15), "the dispatcher never reached the 60th message"
        first.send_signal(signal.SIGKILL)  # the provider has it; the dispatcher never hears
        first.wait(5)
        held = server.held_id
        with session_factory(engine)() as s:
            row = s.get(Notification, held)
            assert row.status != SENT  # lost with the process, not in the record
            done_before = sent_rows(engine)
        assert 0 < done_before < ENTERPRISES
        server.release()

        second = notify("dispatch", env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.append(second)
        deadline = time.monotonic() + 15
        while sent_rows(engine) < ENTERPRISES and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(5)
        log.close()
        server.stop()

    with session_factory(engine)() as s:
        rows = list(s.scalars(select(Notification)))
    assert len(rows) == ENTERPRISES and {r.status for r in rows} == {SENT}, \
        (tmp_path / "dispatch.log").read_text()[-2000:]
    assert sorted(m.uscc for m in simulator.received.values()) == \
        sorted(uscc(n) for n in range(ENTERPRISES))  # one message each, none twice
    assert all(r.provider_message_id == provider_id(r.id) for r in rows)
    assert simulator.tries[held] >= 2  # resent after the kill, kept once
    resent = sum(n - 1 for n in simulator.tries.values())
    assert resent > ENTERPRISES * 0.5  # the provider did fail about half the sends


@pytest.fixture
def on_engine(engine, monkeypatch, tmp_path):
    """The in-process command line's settings point at the test database."""
    for name, value in cli_env(engine, tmp_path).items():
        if name.startswith("XIAOBAO_"):
            monkeypatch.setenv(name, value)
    settings_module.get_settings.cache_clear()
    db.get_engine.cache_clear()
    yield engine
    db.get_engine.cache_clear()
    settings_module.get_settings.cache_clear()


def test_status_and_opt_out_commands(on_engine):
    with session_factory(on_engine)() as s:
        enqueue(s, [item(1), item(2), item(2, policy="pol-002")], portal_url=PORTAL)
        s.commit()

    def run(*args: str):
        return CliRunner().invoke(app, list(args))

    done = run("opt-out", uscc(2))
    assert done.exit_code == 0 and "已退订" in done.stdout
    assert "此前已退订" in run("opt-out", uscc(2)).stdout
    bad = run("opt-out", "123")
    assert bad.exit_code == 2 and "统一社会信用代码" in bad.stderr
    assert isinstance(bad.exception, SystemExit)  # told, not a stack trace
    with session_factory(on_engine)() as s:
        assert opted_out(s, uscc(2))
    status = run("status")
    lines = [line.split() for line in status.stdout.splitlines()]
    assert lines[0][:5] == ["policy", "notified", "pending", "failed", "opted_out"]
    assert lines[1:] == [["pol-001", "0", "1", "0", "1", "-", "-"],
                         ["pol-002", "0", "0", "0", "1", "-", "-"]]
    once = run("dispatch", "--once")  # no provider configured: the simulator stands in
    assert once.exit_code == 0 and "sent=1" in once.stdout
    [_, after] = run("status", "--policy", "pol-001").stdout.splitlines()
    assert after.split()[:5] == ["pol-001", "1", "0", "0", "1"]

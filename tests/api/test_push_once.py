"""政策推送 sends once, end to end through real processes: a policy is published through a
gateway process that is SIGKILLed as the request arrives, restarted, and published again if
the first attempt did not land; the batch is run twice more from the command line (a retry);
then a dispatcher sends through a provider failing half its sends and is SIGKILLed with a
message in flight, then restarted. Every newly eligible enterprise of the register ends with
exactly one notification row and exactly one message at the provider; nobody else gets one."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from enterprises.importing import import_files as import_register
from enterprises.uscc import check_character
from notifications.models import SENT, Notification
from notifications.notifier import Simulator
from notifications.simulator import SimulatorServer
from policies import editing
from policies import store as policy_store
from xiaobao.accounts import create_account
from xiaobao.db import session_factory
from xiaobao.settings import REPO_ROOT

POLICY = {"id": "hire-30", "title": "吸纳就业补贴", "category": "奖补", "mode": "依申请",
          "department": "区人社局", "document": {"title": "文件", "doc_no": "宝人社〔2026〕9号"},
          "benefit": "每人补贴。", "apply": "一网通办“就业补贴”事项。",
          "conditions": {"field": "employees", "op": "ge", "value": 30}}
ENTERPRISES = 120  # employees 1..120: the 91 with 30 or more are newly eligible


def code(n: int) -> str:
    first17 = f"91310113{n:09d}"
    return first17 + check_character(first17)


def cli(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=REPO_ROOT, env=env,
                            **kwargs)


def rows_of(engine) -> list[Notification]:
    with session_factory(engine)() as s:
        return list(s.scalars(select(Notification).where(Notification.policy_id == "hire-30")))


def publish(base: str) -> httpx.Response:
    with httpx.Client(base_url=base, headers={"Origin": base}, timeout=30) as editor:
        assert editor.post("/api/auth/login", json={"username": "ed", "password": "ed-pass-12345"}
                           ).status_code == 200
        return editor.post("/api/policies/hire-30/publish", json={"why": "上线"})


def test_each_newly_eligible_enterprise_is_notified_once_through_kills_and_failures(
        gateway_process, tmp_path: Path):
    engine = gateway_process.engine
    register = tmp_path / "register.csv"
    register.write_text("uscc,name,employees\n" + "".join(
        f"{code(n)},企业{n},{n}\n" for n in range(1, ENTERPRISES + 1)), encoding="utf-8")
    with session_factory(engine)() as s:
        import_register(s, [register], source="人社", by="test")
        editing.create(s, POLICY, "author")
        policy_store.submit(s, "hire-30", "author")
        create_account(s, "ed", "ed-pass-12345", roles=["editor"])
        s.commit()
    eligible = sorted(code(n) for n in range(30, ENTERPRISES + 1))

    gateway_process.start()
    sent = threading.Thread(target=lambda: _try(publish, gateway_process.base), daemon=True)
    sent.start()
    time.sleep(0.05)
    gateway_process.kill()  # as the request arrives: it lands whole or not at all
    sent.join(30)
    gateway_process.start()
    with session_factory(engine)() as s:
        live = policy_store.get_item(s, "hire-30").status == "published"
    if not live:
        assert publish(gateway_process.base).status_code == 200
    env = gateway_process.env
    for _ in range(2):  # a retried batch adds nothing
        assert cli("policy", "batch", "--policy", "hire-30", env=env,
                   stdout=subprocess.DEVNULL).wait(120) == 0
    rows = rows_of(engine)
    assert sorted(r.uscc for r in rows) == eligible and {r.kind for r in rows} == {"eligible"}

    simulator = Simulator(fail_rate=0.25, lost_ack_rate=0.25, seed=7)
    server = SimulatorServer(simulator, hold_at=30).start()
    env = {**env, "XIAOBAO_NOTIFY_HOURS": '["00:00-24:00"]', "XIAOBAO_NOTIFY_EVERY_DAY": "true",
           "XIAOBAO_NOTIFY_PER_MINUTE": "100000", "XIAOBAO_NOTIFY_RETRY_BASE_S": "0",
           "XIAOBAO_NOTIFY_MAX_ATTEMPTS": "1000", "XIAOBAO_NOTIFY_INTERVAL_S": "0.05",
           "XIAOBAO_NOTIFY_SMS_URL": server.url}
    log = (tmp_path / "dispatch.log").open("w")
    processes = []
    try:
        first = cli("notify", "dispatch", env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.append(first)
        assert server.held.wait(30), "the dispatcher never reached the 30th message"
        gateway_process.kill()  # the gateway dies meanwhile too: nothing depends on it
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        server.release()
        second = cli("notify", "dispatch", env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.append(second)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(r.status != SENT for r in rows_of(engine)):
            time.sleep(0.2)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(5)
        log.close()
        server.stop()
    rows = rows_of(engine)
    assert {r.status for r in rows} == {SENT}, (tmp_path / "dispatch.log").read_text()[-2000:]
    assert sorted(m.uscc for m in simulator.received.values()) == eligible  # once each
    assert sum(n - 1 for n in simulator.tries.values()) > len(eligible) * 0.3  # it did fail


def _try(call, *args):
    try:
        return call(*args)
    except httpx.HTTPError:
        return None  # the gateway died under the request

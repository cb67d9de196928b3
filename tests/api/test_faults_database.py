"""PostgreSQL killed under chat traffic (issue 21, "Database faults"), with real processes.

A PostgreSQL cluster of the test's own (tests/postgres_server.py), the gateway under uvicorn on
it, the stand-in Rasa; three clients send chat messages for ~20 s, each with its own message
id, sending it again after a failure as the portal does (api/static/outgoing.js). Meanwhile
PostgreSQL is killed with SIGKILL twice: once started again at once (the recovery time, kill →
first 200, is measured), once left down for 4 s (the users are told "发送失败，请重试").
Afterwards the audit, from the clients' own logs against the record:

* every message answered 200 is in the record exactly once (by its client id), and none twice;
* every failure is a 503 with the error body (send_failed for a message, database_unavailable
  for another route), never a 500, and the gateway logged no unhandled error;
* once the database answered again, no 5xx.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import select

from api.conversation import client_id_of
from tests.api.conftest import GatewayProcess, StandInRasa
from tests.postgres_server import PostgresServer, postgres_server
from xiaobao.conversations import Message
from xiaobao.db import make_engine, session_scope, upgrade

pytestmark = pytest.mark.serial  # the recovery time is a duration gate

CLIENTS = 3
RECOVERY_BOUND_S = 15.0


@dataclass
class PostgresGateway(GatewayProcess):
    database_url: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "XIAOBAO_DATABASE_URL": self.database_url,
                "XIAOBAO_CHAT_PER_VISITOR_PER_MINUTE": "10000",
                "XIAOBAO_CHAT_PER_IP_PER_MINUTE": "10000"}


@dataclass
class Attempt:
    message_id: str
    started: float
    ended: float
    status: int  # 0: no answer (the request itself failed)
    code: str = ""
    message: str = ""


@dataclass
class Client:
    index: int
    base: str
    http: httpx.Client = field(init=False)
    attempts: list[Attempt] = field(default_factory=list)
    delivered: set[str] = field(default_factory=set)  # answered 200
    given_up: set[str] = field(default_factory=set)  # the user was told, then the run ended

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base, timeout=15,
                                 headers={"Origin": self.base})

    def run(self, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            message_id = f"m-{self.index}-{n}"
            while True:  # as the portal: the same id until it went through
                attempt = self.send(message_id)
                if attempt.status == 200:
                    self.delivered.add(message_id)
                    break
                if stop.is_set():
                    self.given_up.add(message_id)
                    break
                time.sleep(0.3)
            time.sleep(0.05)

    def send(self, message_id: str) -> Attempt:
        started = time.monotonic()
        try:
            response = self.http.post("/api/chat/messages",
                                      json={"text": f"问题 {message_id}",
                                            "message_id": message_id})
            status = response.status_code
            error = response.json().get("error", {}) if status != 200 else {}
        except httpx.HTTPError as exc:
            status, error = 0, {"code": type(exc).__name__}
        attempt = Attempt(message_id, started, time.monotonic(), status,
                          error.get("code", ""), error.get("message", ""))
        self.attempts.append(attempt)
        return attempt


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        engine = make_engine(server.url)
        upgrade(engine)
        engine.dispose()
        yield server


@pytest.fixture
def gateway(tmp_path, pg: PostgresServer, redis_url: str, redis_client,
            rasa: StandInRasa) -> Iterator[PostgresGateway]:
    engine = make_engine(pg.url)
    gw = PostgresGateway(home=tmp_path, redis_url=redis_url, rasa_url=rasa.url,
                         rasa_token=rasa.secret, engine=engine, redis=redis_client,
                         database_url=pg.url)
    gw.start()
    yield gw
    gw.kill()
    engine.dispose()


def test_postgres_killed_under_chat_loses_nothing_and_recovers(
        gateway: PostgresGateway, pg: PostgresServer) -> None:
    clients = [Client(i, gateway.base) for i in range(CLIENTS)]
    probe = Client(CLIENTS, gateway.base)  # its own visitor cookie, for the probes below
    assert probe.send("m-probe").status == 200
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    time.sleep(4)

    # 1. A crash and a start again at once: the recovery time.
    killed_at = time.monotonic()
    pg.kill()
    pg.start()
    up_at = time.monotonic()
    time.sleep(5)

    # 2. Down for 4 s: the users are told, another route answers 503 too, never 500.
    down_at = time.monotonic()
    pg.kill()
    time.sleep(1.5)
    unsafe = probe.http.post("/api/chat/messages", json={"text": "没有编号的消息"})  # no retry
    history = probe.http.get("/api/chat/history")
    time.sleep(2.5)
    pg.start()
    back_at = time.monotonic()
    time.sleep(6)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads)

    attempts = [a for c in clients for a in c.attempts]
    statuses = sorted({a.status for a in attempts})
    print(f"\n{len(attempts)} attempts, statuses {statuses}, "
          f"{sum(len(c.delivered) for c in clients)} messages delivered")

    t0 = killed_at
    print(f"kill1 0, up {up_at - t0:.2f}, kill2 {down_at - t0:.2f}, back {back_at - t0:.2f}")
    for a in sorted(attempts, key=lambda a: a.started):
        if a.status != 200:
            print(f"  {a.message_id} {a.started - t0:.2f}..{a.ended - t0:.2f} {a.status} {a.code}")
    # Told plainly, never a 500 or a stack trace.
    assert unsafe.status_code == 503, unsafe.text
    assert unsafe.json()["error"]["code"] == "send_failed"
    assert unsafe.json()["error"]["message"].startswith("发送失败，请重试")
    assert history.status_code == 503, history.text
    assert history.json()["error"]["code"] == "database_unavailable"
    failures = [a for a in attempts if a.status != 200]
    assert all(a.status == 503 and a.code == "send_failed"
               and a.message.startswith("发送失败，请重试") for a in failures), failures
    assert any(down_at <= a.ended <= back_at + 3 for a in failures), \
        "4 s without the database told no user"
    assert "unhandled error" not in gateway.log()
    assert "Traceback" not in gateway.log()

    # Recovered: kill → the first 200 of a request sent after the kill.
    first_ok = min(a.ended for a in attempts
                   if a.status == 200 and a.started >= killed_at and a.ended < down_at)
    first_ok_after_outage = min(a.ended for a in attempts
                                if a.status == 200 and a.started >= down_at)
    recovery_s, outage_recovery_s = first_ok - killed_at, first_ok_after_outage - back_at
    print(f"kill -9 + start: PostgreSQL up in {up_at - killed_at:.2f} s, first 200 "
          f"{recovery_s:.2f} s after the kill; after the 4 s outage, first 200 "
          f"{outage_recovery_s:.2f} s after PostgreSQL was back")
    assert recovery_s < RECOVERY_BOUND_S
    assert outage_recovery_s < RECOVERY_BOUND_S
    # Once the database answered again, no 5xx (until the next kill).
    for since, until in ((first_ok, down_at), (first_ok_after_outage, float("inf"))):
        late = [a for a in attempts if since <= a.started and a.ended < until and a.status != 200]
        assert late == [], late

    # The record: every 200 exactly once; a failure told and then sent again, once at most.
    with session_scope(gateway.engine) as s:
        kept = {m.client_id: m for m in s.scalars(select(Message).where(
            Message.role == "user", Message.client_id.is_not(None)))}
        for c in clients:
            conversation_id = gateway.conversation_of(c.http)
            rows = list(s.scalars(select(Message).where(
                Message.conversation_id == conversation_id, Message.role == "user")))
            sent = c.delivered | c.given_up
            by_id = {client_id_of(conversation_id, mid): mid for mid in sent}
            assert len(rows) == len({r.client_id for r in rows}), "a message kept twice"
            assert {r.client_id for r in rows} <= set(by_id), "a message nobody sent"
            for mid in c.delivered:
                row = kept.get(client_id_of(conversation_id, mid))
                assert row is not None and row.text == f"问题 {mid}", f"{mid} answered, not kept"
    for c in clients:
        c.http.close()
    probe.http.close()

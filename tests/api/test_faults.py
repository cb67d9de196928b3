"""The gateway keeps serving when Rasa or Redis fails (issue 12, "Faults"), end to end.

Real processes on free ports: a Redis of the test's own (stopped and started again on the same
port), the gateway under uvicorn with the seed knowledge base and its real retriever, and — from
the fourth test on — ``rasa run`` with the trained model, its trackers and locks in that Redis.
The tests run in order and share the layout (one Rasa start in the file):

1-3. no Rasa listening (as while it loads its model): the gateway answers from the knowledge
     base with the notice (api/fallback.py), 转人工 makes a ticket that reaches its Redis
     stream, 12345 points to 留言, and 留言 works;
4.   Rasa up: the next message is Rasa's again, with the very card the gateway gave;
5.   Redis stopped: chat still answers, a 转人工 gets its receipt and its publication waits in
     the outbox; a logged-in helper's session holds (SQL); Redis back: the ticket reaches its
     stream within seconds, the helper claims it and the console socket connects again.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from api.fallback import CALL_BACK_NEEDS_BOT, NOTICE
from handoff.config import packaged_config
from handoff.outbox import ENQUEUE, OutboxRow
from handoff.store import Ticket
from tests.bot.stack import (
    ACTION_TOKEN,
    LOAD_TEST_LIMITS,
    MODEL,
    RASA,
    REPO,
    TOKEN,
    UVICORN,
    XIAOBAO,
    _endpoints,
    free_port,
    open_hours_config,
    wait_until,
)
from tests.redis_server import RedisServer, redis_server_binary
from xiaobao.accounts import create_account
from xiaobao.conversations import conversation_id_for
from xiaobao.db import make_engine, session_scope
from xiaobao.events import Event
from xiaobao.settings import Settings

QUESTION = "个体工商户怎么办理营业执照"  # a seed question the decision answers
NEAR_TIE = "怎么办理营业执照"  # two entries close together: 您是不是想问
NOWHERE = "猫咪生病了怎么办"  # nothing in the knowledge base: abstain
SECRET = "faults-test-secret"


class RestartableRedis(RedisServer):
    """The tests' own redis-server, which can die and come back empty on the same port."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        super().__init__(workdir)

    def start_again(self) -> None:
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, 10, "redis-server", self.proc)

    def answers(self) -> bool:
        client = self.client()
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
        finally:
            client.close()


@dataclass
class Layout:
    home: Path
    redis: RestartableRedis
    gateway_port: int
    rasa_port: int
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)
    seen: dict = field(default_factory=dict)  # what one test leaves for the next

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def engine(self):
        return make_engine(self.env["XIAOBAO_DATABASE_URL"])

    def spawn(self, args: list, name: str) -> subprocess.Popen:
        log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115  (the child keeps it open)
        proc = subprocess.Popen([str(a) for a in args], cwd=REPO, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def layout(tmp_path_factory, seeded_retriever) -> Iterator[Layout]:
    home = tmp_path_factory.mktemp("faults")
    # The session's index of the same seed: the gateway loads it when its fingerprint (entries,
    # versions, model, dictionary) matches, instead of embedding the seed again (~1 min here).
    shutil.copytree(seeded_retriever.index_dir, home / "index")
    server = RestartableRedis(home)
    gateway_port, rasa_port = free_port(), free_port()
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith("XIAOBAO_") and k != "REDIS_URL"}
    env = {**inherited,
           "XIAOBAO_HOME": str(home),
           "XIAOBAO_DATABASE_URL": f"sqlite:///{home / 'xiaobao.db'}",
           "REDIS_URL": server.url,
           "XIAOBAO_EMBEDDING_MODEL_DIR": str(Settings().model_dir),
           "XIAOBAO_RASA_URL": f"http://127.0.0.1:{rasa_port}",  # nothing listens there yet
           "XIAOBAO_RASA_TOKEN": TOKEN, "XIAOBAO_ACTION_TOKEN": ACTION_TOKEN,
           "XIAOBAO_RASA_TIMEOUT_S": "10",
           "XIAOBAO_SECRET_KEY": SECRET,
           "XIAOBAO_GATEWAY_PORT": str(gateway_port),
           "XIAOBAO_HANDOFF_CONFIG": str(open_hours_config(home)),
           **{f"XIAOBAO_{name.upper()}": "0" for name in LOAD_TEST_LIMITS},
           # Counted in Redis, so test 5 sees them let through while it is down.
           "XIAOBAO_CHAT_PER_VISITOR_PER_MINUTE": "1000", "XIAOBAO_CHAT_PER_IP_PER_MINUTE": "1000",
           "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONWARNINGS": "ignore::DeprecationWarning",
           "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    layout = Layout(home, server, gateway_port, rasa_port, env)
    try:
        subprocess.run([str(XIAOBAO), "kb", "seed"], cwd=REPO, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
        gateway = layout.spawn([UVICORN, "--factory", "api.main:create_app", "--host",
                                "127.0.0.1", "--port", gateway_port], "gateway")
        # Start-up builds the index from the seed knowledge base (a minute at most here).
        wait_until(lambda: httpx.get(f"{layout.base}/healthz", timeout=2).status_code == 200,
                   240, "gateway", gateway)
        yield layout
    finally:
        for proc in reversed(layout.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in layout.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.stop()


# --- what a browser and a helper do ----------------------------------------------------------

def browser(layout: Layout) -> httpx.Client:
    client = httpx.Client(base_url=layout.base, timeout=30, headers={"Origin": layout.base})
    assert client.get("/").status_code == 200  # the visitor cookie
    return client


def conversation_of(user: httpx.Client) -> str:
    return conversation_id_for(user.cookies["xiaobao_visitor"], SECRET)


def say(user: httpx.Client, text: str) -> dict:
    response = user.post("/api/chat/messages", json={"text": text})
    assert response.status_code == 200, response.text
    return response.json()


def click(user: httpx.Client, reply: dict, payload_start: str) -> dict:
    """Click the first button of the last reply whose payload starts so."""
    payload = next(b["payload"] for m in reply["messages"] for b in m["buttons"]
                   if b["payload"].startswith(payload_start))
    return say(user, payload)


def events_of(layout: Layout, conversation_id: str, kind: str) -> list[dict]:
    engine = layout.engine
    try:
        with session_scope(engine) as s:
            return [e.data for e in s.scalars(select(Event).where(
                Event.conversation_id == conversation_id, Event.kind == kind)
                .order_by(Event.pk))]
    finally:
        engine.dispose()


def stream_entries(layout: Layout, ticket_id: str) -> int:
    """How many entries of the department streams name this ticket."""
    r = layout.redis.client()
    try:
        return sum(1 for key in r.scan_iter("xiaobao:queue:*")
                   for _entry, fields in r.xrange(key) if fields.get("ticket_id") == ticket_id)
    finally:
        r.close()


def helper(layout: Layout, username: str) -> httpx.Client:
    engine = layout.engine
    with session_scope(engine) as s:
        create_account(s, username, "correct-horse", roles=["helper"],
                       departments=list(packaged_config().departments))
    engine.dispose()
    client = httpx.Client(base_url=layout.base, timeout=30, headers={"Origin": layout.base})
    assert client.post("/api/auth/login", json={"username": username,
                                                "password": "correct-horse"}).status_code == 200
    assert client.post("/api/helper/status", json={"status": "on_duty"}).status_code == 200
    return client


# --- 1-3: no Rasa ---------------------------------------------------------------------------

def test_without_rasa_a_question_gets_the_knowledge_bases_card_and_the_notice(layout):
    user = browser(layout)
    started = time.monotonic()
    body = say(user, QUESTION)
    print(f"first fallback answer in {time.monotonic() - started:.2f} s")
    notice, card = body["messages"]
    assert notice.pop("id") > 0  # a turn of the record, by its id
    assert notice == {"role": "notice", "text": NOTICE, "buttons": [],
                      "custom": {"leave_message": True}}
    assert card["role"] == "bot" and "来源：" in card["text"] and "有效期" in card["text"]
    assert [b["title"] for b in card["buttons"]] == ["有帮助", "没帮助", "转人工"]
    layout.seen["card"] = card["text"]

    conversation_id = conversation_of(user)
    assert events_of(layout, conversation_id, "bot_failure") == [{"failure": "unreachable"}]
    assert events_of(layout, conversation_id, "fallback_turn") == [
        {"served": "answer", "failure": "unreachable"}]
    [answered] = events_of(layout, conversation_id, "bot_answer")
    assert answered["decision"] == "answer" and answered["fallback"] is True
    assert answered["query"] == QUESTION and answered["category"]

    # 您是不是想问: a click shows that entry's card.
    suggested = say(user, NEAR_TIE)["messages"][1]
    assert suggested["text"] == "您是不是想问："
    chosen = click(user, {"messages": [suggested]}, "/choose_entry")["messages"]
    assert chosen[0]["text"] == NOTICE and "来源：" in chosen[1]["text"]
    [clicked] = events_of(layout, conversation_id, "suggestion_clicked")
    assert f'"entry_id":"{clicked["entry_id"]}"' in suggested["buttons"][0]["payload"]
    # The whole conversation is in the record, as the page shows it after a reload.
    history = user.get("/api/chat/history").json()["messages"]
    assert [m["role"] for m in history] == ["user", "notice", "bot"] * 3


def test_without_rasa_a_human_is_still_asked_for_and_the_ticket_reaches_its_stream(layout):
    user = browser(layout)
    answered = say(user, QUESTION)
    handed = click(user, answered, "/request_human")
    assert handed["messages"][0]["text"] == NOTICE
    assert "工单号" in handed["messages"][1]["text"]
    assert handed["mode"] == "waiting" and handed["ticket"]["status"] == "queued"
    ticket_id = handed["ticket"]["id"]
    engine = layout.engine
    with session_scope(engine) as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket.conversation_id == conversation_of(user)
        assert ticket.topic == QUESTION and ticket.department == handed["ticket"]["department"]
        assert [t["text"] for t in ticket.context["last_turns"] if t["role"] == "user"][0] == \
            QUESTION
    engine.dispose()
    assert stream_entries(layout, ticket_id) == 1
    # While waiting, what the user writes goes to the ticket, not to the (absent) bot.
    assert say(user, "请尽快")["messages"] == []

    # Typed 转人工 in another conversation, with no question before: the central desk.
    other = browser(layout)
    typed = say(other, "转人工")
    assert "工单号" in typed["messages"][1]["text"] and typed["mode"] == "waiting"
    assert typed["ticket"]["department"] == packaged_config().central_department
    assert stream_entries(layout, typed["ticket"]["id"]) == 1

    # The 12345 call-back's form needs Rasa: 留言 and 人工帮办 are offered, nothing is booked.
    third = browser(layout)
    abstained = say(third, NOWHERE)
    call = click(third, abstained, "/request_12345_call")
    assert call["messages"][1]["text"] == CALL_BACK_NEEDS_BOT
    assert [b["payload"] for b in call["messages"][1]["buttons"]] == ["/request_human"]
    assert call["mode"] == "bot" and call["ticket"] is None


def test_without_rasa_a_message_can_be_left(layout):
    user = browser(layout)
    say(user, NOWHERE)
    left = user.post("/api/chat/leave-message", json={"text": "想咨询宠物医院的开业手续",
                                                       "phone": "13812345678"})
    assert left.status_code == 201, left.text
    [mine] = user.get("/api/chat/left-messages").json()["messages"]
    assert mine["text"] == "想咨询宠物医院的开业手续" and mine["status"] == "open"


# --- 4: Rasa comes up ---------------------------------------------------------------------------

def test_once_rasa_is_up_the_next_message_is_answered_by_rasa(layout):
    user = browser(layout)
    assert say(user, QUESTION)["messages"][0]["text"] == NOTICE  # still loading: the gateway

    endpoints = layout.home / "endpoints.yml"
    endpoints.write_text(_endpoints(layout.gateway_port, layout.redis.port))
    started = time.monotonic()
    rasa = layout.spawn([RASA, "run", "--model", MODEL, "--endpoints", endpoints,
                         "--credentials", REPO / "credentials.yml", "--port", layout.rasa_port,
                         "-i", "127.0.0.1", "--enable-api", "--auth-token", TOKEN], "rasa")
    # Until the model is loaded the port is closed: every message meanwhile is the gateway's.
    wait_until(lambda: httpx.get(f"http://127.0.0.1:{layout.rasa_port}/status",
                                 params={"token": TOKEN}, timeout=2).json().get("model_file"),
               240, "rasa run", rasa)
    print(f"rasa run ready in {time.monotonic() - started:.1f} s")

    body = say(user, QUESTION)
    assert [m["role"] for m in body["messages"]] == ["bot"], body  # no notice: Rasa answered
    assert body["messages"][0]["text"] == layout.seen["card"]  # the card the gateway gave
    assert len(events_of(layout, conversation_of(user), "fallback_turn")) == 1


# --- 5: Redis stops and comes back -------------------------------------------------------------

def metric(layout: Layout, name: str, label: str) -> float:
    text = httpx.get(f"{layout.base}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and label in line)


def test_redis_down_chat_answers_handoffs_wait_in_the_outbox_and_go_out_when_it_returns(layout):
    staff = helper(layout, "ann")
    user = browser(layout)
    layout.redis.stop()
    try:
        started = time.monotonic()
        answered = say(user, QUESTION)
        print(f"answer with Redis down in {time.monotonic() - started:.2f} s "
              f"({'gateway' if answered['messages'][0]['text'] == NOTICE else 'Rasa'})")
        assert answered["messages"][-1]["text"] == layout.seen["card"]
        # The 转人工 button works without Redis: the offered payloads come from the record.
        handed = click(user, answered, "/request_human")
        assert "工单号" in handed["messages"][-1]["text"] and handed["mode"] == "waiting"
        ticket_id = handed["ticket"]["id"]
        engine = layout.engine
        with session_scope(engine) as s:
            waiting = list(s.scalars(select(OutboxRow.kind).where(
                OutboxRow.conversation_id == conversation_of(user))))
        engine.dispose()
        assert ENQUEUE in waiting
        # The user's next words reach the ticket (mode from SQL), the limits let them through.
        assert say(user, "我等一下")["mode"] == "waiting"
        assert metric(layout, "xiaobao_redis_degraded_total", 'what="rate_limit"') > 0
        # The helper's console session lives in SQL.
        me = staff.get("/api/helper/me")
        assert me.status_code == 200 and me.json()["account"]["username"] == "ann"
        # Its live socket cannot be kept current without Redis: closed with 1013 (try again
        # later), not a server error, so the page backs off and reconnects.
        cookie = "; ".join(f"{k}={v}" for k, v in staff.cookies.items())
        with connect(f"ws://127.0.0.1:{layout.gateway_port}/ws/console", open_timeout=10,
                     additional_headers={"Cookie": cookie}, origin=layout.base) as socket:
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    finally:
        layout.redis.start_again()
    back = time.monotonic()
    wait_until(lambda: stream_entries(layout, ticket_id) == 1, 15, "the ticket in its stream")
    print(f"ticket in its stream {time.monotonic() - back:.2f} s after Redis returned")

    # Heartbeats went with Redis's data: the console's next heartbeat, then the claim.
    assert staff.post("/api/helper/heartbeat").status_code == 200
    claimed = staff.post(f"/api/helper/tickets/{ticket_id}/claim")
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["ticket"]["status"] == "claimed"
    # The console's socket connects again (its page reconnects with back-off by itself).
    cookie = "; ".join(f"{k}={v}" for k, v in staff.cookies.items())
    with connect(f"ws://127.0.0.1:{layout.gateway_port}/ws/console", open_timeout=10,
                 additional_headers={"Cookie": cookie}, origin=layout.base) as socket:
        assert '"snapshot"' in socket.recv(timeout=10)
    assert redis.Redis(port=layout.redis.port).ping()

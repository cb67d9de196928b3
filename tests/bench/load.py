"""A load generator for the chat: browsers playing a realistic mix against a real stack, and
helpers answering them through the console's API.

Each virtual user is one browser (its own cookie jar, ``GET /`` first for the visitor cookie,
the ``Origin`` header a browser sends) posting turns back to back to ``POST
/api/chat/messages``: questions (the seed knowledge base's wording, colloquial paraphrases of
its entries, a few off-topic ones), a 您是不是想问 suggestion it was offered, 有帮助 / 没帮助,
转人工 (the handoff form, then the wait, the helper, the 好差评 the bot asks for afterwards),
12345 call-backs (phone and time window). After a few turns it closes the browser and a new
visitor comes. Helper tasks log in, go on duty, keep their heartbeat,
claim tickets from both channels, answer and resolve them.

Everything the generator sends and every receipt it is given goes into a :class:`Ledger`, so
that :mod:`tests.bench.reconcile` can prove afterwards that the SQL record holds each of them
exactly once. ``run_curve`` measures turns/s and latency per concurrency level.

asyncio + httpx rather than locust: the flows are stateful per browser (offered buttons, the
ticket's life, the ledger), which locust would only wrap, and it would add a dependency and a
second process model for no measurement it does better.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from handoff.config import load_config
from knowledge_base.cli import SEED_DIR
from knowledge_base.io import parse_entries
from retrieval.evaluate import load_examples
from tests.bot.stack import open_hours_config
from xiaobao.accounts import create_account
from xiaobao.db import make_engine, session_scope

EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "eval"
HELPER_PASSWORD = "load-helper-pass-1"
TURN_TIMEOUT_S = 60.0
HELPER_ATTEMPTS = 3
HELPER_POLL_S = 1.0  # a console's claim poll
HEARTBEAT_S = 10.0  # well inside heartbeat_ttl_s (30 s)
HANDLE_S = 1.5  # a helper's "handling time" between the greeting and the close
MAX_WAIT_FOR_HELPER_S = 45.0
TICKET_ID = re.compile(r"工单号\s*([0-9a-f]{32})")
RATING_RECORDED = re.compile(r"评价（(非常满意|满意|基本满意|不满意|非常不满意)）")
COMPANIES = ["上海宝丰贸易有限公司", "上海宝钢物流有限公司", "上海顾村餐饮管理有限公司", "跳过"]
WAITING_LINES = ["请问大概还要等多久？", "好的，我等一下。", "我的问题比较急，麻烦尽快。"]
HUMAN_LINES = ["您好，我想确认一下需要带哪些材料。", "好的，明白了，谢谢。", "那线上能办吗？"]
SMALL_TALK = ["你好", "谢谢", "你是机器人吗", "在吗"]
RATINGS = ["非常满意", "满意", "基本满意", "不满意"]


# --- what the generator did: the ledger --------------------------------------------------------

@dataclass
class SentTurn:
    """One ``POST /api/chat/messages``: what was sent, what the record should show, the reply."""

    conversation_id: str
    kind: str  # question, suggestion, helpful, unhelpful, human, call, form, waiting, ...
    sent: str
    shown: str  # a button click is recorded as the button's title
    status: int  # HTTP status; 0 when no response came (timeout, connection error)
    mode_before: str
    mode_after: str = ""
    replies: list[list[str]] = field(default_factory=list)  # [role, text] as returned
    ticket_id: str = ""  # a new ticket the conversation got with this reply (its receipt)
    named_tickets: list[str] = field(default_factory=list)  # 工单号 the reply's text names
    error_code: str = ""
    level: str = ""
    started_s: float = 0.0
    ms: float = 0.0

    @property
    def recorded(self) -> bool | None:
        """Whether the record must hold the user's turn: True, False, or None (cannot know)."""
        if self.status == 200 or (self.status == 503 and self.error_code == "bot_unavailable"):
            return True
        if 400 <= self.status < 500:
            return False  # refused before the record (too long, empty, limits, origin)
        return None


@dataclass
class HelperMessage:
    ticket_id: str
    conversation_id: str
    text: str
    message_id: str
    status: int


@dataclass
class Rated:
    conversation_id: str
    ticket_id: str
    rating: str
    # False: the bot said it recorded a rating the user never clicked (it read a question
    # as one); which case it rated is the bot's guess, so only the level is checked.
    asked: bool = True


@dataclass
class Ledger:
    """Everything sent and every receipt, in the order it happened, for the reconciliation."""

    turns: list[SentTurn] = field(default_factory=list)
    receipts: dict[str, str] = field(default_factory=dict)  # ticket id -> conversation id
    helper_messages: list[HelperMessage] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)  # ticket id -> final status
    ratings: list[Rated] = field(default_factory=list)
    handbacks_seen: int = 0
    # Tickets a helper request of which failed (5xx or no answer) at least once.
    uncertain_tickets: set[str] = field(default_factory=set)

    def conversations(self) -> set[str]:
        return {t.conversation_id for t in self.turns if t.conversation_id}

    def to_dict(self) -> dict:
        return {"turns": [asdict(t) for t in self.turns], "receipts": self.receipts,
                "helper_messages": [asdict(m) for m in self.helper_messages],
                "outcomes": self.outcomes, "ratings": [asdict(r) for r in self.ratings],
                "uncertain_tickets": sorted(self.uncertain_tickets)}


# --- the questions users ask -------------------------------------------------------------------

@dataclass(frozen=True)
class Questions:
    """What users type: the seed knowledge base's own wording (each published entry's question
    and similar questions), colloquial paraphrases of those entries (the evaluation set's
    in-scope queries, which most often get 您是不是想问), and off-topic or near-domain ones (the
    bot abstains and offers 人工帮办 / 12345)."""

    seed: list[str]
    colloquial: list[str]
    off_topic: list[str]

    def pick(self, rng: random.Random) -> str:
        kind = rng.choices([self.seed, self.colloquial, self.off_topic], [0.45, 0.45, 0.10])[0]
        return rng.choice(kind)


def user_questions() -> Questions:
    seed: list[str] = []
    for path in sorted(SEED_DIR.glob("*.yaml")):
        for entry in parse_entries(path):
            if entry.status == "published":
                seed += [entry.question, *entry.similar_questions]
    examples = load_examples(sorted(EVAL_DIR.glob("*.jsonl")))
    return Questions(seed, [e.query for e in examples if e.kind == "in_scope"],
                     [e.query for e in examples if e.kind != "in_scope"])


# --- a browser ---------------------------------------------------------------------------------

@dataclass
class Mix:
    """What a user in bot mode does next: offered 您是不是想问, they click one with probability
    ``suggestion``; otherwise one action by these weights (one the last reply did not offer
    falls back to a question). With 3-8 turns a visit, about one visit in six ends with a
    person (转人工 or a 12345 call-back)."""

    suggestion: float = 0.6
    question: float = 0.62
    helpful: float = 0.08
    unhelpful: float = 0.10
    human: float = 0.03
    call: float = 0.015
    small_talk: float = 0.05
    turns_per_visit: tuple[int, int] = (3, 8)


# The quick gate's 20 s must meet every flow a few times: more handoffs and call-backs.
HANDOFF_HEAVY = Mix(human=0.10, call=0.06)


class Browser:
    """One visitor's browser: a cookie jar, the buttons of the last reply, the mode."""

    def __init__(self, base: str, ledger: Ledger, rng: random.Random, level: str):
        self.client = httpx.AsyncClient(base_url=base, headers={"Origin": base},
                                        timeout=TURN_TIMEOUT_S)
        self.ledger, self.rng, self.level = ledger, rng, level
        self.conversation_id = ""
        self.mode = "bot"
        self.buttons: list[dict] = []
        self.ticket_id = ""
        self.page_errors: Counter = Counter()

    async def open(self) -> bool:
        """Load the portal as chat.js does: the page (visitor cookie), then the history, which
        names the conversation before the first turn (so even a turn that gets no answer is
        known in the ledger)."""
        for path in ("/", "/api/chat/history"):
            try:
                response = await self.client.get(path)
            except httpx.HTTPError:
                self.page_errors[0] += 1
                return False
            if response.status_code != 200:
                self.page_errors[response.status_code] += 1
                return False
        self.conversation_id = response.json()["conversation_id"]
        return True

    async def close(self) -> None:
        await self.client.aclose()

    async def say(self, kind: str, text: str, shown: str | None = None) -> SentTurn:
        """Post one turn; the ledger gets it whatever happens."""
        turn = SentTurn(conversation_id=self.conversation_id, kind=kind, sent=text,
                        shown=shown if shown is not None else text, status=0,
                        mode_before=self.mode, level=self.level, started_s=time.monotonic())
        try:
            response = await self.client.post("/api/chat/messages", json={"text": text})
            turn.status = response.status_code
            body = response.json()
        except (httpx.HTTPError, ValueError):
            body = {}
        turn.ms = (time.monotonic() - turn.started_s) * 1000
        if turn.status == 200:
            self.conversation_id = turn.conversation_id = body["conversation_id"]
            messages = body.get("messages") or []
            turn.replies = [[m["role"], m["text"]] for m in messages]
            turn.mode_after = self.mode = body["mode"]
            self.buttons = [b for m in messages for b in m.get("buttons", [])] or (
                self.buttons if self.mode != "bot" else [])
            ticket = (body.get("ticket") or {}).get("id", "")
            turn.named_tickets = [n for _role, text in turn.replies
                                  for n in TICKET_ID.findall(text)]
            if ticket and ticket != self.ticket_id:  # a new ticket: this reply is its receipt
                turn.ticket_id = self.ticket_id = ticket
                self.ledger.receipts[ticket] = self.conversation_id
            if kind != "rating":
                for _role, text in turn.replies:
                    for level in RATING_RECORDED.findall(text):
                        self.ledger.ratings.append(Rated(self.conversation_id, "", level,
                                                         asked=False))
        elif isinstance(body, dict):
            turn.error_code = str((body.get("error") or {}).get("code", ""))
        self.ledger.turns.append(turn)
        return turn

    def offered(self, prefix: str) -> list[dict]:
        return [b for b in self.buttons if b.get("payload", "").startswith(prefix)]

    async def click(self, kind: str, button: dict) -> SentTurn:
        return await self.say(kind, button["payload"], button.get("title") or button["payload"])

    async def poll_mode(self) -> str:
        try:
            response = await self.client.get("/api/chat/queue")
            if response.status_code == 200:
                self.mode = response.json()["mode"]
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        return self.mode

    async def rating_buttons(self, timeout_s: float = 10.0) -> list[dict]:
        """The hand-back asks for the rating after the close; the page reads it from the
        history (the relay pushes it live, but a returning page reads the record)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                messages = (await self.client.get("/api/chat/history")).json()["messages"]
            except (httpx.HTTPError, ValueError, KeyError):
                messages = []
            if messages and messages[-1]["role"] == "bot":
                buttons = [b for b in messages[-1].get("buttons", [])
                           if b.get("payload", "").startswith("/rate_service")]
                if buttons:
                    return buttons
            await asyncio.sleep(0.3)
        return []


class VirtualUser:
    """Visits one after another until the deadline; each visit is a new browser."""

    def __init__(self, base: str, ledger: Ledger, questions: Questions, mix: Mix,
                 rng: random.Random):
        self.base, self.ledger, self.questions, self.mix, self.rng = (base, ledger, questions,
                                                                      mix, rng)
        self.page_errors: Counter = Counter()
        self.visits = 0

    async def run(self, deadline: float, level: str) -> None:
        while time.monotonic() < deadline:
            browser = Browser(self.base, self.ledger, self.rng, level)
            try:
                if await browser.open():
                    self.visits += 1
                    await self.visit(browser, deadline)
                else:
                    await asyncio.sleep(0.5)
            finally:
                self.page_errors.update(browser.page_errors)
                await browser.close()

    async def visit(self, b: Browser, deadline: float) -> None:
        for _ in range(self.rng.randint(*self.mix.turns_per_visit)):
            if time.monotonic() >= deadline:
                return
            turn = await self.bot_step(b)
            if turn.status != 200:
                continue
            if b.mode != "bot":
                if not await self.with_the_helper(b, deadline):
                    return  # gave up waiting: closes the page

    async def bot_step(self, b: Browser) -> SentTurn:
        m = self.mix
        if (offered := b.offered("/choose_entry")) and self.rng.random() < m.suggestion:
            return await b.click("suggestion", self.rng.choice(offered))
        choice = self.rng.choices(
            ["question", "helpful", "unhelpful", "human", "call", "small_talk"],
            [m.question, m.helpful, m.unhelpful, m.human, m.call, m.small_talk])[0]
        if choice == "helpful" and (offered := b.offered('/feedback{"helpful":"yes"')):
            return await b.click("helpful", offered[0])
        if choice == "unhelpful" and (offered := b.offered('/feedback{"helpful":"no"')):
            return await b.click("unhelpful", offered[0])
        if choice == "human":
            offered = b.offered("/request_human")
            first = await (b.click("human", offered[0]) if offered else b.say("human", "转人工"))
            return await self.fill_form(b, first)
        if choice == "call":
            offered = b.offered("/request_12345_call")
            first = await (b.click("call", offered[0]) if offered
                           else b.say("call", "让12345给我回个电话"))
            return await self.fill_form(b, first)
        if choice == "small_talk":
            return await b.say("small_talk", self.rng.choice(SMALL_TALK))
        return await b.say("question", self.questions.pick(self.rng))

    async def fill_form(self, b: Browser, turn: SentTurn) -> SentTurn:
        """Answer the handoff or call-back form's questions until the receipt (at most 4)."""
        for _ in range(4):
            if turn.status != 200 or b.mode != "bot":
                return turn
            asked = "\n".join(text for _role, text in turn.replies)
            if "联系电话" in asked or "手机号" in asked:
                answer = f"139{self.rng.randrange(10**8):08d}"
            elif "时间" in asked and "回电" in asked:
                answer = "明天上午"
            elif "企业名称" in asked:
                answer = self.rng.choice(COMPANIES)
            elif "咨询的事项" in asked:
                answer = self.questions.pick(self.rng)
            else:
                return turn  # the form ended some other way (cancelled, refused)
            turn = await b.say("form", answer)
        return turn

    async def with_the_helper(self, b: Browser, deadline: float) -> bool:
        """Waiting, then talking to the helper, then the rating the bot asks for after the
        close. False when the helper did not come in time (the user leaves)."""
        await b.say("waiting", self.rng.choice(WAITING_LINES))
        # At the level's end the user leaves (the helper still answers and closes the ticket).
        give_up = min(deadline, time.monotonic() + MAX_WAIT_FOR_HELPER_S)
        talked = False
        while b.mode != "bot":
            if time.monotonic() > give_up:
                return False
            await asyncio.sleep(0.5)
            if await b.poll_mode() == "human" and not talked:
                talked = True
                await b.say("human_chat", self.rng.choice(HUMAN_LINES))
        # What the gateway now accepts as a click is what the hand-back offered.
        b.buttons = buttons = await b.rating_buttons()
        if not buttons:
            return True
        self.ledger.handbacks_seen += 1
        level = self.rng.choice(RATINGS)
        button = next((x for x in buttons if f'"{level}"' in x["payload"]), buttons[0])
        ticket = b.ticket_id
        turn = await b.click("rating", button)
        if turn.status == 200 and level == "不满意":
            # A 差评 needs a reason: the bot offers reason buttons and records nothing yet.
            reasons = b.offered("/rate_service")
            if reasons:
                turn = await b.click("rating", reasons[0])
        if turn.status == 200 and any(RATING_RECORDED.search(text) for _r, text in turn.replies):
            self.ledger.ratings.append(Rated(b.conversation_id, ticket, level))
        return True


# --- helpers at their consoles -----------------------------------------------------------------

class HelperConsole:
    """One helper through the console's API: on duty, heartbeat, claim, answer, resolve."""

    def __init__(self, base: str, username: str, ledger: Ledger, rng: random.Random):
        self.client = httpx.AsyncClient(base_url=base, headers={"Origin": base},
                                        timeout=TURN_TIMEOUT_S)
        self.username, self.ledger, self.rng = username, ledger, rng
        self.working: set[asyncio.Task] = set()
        self.requests: Counter = Counter()

    async def post(self, path: str, body: dict | None = None) -> httpx.Response | None:
        try:
            response = await self.client.post(path, json=body or {})
        except httpx.HTTPError:
            self.requests[0] += 1
            return None
        self.requests[response.status_code] += 1
        return response

    async def start(self) -> None:
        """Log in and go on duty; a failed step is tried again, as a person would (the failure
        stays in ``requests``), and the third failure stops the run."""
        for path, body in (("/api/auth/login", {"username": self.username,
                                                "password": HELPER_PASSWORD}),
                           ("/api/helper/status", {"status": "on_duty", "cap": 20})):
            for attempt in range(HELPER_ATTEMPTS):
                response = await self.post(path, body)
                if response is not None and response.status_code == 200:
                    break
                said = f"{response.status_code} {response.text[:300]}" if response else "no answer"
                if attempt == HELPER_ATTEMPTS - 1:
                    raise RuntimeError(f"helper {self.username}: {path} failed: {said}")
                await asyncio.sleep(1 + attempt)

    async def heartbeat(self, stop: asyncio.Event) -> None:
        """The open console's heartbeat, on its own timer as the console's page keeps it: a
        slow claim must not make the helper look gone (their tickets would be requeued)."""
        while not stop.is_set():
            await self.post("/api/helper/heartbeat")
            try:
                await asyncio.wait_for(stop.wait(), HEARTBEAT_S)
            except TimeoutError:
                pass

    async def run(self, stop: asyncio.Event) -> None:
        beating = asyncio.create_task(self.heartbeat(stop))
        while not stop.is_set():
            for channel in ("online_helper", "hotline_12345"):
                while (response := await self.post("/api/helper/claim", {"channel": channel})) \
                        and response.status_code == 200 and response.json()["ticket"]:
                    ticket = response.json()["ticket"]
                    task = asyncio.create_task(self.handle(ticket))
                    self.working.add(task)
                    task.add_done_callback(self.working.discard)
            try:
                await asyncio.wait_for(stop.wait(), HELPER_POLL_S)
            except TimeoutError:
                pass
        if self.working:
            await asyncio.gather(*self.working, return_exceptions=True)
        await beating

    async def handle(self, ticket: dict) -> None:
        ticket_id, conversation = ticket["id"], ticket["conversation_id"]
        for text in ("您好，我是帮办人员，请问有什么可以帮您？",
                     "已为您查询：请携带营业执照和经办人身份证，到区行政服务中心窗口办理。"):
            await self.send(ticket_id, conversation, text)
            await asyncio.sleep(HANDLE_S / 2)
        await self.resolve(ticket_id)

    async def send(self, ticket_id: str, conversation: str, text: str) -> None:
        """A failed send is sent again, as the console does, with the same message id (which
        makes a resend harmless)."""
        message_id = uuid.uuid4().hex
        for attempt in range(HELPER_ATTEMPTS):
            response = await self.post(f"/api/helper/tickets/{ticket_id}/messages",
                                       {"text": text, "message_id": message_id})
            status = response.status_code if response is not None else 0
            if 0 < status < 500:
                break
            self.ledger.uncertain_tickets.add(ticket_id)
            await asyncio.sleep(1 + attempt)
        self.ledger.helper_messages.append(HelperMessage(ticket_id, conversation, text,
                                                         message_id, status))

    async def resolve(self, ticket_id: str) -> None:
        """结束服务, clicked again after an error; a 409 then means the first click closed it,
        so the ticket's state is read back."""
        for attempt in range(HELPER_ATTEMPTS):
            response = await self.post(f"/api/helper/tickets/{ticket_id}/resolve",
                                       {"note": "已解答"})
            status = response.status_code if response is not None else 0
            if status == 200:
                self.ledger.outcomes[ticket_id] = response.json()["ticket"]["status"]
                return
            if 0 < status < 500 and attempt == 0:
                return  # refused (reclaimed by another helper, say): not this helper's close
            if 0 < status < 500:
                try:
                    pack = (await self.client.get(f"/api/helper/tickets/{ticket_id}")).json()
                    self.ledger.outcomes[ticket_id] = pack["ticket"]["status"]
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
                return
            self.ledger.uncertain_tickets.add(ticket_id)
            await asyncio.sleep(1 + attempt)

    async def close(self) -> None:
        await self.post("/api/helper/status", {"status": "away"})
        await self.client.aclose()


def create_helpers(db_url: str, count: int, departments: list[str]) -> list[str]:
    """Helper accounts covering every department (so every ticket finds one on duty)."""
    names = [f"load-helper-{i}" for i in range(count)]
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            for name in names:
                create_account(session, name, HELPER_PASSWORD, roles=["helper"],
                               departments=departments, display_name=f"帮办{name[-1]}")
    finally:
        engine.dispose()
    return names


# --- measuring ---------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q / 100 * len(ordered) // 1))))
    return round(ordered[rank - 1], 1)


def level_figures(turns: list[SentTurn], concurrency: int, t0: float, seconds: float) -> dict:
    """turns/s (turns completed inside the window ÷ its length), client-side latency, errors."""
    done_in_window = [t for t in turns if t.started_s + t.ms / 1000 <= t0 + seconds]
    ok = [t.ms for t in turns if t.status == 200]
    bot = [t.ms for t in turns if t.status == 200 and t.mode_before == "bot"]
    statuses = Counter(str(t.status) for t in turns)
    return {
        "concurrency": concurrency, "seconds": seconds, "turns": len(turns),
        "turns_per_s": round(len(done_in_window) / seconds, 2),
        "bot_turns_per_s": round(sum(1 for t in done_in_window if t.mode_before == "bot")
                                 / seconds, 2),
        "p50_ms": percentile(ok, 50), "p95_ms": percentile(ok, 95),
        "p99_ms": percentile(ok, 99), "max_ms": round(max(ok), 1) if ok else None,
        "mean_ms": round(statistics.mean(ok), 1) if ok else None,
        "bot_turn_ms": {"n": len(bot), "p50": percentile(bot, 50), "p95": percentile(bot, 95),
                        "p99": percentile(bot, 99)},
        "statuses": dict(statuses),
        "errors_5xx": sum(n for s, n in statuses.items() if s.startswith("5")),
        "no_response": statuses.get("0", 0),
        "by_kind": dict(Counter(t.kind for t in turns)),
        "handoffs": sum(1 for t in turns if t.ticket_id),
    }


def knee(levels: list[dict]) -> dict:
    """The smallest concurrency reaching 90% of the best throughput: beyond it more users add
    waiting (latency), not turns/s."""
    if not levels:
        return {}
    best = max(levels, key=lambda x: x["turns_per_s"])
    at = next(x for x in levels if x["turns_per_s"] >= 0.9 * best["turns_per_s"])
    return {"concurrency": at["concurrency"], "turns_per_s": at["turns_per_s"],
            "p95_ms": at["p95_ms"], "best_concurrency": best["concurrency"],
            "best_turns_per_s": best["turns_per_s"]}


async def run_level(base: str, ledger: Ledger, questions: Questions, concurrency: int,
                    seconds: float, rng: random.Random, mix: Mix, label: str) -> dict:
    users = [VirtualUser(base, ledger, questions, mix, random.Random(rng.random()))
             for _ in range(concurrency)]
    first = len(ledger.turns)
    t0 = time.monotonic()
    await asyncio.gather(*(u.run(t0 + seconds, label) for u in users))
    wall = time.monotonic() - t0
    turns = [t for t in ledger.turns[first:] if t.level == label]
    figures = level_figures(turns, concurrency, t0, seconds)
    figures["wall_s"] = round(wall, 1)
    # Other work on the machine shows in the numbers: the 1-minute load average at the end.
    figures["loadavg_1m"] = round(os.getloadavg()[0], 2)
    figures["visits"] = sum(u.visits for u in users)
    figures["page_errors"] = dict(sum((u.page_errors for u in users), Counter()))
    return figures


async def settle(db_url: str, timeout_s: float) -> tuple[int, int]:
    """Wait for the helpers to close every open ticket and for the outbox to empty (the
    hand-backs to the bot are done); returns (tickets still open, outbox rows left)."""
    from sqlalchemy import func, select

    from handoff.outbox import OutboxRow
    from handoff.store import Ticket
    from handoff.tickets import OPEN_STATES

    engine = make_engine(db_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with session_scope(engine) as s:
                still_open = s.scalar(select(func.count()).select_from(Ticket)
                                      .where(Ticket.status.in_(OPEN_STATES))) or 0
                unsent = s.scalar(select(func.count()).select_from(OutboxRow)) or 0
            if (not still_open and not unsent) or time.monotonic() > deadline:
                return still_open, unsent
            await asyncio.sleep(0.5)
    finally:
        engine.dispose()


async def drive(base: str, db_url: str, levels: list[int], seconds_per_level: float, *,
                helpers: list[str], seed: int = 12, mix: Mix | None = None) -> dict:
    """The load against a running gateway: helpers on duty, a warm-up turn, each level in
    turn, then every open ticket closed; returns the figures and the ledger."""
    rng = random.Random(seed)
    mix = mix or Mix()
    ledger = Ledger()
    questions = user_questions()
    consoles = [HelperConsole(base, name, ledger, random.Random(rng.random()))
                for name in helpers]
    for console in consoles:
        await console.start()
    stop = asyncio.Event()
    working = [asyncio.create_task(c.run(stop)) for c in consoles]
    try:
        warm = Browser(base, ledger, rng, "warmup")  # first turns load lazily
        await warm.open()
        for text in questions.seed[:2]:
            await warm.say("question", text)
        await warm.close()
        figures = []
        for concurrency in levels:
            figures.append(await run_level(base, ledger, questions, concurrency,
                                           seconds_per_level, rng, mix, f"c{concurrency}"))
        left_open, _ = await settle(db_url, timeout_s=90)
    finally:
        stop.set()
        await asyncio.gather(*working, return_exceptions=True)
        for console in consoles:
            await console.close()
    # A close whose request was still running when the helpers stopped: its hand-back too.
    left_open, outbox_left = await settle(db_url, timeout_s=60)
    helper_requests = sum((c.requests for c in consoles), Counter())
    return {"levels": figures, "knee": knee(figures), "tickets_left_open": left_open,
            "outbox_left": outbox_left,
            "helper_requests": {str(k): v for k, v in helper_requests.items()},
            "handbacks_seen": ledger.handbacks_seen, "ledger": ledger}


def run_curve(levels: list[int] | None = None, seconds_per_level: float = 30, *,
              stack=None, helpers: int = 3, seed: int = 12, mix: Mix | None = None,
              keep: Path | None = None) -> dict:
    """turns/s and p50/p95/p99 per concurrency level on a real stack, then the reconciliation
    of the ledger against the SQL record. Starts (and stops) its own stack unless given one
    started with :func:`stack_env`; ``keep``: its home (database, logs, and the ledger as
    ``ledger.json``) goes there and stays, for looking into a discrepancy."""
    from tests.bench.reconcile import reconcile
    from tests.bot.stack import start_stack

    levels = levels or [1, 5, 10, 20]
    with tempfile.TemporaryDirectory() as tmp:
        home = keep or Path(tmp)
        home.mkdir(parents=True, exist_ok=True)
        own = stack is None
        if own:
            stack = start_stack(home, env=stack_env(home))
        try:
            departments = load_config(stack.env.get("XIAOBAO_HANDOFF_CONFIG")).departments
            names = create_helpers(stack.db_url, helpers, departments)
            base = f"http://127.0.0.1:{stack.actions_port}"
            result = asyncio.run(drive(base, stack.db_url, levels, seconds_per_level,
                                       helpers=names, seed=seed, mix=mix))
            ledger: Ledger = result.pop("ledger")
            result["reconciliation"] = reconcile(ledger, stack.db_url)
            if keep is not None:
                (keep / "ledger.json").write_text(json.dumps(ledger.to_dict(), ensure_ascii=False),
                                                  "utf-8")
        finally:
            if own:
                stack.stop()
    return result


def stack_env(home: Path) -> dict[str, str]:
    """What the load needs of a stack besides its defaults: the centre open around the clock."""
    return {"XIAOBAO_HANDOFF_CONFIG": str(open_hours_config(home))}


def summary_lines(result: dict) -> list[str]:
    lines = ["concurrency  turns/s  bot turns/s  p50 ms  p95 ms  p99 ms  5xx  turns"]
    for x in result["levels"]:
        lines.append(f"{x['concurrency']:>11}  {x['turns_per_s']:>7}  {x['bot_turns_per_s']:>11}"
                     f"  {x['p50_ms']!s:>6}  {x['p95_ms']!s:>6}  {x['p99_ms']!s:>6}"
                     f"  {x['errors_5xx']:>3}  {x['turns']:>5}")
    return lines


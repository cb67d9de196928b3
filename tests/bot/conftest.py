"""Fixtures for the bot's action tests: trackers, the services the actions are built with.

The actions take the gateway's services in their constructor; here a small dataclass stands
in for ``api.services.Services``. Its event log is a real migrated database (the ``engine``
fixture), its retriever a fixed table unless a test uses the real seeded index, and its
handoff a real :class:`handoff.context.HandoffContext` on a private Redis where a test is
about the handoff (tests/bot/test_handoffs.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import Engine, select

from handoff.config import HandoffConfig, packaged_config
from handoff.context import HandoffContext
from policies.priors import PolicyPriors
from retrieval.types import Hit, QueryError, SearchResult


def make_hit(entry_id: str, question: str, score: float = 0.9, **kw) -> Hit:
    fields = {"answer": f"{question}的答案：请携带营业执照原件到一网通办窗口办理。",
              "category": "税务", "department": "区税务局", "source": "上海市宝山区税务局",
              "source_url": "https://example.org/kb", "effective_from": "2024-01-01",
              "expires_on": None}
    fields.update(kw)
    return Hit(id=entry_id, score=score, question=question, **fields)


class SmallRetriever:
    """Answers from a fixed table: text → SearchResult; ids → Hit."""

    def __init__(self, results: dict[str, SearchResult], entries: dict[str, Hit]):
        self.results = results
        self.entries = entries
        self.queries: list[str] = []

    def search(self, text: str, top_k: int = 5) -> SearchResult:
        self.queries.append(text)
        if not text.strip():
            raise QueryError("empty", "请输入问题。(Please type a question.)")
        return self.results.get(text, SearchResult(query=text, decision="abstain", hits=[]))

    def get_entry(self, entry_id: str) -> Hit | None:
        return self.entries.get(entry_id)


@dataclass(frozen=True)
class HoursOnly:
    """A stand-in handoff context for actions that only read its configuration (the forms)."""

    config: HandoffConfig


@dataclass
class FakeServices:
    """What the actions use of ``api.services.Services`` (bot.actions.deps.ActionServices)."""

    engine: Engine | None = None
    handoff: HandoffContext | HoursOnly | None = None
    retriever: Any = None
    settings: Any = None
    # No Redis: nothing counted, equal weights (a test passes one on a private Redis).
    policy_priors: PolicyPriors = field(default_factory=lambda: PolicyPriors(None))
    redis: Any = None  # no signed-in enterprise noted (a test passes a real Redis)


@pytest.fixture
def config() -> HandoffConfig:
    """The packaged handoff configuration (its calendar: 09:00–12:00、13:00–17:00, holidays)."""
    return packaged_config()


@pytest.fixture
def kb() -> SmallRetriever:
    invoice = make_hit("kb-tax-003", "增值税发票怎么申领", 0.92)
    license_ = make_hit("kb-reg-001", "营业执照遗失怎么补办", 0.61, category="登记注册",
                        department="区市场监管局", source="宝山区市场监督管理局",
                        effective_from="2023-05-01", expires_on="2026-12-31")
    seal = make_hit("kb-reg-007", "公司印章怎么刻制", 0.55, category="登记注册",
                    effective_from=None)
    return SmallRetriever(
        results={
            "发票怎么领": SearchResult("发票怎么领", "answer", [invoice, license_]),
            "发票去哪里领": SearchResult("发票去哪里领", "answer", [invoice, license_, seal,
                                                          make_hit("kb-x-9", "其他", 0.3)],
                                     alternatives=True),
            "执照丢了": SearchResult("执照丢了", "suggest", [license_, seal, invoice,
                                                        make_hit("kb-x-9", "其他", 0.3)]),
        },
        entries={h.id: h for h in (invoice, license_, seal)},
    )


@pytest.fixture
def services(engine, kb, config) -> FakeServices:
    """Services for actions that answer, rate and validate: a real event log, the small table."""
    return FakeServices(engine=engine, handoff=HoursOnly(config), retriever=kb)


@pytest.fixture
def events(engine) -> Callable[[], list[dict]]:
    """``events()``: what the actions recorded in the SQL event log, oldest first, as
    ``{"kind", "conversation_id", "ticket_id", **data}`` (written by the bot, or the user's
    own rating)."""
    from xiaobao.db import session_scope
    from xiaobao.events import Event

    def recorded() -> list[dict]:
        with session_scope(engine) as s:
            rows = s.scalars(select(Event).order_by(Event.pk)).all()
            assert all(e.actor == "user" for e in rows if e.kind == "rating")
            assert all(e.actor == "bot" for e in rows if e.kind.startswith(("bot_", "answer_")))
            return [{"kind": e.kind, "conversation_id": e.conversation_id,
                     "ticket_id": e.ticket_id, **e.data} for e in rows]

    return recorded


@pytest.fixture
def tracker():
    """``tracker(text, intent=..., entities=[...], slots={...}, events=[...])``."""

    def build(text: str = "", intent: str = "ask_question", entities: list[dict] | None = None,
              slots: dict | None = None, events: list[dict] | None = None,
              sender_id: str = "conv-1") -> Tracker:
        latest = {"text": text, "intent": {"name": intent, "confidence": 0.9},
                  "entities": entities or []}
        history = list(events or []) + [
            {"event": "user", "text": text, "timestamp": 1700000000.0 + len(events or []),
             "parse_data": latest}]
        return Tracker(sender_id, dict(slots or {}), latest, history, False, None, {},
                       "action_listen")

    return build


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture(scope="session")
def bot_stack(tmp_path_factory):
    """One real stack (Redis, the gateway, `rasa run` on the trained model) for the files that
    talk to the bot through Rasa; tests/conftest.py keeps those files on one worker."""
    from tests.bot.stack import start_stack

    stack = start_stack(tmp_path_factory.mktemp("bot-stack"))
    yield stack
    stack.stop()

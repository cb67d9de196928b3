"""Fixtures for the bot's action tests: trackers, a small retriever, captured events."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import deps
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


@pytest.fixture
def kb() -> Iterator[SmallRetriever]:
    invoice = make_hit("kb-tax-003", "增值税发票怎么申领", 0.92)
    license_ = make_hit("kb-reg-001", "营业执照遗失怎么补办", 0.61, category="登记注册",
                        department="区市场监管局", source="宝山区市场监督管理局",
                        effective_from="2023-05-01", expires_on="2026-12-31")
    seal = make_hit("kb-reg-007", "公司印章怎么刻制", 0.55, category="登记注册")
    retriever = SmallRetriever(
        results={
            "发票怎么领": SearchResult("发票怎么领", "answer", [invoice, license_]),
            "执照丢了": SearchResult("执照丢了", "suggest", [license_, seal, invoice,
                                                        make_hit("kb-x-9", "其他", 0.3)]),
        },
        entries={h.id: h for h in (invoice, license_, seal)},
    )
    deps.use_retriever(retriever)
    yield retriever
    deps.use_retriever(None)


@pytest.fixture
def events() -> Iterator[list[dict]]:
    """Every event the actions record, instead of the SQL log."""
    recorded: list[dict] = []
    deps.use_event_sink(lambda kind, **data: recorded.append({"kind": kind, **data}))
    yield recorded
    deps.use_event_sink(None)


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
        return Tracker(sender_id, dict(slots or {}), latest, history, False, None, {}, "action_listen")

    return build


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()

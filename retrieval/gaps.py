"""Knowledge gaps: what users asked that the knowledge base could not answer, grouped by meaning.

:func:`collect` reads the event log (:mod:`xiaobao.events`) and the conversation record
(:mod:`xiaobao.conversations`) — nothing of ``handoff`` — for four signals:

* ``abstain`` / ``suggest``: a ``BOT_ANSWER`` whose decision was not ``answer`` (its ``query``);
* ``unhelpful``: an ``ANSWER_FEEDBACK`` with ``helpful`` false — the question is the query of
  the conversation's last ``BOT_ANSWER`` for that entry (a clicked 您是不是想问 records no
  query: then the query of the last ``BOT_ANSWER`` before the feedback, the suggestion's);
* ``handoff``: a ``HANDOFF_REQUESTED`` — the query of the last ``BOT_ANSWER`` before it, else
  the last message the user typed (not a button click, not "转人工" itself).

A question asked twice in one conversation counts once, under its strongest signal
(handoff > unhelpful > abstain > suggest) and when it was first flagged.

:func:`cluster` embeds the questions with the retriever's own model and groups them by average
linkage on cosine distance (:data:`DISTANCE_THRESHOLD`; :func:`group_by_meaning`, which the
reports' ticket clusters reuse), then proposes a new entry for each group from its most central
question and the nearest existing entries.

>>> questions = collect(engine, since, until)
>>> [c.to_dict() for c in cluster(questions, retriever)]
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from retrieval.normalize import normalize
from retrieval.types import QueryError, SearchResult
from xiaobao.clock import aware
from xiaobao.conversations import Message
from xiaobao.db import session_scope
from xiaobao.enums import Speaker
from xiaobao.events import Event, EventKind
from xiaobao.redact import mask_personal_text

if TYPE_CHECKING:
    from retrieval.embedder import Embedder
    from retrieval.service import Retriever

REASONS = ("abstain", "suggest", "unhelpful", "handoff")
_STRENGTH = {"suggest": 0, "abstain": 1, "unhelpful": 2, "handoff": 3}

# Average-linkage cosine distance under which two groups of questions are one topic, chosen on
# the seed's own paraphrases (an entry's question and similar questions: one topic), one entry
# of each category at a time, as unanswered topics are spread over the domain
# (tests/retrieval/test_gaps.py measures it): at 0.11, 85% of topics keep at least 4 of their 5
# phrasings together and 12% of the groups mix two topics; at 0.09 only 63% stay together, at
# 0.13 35% of the groups are mixed. A split topic shows twice, with the same nearest entries; a
# mixed group hides one topic in another's examples. e5's cosines are compressed (unrelated
# questions of this domain still score ~0.85), hence the small number.
DISTANCE_THRESHOLD = 0.11
MAX_QUESTIONS = 2000  # the newest considered: at 112 texts/s, ~20 s to embed if all differ
EXAMPLES = 5  # examples shown per cluster; the draft's similar questions are up to 5 more
NEAREST = 3
LOOKBACK = dt.timedelta(hours=1)  # how far before feedback or a handoff its question is sought
_PAGE = 1000
_IN_CHUNK = 500
_ASKS_FOR_HUMAN = re.compile(r"人工|客服|真人")
_QUESTION_MAX_CHARS = 500  # EntryData.question's limit


@dataclass(frozen=True)
class GapQuestion:
    """One question the knowledge base did not answer well, and why we think so."""

    text: str
    at: dt.datetime  # when the signal was recorded (UTC)
    conversation_id: str
    reason: str  # one of REASONS


@dataclass(frozen=True)
class NearEntry:
    id: str
    question: str
    score: float

    def to_dict(self) -> dict:
        return {"id": self.id, "question": self.question, "score": self.score}


@dataclass
class GapCluster:
    """Questions on one topic, and a proposed entry answering them."""

    id: str
    size: int
    reasons: dict[str, int]
    examples: list[str]  # distinct texts, the most central first
    first_seen: dt.datetime
    last_seen: dt.datetime
    nearest: list[NearEntry]
    draft: dict  # entry fields for POST /api/kb/entries (the editor writes the answer)
    questions: list[GapQuestion] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        return {"id": self.id, "size": self.size, "reasons": dict(self.reasons),
                "examples": list(self.examples), "first_seen": self.first_seen.isoformat(),
                "last_seen": self.last_seen.isoformat(),
                "nearest": [n.to_dict() for n in self.nearest], "draft": dict(self.draft)}


# --- collecting ----------------------------------------------------------------------------------

_KINDS = (EventKind.BOT_ANSWER.value, EventKind.ANSWER_FEEDBACK.value,
          EventKind.HANDOFF_REQUESTED.value)


def collect(engine: Engine, since: dt.datetime, until: dt.datetime, *,
            limit: int = MAX_QUESTIONS) -> list[GapQuestion]:
    """The questions flagged in ``[since, until)``, newest first, at most ``limit`` of them
    (the last recorded ones when there are more)."""
    found: dict[tuple[str, str], GapQuestion] = {}
    # SQLite keeps the UTC wall time without its offset: compare in UTC.
    since, until = since.astimezone(dt.UTC), until.astimezone(dt.UTC)
    with session_scope(engine) as s:
        for page in _pages(s, since, until):
            for q in _questions_of(s, page):
                key = (q.conversation_id, normalize(q.text).lower())
                kept = found.get(key)
                found[key] = q if kept is None else _merge(kept, q)
            if len(found) >= limit:
                break
    return sorted(found.values(), key=lambda q: q.at, reverse=True)[:limit]


def _pages(s: Session, since: dt.datetime, until: dt.datetime) -> Iterator[list[Event]]:
    """The window's events of the three kinds, newest recorded first, a page at a time."""
    before: int | None = None
    while True:
        q = select(Event).where(Event.kind.in_(_KINDS), Event.at >= since, Event.at < until)
        if before is not None:
            q = q.where(Event.pk < before)
        page = list(s.scalars(q.order_by(Event.pk.desc()).limit(_PAGE)))
        if not page:
            return
        yield page
        before = page[-1].pk


def _merge(a: GapQuestion, b: GapQuestion) -> GapQuestion:
    reason = a.reason if _STRENGTH[a.reason] >= _STRENGTH[b.reason] else b.reason
    first = a if a.at <= b.at else b
    return GapQuestion(first.text, first.at, first.conversation_id, reason)


def _usable(text: object) -> str:
    """The question's text, or "" for nothing, a command, or a bot payload."""
    text = text.strip() if isinstance(text, str) else ""
    return "" if text.startswith("/") else text


@dataclass(frozen=True)
class _Asked:
    at: dt.datetime
    text: str
    entry_id: str = ""


class _Context:
    """What was asked, per conversation, shortly before the page's feedback and handoffs."""

    def __init__(self, s: Session, events: Sequence[Event]) -> None:
        self.answers: dict[str, list[_Asked]] = defaultdict(list)  # BOT_ANSWER queries
        self.typed: dict[str, list[_Asked]] = defaultdict(list)  # user turns, typed
        wanted = [e for e in events if e.conversation_id and (
            e.kind == EventKind.HANDOFF_REQUESTED
            or (e.kind == EventKind.ANSWER_FEEDBACK and (e.data or {}).get("helpful") is False))]
        if not wanted:
            return
        start = min(aware(e.at) for e in wanted) - LOOKBACK
        end = max(aware(e.at) for e in wanted)
        ids = sorted({e.conversation_id for e in wanted})
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i:i + _IN_CHUNK]
            for ev in s.scalars(select(Event).where(
                    Event.kind == EventKind.BOT_ANSWER.value, Event.conversation_id.in_(chunk),
                    Event.at >= start, Event.at <= end).order_by(Event.pk)):
                text = _usable((ev.data or {}).get("query"))
                if text:
                    self.answers[ev.conversation_id].append(
                        _Asked(aware(ev.at), text, str((ev.data or {}).get("entry_id") or "")))
            for m in s.scalars(select(Message).where(
                    Message.conversation_id.in_(chunk), Message.role == Speaker.USER.value,
                    Message.at >= start, Message.at <= end).order_by(Message.pk)):
                text = _usable(m.text)
                if text and not (m.data or {}).get("payload"):
                    self.typed[m.conversation_id].append(_Asked(aware(m.at), text))

    @staticmethod
    def _before(asked: list[_Asked], at: dt.datetime) -> list[_Asked]:
        return [a for a in asked if at - LOOKBACK <= a.at <= at]

    def unhelpful(self, conversation_id: str, at: dt.datetime, entry_id: str) -> str:
        asked = self._before(self.answers[conversation_id], at)
        for a in reversed(asked):
            if entry_id and a.entry_id == entry_id:
                return a.text
        return asked[-1].text if asked else ""

    def handoff(self, conversation_id: str, at: dt.datetime) -> str:
        asked = self._before(self.answers[conversation_id], at)
        if asked:
            return asked[-1].text
        typed = [a for a in self._before(self.typed[conversation_id], at)
                 if not _asks_for_human(a.text)]
        return typed[-1].text if typed else ""


def _asks_for_human(text: str) -> bool:
    """"转人工", "我要人工客服": a request for a person, not a question for the knowledge base."""
    return len(text) <= 12 and bool(_ASKS_FOR_HUMAN.search(text))


def _questions_of(s: Session, events: Sequence[Event]) -> Iterable[GapQuestion]:
    context = _Context(s, events)
    for e in events:
        data, at, conv = e.data or {}, aware(e.at), e.conversation_id
        text, reason = "", ""
        if e.kind == EventKind.BOT_ANSWER:
            if data.get("decision") in ("abstain", "suggest"):
                text, reason = _usable(data.get("query")), str(data["decision"])
        elif e.kind == EventKind.ANSWER_FEEDBACK:
            if data.get("helpful") is False:
                text, reason = context.unhelpful(conv, at, str(data.get("entry_id") or "")), \
                    "unhelpful"
        elif e.kind == EventKind.HANDOFF_REQUESTED:
            text, reason = context.handoff(conv, at), "handoff"
        if text:
            # Editors never see a user's phone, ID card number or credit code in clear.
            yield GapQuestion(text=mask_personal_text(text), at=at, conversation_id=conv,
                              reason=reason)


# --- clustering ----------------------------------------------------------------------------------

def group(vectors: np.ndarray, threshold: float = DISTANCE_THRESHOLD) -> np.ndarray:
    """A cluster label for each unit-length row: average linkage, cosine distance."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                    distance_threshold=threshold)
    return np.asarray(model.fit_predict(vectors))


def group_by_meaning(texts: Sequence[str], embedder: Embedder, *,
                     threshold: float = DISTANCE_THRESHOLD) -> list[list[int]]:
    """The indices of ``texts`` grouped by meaning, each group's most central text first; a
    text alone is a group of one. Texts are normalised and embedded as queries with the
    retriever's model (each distinct text once), then grouped by :func:`group`. The knowledge
    gaps and the reports' ticket clusters (:mod:`reports.clusters`) share it, so one recurring
    problem is one group in both."""
    if not texts:
        return []
    normalised = [normalize(t) for t in texts]
    unique = list(dict.fromkeys(normalised))
    row = {t: i for i, t in enumerate(unique)}
    vectors = embedder.encode_queries(unique)[[row[t] for t in normalised]]
    members: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(group(vectors, threshold)):
        members[int(label)].append(i)
    groups = []
    for idx in members.values():
        centroid = vectors[idx].mean(axis=0)
        groups.append([i for _, i in sorted(zip(-(vectors[idx] @ centroid), idx))])
    return groups


def cluster(questions: Sequence[GapQuestion], retriever: Retriever, *,
            threshold: float = DISTANCE_THRESHOLD) -> list[GapCluster]:
    """Questions grouped by meaning, biggest first (then the most recently seen); a question
    alone is a cluster of one."""
    if not questions:
        return []
    texts = [normalize(q.text) for q in questions]
    grouped = []  # (members, their distinct texts as typed, the most central first)
    for ordered in group_by_meaning([q.text for q in questions], retriever.embedder,
                                    threshold=threshold):
        distinct: dict[str, str] = {}  # normalised → as typed
        for i in ordered:
            distinct.setdefault(texts[i].lower(), questions[i].text)
        grouped.append((sorted(ordered), list(distinct.values())))
    # The bot's own search of each central question (one more encoding pass, of one text per
    # cluster): its ranking gives the nearest entries, its decision says whether they are close.
    searched = retriever.search_many([d[0] for _, d in grouped], top_k=NEAREST)
    clusters = [_cluster([questions[i] for i in idx], distinct, result)
                for (idx, distinct), result in zip(grouped, searched)]
    clusters.sort(key=lambda c: (-c.size, -c.last_seen.timestamp(), c.id))
    return clusters


def _cluster(members: list[GapQuestion], distinct: list[str],
             result: SearchResult | QueryError) -> GapCluster:
    hits = result.hits if isinstance(result, SearchResult) else []
    # The nearest entry lends its category and department only when the decision believes it
    # more likely right than not: e5 puts unrelated questions of this domain at cosines of 0.9,
    # and a suggestion's entry is often another topic (one of 您是不是想问's near misses).
    close = hits[0] if hits and isinstance(result, SearchResult) \
        and result.decision != "abstain" and result.probability >= 0.5 else None
    reasons = dict.fromkeys(REASONS, 0)
    for q in members:
        reasons[q.reason] += 1
    central = distinct[0]
    return GapCluster(
        id="gap-" + hashlib.sha256(normalize(central).lower().encode("utf-8")).hexdigest()[:12],
        size=len(members), reasons=reasons, examples=distinct[:EXAMPLES],
        first_seen=min(q.at for q in members), last_seen=max(q.at for q in members),
        nearest=[NearEntry(h.id, h.question, h.score) for h in hits],
        draft={"question": _form_text(central),
               "similar_questions": [_form_text(t) for t in distinct[1:1 + EXAMPLES]],
               "answer": "", "category": close.category if close else "",
               "department": close.department if close else "", "status": "draft"},
        questions=sorted(members, key=lambda q: q.at))


def _form_text(text: str) -> str:
    """A user's text as an entry field: "|" separates list items in spreadsheets."""
    return text.replace("|", "｜").strip()[:_QUESTION_MAX_CHARS]

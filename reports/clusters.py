"""工单聚类分析: the window's tickets and 差评 grouped by meaning, so that a recurring problem
shows as one line — how often, in whose words, which departments, since when (以评促改).

:func:`collect` reads two kinds of item:

* a **ticket** created in the window: what it is about (its ``topic``, else its ``summary``);
* a **差评** work order opened in the window (:mod:`ratings.cases`) that still counts —
  neither superseded by a later rating nor upheld 不属实 (an unfounded complaint is no problem
  to fix): its reason. Its department is its ticket's; the bot's own service has none.

Texts are redacted (:func:`xiaobao.redact.mask_personal_text`: phone, ID card numbers and
credit codes masked) before anything else sees them: the dashboard shows them to every
supervisor. Text emptied by the retention purge is skipped.

:func:`cluster` groups them with the knowledge gaps' own clustering
(:func:`retrieval.gaps.group_by_meaning`: the retriever's model, average linkage, the same
threshold), so a topic is one group here and there.

>>> [c.to_dict() for c in cluster(collect(engine, since, until), retriever.embedder)]
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from handoff.store import Ticket
from ratings import cases
from retrieval.gaps import DISTANCE_THRESHOLD, group_by_meaning
from retrieval.normalize import normalize
from xiaobao.clock import aware
from xiaobao.db import session_scope
from xiaobao.redact import mask_personal_text

if TYPE_CHECKING:
    from retrieval.embedder import Embedder

TICKET, BAD_RATING = "ticket", "bad_rating"
MAX_ITEMS = 2000  # the newest considered: embedding 2,000 distinct texts takes ~20 s
EXAMPLES = 5
_TEXT_MAX_CHARS = 500  # a long summary says what it is about in its first lines


@dataclass(frozen=True)
class ClusterItem:
    """One ticket or one 差评, as the clustering sees it."""

    kind: str  # TICKET or BAD_RATING
    text: str  # redacted
    at: dt.datetime  # created (a ticket) or opened (a 差评), UTC
    department: str  # "" for a 差评 of the bot's own service


@dataclass
class ProblemCluster:
    """Tickets and 差评 about one problem."""

    id: str
    size: int
    tickets: int
    bad_ratings: int
    examples: list[str]  # distinct texts, the most central first
    departments: dict[str, int]  # the most involved first; the bot's own service is not one
    first_seen: dt.datetime
    last_seen: dt.datetime

    def to_dict(self) -> dict:
        return {"id": self.id, "size": self.size, "tickets": self.tickets,
                "bad_ratings": self.bad_ratings, "examples": list(self.examples),
                "departments": dict(self.departments),
                "first_seen": self.first_seen.isoformat(), "last_seen": self.last_seen.isoformat()}


# --- collecting ----------------------------------------------------------------------------------

def collect(engine: Engine, since: dt.datetime, until: dt.datetime, *,
            limit: int = MAX_ITEMS, departments: list[str] | None = None) -> list[ClusterItem]:
    """The tickets created and the 差评 opened in ``[since, until)``, newest first, at most
    ``limit`` of them; only those of ``departments`` unless it is None
    (:func:`xiaobao.policy.report_departments`)."""
    # SQLite keeps the UTC wall time without its offset: compare in UTC.
    since, until = since.astimezone(dt.UTC), until.astimezone(dt.UTC)
    with session_scope(engine) as s:
        items = _tickets(s, since, until, limit, departments) + [
            i for i in _bad_ratings(s, since, until)
            if departments is None or i.department in departments]
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def _text(*candidates: str | None) -> str:
    text = next((c.strip() for c in candidates if c and c.strip()), "")
    return mask_personal_text(text[:_TEXT_MAX_CHARS])


def _tickets(s: Session, since: dt.datetime, until: dt.datetime, limit: int,
             departments: list[str] | None = None) -> list[ClusterItem]:
    query = select(Ticket).where(
        Ticket.created_at >= since, Ticket.created_at < until,
        or_(Ticket.topic != "", Ticket.summary != ""))
    if departments is not None:
        query = query.where(Ticket.department.in_(departments))
    rows = s.scalars(query.order_by(Ticket.created_at.desc()).limit(limit))
    items = []
    for t in rows:
        text = _text(t.topic, t.summary)
        if text:
            items.append(ClusterItem(TICKET, text, aware(t.created_at), t.department))
    return items


def _bad_ratings(s: Session, since: dt.datetime, until: dt.datetime) -> list[ClusterItem]:
    return [ClusterItem(BAD_RATING, text, aware(case.opened_at), case.department)
            for case in cases.cases_opened_between(s, since, until)
            if case.counts and (text := _text(case.reason))]


# --- clustering ----------------------------------------------------------------------------------

def cluster(items: Sequence[ClusterItem], embedder: Embedder, *,
            threshold: float = DISTANCE_THRESHOLD) -> list[ProblemCluster]:
    """Items grouped by meaning, biggest first (then the most recently seen); an item alone is
    a cluster of one."""
    clusters = [_cluster([items[i] for i in ordered])
                for ordered in group_by_meaning([item.text for item in items], embedder,
                                                threshold=threshold)]
    clusters.sort(key=lambda c: (-c.size, -c.last_seen.timestamp(), c.id))
    return clusters


def _cluster(members: list[ClusterItem]) -> ProblemCluster:
    """``members`` the most central first."""
    distinct: dict[str, str] = {}  # normalised → as written
    for item in members:
        distinct.setdefault(normalize(item.text).lower(), item.text)
    examples = list(distinct.values())
    kinds = Counter(item.kind for item in members)
    departments = Counter(item.department for item in members if item.department)
    return ProblemCluster(
        id="cl-" + hashlib.sha256(normalize(examples[0]).lower().encode("utf-8")).hexdigest()[:12],
        size=len(members), tickets=kinds[TICKET], bad_ratings=kinds[BAD_RATING],
        examples=examples[:EXAMPLES],
        departments=dict(sorted(departments.items(), key=lambda kv: (-kv[1], kv[0]))),
        first_seen=min(item.at for item in members), last_seen=max(item.at for item in members))

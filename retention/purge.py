"""Personal information: the retention period (个人信息保护). Past it, every copy goes.

Masking lives in :mod:`xiaobao.phone` (and, for logs, :mod:`xiaobao.redact`); this module
removes. What expires, ``retention_days`` after:

* a ticket closed before the cutoff: its live turns (deleted), its ``topic``, ``company``,
  ``phone``, ``time_window``, ``summary``, ``note`` (blanked) and ``context`` (the turns
  before the handoff and the entities go; the candidates keep their ids and categories, and
  the intent stays), its calls' numbers, its transitions' notes;
* bot-mode turns said before the cutoff in a conversation with no open ticket (deleted);
* a 留言 left before the cutoff, answered or not: its ``text``, ``phone`` and ``answer``
  (blanked; department, status and times stay);
* a 差评 work order opened before the cutoff (:mod:`ratings.cases`): the user's reason
  and the staff's notes (blanked; rating, verdict, steps and times stay);
* an event recorded before the cutoff in a conversation with no open ticket: the values that
  carry what someone wrote (:data:`PERSONAL_EVENT_KEYS`: the user's query of ``bot_answer``,
  the ``reason`` of a ``rating``, the ``note`` of a ticket change or a ``kb_draft_proposed``,
  the ``facts`` and ``declined`` of a ``policy_check``: the conversation's 政策体检, which
  then prefills nothing and shows nowhere …). Kinds, times, actors, departments, categories,
  entry ids, policy ids, decisions, rating levels and ticket statuses and timestamps stay: the
  rates are computed from them;
* unpublished live events (the outbox's ``relay`` rows, which copy message text) older than
  the cutoff;
* Rasa's tracker of a conversation that is over (no open ticket, no turn since the cutoff):
  deleted when a client of the tracker store's Redis is given. Rasa also expires each tracker
  itself ``record_exp`` seconds after its last save (``endpoints.yml``), which covers the
  trackers of conversations purged while no client was given.

An open ticket keeps everything whatever its age: a conversation in progress is not expired.
Running the purge again finds nothing more to do.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import redis as redis_lib
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Result,
    String,
    cast,
    delete,
    exists,
    or_,
    select,
    update,
)

from handoff.context import HandoffContext
from handoff.outbox import RELAY, OutboxRow
from handoff.store import Call, LeftMessage, Ticket, Transition
from ratings.cases import TEXT_FIELDS as CASE_TEXT_FIELDS
from ratings.cases import BadRatingCase
from xiaobao import conversations, redis_clients
from xiaobao.clock import utcnow
from xiaobao.db import session_scope
from xiaobao.events import Event

log = logging.getLogger(__name__)

# Event data keys whose values are what a user or a helper wrote (or a copy of a ticket's
# personal fields). Every other key is a fact the rates or the audit count.
PERSONAL_EVENT_KEYS = frozenset({"query", "text", "note", "reason", "answer", "phone",
                                 "company", "topic", "summary", "time_window",
                                 "facts", "declined"})
TICKET_TEXT_FIELDS = ("topic", "company", "phone", "time_window", "summary", "note")
CANDIDATE_KEPT = ("id", "category")
# Context keys that only an unpurged ticket has (a purged context keeps candidates and intent).
_CONTEXT_PERSONAL = ("last_turns", "entities", "question")
_CHUNK = 500
DEFAULT_TRACKER_PREFIX = "xiaobao"  # endpoints.yml: tracker_store.key_prefix

REPORT_KEYS = ("tickets", "messages_deleted", "calls_cleared", "transition_notes_cleared",
               "left_messages_cleared", "bad_rating_cases_cleared", "events_cleared",
               "outbox_rows_deleted",
               "conversations", "trackers_deleted")


def tracker_keys(conversation_id: str, key_prefix: str | None = DEFAULT_TRACKER_PREFIX
                 ) -> list[str]:
    """Rasa 3.6's Redis keys for a conversation: its tracker and its lock.

    ``RedisTrackerStore`` (and ``RedisLockStore``) use ``<key_prefix>:tracker:`` (``lock:``)
    before the sender id when the prefix is alphanumeric, else ``tracker:`` alone."""
    base = f"{key_prefix}:" if key_prefix and key_prefix.isalnum() else ""
    return [f"{base}tracker:{conversation_id}", f"{base}lock:{conversation_id}"]


def _chunks(items: list, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _json_has_any(column, keys) -> ColumnElement[bool]:
    """A cheap SQL pre-filter (JSON as text, on SQLite and PostgreSQL alike): rows whose JSON
    may hold one of ``keys``; Python decides exactly."""
    return or_(*[cast(column, String).like(f'%"{key}"%') for key in keys])


def _rowcount(result: Result[typing.Any]) -> int:
    """The rows an UPDATE or DELETE matched (``Session.execute`` types its result as a plain
    ``Result``; a statement's is a ``CursorResult``, which has the count)."""
    return typing.cast("CursorResult[typing.Any]", result).rowcount or 0


def purged_context(context: dict | None) -> dict:
    """What a ticket's context keeps past the retention: candidates' ids and categories, the
    intent."""
    context = dict(context or {})
    kept: dict = {"candidates": [{k: c.get(k, "") for k in CANDIDATE_KEPT}
                                 for c in context.get("candidates") or []
                                 if isinstance(c, dict)]}
    if isinstance(context.get("intent"), str):
        kept["intent"] = context["intent"]
    return kept


def purged_event_data(data: dict | None) -> dict:
    return {k: v for k, v in (data or {}).items() if k not in PERSONAL_EVENT_KEYS}


def purge_expired_transcripts(retention_days: int, *, ctx: HandoffContext,
                              now: dt.datetime | None = None,
                              tracker_redis: redis_lib.Redis | None = None,
                              tracker_key_prefix: str | None = DEFAULT_TRACKER_PREFIX
                              ) -> dict[str, int]:
    """Remove every copy of personal data past ``retention_days`` (see the module's text);
    returns how many rows (and tracker keys) of each kind were purged.

    ``tracker_redis``: a client of the Redis database Rasa keeps its trackers in
    (``endpoints.yml``: db 1); without it, trackers are left to their ``record_exp``."""
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    report = dict.fromkeys(REPORT_KEYS, 0)
    Message = conversations.Message
    touched: set[str] = set()
    with session_scope(ctx.engine) as s:
        # Tickets closed before the cutoff that still hold something.
        unpurged = or_(*[getattr(Ticket, f) != "" for f in TICKET_TEXT_FIELDS],
                       _json_has_any(Ticket.context, _CONTEXT_PERSONAL))
        rows = s.execute(select(Ticket.id, Ticket.conversation_id).where(
            Ticket.closed_at.is_not(None), Ticket.closed_at < cutoff, unpurged)).all()
        ids = [r.id for r in rows]
        touched.update(r.conversation_id for r in rows)
        for chunk in _chunks(ids):
            for t in s.scalars(select(Ticket).where(Ticket.id.in_(chunk))):
                t.context = purged_context(t.context)
                for field in TICKET_TEXT_FIELDS:
                    setattr(t, field, "")
            call_ids = list(s.scalars(select(Call.id).where(Call.ticket_id.in_(chunk))))
            report["calls_cleared"] += _rowcount(s.execute(
                update(Call).where(Call.ticket_id.in_(chunk), Call.phone != "")
                .values(phone="").execution_options(synchronize_session=False)))
            for subjects in _chunks(chunk + call_ids):
                report["transition_notes_cleared"] += _rowcount(s.execute(
                    update(Transition).where(Transition.subject_id.in_(subjects),
                                             Transition.note != "")
                    .values(note="").execution_options(synchronize_session=False)))
        report["tickets"] = len(ids)
        report["messages_deleted"] = conversations.delete_of_tickets(s, ids)

        # Bot-mode turns before the cutoff, in conversations with no open ticket.
        open_here = exists().where(Ticket.open_conversation_id == Message.conversation_id)
        old_turns = (Message.ticket_id.is_(None), Message.at < cutoff, ~open_here)
        touched.update(s.scalars(select(Message.conversation_id).where(*old_turns).distinct()))
        report["messages_deleted"] += _rowcount(s.execute(
            delete(Message).where(*old_turns).execution_options(synchronize_session=False)))

        # 留言 left before the cutoff, answered or not.
        left_open = exists().where(Ticket.open_conversation_id == LeftMessage.conversation_id)
        left_old = (LeftMessage.created_at < cutoff, ~left_open,
                    or_(LeftMessage.text != "", LeftMessage.phone != "",
                        LeftMessage.answer != ""))
        touched.update(s.scalars(select(LeftMessage.conversation_id).where(*left_old)
                                 .distinct()))
        # One still unanswered past the retention leaves the helpers' list ("expired"):
        # nobody can answer a message whose text is gone.
        s.execute(update(LeftMessage).where(*left_old, LeftMessage.status == "open")
                  .values(status="expired").execution_options(synchronize_session=False))
        report["left_messages_cleared"] = _rowcount(s.execute(
            update(LeftMessage).where(*left_old).values(text="", phone="", answer="")
            .execution_options(synchronize_session=False)))

        # 差评 work orders: the reason and the notes.
        case_open = exists().where(Ticket.open_conversation_id == BadRatingCase.conversation_id)
        case_old = (BadRatingCase.opened_at < cutoff, ~case_open,
                    or_(*[getattr(BadRatingCase, f) != "" for f in CASE_TEXT_FIELDS]))
        touched.update(s.scalars(select(BadRatingCase.conversation_id).where(*case_old)
                                 .distinct()))
        report["bad_rating_cases_cleared"] = _rowcount(s.execute(
            update(BadRatingCase).where(*case_old).values(dict.fromkeys(CASE_TEXT_FIELDS, ""))
            .execution_options(synchronize_session=False)))

        report["events_cleared"] = _purge_events(s, cutoff)

        # Live events that never went out (Redis was down) copy the text they carry.
        relay_open = exists().where(Ticket.open_conversation_id == OutboxRow.conversation_id)
        report["outbox_rows_deleted"] = _rowcount(s.execute(
            delete(OutboxRow).where(OutboxRow.kind == RELAY, OutboxRow.created_at < cutoff,
                                    ~relay_open)
            .execution_options(synchronize_session=False)))

        # Conversations that are over: nothing open, no turn since the cutoff.
        over = sorted(_over(s, touched, cutoff))
    report["conversations"] = len(over)
    if tracker_redis is not None and over:
        report["trackers_deleted"] = delete_trackers(tracker_redis, over, tracker_key_prefix)
    return report


def _purge_events(s, cutoff: dt.datetime) -> int:
    open_here = exists().where(Ticket.open_conversation_id == Event.conversation_id)
    cleared, after = 0, 0
    while True:
        rows = s.execute(select(Event.pk, Event.data).where(
            Event.pk > after, Event.at < cutoff, ~open_here,
            _json_has_any(Event.data, PERSONAL_EVENT_KEYS))
            .order_by(Event.pk).limit(_CHUNK)).all()
        if not rows:
            return cleared
        for pk, data in rows:
            kept = purged_event_data(data)
            if kept != (data or {}):
                s.execute(update(Event).where(Event.pk == pk).values(data=kept)
                          .execution_options(synchronize_session=False))
                cleared += 1
        after = rows[-1].pk


def _over(s, candidates: set[str], cutoff: dt.datetime) -> set[str]:
    Message = conversations.Message
    over: set[str] = set()
    for chunk in _chunks(sorted(c for c in candidates if c)):
        busy = set(s.scalars(select(Ticket.open_conversation_id)
                             .where(Ticket.open_conversation_id.in_(chunk))))
        busy |= set(s.scalars(select(Message.conversation_id).where(
            Message.conversation_id.in_(chunk), Message.at >= cutoff).distinct()))
        over.update(c for c in chunk if c not in busy)
    return over


def delete_trackers(tracker_redis: redis_lib.Redis, conversation_ids: list[str],
                    key_prefix: str | None = DEFAULT_TRACKER_PREFIX) -> int:
    """Delete Rasa's tracker (and lock) of these conversations; how many trackers went.
    A tracker store out of reach is logged, not raised: the SQL purge has been committed and
    the trackers still expire by ``record_exp``."""
    deleted = 0
    try:
        for chunk in _chunks(conversation_ids):
            with tracker_redis.pipeline(transaction=False) as pipe:
                for conversation_id in chunk:
                    tracker, lock = tracker_keys(conversation_id, key_prefix)
                    pipe.delete(tracker)
                    pipe.delete(lock)
                results = pipe.execute()
            deleted += sum(int(n) for n in results[0::2])
    except redis_lib.RedisError as exc:
        log.warning("retention purge: tracker store unreachable (%s); %d trackers left to "
                    "expire by record_exp", exc, len(conversation_ids))
    return deleted


def expire_untimed_trackers(tracker_redis: redis_lib.Redis, ttl_s: int,
                            key_prefix: str | None = DEFAULT_TRACKER_PREFIX) -> int:
    """Give every tracker saved without an expiry (before ``record_exp`` was set) one of
    ``ttl_s`` seconds; Rasa's next save of a live conversation sets its own. How many."""
    pattern = tracker_keys("*", key_prefix)[0]
    changed = 0
    for key in tracker_redis.scan_iter(match=pattern, count=500):
        if tracker_redis.ttl(key) == -1 and tracker_redis.expire(key, ttl_s):
            changed += 1
    return changed


SENTINEL_TRACKER_STORE = "bot.sentinel_stores.SentinelTrackerStore"  # endpoints.yml's types
REDIS_TRACKER_STORES = ("redis", "bot.tracker_window.WindowedTrackerStore", SENTINEL_TRACKER_STORE)


@dataclass(frozen=True)
class TrackerStore:
    """Where Rasa keeps trackers, as ``endpoints.yml`` says."""

    url: str
    key_prefix: str | None

    def client(self) -> redis_lib.Redis:
        return redis_clients.client(self.url, connect_timeout_s=5, read_timeout_s=10)


def tracker_store_from_endpoints(path: Path) -> TrackerStore | None:
    """The Redis tracker store named by Rasa's ``endpoints.yml`` (None for any other kind)."""
    import yaml

    if not path.is_file():
        return None
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    store = raw.get("tracker_store") or {}
    kind = str(store.get("type", ""))
    if kind.lower() != "redis" and kind not in REDIS_TRACKER_STORES:
        return None

    def value(name: str, default: object = "") -> str:
        return os.path.expandvars(str(store.get(name, default) if store.get(name) is not None
                                      else default))

    host, port, db = value("url", "localhost"), value("port", 6379), value("db", 0)
    password = value("password")
    prefix = store.get("key_prefix")
    if kind == SENTINEL_TRACKER_STORE and value("sentinels").strip():
        return TrackerStore(url=redis_clients.sentinel_url(
            value("sentinels"), value("sentinel_master", "xiaobao"), db=int(db),
            password=password, sentinel_password=value("sentinel_password")),
            key_prefix=str(prefix) if prefix else None)
    scheme = "rediss" if str(store.get("use_ssl", "")).lower() == "true" else "redis"
    auth = f":{quote(password, safe='')}@" if password else ""
    return TrackerStore(url=f"{scheme}://{auth}{host}:{port}/{db}",
                        key_prefix=str(prefix) if prefix else None)

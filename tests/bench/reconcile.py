"""After a load run: prove from the SQL record that everything the generator sent, and every
receipt it was given, is there exactly once — and nothing else is.

The ledger (:class:`tests.bench.load.Ledger`) is the client's side: each user turn with the
reply it got, each helper message with its id, each ticket receipt, each ticket the helpers
closed, each rating. The record is the server's: ``messages`` (:mod:`xiaobao.conversations`),
``handoff_tickets`` and ``events``. ``reconcile`` walks each conversation's rows in order
against the ledger and returns counts and a list of discrepancies (empty when they agree).

What "agree" means:

* every user turn the gateway answered (or failed with 503 ``bot_unavailable``, which keeps the
  message) is one ``user`` row, in the order sent, with the text the page showed (a button's
  title for a click); a turn refused with a 4xx is no row; a turn that got no response may be
  one row or none, never two;
* the bot's replies to each turn follow its row, as returned; the only other bot rows are the
  hand-backs (the 好差评 question after a close), exactly one per closed ticket;
* every helper message sent with 200 is one ``helper`` row (by its message id) on its ticket;
* each conversation has exactly the tickets its receipts named, each in the final state the
  helper's close reported, with one ``handoff_requested``, one ``ticket_queued`` and, when
  closed, one close event;
* every ``user`` row has exactly one ``message_received`` event; every event pointing at a
  message points at an existing one; the ratings in the event log are the ones sent;
* no message, ticket or event belongs to a conversation the generator never had.

A discrepancy in a conversation where a turn failed (5xx, or no answer in time), or on a
ticket a helper request of which failed, is counted apart (``after_errors``): the client
cannot know what such a request left behind, so those are the errors' consequences to look
at, not unexplained losses.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from handoff.store import Ticket
from handoff.tickets import FINAL_STATES, OPEN_STATES
from tests.bench.load import Ledger, SentTurn
from xiaobao.conversations import Message
from xiaobao.db import make_engine, session_scope
from xiaobao.events import Event, EventKind

BOT_ROLES = ("bot", "notice")
CLOSE_EVENTS = {"resolved": EventKind.TICKET_RESOLVED, "unresolved": EventKind.TICKET_UNRESOLVED,
                "abandoned": EventKind.TICKET_ABANDONED}
SHOWN_DISCREPANCIES = 50


@dataclass(frozen=True)
class Row:
    pk: int
    conversation_id: str
    ticket_id: str
    role: str
    text: str
    client_id: str
    rating_question: bool  # offers the 好差评 levels: what a hand-back asks


def _rows(db_url: str) -> tuple[list[Row], list[Ticket], list[Event]]:
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            rows = [Row(m.pk, m.conversation_id, m.ticket_id or "", m.role, m.text,
                        m.client_id or "",
                        any(str(b.get("payload", "")).startswith("/rate_service")
                            for b in (m.data or {}).get("buttons", [])))
                    for m in s.scalars(select(Message).order_by(Message.pk))]
            tickets = list(s.scalars(select(Ticket)))
            events = list(s.scalars(select(Event).order_by(Event.pk)))
            for obj in (*tickets, *events):
                s.expunge(obj)
    finally:
        engine.dispose()
    return rows, tickets, events


class _Report:
    """Discrepancies, each put with the unexplained ones or with those that follow a request
    that failed (5xx or no answer): there the client cannot know what the server kept."""

    def __init__(self, ledger: Ledger) -> None:
        self.problems: list[str] = []
        self.after_errors: list[str] = []
        self.counts: Counter = Counter()
        self.errored_conversations = {t.conversation_id for t in ledger.turns
                                      if t.status == 0 or t.status >= 500}
        self.errored_tickets = set(ledger.uncertain_tickets)
        self.conversation_of: dict[str, str] = {}

    def problem(self, what: str, *, conv: str = "", ticket: str = "") -> None:
        conv = conv or self.conversation_of.get(ticket, "")
        if conv in self.errored_conversations or ticket in self.errored_tickets:
            self.after_errors.append(what)
        else:
            self.problems.append(what)


def _walk_conversation(conv: str, turns: list[SentTurn], rows: list[Row], closed: int,
                       report: _Report) -> None:
    """One conversation's rows in order against the turns sent in it."""
    users = [i for i, r in enumerate(rows) if r.role == "user"]
    bounds = users + [len(rows)]
    unsolicited = [r for r in rows[:bounds[0]] if r.role in BOT_ROLES]
    k = 0  # the next user row to match
    previous = None
    for turn in turns:
        if turn.recorded is False:
            continue
        report.counts["user_turns_expected" if turn.recorded else "user_turns_uncertain"] += 1
        while (k < len(users) and previous is not None
               and rows[users[k]].text == previous.shown != turn.shown):
            report.problem(f"{conv}: user turn {previous.shown!r} recorded twice", conv=conv)
            k += 1
        if k >= len(users) or rows[users[k]].text != turn.shown:
            if turn.recorded:
                report.problem(f"{conv}: user turn {turn.shown!r} (status {turn.status}) "
                               f"missing or out of order", conv=conv)
            continue
        row = rows[users[k]]
        followers = [r for r in rows[users[k] + 1:bounds[k + 1]] if r.role in BOT_ROLES]
        k += 1
        previous = turn
        if turn.recorded is None:
            report.counts["bot_rows_unknown"] += len(followers)
            continue
        expected = turn.replies if turn.status == 200 else []
        # The bot always replies (or the gateway answers 503): a 200 with no reply is a turn
        # the helper got, which carries its ticket; one the bot answered carries none.
        to_helper = turn.status == 200 and not expected
        if bool(row.ticket_id) != to_helper:
            report.problem(f"{conv}: user row {row.pk} has ticket {row.ticket_id!r} but the "
                           f"turn went to {'the helper' if to_helper else 'the bot'}", conv=conv)
        matched = 0
        for r in followers:
            if matched < len(expected) and [r.role, r.text] == expected[matched]:
                matched += 1
            else:
                unsolicited.append(r)
        report.counts["bot_replies_expected"] += len(expected)
        report.counts["bot_replies_matched"] += matched
        if matched != len(expected):
            report.problem(f"{conv}: reply to {turn.shown!r}: {matched} of {len(expected)} bot "
                           f"messages recorded", conv=conv)
    for extra in users[k:]:
        report.problem(f"{conv}: unexpected user row {rows[extra].pk} {rows[extra].text!r}",
                       conv=conv)
    handbacks = [r for r in unsolicited if r.rating_question]
    for r in unsolicited:
        if not r.rating_question:
            report.problem(f"{conv}: bot row {r.pk} {r.text[:30]!r} answers no turn sent",
                           conv=conv)
    report.counts["handbacks"] += len(handbacks)
    if len(handbacks) != closed:
        report.problem(f"{conv}: {len(handbacks)} hand-backs to the bot for {closed} closed "
                       f"tickets", conv=conv)


def reconcile(ledger: Ledger, db_url: str) -> dict:
    """Counts and discrepancies of the ledger against the record at ``db_url``."""
    rows, tickets, events = _rows(db_url)
    report = _Report(ledger)
    known = ledger.conversations()
    by_conv: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_conv[r.conversation_id].append(r)
    turns_of: dict[str, list[SentTurn]] = defaultdict(list)
    for t in ledger.turns:
        turns_of[t.conversation_id].append(t)
    tickets_of: dict[str, list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        tickets_of[ticket.conversation_id].append(ticket)
        report.conversation_of[ticket.id] = ticket.conversation_id
    c = report.counts
    c["conversations"] = len(known)
    c["turns_sent"] = len(ledger.turns)
    c["message_rows"] = len(rows)
    c["user_rows"] = sum(r.role == "user" for r in rows)
    c["bot_rows"] = sum(r.role in BOT_ROLES for r in rows)
    c["helper_rows"] = sum(r.role == "helper" for r in rows)
    c["ticket_rows"] = len(tickets)
    c["receipts"] = len(ledger.receipts)
    c["events"] = len(events)

    # Nothing that is not the generator's.
    for conv in sorted(set(by_conv) - known):
        report.problem(f"orphan: {len(by_conv[conv])} message rows of unknown conversation "
                       f"{conv}")
    for ticket in tickets:
        if ticket.conversation_id not in known:
            report.problem(f"orphan: ticket {ticket.id} of unknown conversation",
                           ticket=ticket.id)
    for t in ledger.turns:
        if not t.conversation_id and t.status != 200:
            c["turns_without_conversation"] += 1  # a first turn that got no answer

    # Each conversation's turns, replies and hand-backs.
    for conv in sorted(known):
        closed = sum(t.status in FINAL_STATES for t in tickets_of[conv])
        _walk_conversation(conv, turns_of[conv], by_conv[conv], closed, report)

    # Helper messages: each one sent with 200 is one row, on its ticket, with its text.
    by_client = {r.client_id: r for r in rows if r.client_id}
    sent_ids = {m.message_id for m in ledger.helper_messages  # sent, or perhaps (no answer)
                if m.status == 200 or m.status == 0 or m.status >= 500}
    for m in ledger.helper_messages:
        if m.status != 200:
            continue
        c["helper_messages_sent"] += 1
        found = by_client.get(m.message_id)
        if found is None:
            report.problem(f"helper message {m.message_id} on {m.ticket_id} missing",
                           ticket=m.ticket_id)
        elif (found.role, found.ticket_id, found.text, found.conversation_id) != (
                "helper", m.ticket_id, m.text, m.conversation_id):
            report.problem(f"helper message {m.message_id} recorded differently: row "
                           f"{found.pk}", ticket=m.ticket_id)
    for r in rows:
        if r.role == "helper" and r.client_id not in sent_ids:
            report.problem(f"helper row {r.pk} on {r.ticket_id} was never sent",
                           ticket=r.ticket_id)

    # Tickets: the receipts, exactly once each, in the state their close reported.
    kinds_of: dict[str, Counter] = defaultdict(Counter)
    for e in events:
        if e.ticket_id:
            kinds_of[e.ticket_id][e.kind] += 1
    for conv in sorted(known):
        recorded_ids = Counter(t.id for t in tickets_of[conv])
        receipts = {tid for tid, rc in ledger.receipts.items() if rc == conv}
        named = {n for t in turns_of[conv] for n in t.named_tickets}
        for tid in set(recorded_ids) | receipts | named:
            if recorded_ids[tid] != 1 or tid not in receipts:
                report.problem(f"{conv}: ticket {tid} recorded {recorded_ids[tid]} times, "
                               f"receipt {'given' if tid in receipts else 'never given'}",
                               conv=conv, ticket=tid)
    outcomes = ledger.outcomes
    for ticket in tickets:
        kinds = kinds_of[ticket.id]
        c[f"tickets_{ticket.status}"] += 1
        want = outcomes.get(ticket.id)
        if want is not None and ticket.status != want:
            report.problem(f"ticket {ticket.id}: {ticket.status} in the record, {want} when "
                           f"closed", ticket=ticket.id)
        if want is None and ticket.status not in OPEN_STATES:
            report.problem(f"ticket {ticket.id}: {ticket.status}, but no helper closed it",
                           ticket=ticket.id)
        for kind in (EventKind.HANDOFF_REQUESTED, EventKind.TICKET_QUEUED):
            if kinds[kind] != 1:
                report.problem(f"ticket {ticket.id}: {kinds[kind]} {kind} events",
                               ticket=ticket.id)
        closing = CLOSE_EVENTS.get(ticket.status)
        if closing is not None and kinds[closing] != 1:
            report.problem(f"ticket {ticket.id}: {kinds[closing]} {closing} events",
                           ticket=ticket.id)
        # One first response per claim that was answered: a ticket requeued (its helper's
        # heartbeat lapsed) and claimed again may have one more.
        firsts = kinds[EventKind.TICKET_FIRST_RESPONSE]
        if ticket.first_response_at is not None and not (
                1 <= firsts <= 1 + kinds[EventKind.TICKET_REQUEUED]):
            report.problem(f"ticket {ticket.id}: {firsts} first responses, "
                           f"{kinds[EventKind.TICKET_REQUEUED]} requeues", ticket=ticket.id)

    # Events: one message_received per user row; none pointing nowhere; none of strangers.
    pks = {r.pk for r in rows}
    received = Counter(e.message_pk for e in events if e.kind == EventKind.MESSAGE_RECEIVED)
    for r in rows:
        if r.role == "user" and received[r.pk] != 1:
            report.problem(f"user row {r.pk}: {received[r.pk]} message_received events",
                           conv=r.conversation_id)
    for e in events:
        if e.message_pk is not None and e.message_pk not in pks:
            report.problem(f"event {e.pk} ({e.kind}) points at missing message {e.message_pk}",
                           conv=e.conversation_id)
        if e.conversation_id and e.conversation_id not in known:
            report.problem(f"orphan: event {e.pk} ({e.kind}) of unknown conversation",
                           conv=e.conversation_id)
    c["message_received_events"] = sum(received.values())

    # Ratings: the event log holds the ones sent (per conversation and ticket), and the ones
    # the bot said it recorded unasked (per conversation and level), and no others.
    rated = Counter((e.conversation_id, e.ticket_id, str(e.data.get("rating")))
                    for e in events if e.kind == EventKind.RATING)
    c["rating_events"] = sum(rated.values())
    sent = Counter((x.conversation_id, x.ticket_id, x.rating) for x in ledger.ratings if x.asked)
    c["ratings_sent"] = sum(sent.values())
    for key in sent:
        matched = min(sent[key], rated[key])
        rated[key] -= matched
        if matched != sent[key]:
            report.problem(f"rating {key}: {matched} recorded, {sent[key]} sent", conv=key[0],
                           ticket=key[1])
    for x in ledger.ratings:
        if x.asked:
            continue
        c["ratings_unasked"] += 1  # a quality figure: the bot took a question for a rating
        key = next((k for k, n in rated.items() if n > 0 and (k[0], k[2]) == (
            x.conversation_id, x.rating)), None)
        if key is None:
            report.problem(f"rating {x.rating} the bot acknowledged in {x.conversation_id} "
                           f"is not recorded", conv=x.conversation_id)
        else:
            rated[key] -= 1
    for key, n in rated.items():
        if n > 0:
            report.problem(f"rating {key}: {n} recorded that nobody sent or was told of",
                           conv=key[0], ticket=key[1])

    return {"counts": dict(sorted(report.counts.items())),
            "discrepancies": len(report.problems),
            "examples": report.problems[:SHOWN_DISCREPANCIES],
            "after_errors": len(report.after_errors),
            "after_error_examples": report.after_errors[:SHOWN_DISCREPANCIES]}

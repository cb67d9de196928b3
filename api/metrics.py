"""Prometheus metrics of the gateway, defined once per process (the registry is global).

Every label value comes from a fixed set written here, never from a request: a label taken
from user input (an action name in a request body, an upstream status code) would let anyone
create series without end. The ``*_label`` functions map anything unexpected to ``"other"``.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from prometheus_client import Counter, Histogram

from xiaobao.enums import CHANNELS, RATINGS, Channel

OTHER = "other"

CHAT_MESSAGES = Counter(
    "xiaobao_chat_messages_total", "User messages received, by route taken", ["route"])
CHAT_REFUSED = Counter(
    "xiaobao_chat_refused_total", "User messages refused before routing, by reason", ["reason"])
RASA_LATENCY = Histogram(
    "xiaobao_rasa_turn_seconds", "Time for one Rasa REST turn (NLU, policies, actions)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
RASA_FAILURES = Counter(
    "xiaobao_rasa_failures_total", "Rasa turns that failed, by kind", ["kind"])
FALLBACK_TURNS = Counter(
    "xiaobao_fallback_turns_total", "User messages the gateway answered itself while Rasa was "
    "unavailable (api/fallback.py), by what it did", ["served"])
REDIS_DEGRADED = Counter(
    "xiaobao_redis_degraded_total", "Chat-path Redis calls that failed and were served another "
    "way (read from SQL, skipped, or a rate limit let through), by what", ["what"])
ACTION_RUNS = Counter(
    "xiaobao_action_runs_total", "Custom actions run for Rasa, by action and outcome",
    ["action", "outcome"])
CALL_CALLBACKS = Counter(
    "xiaobao_call_callbacks_total", "12345 call status call-backs, by outcome", ["outcome"])
# What the service rates count (reports/rates.py computes the rates from the record; these
# are the live view).
BOT_DECISIONS = Counter(
    "xiaobao_bot_decisions_total", "The bot's decisions on questions, by decision",
    ["decision"])
HANDOFFS = Counter(
    "xiaobao_handoffs_total", "Handoffs to people the bot requested, by channel", ["channel"])
QUEUE_WAIT = Histogram(
    "xiaobao_queue_wait_seconds", "Seconds a ticket waited in its queue before a helper "
    "claimed it, by channel", ["channel"],
    buckets=(10, 30, 60, 120, 180, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600))
LOGIN_FAILURE_ALERTS = Counter(
    "xiaobao_login_failure_alerts_total", "Wrong console passwords beyond "
    "login_failures_per_account_alert for one account within an hour (all addresses; an "
    "alert, not a block)")
TYPED_ANSWERS = Counter(
    "xiaobao_typed_answers_total", "Typed messages taken as an offered button or as the free "
    "text a prompt invites (api/typed_answers.py), by kind", ["kind"])
RATINGS_GIVEN = Counter(
    "xiaobao_ratings_total", "好差评 ratings recorded, by level", ["level"])

RASA_FAILURE_KINDS = frozenset({"timeout", "unreachable", "bad_json", "empty_reply", "resume",
                                "status_4xx", "status_5xx"})
DECISIONS = frozenset({"answer", "suggest", "abstain"})
FALLBACK_SERVED = frozenset({"answer", "suggest", "abstain", "query_error", "choose_entry",
                             "entry_gone", "feedback", "handoff", "handoff_failed",
                             "call_back_redirected", "needs_bot", "rating", "rating_failed"})
# The action that hands a conversation over, and where to.
HANDOFF_ACTIONS = {"action_handoff": Channel.ONLINE_HELPER.value,
                   "action_request_12345_call": Channel.HOTLINE_12345.value}
CALL_CALLBACK_OUTCOMES = frozenset({"applied", "too_large", "callback_rejected",
                                    "handoff_error", "illegal_transition", "unknown_ticket",
                                    "ticket_closed", "not_allowed"})


def bounded(value: str, allowed: Collection[str]) -> str:
    return value if value in allowed else OTHER


def rasa_failure_label(kind: str) -> str:
    """``status_503`` → ``status_5xx``; ``resume: …`` → ``resume``; anything else unknown →
    ``other``."""
    if kind.startswith("status_"):
        kind = f"status_{kind[7:8]}xx"
    elif kind.startswith("resume"):
        kind = "resume"
    return bounded(kind, RASA_FAILURE_KINDS)


def action_label(name: str, registered: Collection[str]) -> str:
    """An action's name when it is one the gateway registered, else ``unknown``."""
    return name if name in registered else "unknown"


def count_action_outcome(name: str, events: list) -> None:
    """What a custom action did, read from the slots it set: the bot's decision on a question,
    a handoff made (its ticket), a rating recorded."""
    slots = {e.get("name"): e.get("value") for e in events
             if isinstance(e, dict) and e.get("event") == "slot"}
    if name == "action_answer_question" and slots.get("decision"):
        BOT_DECISIONS.labels(bounded(str(slots["decision"]), DECISIONS)).inc()
    elif name in HANDOFF_ACTIONS and slots.get("handoff_ticket_id"):
        HANDOFFS.labels(HANDOFF_ACTIONS[name]).inc()
    elif name == "action_record_rating" and slots.get("rating"):
        RATINGS_GIVEN.labels(bounded(str(slots["rating"]), RATINGS)).inc()


def observe_queue_wait(channel: str, queued_at: dt.datetime | None,
                       claimed_at: dt.datetime | None) -> None:
    """A helper claimed a ticket: how long it waited in its (current) queue."""
    if queued_at is not None and claimed_at is not None:
        QUEUE_WAIT.labels(bounded(channel, CHANNELS)).observe(
            max(0.0, (claimed_at - queued_at).total_seconds()))

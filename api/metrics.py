"""Prometheus metrics of the gateway, defined once per process (the registry is global).

Every label value comes from a fixed set written here, never from a request: a label taken
from user input (an action name in a request body, an upstream status code) would let anyone
create series without end. The ``*_label`` functions map anything unexpected to ``"other"``.
"""
from __future__ import annotations

from collections.abc import Collection

from prometheus_client import Counter, Histogram

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
ACTION_RUNS = Counter(
    "xiaobao_action_runs_total", "Custom actions run for Rasa, by action and outcome",
    ["action", "outcome"])
CALL_CALLBACKS = Counter(
    "xiaobao_call_callbacks_total", "12345 call status call-backs, by outcome", ["outcome"])

RASA_FAILURE_KINDS = frozenset({"timeout", "unreachable", "bad_json", "empty_reply", "resume",
                                "status_4xx", "status_5xx"})
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

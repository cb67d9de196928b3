"""Prometheus metrics of the gateway, defined once per process (the registry is global)."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

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

"""The two state machines: every legal move allowed, a sample of illegal ones refused."""
from __future__ import annotations

import itertools

import pytest

from handoff.tickets import (
    CALL_TRANSITIONS,
    TICKET_TRANSITIONS,
    IllegalTransition,
    check_call_transition,
    check_ticket_transition,
)

LEGAL_TICKET = [(a, b) for a, nxt in TICKET_TRANSITIONS.items() for b in sorted(nxt)]
LEGAL_CALL = [(a, b) for a, nxt in CALL_TRANSITIONS.items() for b in sorted(nxt)]


@pytest.mark.parametrize("current,new", LEGAL_TICKET)
def test_legal_ticket_moves(current, new):
    check_ticket_transition(current, new)


@pytest.mark.parametrize("current,new", [
    ("queued", "resolved"), ("queued", "in_conversation"), ("queued", "transferred"),
    ("resolved", "queued"), ("resolved", "in_conversation"), ("unresolved", "queued"),
    ("abandoned", "claimed"), ("transferred", "resolved"), ("in_conversation", "claimed"),
    ("queued", "nonsense")])
def test_illegal_ticket_moves(current, new):
    with pytest.raises(IllegalTransition) as err:
        check_ticket_transition(current, new, "T1")
    assert "T1" in err.value.message and current in err.value.message


@pytest.mark.parametrize("current,new", LEGAL_CALL)
def test_legal_call_moves(current, new):
    check_call_transition(current, new)


@pytest.mark.parametrize("current,new", [
    ("requested", "dialling"), ("scheduled", "answered"), ("ringing", "three_way_connected"),
    ("completed", "scheduled"), ("unreachable", "scheduled"), ("failed", "dialling"),
    ("no_answer", "completed"), ("cancelled", "scheduled"), ("dialling", "completed")])
def test_illegal_call_moves(current, new):
    with pytest.raises(IllegalTransition):
        check_call_transition(current, new, "C1")


def test_the_happy_paths_are_walkable():
    path = ["queued", "claimed", "in_conversation", "transferred", "claimed", "in_conversation",
            "resolved"]
    for a, b in itertools.pairwise(path):
        check_ticket_transition(a, b)
    call = ["requested", "scheduled", "dialling", "ringing", "no_answer", "scheduled",
            "dialling", "ringing", "answered", "three_way_connected", "completed"]
    for a, b in itertools.pairwise(call):
        check_call_transition(a, b)


def test_final_states_have_no_way_out():
    for final in ("resolved", "unresolved", "abandoned"):
        assert not TICKET_TRANSITIONS[final]
    for final in ("completed", "unreachable", "failed", "cancelled"):
        assert not CALL_TRANSITIONS[final]

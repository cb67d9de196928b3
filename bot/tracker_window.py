"""Rasa's tracker kept to a window of recent turns, so a turn's cost does not grow with the
conversation.

Rasa 3.6's RedisTrackerStore reads, merges and writes every event on every turn; its merge
compares each new event with every stored one, so a long conversation (a policy check-up asks
about 17 questions; a helper conversation runs longer) paid O(n²) per turn: 77 ms at turn 1,
715 ms at turn 50 through the gateway, measured 2026-12-07. The dialogue needs only what its
policies read: the last few turns (MemoizationPolicy's max_history is 4, the rules are a few
steps long), the slots, the active form and whether the conversation is paused for a helper.
The full record stays in SQL (xiaobao.conversations), which is what helpers, reports and the
retention purge read.

So on save the stored tracker is the latest session only, and past ``TRIM_OVER`` user turns
it is cut to the last ``KEEP`` of them, behind a prefix that restores the state at the cut
(slots, active loop, pause). There is no merge: Rasa saves a conversation under its lock
(the lock store), so the tracker being saved already descends from the stored one.

Imported by the Rasa server (``.venv-rasa``, Python 3.10) only: nothing here may import the
gateway's packages.
"""
# ruff: noqa: UP006, UP035, UP045  (typing.Optional: Rasa reads these annotations)
from typing import List, Optional

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

# Kept: at least the last KEEP user turns; cut back to KEEP once there are more than TRIM_OVER
# (a cut replays the head once, so it is done every TRIM_OVER - KEEP turns, not every turn).
# KEEP is the handoff summary's reach as well (bot/actions/handoffs.py, LAST_TURNS = 12).
KEEP = 12
TRIM_OVER = 20
SESSION_START = "action_session_start"
LISTEN = "action_listen"


def last_session(events: List[Event]) -> List[Event]:
    """The events of the latest conversation session (from its action_session_start)."""
    starts = [i for i, e in enumerate(events)
              if isinstance(e, ActionExecuted) and e.action_name == SESSION_START]
    return events[starts[-1]:] if starts else events


def state_events(tracker: DialogueStateTracker, domain: Domain, at: float) -> List[Event]:
    """Events that bring a new session to ``tracker``'s state: its slots (those not at their
    initial value), its active form, its pause; stamped ``at`` so they sort before the tail."""
    initial = {slot.name: slot.initial_value for slot in domain.slots}
    events: List[Event] = [ActionExecuted(SESSION_START, timestamp=at),
                           SessionStarted(timestamp=at)]
    for name, value in tracker.current_slot_values().items():
        if value != initial.get(name):
            events.append(SlotSet(name, value, timestamp=at))
    if tracker.active_loop_name:
        events.append(ActiveLoop(tracker.active_loop_name, timestamp=at))
    if tracker.is_paused():
        events.append(ConversationPaused(timestamp=at))
    events.append(ActionExecuted(LISTEN, timestamp=at))
    return events


def windowed(tracker: DialogueStateTracker, domain: Domain, *, keep: int = KEEP,
             trim_over: int = TRIM_OVER) -> DialogueStateTracker:
    """``tracker`` as it is stored: its latest session, cut to the last ``keep`` user turns
    once it holds more than ``trim_over``; the state it ends in is unchanged."""
    events = last_session(list(tracker.events))
    users = [i for i, e in enumerate(events) if isinstance(e, UserUttered)]
    if len(users) > trim_over:
        cut = users[-keep]
        head = DialogueStateTracker.from_events(tracker.sender_id, events[:cut],
                                                slots=domain.slots)
        events = state_events(head, domain, at=events[cut].timestamp) + events[cut:]
    elif len(events) == len(tracker.events):
        return tracker
    return DialogueStateTracker.from_events(tracker.sender_id, events, slots=domain.slots,
                                            max_event_history=tracker._max_event_history)


class WindowedTrackerStore(RedisTrackerStore):
    """Rasa's RedisTrackerStore (keys, prefix, expiry, serialisation), saving the window."""

    async def save(self, tracker: DialogueStateTracker,
                   timeout: Optional[float] = None) -> None:
        await self.stream_events(tracker)
        timeout = timeout or self.record_exp
        kept = windowed(tracker, self.domain or Domain.empty())
        self.red.set(self.key_prefix + tracker.sender_id, self.serialise_tracker(kept),
                     ex=timeout)

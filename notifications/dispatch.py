"""Sending what the outbox holds: due rows, in the sending hours, at a capped rate.

Each row is sent in a transaction of its own: picked ``FOR UPDATE SKIP LOCKED`` (on
PostgreSQL two dispatchers never hold the same row; SQLite ignores the clause and has one
writer), checked against opt-outs once more, sent, and marked before the commit. A failure
counts an attempt and backs off (``notify_retry_base_s`` doubling, at most an hour); after
``notify_max_attempts`` the row is failed, kept and counted.

At least once: a dispatcher that dies after the provider took a message but before its
commit leaves the row pending, and the next pass sends it again with the same notification
id, which the provider deduplicates (:mod:`notifications.notifier`). So every row ends sent
once at the provider, whatever is killed or retried.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifications.models import FAILED, PENDING, SENT, SKIPPED, Notification
from notifications.notifier import Message, Notifier
from notifications.optouts import opted_out
from xiaobao.clock import ServiceCalendar, Spans, is_open, next_open, utcnow
from xiaobao.redact import mask_personal_text
from xiaobao.settings import Settings, get_settings

RETRY_MAX_S = 3600.0
RATE_WINDOW = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class SendRules:
    calendar: ServiceCalendar
    per_minute: int = 60
    max_attempts: int = 8
    retry_base_s: float = 60.0

    def backoff(self, attempts: int) -> dt.timedelta:
        """The wait after the ``attempts``-th failure."""
        return dt.timedelta(seconds=min(RETRY_MAX_S, self.retry_base_s * 2 ** (attempts - 1)))


def _spans(items: list[str]) -> Spans:
    out = []
    for item in items:
        start, end = (part.strip() for part in item.split("-"))
        close = dt.time.max if end == "24:00" else dt.time.fromisoformat(end)
        out.append((dt.time.fromisoformat(start), close))
    return tuple(out)


def rules_from_settings(settings: Settings | None = None,
                        holidays: ServiceCalendar | None = None) -> SendRules:
    """The rules of ``settings``; ``holidays`` lends its public holidays and 调休 working
    days (the centre's calendar, handoff's configuration) to the working-day rule."""
    s = settings or get_settings()
    spans = _spans(s.notify_hours)
    days = range(1, 8) if s.notify_every_day else range(1, 6)
    calendar = ServiceCalendar(
        weekly={d: spans for d in days}, workday=spans,
        holidays=frozenset() if s.notify_every_day or holidays is None else holidays.holidays,
        workdays=frozenset() if holidays is None else holidays.workdays)
    return SendRules(calendar=calendar, per_minute=s.notify_per_minute,
                     max_attempts=s.notify_max_attempts, retry_base_s=s.notify_retry_base_s)


@dataclass
class DispatchReport:
    sent: int = 0
    retrying: int = 0  # failed this time, pending again later
    failed: int = 0  # gave up: attempts exhausted
    skipped: int = 0  # opted out since it was queued
    capped: bool = False  # the rate cap stopped this pass
    opens_at: dt.datetime | None = None  # outside the sending hours: when they start
    tried: list[str] = field(default_factory=list)


def sent_recently(session: Session, now: dt.datetime) -> int:
    """Sends in the minute before ``now`` (every dispatcher's: the cap is the centre's)."""
    now = now.astimezone(dt.UTC)  # SQLite compares the stored UTC text: no other zone
    return int(session.scalar(select(func.count()).select_from(Notification).where(
        Notification.status == SENT, Notification.sent_at > now - RATE_WINDOW)) or 0)


def _next_due(session: Session, now: dt.datetime, tried: list[str]) -> Notification | None:
    q = (select(Notification)
         .where(Notification.status == PENDING, Notification.next_attempt_at <= now)
         .order_by(Notification.next_attempt_at, Notification.id)
         .limit(1)
         .with_for_update(skip_locked=True))
    if tried:
        q = q.where(Notification.id.not_in(tried))
    return session.scalars(q).first()


def _send_one(session: Session, row: Notification, notifier: Notifier, now: dt.datetime,
              rules: SendRules, report: DispatchReport) -> None:
    if opted_out(session, row.uscc):
        row.status = SKIPPED
        report.skipped += 1
        return
    message = Message(id=row.id, channel=row.channel, uscc=row.uscc, text=row.text)
    row.attempts += 1
    try:
        provider_message_id = notifier.send(message)
    except Exception as exc:  # noqa: BLE001 - any failure of the provider is retried, never lost
        row.last_error = mask_personal_text(f"{type(exc).__name__}: {exc}")[:500]
        if row.attempts >= rules.max_attempts:
            row.status = FAILED
            report.failed += 1
        else:
            row.next_attempt_at = now + rules.backoff(row.attempts)
            report.retrying += 1
        return
    row.status, row.sent_at = SENT, now
    row.provider_message_id = provider_message_id
    report.sent += 1


def dispatch(session: Session, notifier: Notifier, now: dt.datetime | None = None,
             limit: int = 100, *, rules: SendRules | None = None) -> DispatchReport:
    """Send up to ``limit`` due notifications (fewer under the rate cap, none outside the
    hours). Commits after each row: what was sent stays sent if a later one fails. A row's
    ``sent_at`` is this pass's ``now`` (a fixed clock in tests; the pass's start otherwise)."""
    now = (now or utcnow()).astimezone(dt.UTC)
    rules = rules or rules_from_settings()
    report = DispatchReport()
    if not is_open(now, rules.calendar):
        report.opens_at = next_open(now, rules.calendar)
        return report
    budget = min(limit, rules.per_minute - sent_recently(session, now))
    session.commit()
    while len(report.tried) < budget:
        row = _next_due(session, now, report.tried)
        if row is None:
            break
        report.tried.append(row.id)
        try:
            _send_one(session, row, notifier, now, rules, report)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    if len(report.tried) >= budget and budget < limit:
        report.capped = True
    return report

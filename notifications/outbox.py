"""Enqueue notifications: one row per enterprise, policy id, policy version and kind, ever.

The caller (the batch after a policy is published, a changed enterprise, a department's
免申即享 confirmation) says who to notify of what; :func:`enqueue` inserts the rows that do not
exist yet (``INSERT … ON CONFLICT DO NOTHING`` on the unique key, on SQLite and PostgreSQL
alike), in the caller's transaction, so running the same batch twice, or two batches at once,
still leaves one row. Enterprises that opted out get their row too, marked skipped_opted_out:
counted, never sent. Sending is :mod:`notifications.dispatch`'s job.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from notifications.errors import NotificationError, checked_uscc
from notifications.messages import compose
from notifications.models import CHANNELS, KINDS, PENDING, SKIPPED, SMS, Notification
from notifications.optouts import opted_out_among
from xiaobao.clock import utcnow
from xiaobao.settings import get_settings

_CHUNK = 500  # rows per INSERT: 500 × 14 parameters stays under SQLite's 32,766


@dataclass(frozen=True)
class NotificationItem:
    """Notify ``uscc`` of ``policy_id`` at ``policy_version`` (``kind``: eligible, possible or
    mianshen) by ``channel``; the title is all the message says of the policy."""

    uscc: str
    policy_id: str
    policy_version: int
    kind: str
    policy_title: str
    channel: str = SMS


def _checked(item: NotificationItem) -> NotificationItem:
    if item.kind not in KINDS:
        raise NotificationError(f"通知类型应为 {'/'.join(KINDS)}。 / kind must be one of "
                                f"{list(KINDS)}.", code="bad_notification_kind")
    if item.channel not in CHANNELS:
        raise NotificationError(f"通知渠道应为 {'/'.join(CHANNELS)}。 / channel must be one of "
                                f"{list(CHANNELS)}.", code="bad_notification_channel")
    if (not item.policy_id or not str(item.policy_title).strip()
            or not isinstance(item.policy_version, int) or item.policy_version < 1):
        raise NotificationError("通知须指明政策、版本（正整数）及政策名称。 / A notification "
                                "names its policy, version (a positive integer) and title.",
                                code="bad_notification_policy")
    return NotificationItem(checked_uscc(item.uscc), item.policy_id, item.policy_version,
                            item.kind, item.policy_title, item.channel)


def _insert_ignoring_duplicates(session: Session, rows: list[dict]) -> int:
    dialect = session.get_bind().dialect.name
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(Notification).values(rows).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(Notification).values(rows).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"enqueue supports SQLite and PostgreSQL, not {dialect}")
    result = session.execute(statement)
    return int(cast("CursorResult[Any]", result).rowcount)


def enqueue(session: Session, items: Iterable[NotificationItem], *,
            now: dt.datetime | None = None, portal_url: str | None = None) -> int:
    """Insert the notifications not recorded yet; returns how many rows are new (skipped
    ones of opted-out enterprises included: they are recorded once too). Nothing is sent."""
    now = (now or utcnow()).astimezone(dt.UTC)
    portal = portal_url or get_settings().notify_portal_url
    unique: dict[tuple, NotificationItem] = {}
    for raw in items:
        item = _checked(raw)
        unique.setdefault((item.uscc, item.policy_id, item.policy_version, item.kind), item)
    refused = opted_out_among(session, (i.uscc for i in unique.values()))
    rows = [{
        "id": uuid.uuid4().hex, "uscc": i.uscc, "policy_id": i.policy_id,
        "policy_version": i.policy_version, "kind": i.kind, "channel": i.channel,
        "text": compose(i.kind, i.channel, i.policy_id, i.policy_title, portal),
        "status": SKIPPED if i.uscc in refused else PENDING, "attempts": 0,
        "next_attempt_at": now, "created_at": now, "sent_at": None,
        "provider_message_id": "", "last_error": "",
    } for i in unique.values()]
    new = 0
    for start in range(0, len(rows), _CHUNK):
        new += _insert_ignoring_duplicates(session, rows[start:start + _CHUNK])
    session.flush()
    return new

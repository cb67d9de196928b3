"""What the notification tests share: a session on the migrated database (SQLite, and
PostgreSQL when given), enterprises' codes, items, a fixed clock and always-open rules."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from notifications.dispatch import SendRules
from notifications.models import Notification
from notifications.outbox import NotificationItem
from xiaobao.clock import SHANGHAI, ServiceCalendar
from xiaobao.db import session_factory

PORTAL = "https://ywtb.example.gov.cn"
# Monday 7 December 2026, 10:00 in Shanghai: inside the default sending hours.
MONDAY_10 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI)
ALWAYS = SendRules(calendar=ServiceCalendar(
    weekly={d: ((dt.time.min, dt.time.max),) for d in range(1, 8)}),
    per_minute=100_000, max_attempts=5, retry_base_s=60)


def uscc(n: int) -> str:
    """An 18-character code in GB 32100's alphabet (the check digit is not ours to verify)."""
    return f"91310113MA1G{n:05d}X"


def item(n: int, policy: str = "pol-001", version: int = 1, kind: str = "eligible",
         channel: str = "sms", title: str = "宝山区小微企业创业补贴") -> NotificationItem:
    return NotificationItem(uscc(n), policy, version, kind, title, channel)


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with session_factory(engine)() as s:
        yield s


def all_rows(session: Session) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).order_by(Notification.uscc,
                                                              Notification.kind)))

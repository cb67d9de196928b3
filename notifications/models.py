"""The notification tables: one row per enterprise, policy version and kind, and opt-outs."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaobao.clock import utcnow
from xiaobao.db import Base

ELIGIBLE, POSSIBLE, MIANSHEN = "eligible", "possible", "mianshen"  # 免申即享, department-confirmed
KINDS = (ELIGIBLE, POSSIBLE, MIANSHEN)
SMS, INBOX = "sms", "inbox"  # 站内信
CHANNELS = (SMS, INBOX)
PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped_opted_out"
STATUSES = (PENDING, SENT, FAILED, SKIPPED)
OPT_OUT_VIA = ("portal", "sms", "staff")


class Notification(Base):
    """One message to one enterprise about one policy version. The unique key is what makes
    it "sent once": a retried or repeated enqueue finds the row already there."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("uscc", "policy_id", "policy_version", "kind",
                         name="uq_notifications_once"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
    )

    # Also the idempotency key the provider deduplicates by (a resend keeps it).
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    policy_id: Mapped[str] = mapped_column(String(64), index=True)
    policy_version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    provider_message_id: Mapped[str] = mapped_column(String(128), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")


class NotificationOptOut(Base):
    """An enterprise that refused notifications: nothing more is sent to it."""

    __tablename__ = "notification_optouts"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    via: Mapped[str] = mapped_column(String(8))  # portal | sms | staff

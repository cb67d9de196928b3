"""The tables of the batch runs and the 免申即享 work lists."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaobao.clock import utcnow
from xiaobao.db import Base

# A work item's life: the department confirms or declines it; a confirmed one is notified and
# confirmed by the enterprise (一键确认); the department then records the grant.
PENDING, CONFIRMED, DECLINED, ACCEPTED, GRANTED = (
    "pending", "confirmed", "declined", "accepted", "granted")
ITEM_STATUSES = (PENDING, CONFIRMED, DECLINED, ACCEPTED, GRANTED)


class BatchRun(Base):
    """One evaluation of the published policies over the register: when, why, by whom, and
    what it found."""

    __tablename__ = "batch_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    day: Mapped[dt.date] = mapped_column(Date)
    trigger: Mapped[str] = mapped_column(String(32))  # manual, published, facts_changed
    by: Mapped[str] = mapped_column(String(64), default="")
    policy_id: Mapped[str] = mapped_column(String(64), default="")  # "": every policy
    enterprise_count: Mapped[int] = mapped_column(Integer, default=0)
    policy_count: Mapped[int] = mapped_column(Integer, default=0)
    eligible: Mapped[int] = mapped_column(Integer, default=0)
    possible: Mapped[int] = mapped_column(Integer, default=0)
    work_item_count: Mapped[int] = mapped_column(Integer, default=0)  # new ones
    notification_count: Mapped[int] = mapped_column(Integer, default=0)  # new ones


class WorkItem(Base):
    """One enterprise a 免申即享 policy version qualifies from authoritative, fresh facts:
    the department's to confirm. ``why`` keeps the facts, their sources and the rule version
    the decision came from, so it can be explained and audited later."""

    __tablename__ = "work_items"
    __table_args__ = (
        UniqueConstraint("policy_id", "policy_version", "uscc", name="uq_work_items_once"),
        Index("ix_work_items_department_status", "department", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    policy_id: Mapped[str] = mapped_column(String(64), index=True)
    policy_version: Mapped[int] = mapped_column(Integer)
    rule_version: Mapped[str] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(String(128), default="")
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    run_id: Mapped[int] = mapped_column(Integer)
    why: Mapped[str] = mapped_column(Text)  # JSON: facts, sources, met conditions
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(String(500), default="")
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    granted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    granted_by: Mapped[str] = mapped_column(String(64), default="")

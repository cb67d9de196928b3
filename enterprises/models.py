"""The register's tables: enterprises, their append-only facts, and the audit of reads,
exports and imports."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xiaobao.clock import utcnow
from xiaobao.db import Base


class Enterprise(Base):
    """One enterprise, addressed by its 统一社会信用代码."""

    __tablename__ = "enterprises"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EnterpriseFact(Base):
    """One value of one field as one source gave it on ``as_of``. Rows are only added (the
    history is the table) and deleted by the retention rule for conversation facts."""

    __tablename__ = "enterprise_facts"
    __table_args__ = (Index("ix_enterprise_facts_uscc_field", "uscc", "field"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uscc: Mapped[str] = mapped_column(String(18), ForeignKey("enterprises.uscc"))
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)  # policies.facts.fact_json of the parsed value
    source: Mapped[str] = mapped_column(String(32), index=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    loaded_by: Mapped[str] = mapped_column(String(64), default="")
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    batch: Mapped[str] = mapped_column(String(36), default="")


class RegisterAudit(Base):
    """Who read, exported or imported the register, when and why."""

    __tablename__ = "register_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # read, export, import
    uscc: Mapped[str | None] = mapped_column(String(18), nullable=True, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")  # JSON text: file, rows, batch …

"""Where a fact came from, and what that makes it worth.

An authority's data (市场监管登记, 税务 …: which ones is configuration,
``register_authoritative_sources``) ranks above what the enterprise said itself (企业自报,
对话中填报), which stays visible beside it. A fact is fresh for its field's window after its
as-of date (``register_freshness_days``, per field ``register_field_freshness_days``); only
fresh authoritative facts may carry a 免申即享 grant.
"""
from __future__ import annotations

import datetime as dt

from xiaobao.settings import Settings, get_settings

SELF_REPORTED = "企业自报"
CONVERSATION = "对话中填报"  # given in a chat check-up; expires (retention/register_facts.py)
DECLARED = (SELF_REPORTED, CONVERSATION)
SOURCES = ("市场监管登记", "税务", "人社", "科委认定名单", "经信委认定名单", "统计局", "残联",
           *DECLARED)


def known_sources(settings: Settings | None = None) -> tuple[str, ...]:
    """Every source the register accepts: the shipped names and any configured authority."""
    settings = settings or get_settings()
    extra = [s for s in settings.register_authoritative_sources if s not in SOURCES]
    return (*SOURCES, *extra)


def is_authoritative(source: str, settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    return source in settings.register_authoritative_sources


def freshness_days(field: str, settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    return settings.register_field_freshness_days.get(field, settings.register_freshness_days)


def within(as_of: dt.date, day: dt.date, window_days: int) -> bool:
    """The freshness rule: as of no later than ``day`` and at most ``window_days`` before it
    (the last day of the window included)."""
    return as_of <= day and (day - as_of).days <= window_days


def is_fresh(field: str, as_of: dt.date, day: dt.date, settings: Settings | None = None) -> bool:
    """Whether a fact of ``field`` as of ``as_of`` still holds on ``day``."""
    return within(as_of, day, freshness_days(field, settings))

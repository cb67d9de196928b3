"""Refusing notifications: on the portal, by replying TD to an SMS, or through staff.

An opt-out is kept for good (one row per enterprise, the first way it came) and takes effect
at once: the enterprise's pending notifications are marked skipped_opted_out in the same
transaction, and the dispatcher checks again right before each send.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from notifications.errors import NotificationError, checked_uscc
from notifications.models import OPT_OUT_VIA, PENDING, SKIPPED, Notification, NotificationOptOut
from xiaobao.clock import utcnow

# What an SMS reply may say to refuse (the sentence every SMS ends with says "TD").
OPT_OUT_REPLIES = frozenset({"TD", "T", "退订", "N"})
_CHUNK = 500


def opt_out(session: Session, uscc: str, via: str, *, now: dt.datetime | None = None) -> bool:
    """Record the refusal (in the caller's transaction); False when it was already recorded.
    Pending notifications of the enterprise are skipped either way."""
    if via not in OPT_OUT_VIA:
        raise NotificationError(f"退订渠道应为 {'/'.join(OPT_OUT_VIA)}。 / via must be one of "
                                f"{list(OPT_OUT_VIA)}.", code="bad_opt_out_via")
    code = checked_uscc(uscc)
    new = session.get(NotificationOptOut, code) is None
    if new:
        session.add(NotificationOptOut(uscc=code, at=(now or utcnow()).astimezone(dt.UTC),
                                       via=via))
    session.execute(update(Notification)
                    .where(Notification.uscc == code, Notification.status == PENDING)
                    .values(status=SKIPPED)
                    .execution_options(synchronize_session=False))
    session.flush()
    return new


def opted_out(session: Session, uscc: str) -> bool:
    return session.get(NotificationOptOut, checked_uscc(uscc)) is not None


def opted_out_among(session: Session, usccs: Iterable[str]) -> set[str]:
    """Which of these enterprises refused (one query per 500)."""
    codes = sorted(set(usccs))
    out: set[str] = set()
    for i in range(0, len(codes), _CHUNK):
        chunk = codes[i:i + _CHUNK]
        out |= set(session.scalars(select(NotificationOptOut.uscc)
                                   .where(NotificationOptOut.uscc.in_(chunk))))
    return out


def handle_sms_reply(session: Session, uscc: str, text: str, *,
                     now: dt.datetime | None = None) -> bool:
    """An SMS reply the gateway received from an enterprise's registered number (the provider
    resolves the number to the USCC). True when it was a refusal, now recorded."""
    if "".join(text.split()).upper() not in OPT_OUT_REPLIES:
        return False
    opt_out(session, uscc, "sms", now=now)
    return True

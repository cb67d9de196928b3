"""Dispatch configuration (``handoff/config.yaml``) as one frozen dataclass.

Tests change a value with ``dataclasses.replace(load_config(), service_level_s={...})``
and pass the result to the function under test; nothing reads the file twice.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from xiaobao.clock import SHANGHAI_ZONE, ServiceCalendar

DEFAULT_PATH = Path(__file__).with_name("config.yaml")


@dataclass(frozen=True)
class CallSettings:
    max_attempts: int = 2
    retry_delay_s: float = 120
    callback_max_age_s: float = 300
    # A dial with no word from the telephony side for this long is stuck (the gateway died
    # mid-dial, a call-back was lost): the sweep settles it (handoff.calls.settle_stuck_dials).
    dial_timeout_s: float = 180


@dataclass(frozen=True)
class HandoffConfig:
    central_department: str
    routing: dict[str, str]
    service_level_s: dict[str, float]
    concurrency_cap: int = 3
    heartbeat_ttl_s: float = 30
    average_handle_s: float = 240
    escalation_factor: float = 2
    retention_days: int = 180
    calls: CallSettings = CallSettings()
    hours: ServiceCalendar = ServiceCalendar()
    # 响应率: service seconds from queueing to the first human response (12345: the call
    # connected) that count as "in time"; not the reclaim threshold above.
    response_service_level_s: dict[str, float] = field(default_factory=dict)

    @property
    def departments(self) -> list[str]:
        """Every department that has a queue, the central desk first."""
        out = [self.central_department]
        for dept in self.routing.values():
            if dept not in out:
                out.append(dept)
        return out

    def level(self, channel: str) -> float:
        return float(self.service_level_s.get(channel, 60))

    def response_level(self, channel: str) -> float:
        """The 响应率 service level of ``channel`` in service seconds (180 unless configured)."""
        return float(self.response_service_level_s.get(channel, 180))

    def replace(self, **changes: Any) -> HandoffConfig:
        return dataclasses.replace(self, **changes)


def _spans(items: list[str]) -> tuple[tuple[dt.time, dt.time], ...]:
    out = []
    for item in items or []:
        start, end = item.split("-")
        out.append((dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())))
    return tuple(out)


def _dates(items: list) -> frozenset[dt.date]:
    """Dates or ``first..last`` ranges (YAML may already have parsed single dates)."""
    out: set[dt.date] = set()
    for item in items or []:
        if isinstance(item, dt.date):
            out.add(item)
            continue
        text = str(item)
        if ".." in text:
            first, last = (dt.date.fromisoformat(p.strip()) for p in text.split(".."))
            day = first
            while day <= last:
                out.add(day)
                day += dt.timedelta(days=1)
        else:
            out.add(dt.date.fromisoformat(text.strip()))
    return frozenset(out)


def parse_config(raw: dict) -> HandoffConfig:
    hours = raw.get("hours") or {}
    calls = raw.get("calls") or {}
    return HandoffConfig(
        central_department=str(raw.get("central_department", "综合窗口")),
        routing={str(k): str(v) for k, v in (raw.get("routing") or {}).items()},
        service_level_s={str(k): float(v) for k, v in (raw.get("service_level_s") or {}).items()},
        response_service_level_s={str(k): float(v) for k, v in
                                  (raw.get("response_service_level_s") or {}).items()},
        concurrency_cap=int(raw.get("concurrency_cap", 3)),
        heartbeat_ttl_s=float(raw.get("heartbeat_ttl_s", 30)),
        average_handle_s=float(raw.get("average_handle_s", 240)),
        escalation_factor=float(raw.get("escalation_factor", 2)),
        retention_days=int(raw.get("retention_days", 180)),
        calls=CallSettings(
            max_attempts=int(calls.get("max_attempts", 2)),
            retry_delay_s=float(calls.get("retry_delay_s", 120)),
            callback_max_age_s=float(calls.get("callback_max_age_s", 300)),
            dial_timeout_s=float(calls.get("dial_timeout_s", 180)),
        ),
        hours=ServiceCalendar(
            timezone=str(hours.get("timezone", SHANGHAI_ZONE)),
            weekly={int(k): _spans(v) for k, v in (hours.get("weekly") or {}).items()},
            workday=_spans(hours.get("workday") or []),
            holidays=_dates(hours.get("holidays") or []),
            workdays=_dates(hours.get("workdays") or []),
        ),
    )


def load_config(path: Path | str | None = None) -> HandoffConfig:
    """The configuration at ``path`` (``settings.handoff_config``), else the packaged one."""
    if path is None:
        return packaged_config()
    with open(path, encoding="utf-8") as fh:
        return parse_config(yaml.safe_load(fh) or {})


@lru_cache(maxsize=1)
def packaged_config() -> HandoffConfig:
    """``handoff/config.yaml`` as shipped (read once; the dataclass is frozen)."""
    with open(DEFAULT_PATH, encoding="utf-8") as fh:
        return parse_config(yaml.safe_load(fh) or {})

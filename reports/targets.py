"""The target line of each rate the centre is judged by, in one place: the dashboard draws them
(``GET /api/reports/targets``) and marks a rate that misses its line.

满意率 ≥ 90%, 不属实率 ≤ 20% and 首办成功率 ≥ 90% are the centre's assessment lines (issue 10);
响应率 ≥ 95% and 解决率 ≥ 90% are this project's choice, to be set by the centre.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    metric: str  # a key of reports.rates.RATES
    label: str
    value: float  # a share, 0..1
    at_least: bool  # True: the rate must reach ``value``; False: it must stay at or under it

    def met(self, rate: float | None) -> bool | None:
        """Whether ``rate`` is on the right side of the line; None when it is not available."""
        if rate is None:
            return None
        return rate >= self.value if self.at_least else rate <= self.value

    def to_dict(self) -> dict:
        return {"metric": self.metric, "label": self.label, "value": self.value,
                "direction": "at_least" if self.at_least else "at_most"}


TARGETS: tuple[Target, ...] = (
    Target("response_rate", "响应率", 0.95, at_least=True),
    Target("resolution_rate", "解决率", 0.90, at_least=True),
    Target("satisfaction_rate", "满意率", 0.90, at_least=True),
    Target("unfounded_rate", "不属实率", 0.20, at_least=False),
    Target("first_contact_resolution_rate", "首办成功率", 0.90, at_least=True),
)

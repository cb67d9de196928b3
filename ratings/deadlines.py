"""The Shanghai "1、5、15" timers of a 差评 work order, in working days.

A *working day* is a day of the project's calendar (``handoff/config.yaml`` ``hours``) that
is not a public holiday and is either Monday to Friday or a 调休 make-up working day. Service
hours do not matter here: a Saturday with morning service is still not a working day.

"Within N working days" means by the end of the N-th working day *after* the day of opening
(Asia/Shanghai): a 差评 opened at any hour of a Friday has its 1-day contact due by the end of
Monday (24:00, i.e. before Tuesday 00:00), unless Monday is a holiday. The due instant is
the exclusive end of that day; a step is late when done at or after it, or when it is still
not done at that instant. The timers always run from the opening: an overturned 不属实
review does not restart them.

* contact: 1 working day;
* fix: 5 working days for a simple case, 15 for a complex one (``case.complexity``,
  simple until said otherwise);
* follow-up (回访): recorded, with no deadline of its own.

A superseded case, or one upheld 不属实, has its timers stopped: nothing is overdue.
"""
from __future__ import annotations

import datetime as dt

from ratings.cases import BadRatingCase, Complexity, Stage
from xiaobao.clock import ServiceCalendar, aware, due_after

CONTACT_DAYS = 1
FIX_DAYS = {Complexity.SIMPLE: 5, Complexity.COMPLEX: 15}
def rectification_due(opened_at: dt.datetime, calendar: ServiceCalendar
                      ) -> dict[str, dt.datetime]:
    """``contact_due``, ``fix_due_simple``, ``fix_due_complex``: exclusive deadlines."""
    return {"contact_due": due_after(opened_at, CONTACT_DAYS, calendar),
            "fix_due_simple": due_after(opened_at, FIX_DAYS[Complexity.SIMPLE], calendar),
            "fix_due_complex": due_after(opened_at, FIX_DAYS[Complexity.COMPLEX], calendar)}


def fix_due(case: BadRatingCase, calendar: ServiceCalendar) -> dt.datetime:
    return due_after(case.opened_at, FIX_DAYS[Complexity(case.complexity)], calendar)


def _late(due: dt.datetime, done_at: dt.datetime | None, now: dt.datetime) -> bool:
    return (done_at if done_at is not None else aware(now)) >= due


def timer_state(case: BadRatingCase, now: dt.datetime, calendar: ServiceCalendar) -> dict:
    """Per stage (``contacted``, ``fixed``, ``followed_up``): ``due`` (None for the
    follow-up), ``done_at`` and ``overdue`` (late: done at or after ``due``, or not done by
    ``now``); for the case, ``overdue`` (any stage late), ``late_now`` (a stage still not done
    past its due: someone must act) and ``stopped`` (superseded or upheld 不属实)."""
    stopped = case.superseded or case.unfounded
    dues = {Stage.CONTACTED: due_after(case.opened_at, CONTACT_DAYS, calendar),
            Stage.FIXED: fix_due(case, calendar), Stage.FOLLOWED_UP: None}
    stages: dict[str, dict] = {}
    for stage, due in dues.items():
        done_at = case.done_at(stage)
        overdue = due is not None and not stopped and _late(due, done_at, now)
        stages[stage.value] = {"due": due, "done_at": done_at, "overdue": overdue}
    return {**stages, "overdue": any(s["overdue"] for s in stages.values()),
            "late_now": any(s["overdue"] and s["done_at"] is None for s in stages.values()),
            "stopped": stopped}


def rectified_in_time(case: BadRatingCase, calendar: ServiceCalendar) -> bool:
    """Contacted and fixed, each before its deadline (差评整改率's numerator)."""
    contacted, fixed = case.done_at(Stage.CONTACTED), case.done_at(Stage.FIXED)
    return (contacted is not None and fixed is not None
            and contacted < due_after(case.opened_at, CONTACT_DAYS, calendar)
            and fixed < fix_due(case, calendar))


def timers_json(state: dict) -> dict:
    """:func:`timer_state` with ISO datetimes, for the API and the dashboard."""
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    out: dict = {key: state[key] for key in ("overdue", "late_now", "stopped")}
    for stage in Stage:
        s = state[stage.value]
        out[stage.value] = {"due": iso(s["due"]), "done_at": iso(s["done_at"]),
                            "overdue": s["overdue"]}
    return out

"""`xiaobao report --from DATE --to DATE [--by KEY] [--json]`: the service rates of a window.

The figures are :func:`reports.rates.summary`'s (definitions in the README, 服务指标): a table
for people, or with ``--json`` the one object the API's ``/api/reports/summary`` answers.
"""
from __future__ import annotations

import datetime as dt
import json

import typer
from rich.console import Console
from rich.table import Table

from reports import facts, rates, window

LABELS = {
    "response_rate": "响应率", "resolution_rate": "解决率", "bot_resolution_rate": "机器人解决率",
    "satisfaction_rate": "满意率", "unfounded_rate": "不属实率",
    "first_contact_resolution_rate": "首办成功率", "containment_rate": "机器人自助率",
    "active_rating_rate": "主动评价率", "rectified_in_time_rate": "差评整改率",
    "follow_up_rate": "回访率", "first_response_s": "首次响应用时", "handling_s": "处理用时",
    "queue_wait_s": "排队用时", facts.ABANDONED_EARLY: "服务时限内放弃",
}
NOT_AVAILABLE = "—"


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        typer.echo(f"{option} 须为日期 YYYY-MM-DD，收到“{text}”。 / {option} must be a date "
                   f"YYYY-MM-DD, got {text!r}.", err=True)
        raise typer.Exit(2) from None


def shown(figure: object, compact: bool = False) -> str:
    """A figure as a table cell: ``85.7% (6/7)``, ``p50 120 s · p90 300 s (n=5)`` or — when
    not available; ``compact``: ``85.7%``, ``120 s``."""
    if isinstance(figure, int):
        return str(figure)
    assert isinstance(figure, dict)
    if "p50" in figure:
        if not figure["n"]:
            return NOT_AVAILABLE
        if compact:
            return f"{figure['p50']:.0f} s"
        return f"p50 {figure['p50']:.0f} s · p90 {figure['p90']:.0f} s (n={figure['n']})"
    if figure["value"] is None:
        return NOT_AVAILABLE
    if compact:
        return f"{figure['value']:.1%}"
    return f"{figure['value']:.1%} ({figure['numerator']}/{figure['denominator']})"


def report_command(
        first: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD (Asia/Shanghai)"),
        last: str = typer.Option(..., "--to", help="Last day, included"),
        by: str | None = typer.Option(None, "--by",
                                      help="department | channel | helper | category | day"),
        as_json: bool = typer.Option(False, "--json", help="One JSON object instead of tables"),
) -> None:
    """The service rates of the tickets and conversations that started in the window."""
    from handoff.config import load_config
    from xiaobao.db import get_engine, upgrade
    from xiaobao.settings import get_settings

    start, end = _date(first, "--from"), _date(last, "--to")
    if by is not None and by not in facts.BREAKDOWNS:
        typer.echo(f"--by 须为 {' | '.join(facts.BREAKDOWNS)} 之一。 / --by must be one of "
                   f"{', '.join(facts.BREAKDOWNS)}.", err=True)
        raise typer.Exit(2)
    try:
        window.check_window(start, end)
    except window.WindowError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(2) from None
    engine = get_engine()
    upgrade(engine)
    figures = rates.summary(engine, start, end, by=by,
                            config=load_config(get_settings().handoff_config))
    figures["mianshen"] = _mianshen(engine)
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    console = Console()
    table = Table(title=f"服务指标 / Service rates {start} – {end}")
    table.add_column("指标")
    table.add_column("key")
    table.add_column("值 / value", justify="right")
    for name, label in LABELS.items():
        table.add_row(label, name, shown(figures[name]))
    console.print(table)
    if by is not None:
        rows = Table(title=f"按 {by} 分 / by {by}")
        rows.add_column(by, no_wrap=True)
        for name in LABELS:
            rows.add_column(LABELS[name], justify="right", no_wrap=True,
                            min_width=2 * len(LABELS[name]))
        for row in figures["breakdown"]["rows"]:
            rows.add_row(row["key"], *(shown(row[name], compact=True) for name in LABELS))
        # Fifteen columns: at least 200 wide, the terminal wraps what it cannot show.
        Console(width=max(console.width, 200)).print(rows)
    if figures["mianshen"]["policies"]:
        console.print(_mianshen_table(figures["mianshen"]))


MIANSHEN_LABELS = {"qualifying": "符合", "notified": "已通知", "confirmed": "部门确认",
                   "accepted": "企业确认", "granted": "已兑现", "declined": "不予确认"}


def _mianshen(engine) -> dict:
    """免申即享 and 政策推送 so far (not windowed: a work list is open until it is done), per
    policy and per department (entitlements.counts)."""
    from entitlements.counts import by_department, outcomes
    from xiaobao.db import session_scope

    with session_scope(engine) as session:
        rows = outcomes(session)
    return {"policies": [r.to_dict() for r in rows], "departments": by_department(rows)}


def _mianshen_table(found: dict) -> Table:
    table = Table(title="免申即享与政策推送 / entitlements and notifications (to date)")
    table.add_column("政策 / policy", no_wrap=True)
    table.add_column("部门", no_wrap=True)
    for label in MIANSHEN_LABELS.values():
        table.add_column(label, justify="right")
    table.add_column("发布→通知 中位(时)", justify="right")
    table.add_column("确认→兑现 中位(时)", justify="right")

    def hours(seconds: float | None) -> str:
        return "—" if seconds is None else f"{seconds / 3600:.1f}"

    for row in found["policies"]:
        table.add_row(row["policy_id"], row["department"] or "—",
                      *(str(row[k]) for k in MIANSHEN_LABELS),
                      hours(row["publish_to_notify_median_s"]),
                      hours(row["accept_to_grant_median_s"]))
    return table

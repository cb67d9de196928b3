"""`xiaobao notify …`: 政策推送 from the command line — the dispatcher, the counts, an
opt-out taken by staff, and the simulator provider for development.

``holidays`` may be set by the command-line root to the centre's calendar (handoff's
configuration) so the working-day rule knows public holidays and 调休 days; this package
cannot read it itself.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import typer
from sqlalchemy import Engine

from xiaobao.clock import ServiceCalendar

app = typer.Typer(no_args_is_help=True)
holidays: Callable[[], ServiceCalendar] | None = None


def _engine() -> Engine:
    from xiaobao.db import get_engine, upgrade

    engine = get_engine()
    upgrade(engine)
    return engine


@app.command("dispatch")
def dispatch_command(once: bool = typer.Option(False, "--once", help="one pass, then exit"),
                     limit: int = typer.Option(100, help="sends at most per pass")) -> None:
    """Send due notifications in the sending hours at the capped rate (until stopped)."""
    from notifications.dispatch import dispatch, rules_from_settings
    from notifications.notifier import notifier_from_settings
    from xiaobao.db import session_factory
    from xiaobao.settings import get_settings

    settings = get_settings()
    engine = _engine()
    notifier = notifier_from_settings(settings)
    rules = rules_from_settings(settings, holidays() if holidays else None)
    while True:
        with session_factory(engine)() as session:
            report = dispatch(session, notifier, None, limit, rules=rules)
        if report.tried or once:
            typer.echo(f"sent={report.sent} retrying={report.retrying} failed={report.failed} "
                       f"skipped={report.skipped} capped={report.capped}"
                       + (f" opens_at={report.opens_at.isoformat()}" if report.opens_at else ""))
        if once:
            return
        if not report.tried or report.capped or report.opens_at:
            time.sleep(settings.notify_interval_s)


@app.command("status")
def status_command(policy: str = typer.Option("", help="only this policy id")) -> None:
    """Per policy: notified, pending, failed, skipped (opted out), queued → sent times."""
    from notifications.counts import counts
    from xiaobao.db import session_scope

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    with session_scope(_engine()) as session:
        rows = counts(session, policy or None)
    typer.echo(f"{'policy':<24} {'notified':>8} {'pending':>7} {'failed':>6} {'opted_out':>9} "
               f"{'median_s':>8} {'p90_s':>7}")
    for c in rows:
        typer.echo(f"{c.policy_id:<24} {c.notified:>8} {c.pending:>7} {c.failed:>6} "
                   f"{c.opted_out:>9} {secs(c.median_s):>8} {secs(c.p90_s):>7}")


@app.command("opt-out")
def opt_out_command(uscc: str,
                    via: str = typer.Option("staff", help="portal | sms | staff")) -> None:
    """Record that an enterprise refuses notifications (its pending ones are skipped)."""
    from notifications.errors import NotificationError
    from notifications.optouts import opt_out
    from xiaobao.db import session_scope

    try:
        with session_scope(_engine()) as session:
            new = opt_out(session, uscc, via)
    except NotificationError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(2) from None
    typer.echo("已退订 / opted out" if new else "此前已退订 / already opted out")


@app.command("simulator")
def simulator_command(port: int = typer.Option(8765, help="port on 127.0.0.1")) -> None:
    """Run the simulator provider (HTTP, nothing is sent): point notify_sms_url and
    notify_inbox_url at the URL it prints."""
    from notifications.notifier import Simulator
    from notifications.simulator import SimulatorServer

    server = SimulatorServer(Simulator(), port=port).start()
    typer.echo(f"政策推送模拟器（不会真正发送）/ notification SIMULATOR at {server.url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    app()

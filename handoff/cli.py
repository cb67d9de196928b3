"""`xiaobao handoff …`: recovery, retention purge, and a look at the queues."""
from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("recover")
def recover_command() -> None:
    """Re-queue every open ticket from SQL and restore conversation modes (after Redis lost data)."""
    from handoff.recovery import recover
    from xiaobao.db import get_engine, upgrade

    engine = get_engine()
    upgrade(engine)
    report = recover(engine)
    typer.echo(f"requeued={report.requeued} already_queued={report.already_queued} "
               f"owned={report.owned} modes_restored={report.modes_restored} "
               f"helpers_restored={report.helpers_restored} skipped={report.skipped}")


@app.command("purge")
def purge_command(days: int = typer.Option(None, help="retention in days (default: config)")
                  ) -> None:
    """Delete transcripts (and phone numbers) of tickets closed longer ago than the retention."""
    from handoff.config import default_config
    from handoff.privacy import purge_expired_transcripts
    from xiaobao.db import get_engine, upgrade

    engine = get_engine()
    upgrade(engine)
    retention = days if days is not None else default_config().retention_days
    report = purge_expired_transcripts(retention, engine=engine)
    typer.echo(f"retention={retention}d tickets={report['tickets']} "
               f"messages_deleted={report['messages_deleted']} "
               f"left_message_phones_cleared={report['left_message_phones_cleared']}")


@app.command("queues")
def queues_command(department: list[str] = typer.Option(None, help="limit to these departments"),
                   all_rows: bool = typer.Option(False, "--all", help="show empty queues too")
                   ) -> None:
    """Waiting, in progress, escalated and oldest wait per channel and department."""
    from handoff.dispatch import queue_overview
    from xiaobao.db import get_engine, upgrade

    engine = get_engine()
    upgrade(engine)
    rows = queue_overview(list(department) if department else None, engine=engine)
    typer.echo(f"{'channel':<14} {'department':<16} waiting prio in_prog escal on_duty oldest_s")
    for q in rows:
        if not all_rows and not (q.waiting or q.in_progress or q.helpers_on_duty):
            continue
        typer.echo(f"{q.channel:<14} {q.department:<16} {q.waiting:>7} {q.waiting_priority:>4} "
                   f"{q.in_progress:>7} {q.escalated:>5} {q.helpers_on_duty:>7} "
                   f"{q.oldest_wait_s:>8}")

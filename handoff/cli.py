"""`xiaobao handoff …`: recovery, closing a ticket, a look at the queues.

(`xiaobao handoff purge` is retention's command, joined to this group by the command-line root.)

The command line builds its own context from settings (the one place globals are read); it
has no bot to hand a closed conversation back to, so that step waits in the outbox until a
running gateway drains it.
"""
from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


def command_context():
    """The handoff context the commands work in (also retention's purge command)."""
    from handoff.config import load_config
    from handoff.context import HandoffContext
    from handoff.queue import connect
    from xiaobao.db import get_engine, upgrade
    from xiaobao.settings import get_settings

    settings = get_settings()
    engine = get_engine()
    upgrade(engine)
    return HandoffContext(engine=engine, redis=connect(settings.redis_url),
                          config=load_config(settings.handoff_config),
                          max_chars=settings.max_message_chars)


@app.command("recover")
def recover_command() -> None:
    """Re-queue open tickets from SQL and restore conversation modes (after Redis lost data)."""
    from handoff.recovery import recover

    report = recover(command_context())
    typer.echo(f"requeued={report.requeued} already_queued={report.already_queued} "
               f"owned={report.owned} modes_restored={report.modes_restored} "
               f"helpers_restored={report.helpers_restored} "
               f"outbox_published={report.outbox_published} skipped={report.skipped}")


@app.command("close")
def close_command(ticket_id: str,
                  status: str = typer.Option("resolved", help="resolved | unresolved | abandoned"),
                  note: str = typer.Option("", help="why, for the record"),
                  by: str = typer.Option("cli", "--by", help="who closes it")) -> None:
    """Close a ticket from the command line (a leader's decision taken outside the console)."""
    from handoff.closing import close_ticket
    from handoff.tickets import FINAL_STATES, OPEN_STATES, HandoffError

    if status not in FINAL_STATES:
        typer.echo(f"状态须为 {'/'.join(sorted(FINAL_STATES))} / status must be one of "
                   f"{sorted(FINAL_STATES)}", err=True)
        raise typer.Exit(2)
    try:
        info = close_ticket(ticket_id, status, ctx=command_context(), actor=by, note=note,
                            expect=OPEN_STATES)
    except HandoffError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{info.id} {info.status}")


@app.command("queues")
def queues_command(department: list[str] = typer.Option(None, help="limit to these departments"),
                   all_rows: bool = typer.Option(False, "--all", help="show empty queues too")
                   ) -> None:
    """Waiting, in progress, escalated and oldest wait per channel and department."""
    from handoff.views import queue_overview

    rows = queue_overview(list(department) if department else None, ctx=command_context())
    typer.echo(f"{'channel':<14} {'department':<16} waiting prio in_prog escal on_duty oldest_s")
    for q in rows:
        if not all_rows and not (q.waiting or q.in_progress or q.helpers_on_duty):
            continue
        typer.echo(f"{q.channel:<14} {q.department:<16} {q.waiting:>7} {q.waiting_priority:>4} "
                   f"{q.in_progress:>7} {q.escalated:>5} {q.helpers_on_duty:>7} "
                   f"{q.oldest_wait_s:>8}")


@app.command("sms-outbox")
def sms_outbox_command(phone: str = typer.Option("", help="only the messages to this number")
                       ) -> None:
    """What the SMS simulator 'sent' (call-back codes, newest first), where no SMS gateway is
    configured (settings.sms_url): for development and a centre trying 小宝 out."""
    import datetime as dt

    from handoff.phone_codes import simulated_messages
    from handoff.queue import connect
    from xiaobao.settings import get_settings

    for m in simulated_messages(connect(get_settings().redis_url), phone or None):
        at = dt.datetime.fromtimestamp(m["at"]).isoformat(timespec="seconds")
        typer.echo(f"{at}  {m['phone']}  {m['text']}")

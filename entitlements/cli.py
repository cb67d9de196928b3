"""``xiaobao policy batch`` (every published policy over the register) and ``xiaobao
worklist`` (the departments' 免申即享 work lists) on the command line."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from policies.cli import in_store  # one transaction; a refusal is a sentence, exit 1

worklist_app = typer.Typer(no_args_is_help=True, add_completion=False,
                           help="免申即享 work lists: list, confirm or decline, grant")


def _day(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        typer.echo(f"日期应为 YYYY-MM-DD：{text[:40]} / --date must be YYYY-MM-DD.", err=True)
        raise typer.Exit(2) from None


def batch_command(
        date: str = typer.Option(None, "--date", help="the day to evaluate on (default today)"),
        policy: str = typer.Option(None, "--policy", help="only this published policy"),
        out: Path = typer.Option(None, "--out", help="write every eligible/possible pair to"
                                                      " this .xlsx (or .csv)"),
        as_json: bool = typer.Option(False, "--json", help="one JSON line per eligible or "
                                                           "possible pair"),
        record: bool = typer.Option(True, "--record/--dry-run",
                                    help="create work items and notifications (default)"),
        by: str = typer.Option("cli", help="who runs it")) -> None:
    """Evaluate every published policy over the whole register (vectorised)."""
    from entitlements.runs import evaluate, run_batch

    day = _day(date)

    def work(s):
        if record:
            summary = run_batch(s, day=day, by=by, policy_id=policy)
            return summary.result, summary.to_dict()
        result, _ = evaluate(s, day or dt.date.today(), policy)
        return result, {"enterprises": len(result.table), "policies": len(result.policies)}

    result, summary = in_store(work)
    rows = list(result.rows())
    if out is not None:
        from xiaobao import tabular

        header = ["uscc", "policy", "status", "mianshen_ready"]
        if out.suffix.lower() == ".xlsx":
            with out.open("wb") as book:
                tabular.write_xlsx(book, "batch", header, ([r[k] for k in header] for r in rows))
        else:
            with out.open("w", encoding="utf-8", newline="") as text:
                tabular.write_csv(text, header, rows)
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r, ensure_ascii=False))
    else:
        typer.echo(json.dumps(summary, ensure_ascii=False), err=as_json)


@worklist_app.command("list")
def list_command(policy: str = typer.Option(None, help="only this policy"),
                 department: str = typer.Option(None, help="only this department"),
                 status: str = typer.Option(None, help="pending, confirmed, declined, "
                                                       "accepted, granted")) -> None:
    """The work items, one JSON line each, with why each qualifies."""
    from entitlements.worklists import item_dict, work_list

    def work(s):
        return [item_dict(i) for i in work_list(
            s, departments=[department] if department else None, policy_id=policy,
            status=status, limit=100_000)]

    for row in in_store(work):
        typer.echo(json.dumps(row, ensure_ascii=False))


@worklist_app.command("decide")
def decide_command(item_id: int, confirm: bool = typer.Option(..., "--confirm/--decline"),
                   note: str = typer.Option("", help="why (needed to decline)"),
                   by: str = typer.Option(..., help="who decides")) -> None:
    """The department confirms or declines one enterprise."""
    from entitlements.worklists import decide, item_dict

    typer.echo(json.dumps(in_store(lambda s: item_dict(decide(
        s, item_id, actor=by, confirm=confirm, note=note), with_why=False)),
        ensure_ascii=False))


@worklist_app.command("grant")
def grant_command(item_id: int, by: str = typer.Option(..., help="who records it")) -> None:
    """Record that an accepted item's benefit was granted."""
    from entitlements.worklists import grant, item_dict

    typer.echo(json.dumps(in_store(lambda s: item_dict(grant(s, item_id, actor=by),
                                                     with_why=False)), ensure_ascii=False))


def rerun_after(command, trigger: str):
    """``command`` (a typer callback that changes policies or facts), then the batch over the
    register, so the command line finds the newly eligible as publishing in the workbench
    does. The summary goes to stderr; the command's own output is unchanged."""
    import functools

    @functools.wraps(command)
    def wrapped(*args, **kwargs):
        result = command(*args, **kwargs)
        if kwargs.get("dry_run"):
            return result
        from entitlements.runs import run_batch

        summary = in_store(lambda s: run_batch(s, by="cli", trigger=trigger).to_dict())
        typer.echo("batch: " + json.dumps(summary, ensure_ascii=False), err=True)
        return result

    return wrapped


def rerun_batch_after_changes(policy_app: typer.Typer, enterprises_app: typer.Typer) -> None:
    """Wrap the commands that publish policies or load facts (import, publish, rollback of a
    policy; import of the register)."""
    for app, names, trigger in ((policy_app, {"import", "publish", "seed"}, "published"),
                                (enterprises_app, {"import", "seed"}, "facts_changed")):
        for info in app.registered_commands:
            name = info.name or (info.callback.__name__ if info.callback else "")
            if name in names and info.callback is not None:
                info.callback = rerun_after(info.callback, trigger)

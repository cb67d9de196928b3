"""`xiaobao policy …`: the policy store (import, export, seed, history, submit, publish,
archive) and the check of enterprise profiles against the published policies.

``check`` reads profiles as JSON Lines (``{"id", "facts", "declined"}``) and writes one result
line each, the contract scripts and tests use (README, 政策体检).
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import typer

from xiaobao import clock

app = typer.Typer(no_args_is_help=True)


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(2)


def _profiles(path: Path) -> list[dict]:
    out = []
    for number, line in enumerate(path.read_text("utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            profile = json.loads(line)
        except ValueError:
            _fail(f"{path}:{number}: 不是有效的 JSON / not valid JSON")
        if not isinstance(profile, dict) or "id" not in profile:
            _fail(f"{path}:{number}: 每行应为带 id 的对象 / each line needs an id")
        out.append(profile)
    return out


def check_profile(profile: dict, policies: list, day: dt.date,
                  priors: dict[str, dict[str, float]] | None = None) -> dict:
    """One output line: the statuses and the next question (None when nothing is undecided;
    weighed with ``priors``, the answers counted in check-ups, when given)."""
    from policies.evaluator import check
    from policies.facts import parse_facts
    from policies.fields import default_dictionary
    from policies.planner import next_question

    dictionary = default_dictionary()
    facts = parse_facts(profile.get("facts") or {}, dictionary)
    declined = {str(d) for d in profile.get("declined") or ()}
    checked = check(policies, facts, day, declined=declined, dictionary=dictionary)
    question = next_question(policies, facts, day, declined=declined, dictionary=dictionary,
                             result=checked, priors=priors)
    return {"id": profile["id"], **checked.to_dict(),
            "next_question": question.to_dict() if question else None}


@app.command("check")
def check_command(
        profiles: Path = typer.Option(..., "--profiles", exists=True, dir_okay=False,
                                      help="JSON Lines: {id, facts, declined}"),
        policies_file: Path = typer.Option(None, "--policies", exists=True, dir_okay=False,
                                           help="policies to check instead of the published"
                                                " ones (YAML or JSON Lines)"),
        date: str = typer.Option("", help="the check date, YYYY-MM-DD (default: today, "
                                          "Asia/Shanghai)"),
        as_json: bool = typer.Option(False, "--json", help="one JSON line a profile"),
        learned: bool = typer.Option(False, "--learned",
                                     help="weigh the next question with the answers counted "
                                          "in check-ups (Redis), as the chat and page do")
        ) -> None:
    """Which policies each profile qualifies for, may qualify for (and what is missing), does
    not (and why), and the next question worth asking (by default with every answer weighed
    equally, so a profile file gives the same lines wherever it is checked)."""
    from policies.evaluator import policy_from_dict
    from policies.facts import FactError, parse_date
    from policies.store import load_file, published

    try:
        day = parse_date(date) if date else clock.today()
    except ValueError:
        _fail(f"日期格式应为 YYYY-MM-DD：{date} / --date must be YYYY-MM-DD")
    try:
        raw = load_file(policies_file) if policies_file else published()
        policies = [policy_from_dict(p) for p in raw]
    except ValueError as exc:
        _fail(f"政策无法读取 / cannot read the policies: {getattr(exc, 'message', exc)}")
    priors = _learned_priors() if learned else None
    for profile in _profiles(profiles):
        try:
            line = check_profile(profile, policies, day, priors)
        except FactError as exc:
            _fail(f"{profile['id']}: {exc.message}")
        if as_json:
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        else:
            typer.echo(f"{line['id']}: 符合 {len(line['eligible'])} 项，可能符合 "
                       f"{len(line['possible'])} 项，不符合 {len(line['ineligible'])} 项，"
                       f"未施行或已到期 {len(line['not_in_force'])} 项")


def _learned_priors() -> dict[str, dict[str, float]]:
    """The counts the gateways keep (policies.priors); none while Redis does not answer."""
    from policies.fields import default_dictionary
    from policies.priors import PolicyPriors
    from xiaobao import redis_clients
    from xiaobao.settings import get_settings

    client = redis_clients.client(get_settings().redis_url, connect_timeout_s=2, read_timeout_s=5)
    try:
        return PolicyPriors(client).read(default_dictionary())
    finally:
        client.close()


def in_store(work):
    """``work(session)`` in one transaction on the migrated store; a refusal is its sentence on
    stderr and exit code 1, never a traceback."""
    from xiaobao.db import get_engine, session_scope, upgrade
    from xiaobao.errors import XiaobaoError

    engine = get_engine()
    upgrade(engine)
    try:
        with session_scope(engine) as s:
            return work(s)
    except XiaobaoError as exc:  # the store's refusals, and those of the packages built on it
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None


def _report(head: str, report) -> None:
    typer.echo(f"{head}: created={len(report.created)} updated={len(report.updated)} "
               f"unchanged={len(report.unchanged)}")


@app.command("import")
def import_command(files: list[Path] = typer.Argument(..., exists=True, dir_okay=False),
                   dry_run: bool = typer.Option(False, "--dry-run",
                                                help="check and preview, write nothing"),
                   by: str = typer.Option("cli", help="who imports (kept in the history)")
                   ) -> None:
    """Import YAML, JSON Lines or XLSX: all or nothing, idempotent by id."""
    from policies.store import import_files

    def work(s):
        report = import_files(s, list(files), by, dry_run=dry_run)
        if dry_run:
            s.rollback()
        return report

    _report("预览（未写入）/ dry run" if dry_run else "已导入 / imported", in_store(work))


@app.command("seed")
def seed_command(if_empty: bool = typer.Option(False, "--if-empty",
                                              help="only into a store with no item yet")
                 ) -> None:
    """Load the shipped seed (policies/seed/*.yaml, reviewed and published), idempotently."""
    from policies.store import SEED, all_items, import_files

    def work(s):
        if if_empty and all_items(s):
            return None
        return import_files(s, sorted(SEED.glob("*.yaml")), "seed")

    report = in_store(work)
    if report is None:
        typer.echo("policy store not empty: seed skipped")
    else:
        _report("seeded", report)


@app.command("export")
def export_command(file: Path) -> None:
    """Every item to FILE (.yaml, .jsonl or .xlsx), conditions as JSON in XLSX."""
    from policies.store import export

    typer.echo(f"exported {in_store(lambda s: export(s, file))} → {file}")


@app.command("history")
def history_command(policy_id: str) -> None:
    """Every version of one item: who, when, what, why."""
    from policies.store import history

    for r in in_store(lambda s: history(s, policy_id)):
        typer.echo(f"v{r['version']} {r['at'][:19]} {r['action']:<8} {r['status']:<10} "
                   f"{r['actor']} {r['why']}")


def _transition(name: str):
    def command(policy_id: str, by: str = typer.Option(..., help="who does it"),
                why: str = typer.Option("", help="why (kept in the history)")) -> None:
        from policies import store

        status = in_store(lambda s: getattr(store, name)(s, policy_id, by, why).status)
        typer.echo(f"{policy_id}: {status}")

    command.__doc__ = {"submit": "Send a draft to review.",
                       "publish": "Publish an item in review (by a second editor).",
                       "archive": "Withdraw an item."}[name]
    return command


for _name in ("submit", "publish", "archive"):
    app.command(_name)(_transition(_name))



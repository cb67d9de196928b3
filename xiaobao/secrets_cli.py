"""`xiaobao secrets`: generate the install's secrets, and hand them to the processes `make run`
starts (Rasa needs its API token and the action-endpoint token on its command line and in
endpoints.yml)."""
from __future__ import annotations

import shlex

import typer

from xiaobao.secrets import ensure_secrets
from xiaobao.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("ensure")
def ensure() -> None:
    """Create <home>/secrets.json (mode 600) with random secrets unless it exists."""
    path = ensure_secrets(Settings().home)
    typer.echo(f"secrets: {path}")


@app.command("env")
def env() -> None:
    """Shell `export` lines for the Rasa server's tokens (the environment's own values win)."""
    settings = Settings()
    for name in ("rasa_token", "action_token"):
        typer.echo(f"export XIAOBAO_{name.upper()}={shlex.quote(getattr(settings, name))}")

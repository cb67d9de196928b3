"""Sub-commands (filled in by the package's owner)."""
import typer

app = typer.Typer(no_args_is_help=True)

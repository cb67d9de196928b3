"""`xiaobao handoff purge`: the system-wide retention purge (joined to the handoff group by the
command-line root, where operators have always found it)."""
from __future__ import annotations

import typer


def purge_command(days: int = typer.Option(None, help="retention in days (default: config)"),
                  trackers: bool = typer.Option(
                      True, "--trackers/--no-trackers",
                      help="also delete Rasa's trackers of the purged conversations (the "
                           "tracker store named by endpoints.yml)"),
                  expire_untimed: bool = typer.Option(
                      False, "--expire-untimed-trackers",
                      help="give trackers saved without an expiry (before record_exp was "
                           "set) one of the retention period")) -> None:
    """Remove every copy of personal data past the retention: turns, ticket fields, numbers,
    留言 texts, event texts, and Rasa's trackers of conversations that are over."""
    from handoff.cli import command_context
    from retention.purge import (
        expire_untimed_trackers,
        purge_expired_transcripts,
        tracker_store_from_endpoints,
    )
    from xiaobao.settings import REPO_ROOT

    ctx = command_context()
    retention = days if days is not None else ctx.config.retention_days
    store = tracker_store_from_endpoints(REPO_ROOT / "endpoints.yml") if trackers else None
    client = store.client() if store is not None else None
    try:
        report = purge_expired_transcripts(
            retention, ctx=ctx, tracker_redis=client,
            tracker_key_prefix=store.key_prefix if store is not None else None)
        if expire_untimed and client is not None and store is not None:
            report["trackers_given_expiry"] = expire_untimed_trackers(
                client, retention * 86400, store.key_prefix)
    finally:
        if client is not None:
            client.close()
    typer.echo(f"retention={retention}d " + " ".join(f"{k}={v}" for k, v in report.items()))

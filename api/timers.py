"""The gateway's background jobs: the handoff work that no request triggers.

* every ``sweep_interval_s``: tickets of helpers whose heartbeat expired go back in the queue
  (claims also sweep, but a quiet queue has no claims);
* every ``due_calls_interval_s``: 12345 calls whose time has come are dialled (calls asked for
  out of hours, retries after ``no_answer``);
* every ``purge_interval_s``: transcripts past the retention period are deleted, and the
  facts enterprises gave the register in conversations past theirs;
* every ``outbox_interval_s``: ticket changes whose publication to Redis (or hand-back to the
  bot) did not go through at once are published (:func:`handoff.outbox.drain`).

One asyncio task runs them all; each job runs in a worker thread (the handoff functions are
synchronous) and in its own ``try``, so one failing job never stops the others. Several
gateways may run the same jobs at once: every state change in :mod:`handoff` is a
compare-and-set on SQL, so the second one finds nothing to do.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from api.services import Services
from handoff import call_adapters, calls, duty, outbox
from retention.purge import purge_expired_transcripts
from retention.register_facts import purge_declared
from xiaobao.clock import utcnow
from xiaobao.db import session_scope
from xiaobao.settings import Settings

log = logging.getLogger("api.timers")


@dataclass
class Job:
    name: str
    interval_s: float
    run: Callable[[], object]
    next_at: float = 0.0  # monotonic time; 0 = at start-up
    runs: int = 0
    failures: int = 0


def gateway_jobs(services: Services, adapter: call_adapters.CallAdapter) -> list[Job]:
    settings: Settings = services.settings
    ctx = services.handoff

    def sweep() -> list[str]:
        return duty.sweep_gone_helpers(ctx=ctx)

    def dial_due_calls() -> list[str]:
        started = calls.start_due_calls(adapter, ctx=ctx)
        if isinstance(adapter, call_adapters.SimulatorAdapter) and not adapter.autoplay:
            # The development simulator reports one status a tick, so a call can be watched.
            adapter.play(steps=1)
        return started

    def settle_stuck_dials() -> list[str]:
        return calls.settle_stuck_dials(adapter, ctx=ctx)

    def purge() -> dict[str, int]:
        report = purge_expired_transcripts(ctx.config.retention_days, ctx=ctx)
        with session_scope(ctx.engine) as session:  # the register's conversation facts
            report["register_conversation_facts"] = purge_declared(session, utcnow())
        return report

    def drain_outbox() -> int:
        return outbox.drain(ctx)

    return [Job("sweep_gone_helpers", settings.sweep_interval_s, sweep),
            Job("start_due_calls", settings.due_calls_interval_s, dial_due_calls),
            Job("settle_stuck_dials", settings.due_calls_interval_s, settle_stuck_dials),
            Job("purge_expired_transcripts", settings.purge_interval_s, purge),
            Job("drain_outbox", settings.outbox_interval_s, drain_outbox)]


async def run_jobs(jobs: list[Job], *, idle_s: float = 1.0) -> None:
    """Run each job when due, forever (until cancelled)."""
    while True:
        for job in jobs:
            if time.monotonic() < job.next_at:
                continue
            try:
                result = await asyncio.to_thread(job.run)
                if result:
                    log.info("%s: %s", job.name, result)
            except Exception:  # one job's failure must not stop the others
                job.failures += 1
                log.exception("background job %s failed", job.name)
            job.runs += 1
            job.next_at = time.monotonic() + job.interval_s
        wake = min(job.next_at for job in jobs) - time.monotonic()
        await asyncio.sleep(max(0.05, min(idle_s, wake)))


def simulator_adapter(settings: Settings) -> call_adapters.SimulatorAdapter:
    """The development call adapter: signed call-backs posted to this gateway's own endpoint.

    There is no telephone line here; a real CTI/SIP integration is another adapter set on
    ``app.state.call_adapter``.
    """
    url = f"http://{settings.gateway_host}:{settings.gateway_port}/api/calls/callback"

    def deliver(body: bytes, headers: dict[str, str]) -> int:
        response = httpx.post(url, content=body, headers=headers, timeout=5.0)
        return response.status_code

    return call_adapters.SimulatorAdapter(deliver=deliver, secret=settings.call_callback_secret)

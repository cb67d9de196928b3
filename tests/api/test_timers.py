"""The gateway's background jobs, running in the real app's lifespan against our own Redis."""
import asyncio
import dataclasses
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.timers import Job, run_jobs
from handoff import call_adapters, calls, claims, closing, duty, outbox, queue, views
from handoff.requests import Candidate, HandoffRequest, request_handoff
from handoff.store import history
from tests.api.support import SAME_ORIGIN, conversation_of
from xiaobao.accounts import Account, create_account
from xiaobao.db import session_scope

DEPT = "区市场监管局"


@pytest.fixture
def timed_app(settings, redis_client, open_hours_config):
    """The gateway with its jobs every 0.2 s and the centre open around the clock."""
    fast = settings.model_copy(update={
        "background_jobs": True, "sweep_interval_s": 0.2, "due_calls_interval_s": 0.2,
        "outbox_interval_s": 0.2, "handoff_config": open_hours_config})
    app = create_app(fast)
    services = app.state.services
    config = services.config
    # Before the lifespan starts: the jobs are built with the services' context.
    services.handoff = services.handoff.replace(config=config.replace(
        calls=dataclasses.replace(config.calls, retry_delay_s=0.3)))
    return app


def wait_for(predicate, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def hotline_request(app) -> str:
    receipt = request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=f"conv-{uuid.uuid4().hex[:8]}",
        channel="hotline_12345", phone="13812345678", summary="营业执照办理咨询"),
        ctx=app.state.services.handoff)
    assert receipt.call_id
    return receipt.call_id


def test_timer_dials_due_calls_and_the_retry_after_no_answer(timed_app):
    app = timed_app
    services = app.state.services
    delivered = []

    def deliver(body: bytes, headers: dict[str, str]):
        delivered.append(body)
        return calls.handle_callback(body, headers, ctx=services.handoff,
                                     secret=services.settings.call_callback_secret)

    assert services.config.calls.retry_delay_s == 0.3
    app.state.call_adapter = call_adapters.SimulatorAdapter(
        deliver=deliver, secret=services.settings.call_callback_secret,
        script={1: ["ringing", "no_answer"],
                2: ["ringing", "answered", "three_way_connected", "completed"]})
    with TestClient(app, headers=SAME_ORIGIN):
        call_id = hotline_request(app)  # nobody calls start_call: the timer must
        done = wait_for(lambda: (c := calls.get_call(call_id, ctx=services.handoff)).status
                        == "completed" and c)
    assert done.attempts == 2  # first try no answer, the timer dialled the retry
    assert done.external_id == f"sim-{call_id[:8]}-2"
    assert len(delivered) == 6


def test_timer_requeues_the_ticket_of_a_helper_whose_heartbeat_expired(timed_app):
    app = timed_app
    ctx = app.state.services.handoff
    engine, redis, config = ctx.engine, ctx.redis, ctx.config
    with TestClient(app, headers=SAME_ORIGIN):
        with session_scope(engine) as s:
            create_account(s, "ann", "correct-horse", roles=["helper"], departments=[DEPT])
        with session_scope(engine) as s:
            ann = s.query(Account).filter_by(username="ann").one()
            s.expunge(ann)
        duty.set_helper_status(ann, "on_duty", ctx=ctx)
        category = next(c for c, d in config.routing.items() if d == DEPT)
        ticket_id = request_handoff(HandoffRequest(
            request_id=uuid.uuid4().hex, conversation_id="conv-gone", channel="online_helper",
            candidates=[Candidate(id="kb-1", question="q", category=category, score=0.5)]),
            ctx=ctx).ticket_id
        claimed = claims.claim_next_ticket(ann, ctx=ctx)
        assert claimed.id == ticket_id
        time.sleep(0.5)
        assert views.queue_status(ticket_id, ctx=ctx).status == "claimed"

        redis.pexpire(queue.alive_key("ann"), 100)  # the console closed: no more heartbeats
        status = wait_for(lambda: (st := views.queue_status(
            ticket_id, ctx=ctx)).status == "queued" and st, timeout_s=5)
    assert status.position == 1 and status.helper is None
    with session_scope(engine) as s:
        last = history(s, ticket_id)[-1]
    assert (last.from_status, last.to_status) == ("claimed", "queued")
    assert "离线" in last.note
    runs = {job.name: job.runs for job in app.state.jobs}
    assert runs["sweep_gone_helpers"] > 3
    assert runs["purge_expired_transcripts"] == 1  # at start-up, then every few hours
    failures = {job.name: job.failures for job in app.state.jobs}
    assert failures["purge_expired_transcripts"] == 0  # it ran, it did not just raise


def test_timer_hands_a_closed_conversation_back_once_rasa_answers_again(timed_app, rasa):
    """The close succeeded while Rasa was down; the outbox job retries the hand-back."""
    app = timed_app
    ctx = app.state.services.handoff
    with TestClient(app, headers=SAME_ORIGIN) as browser:
        browser.get("/")
        conversation_id = conversation_of(browser)
        with session_scope(ctx.engine) as s:
            create_account(s, "ann", "correct-horse", roles=["helper"], departments=[DEPT])
            ann = s.query(Account).filter_by(username="ann").one()
            s.flush()
            s.expunge(ann)
        category = next(c for c, d in ctx.config.routing.items() if d == DEPT)
        ticket_id = request_handoff(HandoffRequest(
            request_id=uuid.uuid4().hex, conversation_id=conversation_id,
            channel="online_helper", visitor_id=conversation_id,
            candidates=[Candidate(id="kb-1", question="q", category=category, score=0.5)]),
            ctx=ctx).ticket_id
        duty.set_helper_status(ann, "on_duty", ctx=ctx)
        assert claims.claim_next_ticket(ann, ctx=ctx).id == ticket_id

        rasa.status = 500
        closing.resolve_ticket(ticket_id, ann, "已解答", ctx=ctx)
        assert outbox.pending(ctx, conversation_id, kind=outbox.RETURNED) == 1
        time.sleep(0.5)  # a few ticks of the job while Rasa is still down
        assert outbox.pending(ctx, conversation_id, kind=outbox.RETURNED) == 1
        assert not [p for p, _ in rasa.api_calls if p.endswith("/execute")]

        rasa.status = 200
        wait_for(lambda: outbox.pending(ctx, conversation_id, kind=outbox.RETURNED) == 0)
        history = browser.get("/api/chat/history").json()
        time.sleep(0.5)  # more ticks: nothing is handed back twice
    assert [p.rsplit("/", 1)[-1] for p, _ in rasa.api_calls
            if p.endswith("/execute")] == ["execute"]
    assert history["mode"] == "bot"
    assert history["messages"][-1]["text"] == "请您对本次服务进行评价："
    runs = {job.name: job.runs for job in app.state.jobs}
    assert runs["drain_outbox"] > 3


async def test_one_failing_job_does_not_stop_the_others():
    ran = []

    def boom():
        raise RuntimeError("redis down")

    jobs = [Job("boom", 0.01, boom), Job("ok", 0.01, lambda: ran.append(1))]
    task = asyncio.create_task(run_jobs(jobs, idle_s=0.01))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert jobs[0].failures >= 3 and len(ran) >= 3


def test_the_purge_job_also_deletes_old_conversation_facts_of_the_register(client, services):
    """The register's rule for facts given in conversations runs with the transcripts' purge."""
    import datetime as dt

    from sqlalchemy import func, select

    from api.timers import gateway_jobs
    from enterprises.models import EnterpriseFact
    from enterprises.register import add_declared, ensure_enterprise
    from enterprises.uscc import check_character

    uscc = "91310113MA1GT0001" + check_character("91310113MA1GT0001")
    with session_scope(services.engine) as s:
        ensure_enterprise(s, uscc, "留存公司")
        add_declared(s, uscc, {"employees": 12}, by="chat")
        s.flush()
        s.execute(EnterpriseFact.__table__.update().values(
            loaded_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    jobs = gateway_jobs(services, call_adapters.SimulatorAdapter(deliver=lambda *_: None))
    [purge] = [j for j in jobs if j.name == "purge_expired_transcripts"]
    report = purge.run()
    assert report["register_conversation_facts"] == 1
    with session_scope(services.engine) as s:
        assert s.scalar(select(func.count()).select_from(EnterpriseFact)) == 0

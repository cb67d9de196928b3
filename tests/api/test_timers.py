"""The gateway's background jobs, running in the real app's lifespan against our own Redis."""
import asyncio
import dataclasses
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.timers import Job, run_jobs
from handoff import calls, dispatch, queue
from handoff.requests import Candidate, HandoffRequest
from handoff.store import history
from xiaobao.accounts import Account, create_account
from xiaobao.db import session_scope

DEPT = "区市场监管局"


@pytest.fixture
def timed_app(settings, redis_client, open_hours_config):
    """The gateway with its jobs every 0.2 s and the centre open around the clock."""
    fast = settings.model_copy(update={
        "background_jobs": True, "sweep_interval_s": 0.2, "due_calls_interval_s": 0.2,
        "handoff_config": open_hours_config})
    app = create_app(fast)
    config = app.state.handoff_config
    app.state.handoff_config = config.replace(calls=dataclasses.replace(config.calls,
                                                                       retry_delay_s=0.3))
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
    receipt = dispatch.request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=f"conv-{uuid.uuid4().hex[:8]}",
        channel="hotline_12345", phone="13812345678", summary="营业执照办理咨询"),
        engine=app.state.engine, redis=app.state.redis, config=app.state.handoff_config)
    assert receipt.call_id
    return receipt.call_id


def test_timer_dials_due_calls_and_the_retry_after_no_answer(timed_app):
    app = timed_app
    delivered = []

    def deliver(body: bytes, headers: dict[str, str]):
        delivered.append(body)
        return calls.handle_callback(body, headers, engine=app.state.engine,
                                     redis=app.state.redis, config=app.state.handoff_config,
                                     secret=app.state.settings.call_callback_secret)

    app.state.call_adapter = calls.SimulatorAdapter(
        deliver=deliver, secret=app.state.settings.call_callback_secret,
        script={1: ["ringing", "no_answer"],
                2: ["ringing", "answered", "three_way_connected", "completed"]})
    with TestClient(app):
        call_id = hotline_request(app)  # nobody calls start_call: the timer must
        done = wait_for(lambda: (c := calls.get_call(call_id, engine=app.state.engine)).status
                        == "completed" and c)
    assert done.attempts == 2  # first try no answer, the timer dialled the retry
    assert done.external_id == f"sim-{call_id[:8]}-2"
    assert len(delivered) == 6


def test_timer_requeues_the_ticket_of_a_helper_whose_heartbeat_expired(timed_app):
    app = timed_app
    engine, redis, config = app.state.engine, app.state.redis, app.state.handoff_config
    with TestClient(app):
        with session_scope(engine) as s:
            create_account(s, "ann", "correct-horse", roles=["helper"], departments=[DEPT])
        with session_scope(engine) as s:
            ann = s.query(Account).filter_by(username="ann").one()
            s.expunge(ann)
        dispatch.set_helper_status(ann, "on_duty", engine=engine, redis=redis, config=config)
        category = next(c for c, d in config.routing.items() if d == DEPT)
        ticket_id = dispatch.request_handoff(HandoffRequest(
            request_id=uuid.uuid4().hex, conversation_id="conv-gone", channel="online_helper",
            candidates=[Candidate(id="kb-1", question="q", category=category, score=0.5)]),
            engine=engine, redis=redis, config=config).ticket_id
        claimed = dispatch.claim_next_ticket(ann, engine=engine, redis=redis, config=config)
        assert claimed.id == ticket_id
        time.sleep(0.5)
        assert dispatch.queue_status(ticket_id, engine=engine, redis=redis).status == "claimed"

        redis.pexpire(queue.alive_key("ann"), 100)  # the console closed: no more heartbeats
        status = wait_for(lambda: (st := dispatch.queue_status(
            ticket_id, engine=engine, redis=redis)).status == "queued" and st, timeout_s=5)
    assert status.position == 1 and status.helper is None
    with session_scope(engine) as s:
        last = history(s, ticket_id)[-1]
    assert (last.from_status, last.to_status) == ("claimed", "queued")
    assert "离线" in last.note
    runs = {job.name: job.runs for job in app.state.jobs}
    assert runs["sweep_gone_helpers"] > 3
    assert runs["purge_expired_transcripts"] == 1  # at start-up, then every few hours


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

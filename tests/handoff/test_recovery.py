"""Redis loses everything mid-way: recovery restores every open ticket and every mode."""
from __future__ import annotations

import uuid

from handoff import dispatch, queue, recovery, relay
from handoff.requests import Candidate, HandoffRequest
from handoff.store import Ticket
from xiaobao.db import session_scope

from .conftest import make_helper

DEPT = "区行政服务中心"


def _req(i: int, complaint: bool = False) -> HandoffRequest:
    return HandoffRequest(request_id=uuid.uuid4().hex, conversation_id=f"rec-{i}",
                          channel="online_helper", complaint=complaint,
                          candidates=[Candidate(id="kb", question="q", category="跨省通办",
                                                score=0.9)])


def test_flush_mid_way_then_recover(engine, r, config):
    a = make_helper(engine, "ha", [DEPT])
    b = make_helper(engine, "hb", [DEPT])
    for h in (a, b):
        dispatch.set_helper_status(h, "on_duty", cap=50, engine=engine, redis=r, config=config)
    receipts = [dispatch.request_handoff(_req(i, complaint=(i % 7 == 0)), engine=engine,
                                         redis=r, config=config) for i in range(30)]
    talking = dispatch.claim_next_ticket(a, engine=engine, redis=r, config=config)
    relay.send_helper_message(talking.id, a, "您好，我是帮办", engine=engine, redis=r)
    relay.send_user_message(talking.conversation_id, "你好", engine=engine, redis=r)
    resolved = dispatch.claim_next_ticket(a, engine=engine, redis=r, config=config)
    dispatch.resolve_ticket(resolved.id, a, engine=engine, redis=r, config=config)
    waiting_ids = {x.ticket_id for x in receipts} - {talking.id, resolved.id}

    r.flushall()  # Redis keeps nothing on disk here: this is a restart
    assert relay.get_mode(talking.conversation_id, engine=engine, redis=r).mode == "human"
    r.flushall()

    report = recovery.recover(engine, r, config)
    assert report.requeued == len(waiting_ids) and report.owned == 1
    assert report.modes_restored == len(waiting_ids) + 1
    again = recovery.recover(engine, r, config)  # idempotent
    assert again.requeued == 0 and again.already_queued == len(waiting_ids)

    # modes: waiting users still wait, the user with a helper is still with the helper
    assert r.get(queue.mode_key(talking.conversation_id)) == f"human|{talking.id}"
    for x in receipts:
        if x.ticket_id in waiting_ids:
            with session_scope(engine) as s:
                conv = s.get(Ticket, x.ticket_id).conversation_id
            assert relay.get_mode(conv, engine=engine, redis=r).mode == "waiting"
    # the conversation continues, the transcript is complete
    relay.send_user_message(talking.conversation_id, "还在吗", engine=engine, redis=r)
    relay.send_helper_message(talking.id, a, "在的", engine=engine, redis=r)
    texts = [m["text"] for m in relay.transcript(talking.conversation_id, engine=engine)]
    assert texts == ["您好，我是帮办", "你好", "还在吗", "在的"]
    # the helper holding a ticket was given grace, not swept away
    assert dispatch.sweep_gone_helpers(engine=engine, redis=r, config=config) == []

    got = []
    while (t := dispatch.claim_next_ticket(b, engine=engine, redis=r, config=config)):
        got.append(t)
    assert {t.id for t in got} == waiting_ids and len(got) == len(waiting_ids)
    flags = [t.priority for t in got]
    assert flags == sorted(flags, reverse=True) and sum(flags) == 3  # complaints 14, 21, 28 first


def test_recover_on_empty_redis_and_database_is_harmless(engine, r, config):
    report = recovery.recover(engine, r, config)
    assert (report.requeued, report.owned, report.skipped) == (0, 0, False)
    assert r.exists(queue.queue_key("online_helper", DEPT, True))


def test_redis_restart_under_a_running_gateway_heals_at_the_next_claim(engine, r, config):
    recovery.recover(engine, r, config)  # what start-up did
    receipts = [dispatch.request_handoff(_req(100 + i), engine=engine, redis=r, config=config)
                for i in range(5)]
    r.flushall()  # Redis restarts; the gateway keeps running and nobody calls recover()
    late = dispatch.request_handoff(_req(200), engine=engine, redis=r, config=config)
    helper = make_helper(engine, "hc", [DEPT])
    dispatch.set_helper_status(helper, "on_duty", cap=50, engine=engine, redis=r, config=config)
    got = []
    while (t := dispatch.claim_next_ticket(helper, engine=engine, redis=r, config=config)):
        got.append(t.id)
    # every ticket comes back once; the ones recovered keep their order among themselves (the
    # one queued after the restart is already in the stream, so it is not behind them)
    assert sorted(got) == sorted([x.ticket_id for x in receipts] + [late.ticket_id])
    assert [t for t in got if t != late.ticket_id] == [x.ticket_id for x in receipts]

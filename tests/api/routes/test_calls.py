"""The 12345 call-back endpoint, driven by handoff's simulator adapter over real HTTP requests."""
import datetime as dt
import json
import time
import uuid
from zoneinfo import ZoneInfo

from handoff import call_adapters, call_signing, calls
from handoff.requests import HandoffRequest, request_handoff

OPEN = dt.datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Tuesday morning
SECRET = "test-callback-secret"  # the test settings' call_callback_secret


def request_call(client) -> str:
    receipt = request_handoff(HandoffRequest(
        request_id=uuid.uuid4().hex, conversation_id=f"conv-{uuid.uuid4().hex[:8]}",
        channel="hotline_12345", phone="13812345678", time_window="今天上午",
        summary="营业执照办理咨询"), ctx=client.app.state.services.handoff)
    assert receipt.call_id
    return receipt.call_id


def simulator(client, script):
    def deliver(body: bytes, headers: dict[str, str]):
        return client.post("/api/calls/callback", content=body,
                           headers={**headers, "Content-Type": "application/json"})

    return call_adapters.SimulatorAdapter(deliver=deliver, script=script, secret=SECRET)


def start(client, call_id, adapter):
    return calls.start_call(call_id, adapter, ctx=client.app.state.services.handoff, now=OPEN)


def status_of(client, call_id) -> call_adapters.CallInfo:
    return calls.get_call(call_id, ctx=client.app.state.services.handoff)


def test_full_call_through_the_simulator(client):
    call_id = request_call(client)
    adapter = simulator(client, {1: ["ringing", "answered", "three_way_connected", "completed"]})
    start(client, call_id, adapter)
    responses = adapter.play()
    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    assert [r.json()["call"]["status"] for r in responses] == [
        "ringing", "answered", "three_way_connected", "completed"]
    assert status_of(client, call_id).status == "completed"


def test_no_answer_is_retried_once_then_unreachable(client):
    call_id = request_call(client)
    adapter = simulator(client, {1: ["ringing", "no_answer"], 2: ["ringing", "no_answer"]})
    start(client, call_id, adapter)
    adapter.play()
    first = status_of(client, call_id)
    assert first.status == "scheduled" and first.attempts == 1
    start(client, call_id, adapter)
    adapter.play()
    final = status_of(client, call_id)
    assert final.status == "unreachable" and final.attempts == 2


def test_forged_signature_is_refused(client):
    call_id = request_call(client)
    before = status_of(client, call_id)  # requested, or scheduled inside service hours
    body = json.dumps({"call_id": call_id, "status": "ringing"}).encode()
    headers = call_signing.sign(body, secret="not-our-secret")
    response = client.post("/api/calls/callback", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "callback_rejected"
    assert status_of(client, call_id) == before


def test_tampered_body_is_refused(client):
    call_id = request_call(client)
    body = json.dumps({"call_id": call_id, "status": "ringing"}).encode()
    headers = call_signing.sign(body, secret=SECRET)
    tampered = body.replace(b"ringing", b"failed!")
    assert client.post("/api/calls/callback", content=tampered, headers=headers).status_code == 401


def test_replayed_callback_is_refused(client):
    call_id = request_call(client)
    adapter = simulator(client, {1: ["ringing"]})
    start(client, call_id, adapter)
    body = json.dumps({"call_id": call_id, "status": "ringing"}).encode()
    headers = call_signing.sign(body, secret=SECRET)
    assert client.post("/api/calls/callback", content=body, headers=headers).status_code == 200
    replay = client.post("/api/calls/callback", content=body, headers=headers)
    assert replay.status_code == 401 and "重复" in replay.json()["error"]["message"]


def test_stale_callback_is_refused(client):
    call_id = request_call(client)
    body = json.dumps({"call_id": call_id, "status": "ringing"}).encode()
    headers = call_signing.sign(body, secret=SECRET, timestamp=int(time.time()) - 3600)
    response = client.post("/api/calls/callback", content=body, headers=headers)
    assert response.status_code == 401 and "过期" in response.json()["error"]["message"]


def test_unsigned_and_oversized_callbacks_are_refused(client):
    assert client.post("/api/calls/callback", content=b"{}").status_code == 401
    big = b"{" + b" " * 20000 + b"}"
    assert client.post("/api/calls/callback", content=big,
                       headers=call_signing.sign(big, secret=SECRET)).status_code == 413

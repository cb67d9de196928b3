"""The HTTP simulator: bad requests answered 400, and the hold that lets a test kill a
dispatcher after the provider has a message and before the dispatcher hears so."""
from __future__ import annotations

import threading

import httpx
import pytest

from notifications.notifier import HttpNotifier, Message, NotifyError, Simulator
from notifications.simulator import SimulatorServer


@pytest.fixture
def server():
    running = SimulatorServer(Simulator(), hold_at=2).start()
    yield running
    running.stop()


def test_a_bad_request_is_a_400_and_nothing_is_kept(server):
    assert httpx.post(server.url, content=b"not json").status_code == 400
    assert httpx.post(server.url, json={"id": "x"}).status_code == 400
    assert server.simulator.received == {}


def test_what_it_got_can_be_read_back_with_its_key():
    running = SimulatorServer(Simulator(), key="k").start()
    try:
        HttpNotifier(running.url, "k").send(Message("a", "inbox", "u", "站内信"))
        assert httpx.get(running.url).status_code == 401
        got = httpx.get(running.url, headers={"Authorization": "Bearer k"}).json()
        assert got == {"simulator": True, "messages": [
            {"id": "a", "channel": "inbox", "uscc": "u", "text": "站内信"}]}
    finally:
        running.stop()


def test_the_second_message_is_kept_and_its_answer_held_until_released(server):
    notifier = HttpNotifier(server.url, timeout_s=10)
    notifier.send(Message("a", "sms", "u", "t"))
    answers: list[str] = []
    sender = threading.Thread(target=lambda: answers.append(
        notifier.send(Message("b", "sms", "u", "t"))))
    sender.start()
    assert server.held.wait(5)
    assert "b" in server.simulator.received and answers == []  # kept, not yet answered
    server.release()
    sender.join(5)
    assert answers == ["sim-b"]


def test_a_held_answer_past_the_timeout_is_a_failure_though_the_message_was_kept(server):
    notifier = HttpNotifier(server.url, timeout_s=0.3)
    notifier.send(Message("a", "sms", "u", "t"))
    with pytest.raises(NotifyError):
        notifier.send(Message("b", "sms", "u", "t"))
    assert set(server.simulator.received) == {"a", "b"}

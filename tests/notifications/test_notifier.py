"""The provider adapters: HTTP with a bearer key and our id as idempotency key, routed by
channel, the simulator standing in where nothing is configured."""
from __future__ import annotations

import logging

import pytest

from notifications.notifier import (
    ByChannel,
    HttpNotifier,
    Message,
    NotifyError,
    Simulator,
    notifier_from_settings,
    provider_id,
)
from notifications.simulator import SimulatorServer
from xiaobao.settings import Settings

MESSAGE = Message("n-1", "sms", "91310113MA1G00001X", "【宝山区政务服务中心】… 回复TD退订")


@pytest.fixture
def server():
    running = SimulatorServer(Simulator(), key="k-123").start()
    yield running
    running.stop()


def test_http_send_is_idempotent_on_our_id(server):
    notifier = HttpNotifier(server.url, "k-123")
    assert notifier.send(MESSAGE) == provider_id("n-1")
    assert notifier.send(MESSAGE) == provider_id("n-1")  # a resend after a lost answer
    assert list(server.simulator.received.values()) == [MESSAGE]
    assert server.simulator.tries == {"n-1": 2}


def test_a_wrong_key_a_refusal_and_no_server_are_failures(server):
    with pytest.raises(NotifyError):
        HttpNotifier(server.url, "wrong").send(MESSAGE)
    server.simulator.fail_rate = 1.0
    with pytest.raises(NotifyError) as caught:
        HttpNotifier(server.url, "k-123").send(MESSAGE)
    assert caught.value.status == 503 and "HTTPStatusError" in caught.value.message
    assert server.simulator.received == {}
    url = server.url
    server.stop()
    with pytest.raises(NotifyError):
        HttpNotifier(url, "k-123", timeout_s=1).send(MESSAGE)


def test_by_channel_routes_each_message():
    sms, inbox = Simulator(), Simulator()
    router = ByChannel({"sms": sms, "inbox": inbox})
    router.send(MESSAGE)
    router.send(Message("n-2", "inbox", MESSAGE.uscc, "站内信"))
    assert list(sms.received) == ["n-1"] and list(inbox.received) == ["n-2"]


def test_settings_choose_the_providers_and_the_simulator_says_so(caplog):
    stand_in = Simulator()
    with caplog.at_level(logging.WARNING, "notifications.notifier"):
        chosen = notifier_from_settings(Settings(notify_sms_url="http://sms.example/send",
                                                 notify_sms_key="s"), simulator=stand_in)
    assert isinstance(chosen, ByChannel)
    assert chosen.notifiers["sms"] == HttpNotifier("http://sms.example/send", "s", 5.0)
    assert chosen.notifiers["inbox"] is stand_in
    assert "simulator" in caplog.text and "inbox" in caplog.text and "sms provider" not in \
        caplog.text


def test_the_simulator_fails_as_told_and_repeatably():
    def outcomes(seed: int) -> list[str]:
        sim = Simulator(fail_rate=0.25, lost_ack_rate=0.25, seed=seed)
        out = []
        for i in range(400):
            try:
                sim.send(Message(f"n{i}", "sms", MESSAGE.uscc, "x"))
                out.append("ok")
            except NotifyError as exc:
                out.append("lost" if "ack" in exc.message else "refused")
        kept = {m.id for m in sim.received.values()}
        assert kept == {f"n{i}" for i, o in enumerate(out) if o != "refused"}
        return out

    first = outcomes(7)
    assert first == outcomes(7) and first != outcomes(8)
    assert 150 < first.count("ok") < 250  # about half fail

"""The Rasa server as the gateway talks to it (api/rasa_client.py), against the stand-in Rasa."""
from __future__ import annotations

import asyncio
import hashlib
import hmac

import httpx
import pytest

from api import rasa_client
from api.rasa_client import BotUnavailable
from xiaobao.settings import Settings


async def ask(settings, text: str = "你好", **kw) -> list[dict]:
    async with httpx.AsyncClient() as http:
        return await rasa_client.ask(http, settings, "conv-1", text, **kw)


async def test_ask_sends_one_turn_with_the_visitor_as_metadata(settings, rasa):
    rasa.replies = [{"recipient_id": "conv-1", "text": "您好！"}]
    assert await ask(settings) == [{"recipient_id": "conv-1", "text": "您好！"}]
    assert await ask(settings, visitor_id="visitor-9") == rasa.replies
    assert rasa.received == [
        {"sender": "conv-1", "message": "你好", "metadata": {"visitor_id": "conv-1"}},
        {"sender": "conv-1", "message": "你好", "metadata": {"visitor_id": "visitor-9"}}]


async def test_ask_signs_the_raw_body_with_the_rasa_token(settings, rasa, monkeypatch):
    """bot.channels answers only a body whose HMAC-SHA256 under XIAOBAO_RASA_TOKEN travels in
    X-Xiaobao-Signature, on 小宝's channel's URL (not the open REST channel's)."""
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        await rasa_client.ask(http, settings, "conv-1", "营业执照")
    [request] = sent
    assert request.url.path == "/webhooks/xiaobao/webhook"
    expected = hmac.new(settings.rasa_token.encode(), request.content, hashlib.sha256)
    assert request.headers["X-Xiaobao-Signature"] == f"sha256={expected.hexdigest()}"
    assert rasa.received == [{"sender": "conv-1", "message": "营业执照",
                              "metadata": {"visitor_id": "conv-1"}}]


async def test_a_refused_signature_is_a_failure_of_rasa(settings, rasa, caplog):
    """A gateway whose token is not Rasa's is refused (401): the turn fails like any error
    status (the fallback answers it) and the log names the likely cause."""
    wrong = settings.model_copy(update={"rasa_token": "not-rasas-token-0123456789"})
    with pytest.raises(BotUnavailable) as failed:
        await ask(wrong)
    assert failed.value.kind == "status_401" and rasa.received == []
    assert "XIAOBAO_RASA_TOKEN" in caplog.text


@pytest.mark.parametrize(("setup", "kind"), [
    ({"status": 500}, "status_500"),
    ({"replies": {"not": "a list"}}, "bad_json"),
    ({"delay_s": 1.5}, "timeout"),  # the test settings' timeout is 1 s
])
async def test_ask_names_what_went_wrong(settings, rasa, setup, kind):
    for name, value in setup.items():
        setattr(rasa, name, value)
    with pytest.raises(BotUnavailable) as failed:
        await ask(settings)
    assert failed.value.kind == kind


async def test_ask_of_an_unreachable_rasa(settings):
    down = settings.model_copy(update={"rasa_url": "http://127.0.0.1:9"})
    with pytest.raises(BotUnavailable) as failed:
        await ask(down)
    assert failed.value.kind == "unreachable"


async def test_after_a_timeout_the_breaker_skips_rasa_for_a_while(settings, rasa):
    """The gateway answers from the knowledge base meanwhile (api/fallback.py) instead of
    making every user wait out the timeout again."""
    breaker = rasa_client.RasaBreaker(first_s=0.3, max_s=1.0)
    rasa.delay_s = 1.5  # the test settings' timeout is 1 s
    with pytest.raises(BotUnavailable) as failed:
        await ask(settings, breaker=breaker)
    assert failed.value.kind == "timeout"
    rasa.delay_s = 0.0
    with pytest.raises(BotUnavailable) as skipped:
        await ask(settings, breaker=breaker)
    assert skipped.value.kind == rasa_client.CIRCUIT_OPEN and len(rasa.received) == 1
    await asyncio.sleep(0.35)
    assert await ask(settings, breaker=breaker) == rasa.replies  # tried again, and closed
    assert breaker.allows() and breaker.timeouts == 0


async def test_a_fast_failure_does_not_open_the_breaker(settings, rasa):
    """Refused or an error status (Rasa down or loading its model): milliseconds to find out,
    so every turn tries, and the first one after Rasa is back gets Rasa."""
    breaker = rasa_client.RasaBreaker()
    down = settings.model_copy(update={"rasa_url": "http://127.0.0.1:9"})
    rasa.status = 503
    for attempt in (down, settings):
        with pytest.raises(BotUnavailable):
            await ask(attempt, breaker=breaker)
        assert breaker.allows()
    rasa.status = 200
    assert await ask(settings, breaker=breaker) == rasa.replies


def test_resume_appends_the_resume_event_then_has_the_bot_ask_for_a_rating(settings, rasa):
    with httpx.Client() as http:
        replies = rasa_client.resume(http, settings, "conv/1", ask_rating=True,
                                     ticket_id="T-1")
        assert replies == rasa.executed_replies
        assert rasa_client.resume(http, settings, "conv-2", ask_rating=False) == []
    listen = {"event": "action", "name": "action_listen"}
    assert rasa.api_calls == [
        # The closed ticket is named in the slot the rating reads (also when the bot never saw
        # the handoff: one the gateway's fallback opened while Rasa was down).
        ("/conversations/conv%2F1/tracker/events",
         [{"event": "resume"}, {"event": "slot", "name": "handoff_ticket_id", "value": "T-1"}]),
        ("/conversations/conv%2F1/execute", {"name": rasa_client.RATING_RESPONSE}),
        # Rasa's /execute does not end with action_listen: without it the user's answer does
        # not follow a listen and the rule rate_service → action_record_rating never applies.
        ("/conversations/conv%2F1/tracker/events", [listen]),
        ("/conversations/conv-2/tracker/events", [{"event": "resume"}, listen])]


def test_a_failed_listen_after_the_question_does_not_ask_again():
    """The question was asked: the outbox must not retry the hand-back (and ask twice)."""
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/execute"):
            return httpx.Response(200, json={"messages": [{"text": "请评价"}]})
        return httpx.Response(500 if len(seen) == 3 else 200, json={})

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        assert rasa_client.resume(http, Settings(rasa_url="http://rasa"), "conv-1",
                                  ask_rating=True) == [{"text": "请评价"}]
    assert len(seen) == 3


def test_resume_needs_rasas_token_and_an_answering_rasa(settings, rasa):
    with httpx.Client() as http:
        rasa.status = 500
        with pytest.raises(BotUnavailable):
            rasa_client.resume(http, settings, "conv-1", ask_rating=True)
        assert [p for p, _ in rasa.api_calls] == ["/conversations/conv-1/tracker/events"]
        rasa.status = 200
        with pytest.raises(BotUnavailable):  # the stand-in, like Rasa, refuses no token
            rasa_client.resume(http, settings.model_copy(update={"rasa_token": ""}), "conv-1",
                               ask_rating=True)
        down = settings.model_copy(update={"rasa_url": "http://127.0.0.1:9"})
        with pytest.raises(BotUnavailable):
            rasa_client.resume(http, down, "conv-1", ask_rating=True)

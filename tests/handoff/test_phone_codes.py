"""SMS codes before a 12345 call-back (handoff/phone_codes.py), on real Redis: a code is sent,
proved once, wrong five times locks it, and the queue refuses an unproved number where the
centre requires codes; the HTTP adapter against a loopback SMS gateway."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from handoff import phone_codes
from handoff.requests import request_handoff
from tests.handoff.conftest import req
from xiaobao.limits import LimitExceeded

PHONE = "13812345678"


def last_code(r, phone: str = PHONE) -> str:
    [message, *_] = phone_codes.simulated_messages(r, phone)
    return re.search(r"\d{6}", message["text"]).group(0)


def test_a_code_sent_and_typed_back_proves_the_number_for_that_conversation_only(r):
    sms = phone_codes.SimulatedSms(r)
    phone_codes.send_code(r, sms, "conv-a", PHONE)
    assert not phone_codes.is_verified(r, "conv-a", PHONE)
    code = last_code(r)
    assert PHONE not in "".join(r.keys("xiaobao:sms:code:*"))  # no number in key names
    with pytest.raises(phone_codes.PhoneCodeError) as other:  # another conversation: no code
        phone_codes.check_code(r, "conv-b", PHONE, code)
    assert other.value.code == "code_expired"
    phone_codes.check_code(r, "conv-a", PHONE, f" {code} ")
    assert phone_codes.is_verified(r, "conv-a", PHONE)
    assert not phone_codes.is_verified(r, "conv-b", PHONE)
    with pytest.raises(phone_codes.PhoneCodeError):  # used once
        phone_codes.check_code(r, "conv-a", PHONE, code)


def test_five_wrong_codes_lock_it_and_each_says_the_tries_left(r):
    phone_codes.send_code(r, phone_codes.SimulatedSms(r), "conv-a", PHONE)
    code = last_code(r)
    wrong = "000000" if code != "000000" else "111111"
    said = []
    for _ in range(phone_codes.MAX_TRIES):
        with pytest.raises(phone_codes.PhoneCodeError) as exc:
            phone_codes.check_code(r, "conv-a", PHONE, wrong)
        said.append((exc.value.code, exc.value.status))
    assert said[:-1] == [("wrong_code", 422)] * 4 and said[-1] == ("code_locked", 422)
    with pytest.raises(phone_codes.PhoneCodeError):  # the right one no longer works
        phone_codes.check_code(r, "conv-a", PHONE, code)
    assert not phone_codes.is_verified(r, "conv-a", PHONE)


def test_sends_are_limited_per_number_and_a_bad_number_gets_none(r):
    sms = phone_codes.SimulatedSms(r)
    for _ in range(phone_codes.SENDS_PER_PHONE_PER_HOUR):
        phone_codes.send_code(r, sms, "conv-a", PHONE)
    with pytest.raises(LimitExceeded):
        phone_codes.send_code(r, sms, "conv-b", PHONE)
    with pytest.raises(phone_codes.PhoneCodeError) as bad:
        phone_codes.send_code(r, sms, "conv-a", "110")
    assert bad.value.code == "invalid_phone"
    assert len(phone_codes.simulated_messages(r)) == phone_codes.SENDS_PER_PHONE_PER_HOUR


def test_the_queue_books_a_call_back_only_to_a_proved_number_where_codes_are_required(ctx, r):
    strict = ctx.replace(sms_verification=True)
    call = req(channel="hotline_12345", phone=PHONE, time_window="尽快")
    with pytest.raises(phone_codes.PhoneCodeError) as refused:
        request_handoff(call, ctx=strict)
    assert (refused.value.status, refused.value.code) == (403, "phone_not_verified")
    phone_codes.send_code(r, phone_codes.SimulatedSms(r), call.conversation_id, PHONE)
    phone_codes.check_code(r, call.conversation_id, PHONE, last_code(r))
    assert request_handoff(call, ctx=strict).created
    # An online helper needs no code; nor does any call-back where codes are not required.
    assert request_handoff(req(), ctx=strict).created
    assert request_handoff(req(channel="hotline_12345", phone="13900001111",
                               time_window="尽快"), ctx=ctx).created


def test_the_http_adapter_posts_to_the_centres_gateway_and_says_plainly_when_it_fails():
    received = []

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.headers.get("Authorization"), body))
            self.send_response(200 if body["phone"] == PHONE else 500)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    try:
        phone_codes.HttpSms(url, "sms-token").send(PHONE, "验证码123456")
        assert received == [("Bearer sms-token", {"phone": PHONE, "text": "验证码123456"})]
        with pytest.raises(phone_codes.PhoneCodeError) as failed:
            phone_codes.HttpSms(url, "sms-token").send("13900001111", "x")
        assert failed.value.status == 503 and "验证码短信" in failed.value.message
    finally:
        server.shutdown()

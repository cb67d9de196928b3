"""Through the trained model, where the centre requires SMS codes: the 12345 form asks for the
code after the number (a slot the form only has then), a wrong code is asked again, the right
one books the call-back, and no code books nothing."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from handoff import phone_codes
from tests.bot.stack import BotStack
from tests.bot.test_rasa_server import _next_open_morning, sender, texts

pytestmark = pytest.mark.rasa


@pytest.fixture(scope="module")
def strict_stack(bot_stack: BotStack) -> BotStack:
    """The shared stack's gateway started again with SMS codes required, then without."""
    bot_stack.restart_gateway({"XIAOBAO_CALLBACK_SMS_VERIFICATION": "true"})
    yield bot_stack
    bot_stack.restart_gateway()


def _tickets(stack: BotStack, conv: str) -> list:
    from handoff.store import Ticket
    from xiaobao.db import make_engine, session_scope

    engine = make_engine(stack.db_url)
    with session_scope(engine) as s:
        found = [(t.channel, t.phone) for t in s.scalars(
            select(Ticket).where(Ticket.conversation_id == conv))]
    engine.dispose()
    return found


def test_the_12345_form_books_only_after_the_sms_code(strict_stack):
    conv = sender()
    assert "联系电话" in texts(strict_stack.say(conv, "让12345给我回个电话"))
    sent = texts(strict_stack.say(conv, "13812345678"))
    assert "验证码已发送到 138****5678" in sent and "6位验证码" in sent
    [sms] = phone_codes.simulated_messages(strict_stack.redis(), "13812345678")
    code = re.search(r"\d{6}", sms["text"]).group(0)
    wrong = "000000" if code != "000000" else "111111"
    assert "验证码不对" in texts(strict_stack.say(conv, wrong))
    assert "时间" in texts(strict_stack.say(conv, code))
    day = _next_open_morning()
    done = texts(strict_stack.say(conv, f"{day.month}月{day.day}日上午"))
    assert "已为您预约12345热线回电" in done
    assert _tickets(strict_stack, conv) == [("hotline_12345", "13812345678")]


def test_without_the_code_nothing_is_booked(strict_stack):
    conv = sender()
    strict_stack.say(conv, "让12345给我回个电话")
    strict_stack.say(conv, "13900001111")
    assert "已取消" in texts(strict_stack.say(conv, "取消"))
    assert _tickets(strict_stack, conv) == []

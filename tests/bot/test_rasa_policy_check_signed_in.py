"""The signed-in 政策体检 through the real stack (tests/bot/conftest.py ``bot_stack``: the
gateway, `rasa run` on the trained model): a browser signed in through the simulator provider
asks for a check-up in the chat; the first bot message starts from the register's facts with
their source and date, and the question asked is none of them."""
from __future__ import annotations

import datetime as dt

import pytest

from api.oidc_simulator import SAMPLES
from enterprises import register
from enterprises.importing import import_files
from tests.api.routes.test_enterprise_auth import authorize
from tests.bot.stack import BotStack
from xiaobao.db import make_engine, session_scope

pytestmark = pytest.mark.rasa
USCC, NAME = SAMPLES[0]


def register_sample(bot_stack: BotStack, tmp_path) -> None:
    """The simulator's first enterprise: 宝山区, 60 人 (市场监管登记, 2026-11-01)."""
    (tmp_path / "m.csv").write_text(f"uscc,name,district,employees\n{USCC},{NAME},宝山区,60\n",
                                    encoding="utf-8")
    engine = make_engine(bot_stack.db_url)
    with session_scope(engine) as s:
        import_files(s, [tmp_path / "m.csv"], source="市场监管登记", by="test",
                     as_of=dt.date(2026, 11, 1))
    engine.dispose()


def test_the_chat_check_up_starts_from_the_register(bot_stack: BotStack, tmp_path):
    register_sample(bot_stack, tmp_path)
    user = bot_stack.browser()
    done = user.get(authorize(user), follow_redirects=False)
    assert done.status_code == 303, done.text
    messages = user.post("/api/chat/messages", json={"text": "我公司能享受哪些政策"}).json()[
        "messages"]
    first = next(m for m in messages if "政策体检" in m["text"])
    said = "根据登记信息（市场监管登记，2026-11-01）：注册地所在区宝山区，从业人数60人"
    assert said in first["text"]
    asked = next(m for m in messages if (m.get("custom") or {}).get("field"))
    assert asked["custom"]["field"]["name"] not in {"district", "employees"}


def test_a_correction_typed_in_the_chat_is_recorded_beside_the_register(bot_stack: BotStack,
                                                                        tmp_path):
    """Typed with no question pending (Rasa's NLU: policy_fact), then at a question (the
    gateway's typed answer): both confirmed with what the register still says, both stored
    as 对话中填报 beside the authority's."""
    register_sample(bot_stack, tmp_path)
    engine = make_engine(bot_stack.db_url)
    user = bot_stack.browser()
    assert user.get(authorize(user), follow_redirects=False).status_code == 303
    said = user.post("/api/chat/messages", json={"text": "注册地改成嘉定区了"}).json()["messages"]
    assert any("已记录：注册地所在区 嘉定区（对话中填报" in m["text"]
               and "登记信息（市场监管登记）仍为 宝山区" in m["text"] for m in said), said
    said = user.post("/api/chat/messages", json={"text": "我们人数变成80了"}).json()["messages"]
    assert any("已记录：从业人数 80 人（对话中填报" in m["text"]
               and "仍为 60 人，以核实为准" in m["text"] for m in said), said
    with session_scope(engine) as s:
        history = register.history(s, USCC)
        assert {(h["field"], h["value"]) for h in history if h["source"] == "对话中填报"} >= {
            ("district", "嘉定区"), ("employees", 80)}
        assert register.profile(s, USCC).facts["employees"] == 60
    engine.dispose()

from bot.actions.forms import (
    SKIPPED,
    ActionResetFormSlots,
    ValidateCall12345Form,
    ValidateHandoffForm,
)


def test_wrong_phone_is_refused_with_its_reason(services, tracker, dispatcher):
    form = ValidateCall12345Form(services)
    wrong = form.validate_phone("1381234567", dispatcher, tracker("1381234567"), {})
    assert wrong == {"phone": None}
    assert "11位" in dispatcher.messages[0]["text"] and "重新输入" in dispatcher.messages[0]["text"]
    right = form.validate_phone("138 1234 5678", dispatcher, tracker(), {})
    assert right == {"phone": "13812345678"}
    assert len(dispatcher.messages) == 1


def test_phone_is_read_from_the_whole_message(services, tracker, dispatcher):
    """The entity may hold a fragment of a number jieba split; the message has all of it."""
    form = ValidateCall12345Form(services)
    t = tracker("我的手机 138 1234 5678")
    assert form.validate_phone("138", dispatcher, t, {}) == {"phone": "13812345678"}
    assert dispatcher.messages == []


def test_time_window_outside_service_hours_is_asked_again(services, tracker, dispatcher):
    form = ValidateCall12345Form(services)
    assert form.validate_time_window("周六晚上", dispatcher, tracker(), {}) == {"time_window": None}
    # The hours asked for are the handoff configuration's calendar.
    assert "工作日 09:00–12:00、13:00–17:00，周六 09:00–12:00" in dispatcher.messages[0]["text"]
    ok = form.validate_time_window("下周二上午", dispatcher, tracker(), {})["time_window"]
    assert ok.endswith("09:00–12:00") and "周二" in ok


async def test_topic_is_not_asked_when_a_question_was_asked(services, tracker, dispatcher):
    form = ValidateHandoffForm(services)
    slots = ["handoff_topic", "company"]
    assert await form.required_slots(slots, dispatcher, tracker(), {}) == slots
    asked = tracker(slots={"last_question": "发票怎么领"})
    assert await form.required_slots(slots, dispatcher, asked, {}) == ["company"]


def test_optional_slots_can_be_skipped(services, tracker, dispatcher):
    form = ValidateHandoffForm(services)
    assert form.validate_company("跳过", dispatcher, tracker(), {}) == {"company": SKIPPED}
    assert form.validate_company("没有", dispatcher, tracker(), {}) == {"company": SKIPPED}
    urged = tracker("转人工", intent="request_human")
    assert form.validate_company("转人工", dispatcher, urged, {}) == {"company": SKIPPED}
    assert form.validate_company("公司名称是上海宝丰贸易有限公司", dispatcher, tracker(), {}) == {
        "company": "上海宝丰贸易有限公司"}
    assert form.validate_handoff_topic("不想说", dispatcher, tracker(), {}) == {
        "handoff_topic": SKIPPED}
    assert form.validate_handoff_topic(" 股权  转让 ", dispatcher, tracker(), {}) == {
        "handoff_topic": "股权 转让"}


async def test_cancel_forgets_the_form(services, tracker, dispatcher):
    out = await ActionResetFormSlots(services).run(dispatcher, tracker(), {})
    assert {e["name"] for e in out} == {"phone", "phone_code", "time_window", "handoff_topic",
                                        "requested_slot"}
    assert all(e["value"] is None for e in out)


def test_call_back_hours_are_the_services_handoff_calendar(services, config, tracker, dispatcher):
    import dataclasses
    import datetime as dt

    from tests.bot.conftest import HoursOnly

    short = ((dt.time(10), dt.time(11)),)
    calendar = dataclasses.replace(config.hours, weekly={d: short for d in range(1, 6)},
                                   holidays=frozenset(), workdays=frozenset())
    services.handoff = HoursOnly(config.replace(hours=calendar))
    form = ValidateCall12345Form(services)
    ok = form.validate_time_window("下周二上午", dispatcher, tracker(), {})["time_window"]
    assert ok.endswith("（周二）10:00–11:00")
    assert form.validate_time_window("周六上午", dispatcher, tracker(), {}) == {"time_window": None}
    assert "工作日 10:00–11:00，节假日除外" in dispatcher.messages[0]["text"]


async def test_where_codes_are_required_the_form_asks_for_the_sms_code_after_the_number(
        engine, r, config, tracker, dispatcher):
    import re
    from types import SimpleNamespace

    from handoff import phone_codes
    from handoff.context import HandoffContext

    services = SimpleNamespace(
        settings=SimpleNamespace(callback_sms_verification=True),
        handoff=HandoffContext(engine=engine, redis=r, config=config),
        sms=phone_codes.SimulatedSms(r))
    form = ValidateCall12345Form(services)
    slots = ["phone", "time_window"]
    assert await form.required_slots(slots, dispatcher, tracker(), {}) == [
        "phone", "phone_code", "time_window"]
    t = tracker("13812345678")
    assert form.validate_phone("13812345678", dispatcher, t, {}) == {
        "phone": "13812345678", "phone_code": None}
    assert "验证码已发送到 138****5678" in dispatcher.messages[-1]["text"]
    code = re.search(r"\d{6}", phone_codes.simulated_messages(r)[0]["text"]).group(0)
    asked = tracker(code, slots={"phone": "13812345678"})
    wrong = "000000" if code != "000000" else "111111"
    assert form.validate_phone_code(wrong, dispatcher, asked, {}) == {"phone_code": None}
    assert "还可以再试4次" in dispatcher.messages[-1]["text"]
    assert form.validate_phone_code(code, dispatcher, asked, {}) == {"phone_code": "verified"}
    assert phone_codes.is_verified(r, asked.sender_id, "13812345678")
    # Without the requirement the form is as before.
    services.settings.callback_sms_verification = False
    assert await form.required_slots(slots, dispatcher, tracker(), {}) == slots

from bot.actions.forms import (
    SKIPPED,
    ActionResetFormSlots,
    ValidateCall12345Form,
    ValidateHandoffForm,
    ValidateSlotMappings,
)


def test_wrong_phone_is_refused_with_its_reason(tracker, dispatcher):
    form = ValidateCall12345Form()
    assert form.validate_phone("1381234567", dispatcher, tracker("1381234567"), {}) == {"phone": None}
    assert "11位" in dispatcher.messages[0]["text"] and "重新输入" in dispatcher.messages[0]["text"]
    assert form.validate_phone("138 1234 5678", dispatcher, tracker(), {}) == {"phone": "13812345678"}
    assert len(dispatcher.messages) == 1


def test_phone_is_read_from_the_whole_message(tracker, dispatcher):
    """The entity may hold a fragment of a number jieba split; the message has all of it."""
    form = ValidateCall12345Form()
    t = tracker("我的手机 138 1234 5678")
    assert form.validate_phone("138", dispatcher, t, {}) == {"phone": "13812345678"}
    assert dispatcher.messages == []


def test_time_window_outside_service_hours_is_asked_again(tracker, dispatcher):
    form = ValidateCall12345Form()
    assert form.validate_time_window("周六晚上", dispatcher, tracker(), {}) == {"time_window": None}
    assert "工作日 09:00" in dispatcher.messages[0]["text"]
    ok = form.validate_time_window("下周二上午", dispatcher, tracker(), {})["time_window"]
    assert ok.endswith("09:00–12:00") and "周二" in ok


async def test_topic_is_not_asked_when_a_question_was_asked(tracker, dispatcher):
    form = ValidateHandoffForm()
    slots = ["handoff_topic", "company"]
    assert await form.required_slots(slots, dispatcher, tracker(), {}) == slots
    asked = tracker(slots={"last_question": "发票怎么领"})
    assert await form.required_slots(slots, dispatcher, asked, {}) == ["company"]


def test_optional_slots_can_be_skipped(tracker, dispatcher):
    form = ValidateHandoffForm()
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


def test_uscc_entity_is_checked(tracker, dispatcher):
    check = ValidateSlotMappings()
    assert check.validate_uscc("91310113ay4cl12th0", dispatcher, tracker(), {}) == {
        "uscc": "91310113AY4CL12TH0"}
    assert check.validate_uscc("91310113AY4CL12TH1", dispatcher, tracker(), {}) == {"uscc": None}
    assert "校验位" in dispatcher.messages[0]["text"]


async def test_cancel_forgets_the_form(tracker, dispatcher):
    out = await ActionResetFormSlots().run(dispatcher, tracker(), {})
    assert {e["name"] for e in out} == {"phone", "time_window", "handoff_topic", "requested_slot"}
    assert all(e["value"] is None for e in out)

"""留言咨询 on the portal (api/routes/left_messages.py): leave one, find the answer on return,
ask for a 12345 call-back about it."""
from fastapi.testclient import TestClient

from handoff import calls, left_messages
from tests.api.support import SAME_ORIGIN, conversation_of
from xiaobao.accounts import Account, create_account
from xiaobao.db import session_scope
from xiaobao.phone import PHONE_NOTICE


def helper_named(services, username: str, department: str) -> Account:
    """The account ``username`` (created as a helper of ``department`` if missing), detached."""
    with session_scope(services.engine) as session:
        helper = session.query(Account).filter_by(username=username).one_or_none() or \
            create_account(session, username, "correct-horse", roles=["helper"],
                           departments=[department])
        session.flush()
        session.expunge(helper)
    return helper


def test_leave_a_message_and_find_the_answer_on_return(client, rasa, services):
    client.get("/")
    left = client.post("/api/chat/leave-message",
                       json={"text": "想咨询食品经营许可", "phone": "138 1234 5678"})
    assert left.status_code == 201, left.text
    assert left.json()["notice"] == PHONE_NOTICE
    message = left.json()["message"]
    assert message["conversation_id"] == conversation_of(client)
    assert message["department"] == services.config.central_department  # no ticket to follow
    ann = helper_named(services, "ann", message["department"])
    left_messages.answer_message(message["id"], ann, "请带营业执照到窗口办理。",
                                 ctx=services.handoff)
    found = client.get("/api/chat/left-messages").json()
    assert found["phone_notice"] == PHONE_NOTICE
    assert found["messages"][0]["text"] == "想咨询食品经营许可"
    assert found["messages"][0]["answer"] == "请带营业执照到窗口办理。"
    assert found["messages"][0]["phone"] == "13812345678"  # the user sees their own number


def test_leave_message_checks_its_text(client):
    assert client.post("/api/chat/leave-message", json={"text": "😀"}).status_code == 422
    assert client.post("/api/chat/leave-message", json={"text": "长" * 2001}).status_code == 413
    bad_phone = client.post("/api/chat/leave-message", json={"text": "你好", "phone": "12"})
    assert bad_phone.status_code == 400


def test_another_browser_does_not_see_my_left_messages(app, client):
    client.get("/")
    assert client.post("/api/chat/leave-message", json={"text": "想咨询食品经营许可"}
                       ).status_code == 201
    # another browser on the running app (no second lifespan)
    stranger = TestClient(app, headers=SAME_ORIGIN)
    stranger.get("/")
    assert stranger.get("/api/chat/left-messages").json()["messages"] == []
    stranger.close()


def answered_left_message(client, *, phone: str) -> str:
    """Leave a 留言 from this browser and have a helper of its department answer it."""
    services = client.app.state.services
    client.get("/")
    left = client.post("/api/chat/leave-message", json={"text": "想咨询食品经营许可",
                                                       "phone": phone})
    assert left.status_code == 201, left.text
    message = left.json()["message"]
    helper = helper_named(services, "ann", message["department"])
    left_messages.answer_message(message["id"], helper, "请带营业执照到窗口办理。",
                                 ctx=services.handoff)
    return message["id"]


def test_call_back_about_an_answered_left_message_goes_through_12345(client, rasa, services):
    message_id = answered_left_message(client, phone="13812345678")
    assert client.get("/api/chat/left-messages").json()["messages"][0]["callback"] is None

    asked = client.post(f"/api/chat/left-messages/{message_id}/callback")
    assert asked.status_code == 201, asked.text
    callback = asked.json()["callback"]
    assert callback["created"] and callback["call_id"] and "12345" in asked.json()["notice"]
    call = calls.get_call(callback["call_id"], ctx=services.handoff)
    assert call.ticket_id == callback["ticket_id"] and call.status in ("requested", "scheduled")

    again = client.post(f"/api/chat/left-messages/{message_id}/callback")  # a double click
    assert again.status_code == 201
    assert again.json()["callback"]["ticket_id"] == callback["ticket_id"]
    assert not again.json()["callback"]["created"]
    shown = client.get("/api/chat/left-messages").json()["messages"][0]["callback"]
    assert shown["ticket_id"] == callback["ticket_id"] and shown["call_status"] == call.status
    state = client.get("/api/chat/queue").json()
    assert state["mode"] == "waiting" and state["ticket"]["channel"] == "hotline_12345"


def test_call_back_refuses_unknown_foreign_and_phoneless_messages(app, client, rasa):
    without_phone = answered_left_message(client, phone="")
    refused = client.post(f"/api/chat/left-messages/{without_phone}/callback")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "no_phone"
    unknown = client.post("/api/chat/left-messages/nosuchmessage/callback")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_message"
    # another browser on the running app (no second lifespan)
    stranger = TestClient(app, headers=SAME_ORIGIN)
    stranger.get("/")
    foreign = stranger.post(f"/api/chat/left-messages/{without_phone}/callback")
    stranger.close()
    assert foreign.status_code == 404  # another browser's 留言 is not even named


def test_where_the_centre_requires_it_a_call_back_waits_for_the_sms_code(client, rasa,
                                                                        services, monkeypatch):
    """The hotline cannot be made to dial anyone: the 留言's number proves itself first."""
    import re

    from handoff import phone_codes

    monkeypatch.setattr(services, "settings", services.settings.model_copy(
        update={"callback_sms_verification": True}))
    monkeypatch.setattr(services, "handoff", services.handoff.replace(sms_verification=True))
    assert client.get("/api/chat/phone-code").json() == {
        "required": True, "simulated": True, "expires_in_s": phone_codes.CODE_TTL_S}
    message_id = answered_left_message(client, phone="13812345678")
    refused = client.post(f"/api/chat/left-messages/{message_id}/callback")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "phone_not_verified"
    assert "验证码" in refused.json()["error"]["message"]

    sent = client.post(f"/api/chat/left-messages/{message_id}/phone-code")
    assert sent.status_code == 200 and sent.json()["phone"] == "138****5678"
    [sms] = phone_codes.simulated_messages(services.redis, "13812345678")
    code = re.search(r"\d{6}", sms["text"]).group(0)
    wrong = client.post(f"/api/chat/left-messages/{message_id}/phone-code/verify",
                        json={"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "wrong_code"
    stranger = TestClient(client.app, headers=SAME_ORIGIN)
    stranger.get("/")
    assert stranger.post(f"/api/chat/left-messages/{message_id}/phone-code/verify",
                         json={"code": code}).status_code == 404  # not the stranger's 留言
    ok = client.post(f"/api/chat/left-messages/{message_id}/phone-code/verify",
                     json={"code": code})
    assert ok.status_code == 200 and ok.json() == {"verified": True}
    booked = client.post(f"/api/chat/left-messages/{message_id}/callback")
    assert booked.status_code == 201, booked.text
    assert booked.json()["callback"]["created"]

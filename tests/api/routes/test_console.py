"""The helper console API against the real handoff module, SQLite and a Redis of our own."""
import datetime as dt
import uuid

import pytest
from fastapi.testclient import TestClient

from handoff.config import packaged_config
from handoff.requests import Candidate
from handoff.store import Ticket
from knowledge_base.schema import EntryData
from knowledge_base.store import get_entry, save_entry
from tests.api.support import (
    CATEGORY,
    DEPT,
    OTHER,
    RATING_QUESTION,
    SAME_ORIGIN,
    conversation_of,
    hand_back_calls,
    hand_off,
    one_hand_back,
)
from xiaobao.db import session_scope


@pytest.fixture
def user(client, rasa):
    """The user's browser: has chatted with the bot once, so it has a visitor cookie."""
    client.post("/api/chat/messages", json={"text": "你好"})
    return client


@pytest.fixture
def helper_client(app, client, make_account):
    """A second browser for staff: ``helper_client("ann", departments=[...])`` logged in."""
    opened = []

    def make(username: str, *, roles=("helper",), departments=(DEPT,), on_duty=True) -> TestClient:
        password = make_account(username, roles=list(roles), departments=list(departments))
        staff = TestClient(app, headers=SAME_ORIGIN)
        opened.append(staff)
        assert staff.post("/api/auth/login",
                          json={"username": username, "password": password}).status_code == 200
        if on_duty:
            assert staff.post("/api/helper/status", json={"status": "on_duty"}).status_code == 200
        return staff

    yield make
    for staff in opened:
        staff.close()


def test_console_requires_login_and_helper_role(client, helper_client):
    assert client.get("/api/helper/queues").status_code == 401
    editor = helper_client("ed", roles=("editor",), on_duty=False)
    response = editor.get("/api/helper/queues")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_queues_show_counts_and_oldest_wait_for_my_departments(user, helper_client):
    hand_off(user)
    ann = helper_client("ann")
    queues = ann.get("/api/helper/queues").json()["queues"]
    assert {q["department"] for q in queues} == {DEPT}
    online = next(q for q in queues if q["channel"] == "online_helper")
    assert online["waiting"] == 1 and online["oldest_wait_s"] >= 0
    assert online["helpers_on_duty"] == 1


def test_user_sees_queue_position_while_waiting(user, rasa):
    ticket_id = hand_off(user)
    queue = user.get("/api/chat/queue").json()
    assert queue["mode"] == "waiting"
    assert queue["ticket"]["id"] == ticket_id and queue["ticket"]["queue_position"] == 1
    assert queue["ticket"]["department"] == DEPT
    assert queue["ticket"]["estimated_wait_s"] > 0


def test_full_online_handoff_round_trip(user, rasa, helper_client):
    ticket_id = hand_off(user)
    ann = helper_client("ann")

    claimed = ann.post("/api/helper/claim", json={}).json()["ticket"]
    assert claimed["id"] == ticket_id and claimed["status"] == "claimed"
    assert claimed["phone"] == "13812345678"  # the handling helper sees the number in full

    pack = ann.get(f"/api/helper/tickets/{ticket_id}").json()
    assert pack["intent"] == "request_human" and pack["company"] == "上海宝宝科技有限公司"
    assert pack["candidates"][0]["score"] == pytest.approx(0.42)
    # The conversation before the handoff, from the record (the user chatted with the bot).
    assert [(m["role"], m["text"]) for m in pack["transcript"]] == [("user", "你好"),
                                                                    ("bot", "您好")]
    assert all(m["ticket_id"] == "" for m in pack["transcript"])  # bot-mode turns
    assert [t["text"] for t in pack["ticket"]["context"]["last_turns"]] == ["营业执照怎么办",
                                                                            "转人工"]

    # While waiting, and then with the helper, the user's messages go to the ticket, not Rasa.
    before = len(rasa.received)
    reply = ann.post(f"/api/helper/tickets/{ticket_id}/messages",
                     json={"text": "您好，我是帮办人员，请问需要什么帮助？"})
    assert reply.status_code == 200
    assert user.get("/api/chat/queue").json()["mode"] == "human"
    sent = user.post("/api/chat/messages", json={"text": "我想办营业执照"}).json()
    assert sent["mode"] == "human" and sent["messages"] == []
    assert len(rasa.received) == before
    transcript = ann.get(f"/api/helper/tickets/{ticket_id}").json()["transcript"]
    assert transcript[-1]["role"] == "user" and transcript[-1]["text"] == "我想办营业执照"

    history = user.get("/api/chat/history").json()["messages"]
    assert [(m["role"], m["text"]) for m in history][-2:] == [
        ("helper", "您好，我是帮办人员，请问需要什么帮助？"), ("user", "我想办营业执照")]

    resolved = ann.post(f"/api/helper/tickets/{ticket_id}/resolve", json={"note": "已解答"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["ticket"]["status"] == "resolved" and resolved.json()["bot_resumed"]
    conv = conversation_of(user)
    assert hand_back_calls(rasa, conv) == one_hand_back(ticket_id)
    assert rasa.api_calls[0][0] == f"/conversations/{conv}/tracker/events"

    # Back with the bot: the rating question is in the history and its buttons are offered.
    history = user.get("/api/chat/history").json()
    assert history["mode"] == "bot"
    assert history["messages"][-1]["text"] == RATING_QUESTION
    user.post("/api/chat/messages", json={"text": '/rate_service{"rating": "非常满意"}'})
    assert rasa.received[-1]["message"] == '/rate_service{"rating": "非常满意"}'


def test_helper_of_another_department_cannot_see_or_claim(user, helper_client):
    ticket_id = hand_off(user)
    tax = helper_client("tom", departments=(OTHER,))
    for method, path in [("get", f"/api/helper/tickets/{ticket_id}"),
                         ("post", f"/api/helper/tickets/{ticket_id}/claim"),
                         ("post", f"/api/helper/tickets/{ticket_id}/messages")]:
        kwargs = {"json": {"text": "hi"}} if path.endswith("messages") else {}
        response = getattr(tax, method)(path, **kwargs)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "department_not_allowed"
    assert tax.post("/api/helper/claim", json={}).json()["ticket"] is None


def test_unknown_ticket_is_404(helper_client):
    ann = helper_client("ann")
    response = ann.get("/api/helper/tickets/nosuchticket")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_ticket"


def test_message_to_a_closed_ticket_is_refused(user, helper_client):
    ticket_id = hand_off(user)
    ann = helper_client("ann")
    ann.post("/api/helper/claim", json={})
    ann.post(f"/api/helper/tickets/{ticket_id}/resolve", json={})
    response = ann.post(f"/api/helper/tickets/{ticket_id}/messages", json={"text": "还在吗"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "ticket_closed"
    again = ann.post(f"/api/helper/tickets/{ticket_id}/resolve", json={})
    assert again.status_code in (400, 409)


def test_helper_message_limits(user, helper_client):
    ticket_id = hand_off(user)
    ann = helper_client("ann")
    ann.post("/api/helper/claim", json={})
    too_long = ann.post(f"/api/helper/tickets/{ticket_id}/messages", json={"text": "长" * 2001})
    assert too_long.status_code == 413
    empty = ann.post(f"/api/helper/tickets/{ticket_id}/messages", json={"text": "  "})
    assert empty.status_code == 422
    html = ann.post(f"/api/helper/tickets/{ticket_id}/messages",
                    json={"text": "<img src=x onerror=alert(1)>"})
    assert html.json()["message"]["text"] == "<img src=x onerror=alert(1)>"


def test_away_helper_cannot_claim(user, helper_client):
    hand_off(user)
    ann = helper_client("ann", on_duty=False)
    response = ann.post("/api/helper/claim", json={})
    assert response.status_code == 403 and "在岗" in response.json()["error"]["message"]


def test_transfer_moves_the_ticket_with_a_note(user, helper_client):
    ticket_id = hand_off(user)
    ann = helper_client("ann")
    ann.post("/api/helper/claim", json={})
    moved = ann.post(f"/api/helper/tickets/{ticket_id}/transfer",
                     json={"department": OTHER, "note": "涉及税务登记"})
    assert moved.status_code == 200 and moved.json()["ticket"]["department"] == OTHER
    assert moved.json()["ticket"]["status"] == "transferred"
    tom = helper_client("tom", departments=(OTHER,))
    claimed = tom.post("/api/helper/claim", json={}).json()["ticket"]
    assert claimed["id"] == ticket_id
    pack = tom.get(f"/api/helper/tickets/{ticket_id}").json()
    assert any("涉及税务登记" in m["text"] for m in pack["transcript"])
    bad = tom.post(f"/api/helper/tickets/{ticket_id}/transfer", json={"department": "火星局"})
    assert bad.status_code == 400


def test_answer_with_a_kb_entry_in_one_click(user, helper_client):
    with session_scope(user.app.state.services.engine) as session:
        save_entry(session, EntryData(
            id="kb-001", question="如何办理营业执照", answer="登录一网通办，选择企业开办。",
            category=CATEGORY, department=DEPT, source="宝山区市场监管局",
            source_url="https://zwdt.sh.gov.cn/", effective_from="2026-01-01"), "test")
        save_entry(session, EntryData(id="kb-old", question="旧问题", answer="旧答案",
                                      status="archived"), "test")
    ticket_id = hand_off(user, candidates=[
        Candidate(id=entry_id, question=question, category=CATEGORY, score=0.4)
        for entry_id, question in (("kb-001", "如何办理营业执照"), ("kb-old", "旧问题"),
                                   ("kb-gone", "已删除的问题"))])
    ann = helper_client("ann")
    ann.post("/api/helper/claim", json={})
    # The console shows each candidate's answer card before it is sent.
    cards = {c["id"]: c for c in ann.get(f"/api/helper/tickets/{ticket_id}").json()["candidates"]}
    assert cards["kb-001"]["answerable"] and cards["kb-001"]["card"].startswith("登录一网通办")
    assert not cards["kb-old"]["answerable"] and cards["kb-old"]["card"].startswith("旧答案")
    assert cards["kb-gone"]["card"] == "" and cards["kb-gone"]["answerable"] is False
    sent = ann.post(f"/api/helper/tickets/{ticket_id}/answer", json={"entry_id": "kb-001"})
    assert sent.status_code == 200
    text = sent.json()["message"]["text"]
    assert text == cards["kb-001"]["card"]  # exactly what the console showed
    assert text.startswith("登录一网通办") and "来源：宝山区市场监管局" in text
    # Only a start date on record: said so, never "长期有效".
    assert "有效期：自2026-01-01起施行\n" in text and "长期有效" not in text
    assert "办理入口：上海“一网通办”（https://zwdt.sh.gov.cn/）" in text  # a home page is no source
    assert text.endswith("以最新文件和窗口受理意见为准")  # never reviewed
    assert ann.post(f"/api/helper/tickets/{ticket_id}/answer",
                    json={"entry_id": "kb-old"}).status_code == 409
    assert ann.post(f"/api/helper/tickets/{ticket_id}/answer",
                    json={"entry_id": "nope"}).status_code == 404


def test_propose_a_kb_draft_from_a_resolution(user, helper_client):
    with session_scope(user.app.state.services.engine) as session:
        save_entry(session, EntryData(id="kb-001", question="如何办理营业执照", answer="旧答案",
                                      category=CATEGORY), "test")
    ticket_id = hand_off(user)
    ann = helper_client("ann")
    ann.post("/api/helper/claim", json={})
    response = ann.post(f"/api/helper/tickets/{ticket_id}/kb-draft", json={
        "question": "如何办理营业执照", "answer": "新答案：全程网办，1个工作日。",
        "category": CATEGORY, "replaces_entry_id": "kb-001"})
    assert response.status_code == 201
    draft_id = response.json()["draft_id"]
    with session_scope(user.app.state.services.engine) as session:
        draft = get_entry(session, draft_id)
        assert draft.status == "draft" and "replaces:kb-001" in draft.tags
        assert get_entry(session, "kb-001").status == "published"  # still answering


def test_unresolve_then_next_handoff_is_priority(user, helper_client):
    ticket_id = hand_off(user)
    ann = helper_client("ann")
    ann.post("/api/helper/claim", json={})
    closed = ann.post(f"/api/helper/tickets/{ticket_id}/unresolve", json={"note": "需线下办理"})
    assert closed.json()["ticket"]["status"] == "unresolved"
    second = hand_off(user)
    assert second != ticket_id
    queues = ann.get("/api/helper/queues").json()["queues"]
    assert next(q for q in queues if q["channel"] == "online_helper")["waiting_priority"] == 1


def test_console_socket_streams_user_messages_and_snapshots(user, helper_client):
    ticket_id = hand_off(user)
    ann = helper_client("ann")
    ann.post("/api/helper/claim", json={})
    ann.post(f"/api/helper/tickets/{ticket_id}/messages", json={"text": "您好"})
    with ann.websocket_connect("/ws/console") as ws:
        snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot"
        assert [t["id"] for t in snapshot["tickets"]] == [ticket_id]
        # Subscribed from here on; the console re-reads the transcript on this event.
        assert ws.receive_json() == {"type": "event", "ticket_id": ticket_id,
                                     "event": {"type": "subscribed"}}
        user.post("/api/chat/messages", json={"text": "<b>在吗</b>"})
        for _ in range(10):
            event = ws.receive_json()
            if event["type"] == "event":
                break
        assert event["ticket_id"] == ticket_id
        assert event["event"]["role"] == "user" and event["event"]["text"] == "<b>在吗</b>"


def test_console_socket_refuses_anonymous(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/ws/console") as ws:
        ws.receive_json()
    assert info.value.code == 4401


def test_user_socket_receives_helper_message_and_resolution(user, rasa, helper_client):
    ticket_id = hand_off(user)
    ann = helper_client("ann")
    ann.post("/api/helper/claim", json={})
    with user.websocket_connect("/ws/chat") as ws:
        # The first push says the subscription is live (and the state after a reconnect).
        assert ws.receive_json() == {"type": "state", "mode": "waiting",
                                     "ticket": user.get("/api/chat/queue").json()["ticket"],
                                     "subscribed": True}
        sent = ann.post(f"/api/helper/tickets/{ticket_id}/messages", json={"text": "您好，请讲"})
        pushed = ws.receive_json()
        assert pushed == {"type": "message", "message": {
            "id": sent.json()["message"]["id"], "role": "helper", "text": "您好，请讲",
            "author": "ann", "at": pushed["message"]["at"]}}
        ann.post(f"/api/helper/tickets/{ticket_id}/resolve", json={})
        kinds = []
        for _ in range(6):
            event = ws.receive_json()
            kinds.append(event["type"])
            if event["type"] == "message" and event["message"]["role"] == "bot":
                break
        assert "state" in kinds and kinds[-1] == "message"
        assert event["message"]["buttons"][0]["title"] == "非常满意"


# --- the leader's escalation queue ---------------------------------------------------------------

def waiting_since(app, ticket_id: str, seconds_ago: float) -> None:
    """Backdate a ticket's queueing, as if it had been waiting that long."""
    with session_scope(app.state.services.engine) as session:
        ticket = session.get(Ticket, ticket_id)
        ticket.queued_at = ticket.queued_at - dt.timedelta(seconds=seconds_ago)


def other_user(app):
    browser = TestClient(app, headers=SAME_ORIGIN)
    browser.cookies.set("xiaobao_visitor", uuid.uuid4().hex)
    return browser


def test_escalations_show_long_waits_and_complaints_to_the_departments_leader(
        app, user, helper_client):
    level = packaged_config().level("online_helper") * packaged_config().escalation_factor
    late = hand_off(user)
    waiting_since(app, late, level + 30)
    with other_user(app) as second, other_user(app) as third:
        complaint = hand_off(second, complaint=True)
        fresh = hand_off(third)
    lead = helper_client("lead", roles=("leader",), on_duty=False)

    shown = lead.get("/api/helper/escalations")
    assert shown.status_code == 200, shown.text
    escalations = shown.json()["escalations"]
    assert [(e["ticket"]["id"], e["reason"]) for e in escalations] == [
        (late, "waiting"), (complaint, "complaint")]  # longest waiting first
    assert fresh not in {e["ticket"]["id"] for e in escalations}
    assert escalations[0]["waited_s"] >= level + 30
    assert escalations[0]["history"][0]["to"] == "queued"
    assert escalations[0]["ticket"]["phone"] == "138****5678"  # not handling it: masked

    plain = helper_client("ann")
    refused = plain.get("/api/helper/escalations")
    assert refused.status_code == 403 and "leader" in refused.json()["error"]["message"]
    other_lead = helper_client("olead", roles=("leader",), departments=(OTHER,), on_duty=False)
    assert other_lead.get("/api/helper/escalations").json()["escalations"] == []
    assert other_lead.post(f"/api/helper/tickets/{late}/claim").status_code == 403


def test_leader_takes_an_escalated_ticket_even_from_a_silent_helper(app, user, helper_client):
    ticket_id = hand_off(user, complaint=True)
    ann = helper_client("ann")
    assert ann.post("/api/helper/claim", json={}).json()["ticket"]["id"] == ticket_id
    lead = helper_client("lead", roles=("leader",))
    # Claimed but not answered: still in the leader's queue, and the leader may take it.
    assert [e["ticket"]["id"] for e in lead.get("/api/helper/escalations").json()[
        "escalations"]] == [ticket_id]
    taken = lead.post(f"/api/helper/tickets/{ticket_id}/claim")
    assert taken.status_code == 200, taken.text
    assert taken.json()["ticket"]["helper"] == "lead"
    assert taken.json()["ticket"]["phone"] == "13812345678"  # now the handling helper
    assert lead.post(f"/api/helper/tickets/{ticket_id}/messages",
                     json={"text": "您好，我是部门负责人。"}).status_code == 200
    assert lead.get("/api/helper/escalations").json()["escalations"] == []  # answered
    assert ann.post(f"/api/helper/tickets/{ticket_id}/messages",
                    json={"text": "我来回答"}).status_code == 403


# --- 留言咨询 in the console ---------------------------------------------------------------------

def leave(browser, text="想咨询食品经营许可", phone="13812345678") -> dict:
    response = browser.post("/api/chat/leave-message", json={"text": text, "phone": phone})
    assert response.status_code == 201, response.text
    return response.json()["message"]


def test_helper_lists_and_answers_left_messages_of_their_departments(app, user, helper_client):
    hand_off(user)  # leaving a message while waiting closes the ticket and takes its department
    left = leave(user)
    assert left["department"] == DEPT
    ann = helper_client("ann", on_duty=False)  # 留言 are answered without being on duty
    listed = ann.get("/api/helper/left-messages").json()["messages"]
    assert [(m["id"], m["phone"]) for m in listed] == [(left["id"], "138****5678")]
    tom = helper_client("tom", departments=(OTHER,))
    assert tom.get("/api/helper/left-messages").json()["messages"] == []

    with user.websocket_connect("/ws/chat") as ws:
        assert ws.receive_json()["type"] == "state"
        answered = ann.post(f"/api/helper/left-messages/{left['id']}/answer",
                            json={"answer": "请带<b>营业执照</b>到窗口办理。"})
        assert answered.status_code == 200, answered.text
        pushed = ws.receive_json()
    assert pushed["type"] == "left_message"  # live, the user being online
    assert pushed["message"]["answer"] == "请带<b>营业执照</b>到窗口办理。"
    assert pushed["message"]["callback"] is None
    assert ann.get("/api/helper/left-messages").json()["messages"] == []
    # The user coming back later finds it too.
    found = user.get("/api/chat/left-messages").json()["messages"]
    assert [(m["id"], m["status"], m["answered_by"]) for m in found] == [
        (left["id"], "answered", "ann")]


def test_answering_a_left_message_refuses_bad_input(app, user, helper_client):
    hand_off(user)
    left = leave(user)
    ann = helper_client("ann", on_duty=False)
    tom = helper_client("tom", departments=(OTHER,), on_duty=False)
    path = f"/api/helper/left-messages/{left['id']}/answer"

    unknown = ann.post("/api/helper/left-messages/nosuchmessage/answer", json={"answer": "好"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_message"
    other = tom.post(path, json={"answer": "好"})
    assert other.status_code == 403 and other.json()["error"]["code"] == "department_not_allowed"
    assert ann.post(path, json={"answer": "  "}).status_code == 422
    assert ann.post(path, json={"answer": "长" * 2001}).status_code == 413
    assert ann.post(path, json={"answer": "请到窗口办理。"}).status_code == 200
    again = ann.post(path, json={"answer": "再答一次"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_answered"
    found = user.get("/api/chat/left-messages").json()["messages"]
    assert found[0]["answer"] == "请到窗口办理。"  # the first answer stands, nothing lost
    anonymous = TestClient(app, headers=SAME_ORIGIN)
    assert anonymous.get("/api/helper/left-messages").status_code == 401


# --- the user's place in line moves --------------------------------------------------------------

def test_queue_position_goes_down_when_the_ticket_ahead_is_claimed(app, user, helper_client):
    first = hand_off(user)
    with other_user(app) as second:
        mine = hand_off(second)
        queue = second.get("/api/chat/queue").json()["ticket"]
        assert (queue["id"], queue["queue_position"]) == (mine, 2)
        ann = helper_client("ann")
        with second.websocket_connect("/ws/chat") as ws:
            assert ws.receive_json()["ticket"]["queue_position"] == 2
            assert ann.post("/api/helper/claim", json={}).json()["ticket"]["id"] == first
            pushed = ws.receive_json()  # no request from this user: the gateway pushes it
        assert pushed["type"] == "state" and pushed["mode"] == "waiting"
        assert pushed["ticket"]["queue_position"] == 1
        assert pushed["ticket"]["estimated_wait_s"] <= queue["estimated_wait_s"]
        assert second.get("/api/chat/queue").json()["ticket"]["queue_position"] == 1


# --- who may use the console (xiaobao.policy) ----------------------------------------------------

def test_admin_works_tickets_of_any_department(user, helper_client):
    ticket_id = hand_off(user)
    admin = helper_client("root", roles=("admin",), departments=(), on_duty=False)
    assert {q["department"] for q in admin.get("/api/helper/queues").json()["queues"]} == \
        set(packaged_config().departments)  # sees every department
    assert admin.get(f"/api/helper/tickets/{ticket_id}").status_code == 200
    taken = admin.post(f"/api/helper/tickets/{ticket_id}/claim")
    assert taken.status_code == 200, taken.text
    assert taken.json()["ticket"]["helper"] == "root"
    assert admin.post(f"/api/helper/tickets/{ticket_id}/messages",
                      json={"text": "您好，我来处理。"}).status_code == 200
    closed = admin.post(f"/api/helper/tickets/{ticket_id}/resolve", json={})
    assert closed.status_code == 200 and closed.json()["ticket"]["status"] == "resolved"


def test_supervisors_and_editors_work_no_tickets_and_get_no_console(user, helper_client):
    from starlette.websockets import WebSocketDisconnect

    ticket_id = hand_off(user)
    for username, role in (("sup", "supervisor"), ("ed", "editor")):
        staff = helper_client(username, roles=(role,), departments=(DEPT,), on_duty=False)
        for method, path in [("get", "/api/helper/me"), ("get", "/api/helper/queues"),
                             ("get", f"/api/helper/tickets/{ticket_id}"),
                             ("post", f"/api/helper/tickets/{ticket_id}/claim"),
                             ("get", "/api/helper/left-messages")]:
            response = getattr(staff, method)(path)
            assert response.status_code == 403, (role, path)
            assert response.json()["error"]["message"].endswith("helper or leader role")
        # The console socket accepts exactly the accounts the console routes accept.
        with pytest.raises(WebSocketDisconnect) as info, \
                staff.websocket_connect("/ws/console") as ws:
            ws.receive_json()
        assert info.value.code == 4401, role


def test_console_socket_accepts_an_admin_without_departments(user, helper_client):
    ticket_id = hand_off(user)
    admin = helper_client("root", roles=("admin",), departments=(), on_duty=False)
    admin.post(f"/api/helper/tickets/{ticket_id}/claim")
    with admin.websocket_connect("/ws/console") as ws:
        snapshot = ws.receive_json()
    assert snapshot["type"] == "snapshot"
    assert [t["id"] for t in snapshot["tickets"]] == [ticket_id]
    assert {q["department"] for q in snapshot["queues"]} == set(packaged_config().departments)


def test_a_session_touch_does_not_hold_the_database_while_the_route_writes(user, helper_client):
    """The once-a-minute touch of the console session (last_seen_at) is committed before the
    route runs: left pending in the request's transaction, on SQLite it held the write lock the
    route's own handoff writes wait for (30 s, then "database is locked")."""
    from sqlalchemy import update

    from xiaobao.sessions import WebSession

    ann = helper_client("ann")
    ticket_id = hand_off(user)
    engine = user.app.state.services.engine
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    with session_scope(engine) as s:
        s.execute(update(WebSession).values(last_seen_at=long_ago))
    for path in ("/api/helper/status", "/api/helper/claim"):
        body = {"status": "on_duty"} if path.endswith("status") else {}
        response = ann.post(path, json=body)
        assert response.status_code == 200, response.text
        with session_scope(engine) as s:
            s.execute(update(WebSession).values(last_seen_at=long_ago))
    assert response.json()["ticket"]["id"] == ticket_id

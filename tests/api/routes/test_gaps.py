"""GET /api/kb/gaps through HTTP: events recorded as the bot records them, a real handoff, the
seeded index and the real model; who may read it; its draft goes to POST /api/kb/entries."""
from __future__ import annotations

import datetime as dt

import pytest

from handoff.requests import request_handoff
from retrieval import gaps
from tests.api.support import handoff_request
from xiaobao import clock, conversations
from xiaobao.db import session_scope
from xiaobao.enums import Speaker
from xiaobao.events import EventKind, record_event

DOG = ["宠物犬登记在哪里办", "养狗要办什么证", "狗证在哪里办"]


@pytest.fixture
def app_with_seed(app, client, services, seeded_retriever):
    """The started app (its schema migrated) answering from the shipped seed."""
    services.use_retriever(seeded_retriever)
    return app


def bot_answered(services, conversation_id: str, text: str, decision: str,
                 entry_id: str = "") -> None:
    """The user's turn and the bot's BOT_ANSWER event, with the fields
    ``bot/actions/answer.py`` writes."""
    with session_scope(services.engine) as s:
        conversations.append(s, conversation_id, Speaker.USER, text)
        record_event(s, EventKind.BOT_ANSWER, conversation_id=conversation_id, actor="bot",
                     decision=decision, entry_id=entry_id, query=text[:500], score=0.42)


def feedback(services, conversation_id: str, entry_id: str, helpful: bool) -> None:
    with session_scope(services.engine) as s:
        record_event(s, EventKind.ANSWER_FEEDBACK, conversation_id=conversation_id,
                     actor="bot", entry_id=entry_id, helpful=helpful)


@pytest.fixture
def gaps_recorded(app_with_seed, services):
    """Three users ask about dog licences (no entry); one gets 没帮助 on a licence answer; one
    is handed to a helper after an abstention."""
    bot_answered(services, "v-dog-1", DOG[0], "abstain")
    bot_answered(services, "v-dog-2", DOG[1], "suggest", "kb-licence-006")
    bot_answered(services, "v-dog-3", DOG[2], "abstain")
    bot_answered(services, "v-licence", "开公司要去哪领证", "answer", "kb-startup-001")
    feedback(services, "v-licence", "kb-startup-001", helpful=False)
    bot_answered(services, "v-ok", "开公司要去哪领证", "answer", "kb-startup-001")
    feedback(services, "v-ok", "kb-startup-001", helpful=True)
    bot_answered(services, "v-id", "身份证丢了去哪里补办", "abstain")
    with session_scope(services.engine) as s:
        conversations.append(s, "v-id", Speaker.USER, "转人工帮办", payload="/request_human")
    request_handoff(handoff_request("v-id"), ctx=services.handoff)


def test_editor_sees_clusters_with_reasons_nearest_entries_and_a_draft(gaps_recorded, staff):
    response = staff("ed", "editor").get("/api/kb/gaps")
    assert response.status_code == 200, response.text
    body = response.json()
    today = clock.today()
    assert body["to"] == today.isoformat()
    assert body["from"] == (today - dt.timedelta(days=29)).isoformat()
    assert body["questions"] == 5 and body["truncated"] is False
    assert body["limit"] == gaps.MAX_QUESTIONS
    sizes = [c["size"] for c in body["clusters"]]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == 5
    dog = body["clusters"][0]
    assert dog["size"] == 3 and sorted(dog["examples"]) == sorted(DOG)
    assert dog["reasons"] == {"abstain": 2, "suggest": 1, "unhelpful": 0, "handoff": 0}
    assert dog["first_seen"] <= dog["last_seen"]
    assert dog["nearest"] and all(set(n) == {"id", "question", "score"} for n in dog["nearest"])
    assert dog["draft"]["question"] in DOG and dog["draft"]["status"] == "draft"
    by_example = {c["examples"][0]: c for c in body["clusters"]}
    assert by_example["身份证丢了去哪里补办"]["reasons"]["handoff"] == 1
    licence = by_example["开公司要去哪领证"]
    assert licence["reasons"]["unhelpful"] == 1 and licence["size"] == 1
    assert licence["nearest"][0]["id"] == "kb-startup-001"
    assert licence["draft"]["category"] == "企业开办与变更"


def test_the_draft_becomes_a_new_entry_once_the_editor_writes_the_answer(gaps_recorded, staff):
    editor = staff("ed", "editor")
    draft = editor.get("/api/kb/gaps").json()["clusters"][0]["draft"]
    created = editor.post("/api/kb/entries", json={**draft, "answer": "请咨询居住地派出所。"})
    assert created.status_code == 201, created.text
    entry = created.json()["entry"]
    assert entry["status"] == "draft" and entry["question"] == draft["question"]
    assert entry["similar_questions"] == draft["similar_questions"]


def test_supervisor_and_admin_may_read_it_a_helper_may_not(gaps_recorded, staff, client):
    assert staff("sup", "supervisor").get("/api/kb/gaps").status_code == 200
    assert staff("root", "admin").get("/api/kb/gaps").status_code == 200
    denied = staff("helper", "helper").get("/api/kb/gaps")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    assert client.get("/api/kb/gaps").status_code == 401


def test_the_window_is_respected_and_to_is_included(gaps_recorded, staff):
    editor = staff("ed", "editor")
    today = clock.today()
    only_today = editor.get("/api/kb/gaps", params={"from": today.isoformat(),
                                                    "to": today.isoformat()}).json()
    assert only_today["questions"] == 5
    earlier = today - dt.timedelta(days=400)
    old = editor.get("/api/kb/gaps", params={"from": earlier.isoformat(),
                                             "to": (today - dt.timedelta(days=1)).isoformat()})
    assert old.status_code == 200 and old.json()["questions"] == 0
    assert old.json()["clusters"] == []


def test_from_after_to_is_a_clear_422(staff):
    response = staff("ed", "editor").get("/api/kb/gaps",
                                         params={"from": "2026-03-10", "to": "2026-03-01"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_range" and "晚于" in error["message"]
    assert staff("ed2", "editor").get("/api/kb/gaps", params={"from": "3月1日"}
                                      ).status_code == 422


def test_only_the_newest_questions_are_clustered_and_the_response_says_so(
        gaps_recorded, staff, monkeypatch):
    monkeypatch.setattr(gaps, "MAX_QUESTIONS", 2)
    body = staff("ed", "editor").get("/api/kb/gaps").json()
    assert body["questions"] == 2 and body["truncated"] is True and body["limit"] == 2
    assert "2" in body["note"]
    newest = {e for c in body["clusters"] for e in c["examples"]}
    assert newest == {"身份证丢了去哪里补办", "开公司要去哪领证"}

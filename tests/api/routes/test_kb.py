"""The knowledge editors' API through HTTP, as logged-in editors use it.

One gateway for the module: a SQLite database with the shipped seed, the real model and FAISS
(the session's seeded index, copied and loaded), our own Redis, and the change listener the
gateway starts, so a publish reaches the chat's retriever as in production (the tests poll up
to 5 s). Each test makes its own entries; the seed's are only read.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from api.main import create_app
from api.services import build_services
from bot.actions.answer import ActionAnswerQuestion
from handoff.requests import request_handoff
from knowledge_base import io as kb_io
from knowledge_base.card import answer_card
from knowledge_base.changes import CHANGES_CHANNEL
from knowledge_base.schema import FIELDS, EntryData
from retrieval.decision import FEATURES
from retrieval.service import Retriever
from tests.api.support import CATEGORY, DEPT, SAME_ORIGIN, handoff_request
from xiaobao.accounts import create_account
from xiaobao.db import session_scope, upgrade
from xiaobao.settings import REPO_ROOT, Settings

SEED_FILES = sorted((REPO_ROOT / "knowledge_base" / "seed").glob("*.yaml"))
PASSWORD = "correct-horse"
ENTRY_OUT = {*FIELDS, "version", "updated_at", "updated_by", "review_state", "needs_deep_link",
             "card", "answerable"}
# Topics the seed does not cover, each with a paraphrase the model maps to it.
CAT_CAFE = {"question": "开一家猫咖啡馆要办哪些手续？", "similar_questions": ["撸猫店怎么办证"],
            "answer": "猫咖啡馆先办营业执照，再办食品经营许可；店内饲养的猫须按规定做好防疫登记。",
            "category": CATEGORY, "department": DEPT, "source": "本中心整理"}
CAT_CAFE_ASKED = "想开个猫咖，需要办什么证"
DRONE = {"question": "企业用无人机航拍需要向哪里报备？",
         "answer": "无人机飞行前须在民航综合管理平台实名登记，并按空域规定申请飞行计划。"}
DRONE_ASKED = "公司用无人机拍宣传片要报备吗"
FIREWORKS = {"question": "公司年会想燃放烟花爆竹，需要审批吗？",
             "answer": "燃放烟花爆竹须遵守本市禁放规定，外环线以内全年禁放，"
                       "请先咨询属地公安派出所。",
             "category": "其他", "source": "本中心整理", "status": "published"}
FIREWORKS_ASKED = "单位搞活动放烟花要申请吗"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, redis_url, _rasa_server, seeded_retriever) -> Iterator[TestClient]:
    """The gateway (its lifespan running: the listener refreshes the retriever), as a client
    with no session."""
    home = tmp_path_factory.mktemp("kb-api")
    settings = Settings(home=home, redis_url=redis_url, rasa_url=_rasa_server.url,
                        rasa_timeout_s=1.0, warm_retriever=True, secret_key="test-secret",
                        call_callback_secret="test-callback-secret", background_jobs=False)
    settings = settings.model_copy(update={  # abuse limits lifted: they have their own tests
        name: 1_000_000 for name, field in Settings.model_fields.items()
        if "_per_" in name and field.annotation is int})
    services = build_services(settings)
    upgrade(services.engine)
    services.kb.import_entries([e for f in SEED_FILES for e in kb_io.parse_entries(f)], "seed")
    # The same entries at the same versions: the session's saved index loads instead of
    # embedding the seed again.
    shutil.copytree(seeded_retriever.index_dir, home / "index")
    retriever = Retriever(services.engine, seeded_retriever.embedder, home / "index")
    retriever.load_or_build()
    services.use_retriever(retriever)
    app = create_app(settings, services)
    with TestClient(app, headers=SAME_ORIGIN) as client:
        deadline = time.monotonic() + 5
        while services.redis.pubsub_numsub(CHANGES_CHANNEL)[0][1] < 1:
            assert time.monotonic() < deadline, "the gateway's change listener did not subscribe"
            time.sleep(0.05)
        yield client


@pytest.fixture(scope="module")
def login(gateway) -> Callable[..., TestClient]:
    """``login("ann", "editor")``: a browser of its own, logged in as a new account."""
    opened: list[TestClient] = []

    def make(username: str, *roles: str, departments: tuple[str, ...] = ()) -> TestClient:
        with session_scope(gateway.app.state.services.engine) as session:
            create_account(session, username, PASSWORD, roles=list(roles),
                           departments=list(departments))
        browser = TestClient(gateway.app, headers=SAME_ORIGIN)
        opened.append(browser)
        response = browser.post("/api/auth/login",
                                json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return browser

    yield make
    for browser in opened:
        browser.close()


@pytest.fixture(scope="module")
def ed(login) -> TestClient:
    return login("ed", "editor")


@pytest.fixture(scope="module")
def ed2(login) -> TestClient:
    return login("ed2", "editor")


@pytest.fixture(scope="module")
def helper(login) -> TestClient:
    browser = login("kb-helper", "helper", departments=(DEPT,))
    assert browser.post("/api/helper/status", json={"status": "on_duty"}).status_code == 200
    return browser


def services_of(client: TestClient):
    return client.app.state.services


def new_id() -> str:
    return f"kb-t-{uuid.uuid4().hex[:8]}"


def create(client: TestClient, **fields: Any) -> dict:
    response = client.post("/api/kb/entries", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["entry"]


def error_of(response) -> dict:
    return response.json()["error"]


def hit_test(client: TestClient, query: str) -> dict:
    response = client.post("/api/kb/hit-test", json={"query": query})
    assert response.status_code == 200, response.text
    return response.json()


def poll(check: Callable[[], Any], seconds: float = 5.0) -> Any:
    """``check()`` until it is truthy or ``seconds`` pass; its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def answered_with(client: TestClient, query: str, entry_id: str) -> bool:
    return hit_test(client, query)["entry_id"] == entry_id


def not_found_by(client: TestClient, query: str, entry_id: str) -> bool:
    result = hit_test(client, query)
    return entry_id not in {c["id"] for c in result["candidates"]}


# --- who may use it ------------------------------------------------------------------------------

def test_only_editors_and_admins_may_use_it(gateway, login, ed):
    anonymous = TestClient(gateway.app, headers=SAME_ORIGIN)
    assert anonymous.get("/api/kb/entries").status_code == 401
    assert error_of(anonymous.post("/api/kb/preview", json={}))["code"] == "not_authenticated"
    for username, role in (("kb-h", "helper"), ("kb-l", "leader"), ("kb-s", "supervisor")):
        denied = login(username, role, departments=(DEPT,)).get("/api/kb/entries")
        assert denied.status_code == 403 and error_of(denied)["code"] == "forbidden"
    assert login("kb-admin", "admin").get("/api/kb/meta").status_code == 200
    assert ed.get("/api/kb/meta").status_code == 200


# --- listing and searching -----------------------------------------------------------------------

def test_the_list_pages_and_filters(ed):
    services = services_of(ed)
    first = ed.get("/api/kb/entries", params={"page_size": 5}).json()
    assert first["total"] == services.kb.count() and first["page"] == 1
    assert len(first["items"]) == 5 and set(first["items"][0]) == ENTRY_OUT
    second = ed.get("/api/kb/entries", params={"page_size": 5, "page": 2}).json()
    assert {e["id"] for e in first["items"]}.isdisjoint({e["id"] for e in second["items"]})

    category = first["items"][0]["category"]
    by_category = ed.get("/api/kb/entries", params={"category": category, "page_size": 200}
                         ).json()
    assert by_category["total"] == len(by_category["items"]) > 0
    assert {e["category"] for e in by_category["items"]} == {category}

    reviewed = create(ed, id=new_id(), question="今天核对过的条目", answer="已核对。",
                      reviewed_on=time.strftime("%Y-%m-%d"), reviewed_by="ed")
    assert reviewed["review_state"] == "current"
    stale = ed.get("/api/kb/entries", params={"stale": "true", "page_size": 200}).json()
    assert stale["total"] >= 150  # the seed is unreviewed
    assert {e["review_state"] for e in stale["items"]} <= {"unreviewed", "stale"}
    current = ed.get("/api/kb/entries", params={"stale": "false", "page_size": 200}).json()
    assert reviewed["id"] in {e["id"] for e in current["items"]}
    assert {e["review_state"] for e in current["items"]} == {"current"}

    drafts = ed.get("/api/kb/entries", params={"status": "draft", "page_size": 200}).json()
    assert reviewed["id"] in {e["id"] for e in drafts["items"]}
    assert {e["status"] for e in drafts["items"]} == {"draft"}
    assert ed.get("/api/kb/entries", params={"page_size": 201}).status_code == 422
    assert ed.get("/api/kb/entries", params={"status": "gone"}).status_code == 422


def test_search_finds_by_meaning_first_then_by_words(ed):
    fireworks = create(ed, id=new_id(), **FIREWORKS, tags=["年会"])
    marked = create(ed, id=new_id(), question="烟花爆竹的草稿", answer="草稿：烟花爆竹另议。")
    assert marked["status"] == "draft"

    def meaning_hit() -> dict | None:
        items = ed.get("/api/kb/entries", params={"q": FIREWORKS_ASKED}).json()["items"]
        return next((e for e in items if e["id"] == fireworks["id"]), None)

    found = poll(meaning_hit)
    assert found is not None and found["match"] == "meaning" and found["score"] > 0.5

    result = ed.get("/api/kb/entries", params={"q": "烟花爆竹", "page_size": 200}).json()
    by_id = {e["id"]: e for e in result["items"]}
    assert by_id[marked["id"]]["match"] == "words"  # a draft: never found by meaning
    assert "score" not in by_id[marked["id"]]
    assert by_id[fireworks["id"]]["match"] == "both"
    matches = [e["match"] for e in result["items"]]
    assert max(i for i, m in enumerate(matches) if m != "words") < matches.index("words")
    meaning_scores = [e["score"] for e in result["items"] if e["match"] != "words"]
    assert meaning_scores == sorted(meaning_scores, reverse=True)
    assert result["total"] == len(result["items"])

    drafts_only = ed.get("/api/kb/entries", params={"q": "烟花爆竹", "status": "draft"}).json()
    assert [e["id"] for e in drafts_only["items"]] == [marked["id"]]
    assert drafts_only["items"][0]["match"] == "words"
    nothing = ed.get("/api/kb/entries", params={"q": "？？？"}).json()  # no text to embed
    assert nothing["total"] == 0


def test_meta_lists_what_the_form_offers(ed):
    services = services_of(ed)
    meta = ed.get("/api/kb/meta").json()
    assert meta["statuses"] == ["draft", "published", "archived"]
    assert meta["fields"] == list(FIELDS)
    assert meta["review_max_age_days"] == services.settings.kb_review_max_age_days
    seed = [e for f in SEED_FILES for e in kb_io.parse_entries(f)]
    assert {e.category for e in seed} <= set(meta["categories"])
    assert set(services.config.departments) <= set(meta["departments"])
    assert {e.department for e in seed if e.department} <= set(meta["departments"])
    assert "" not in meta["categories"]


# --- one entry's life ----------------------------------------------------------------------------

def test_a_new_entry_is_a_draft_until_published_and_gone_when_archived(ed):
    entry = create(ed, **CAT_CAFE)
    assert entry["id"].startswith("kb-") and entry["status"] == "draft"
    assert entry["version"] == 1 and entry["updated_by"] == "ed" and entry["answerable"] is False
    assert entry["card"] == answer_card(EntryData.model_validate({**CAT_CAFE, "id": "x"}))
    assert ed.get(f"/api/kb/entries/{entry['id']}").json()["entry"] == entry
    assert not_found_by(ed, CAT_CAFE_ASKED, entry["id"])  # a draft is never answered

    published = ed.post(f"/api/kb/entries/{entry['id']}/publish", json={"version": 1})
    assert published.status_code == 200, published.text
    assert published.json()["entry"]["status"] == "published"
    assert published.json()["entry"]["version"] == 2
    assert published.json()["entry"]["answerable"] is True
    assert poll(lambda: answered_with(ed, CAT_CAFE_ASKED, entry["id"])), \
        "the published entry did not answer the paraphrase within 5 s"
    result = hit_test(ed, CAT_CAFE_ASKED)
    assert result["decision"] == "answer" and result["reply"]["text"] == entry["card"]
    assert result["candidates"][0]["id"] == entry["id"]
    assert [b["title"] for b in result["reply"]["buttons"]] == ["有帮助", "没帮助", "转人工"]

    stale = ed.post(f"/api/kb/entries/{entry['id']}/archive", json={"version": 1})
    assert stale.status_code == 409 and error_of(stale)["code"] == "version_conflict"
    archived = ed.post(f"/api/kb/entries/{entry['id']}/archive")  # no body: no version check
    assert archived.status_code == 200 and archived.json()["entry"]["status"] == "archived"
    assert poll(lambda: not_found_by(ed, CAT_CAFE_ASKED, entry["id"])), \
        "the archived entry was still found after 5 s"


def test_two_editors_saving_the_same_version_the_second_gets_409(ed, ed2):
    entry = create(ed, id=new_id(), question="两人同时编辑的条目", answer="原来的答案。",
                   status="published")
    read_by_ed = ed.get(f"/api/kb/entries/{entry['id']}").json()["entry"]
    read_by_ed2 = ed2.get(f"/api/kb/entries/{entry['id']}").json()["entry"]
    assert read_by_ed["version"] == read_by_ed2["version"] == 1

    saved = ed.put(f"/api/kb/entries/{entry['id']}",
                   json={**read_by_ed, "answer": "第一位编辑的答案。", "version": 1})
    assert saved.status_code == 200, saved.text
    assert saved.json()["entry"]["version"] == 2 and saved.json()["entry"]["updated_by"] == "ed"
    late = ed2.put(f"/api/kb/entries/{entry['id']}",
                   json={**read_by_ed2, "answer": "第二位编辑的答案。", "version": 1})
    assert late.status_code == 409 and error_of(late)["code"] == "version_conflict"
    assert "已被他人修改" in error_of(late)["message"] and "请刷新" in error_of(late)["message"]
    kept = ed2.get(f"/api/kb/entries/{entry['id']}").json()["entry"]
    assert kept["answer"] == "第一位编辑的答案。" and kept["version"] == 2


def test_put_keeps_fields_left_out_and_needs_a_version(ed):
    entry = create(ed, id=new_id(), question="部分保存", answer="答案。", tags=["甲"],
                   status="published")
    saved = ed.put(f"/api/kb/entries/{entry['id']}", json={"answer": "新答案。", "version": 1})
    assert saved.status_code == 200, saved.text
    assert saved.json()["entry"]["status"] == "published" and saved.json()["entry"]["tags"] == [
        "甲"]
    missing = ed.put(f"/api/kb/entries/{entry['id']}", json={"answer": "x"})
    assert missing.status_code == 422
    other = ed.put(f"/api/kb/entries/{entry['id']}", json={"id": "kb-else", "version": 2})
    assert other.status_code == 422 and error_of(other)["errors"][0]["field"] == "id"


def test_invalid_fields_are_listed_and_nothing_is_saved(ed):
    services = services_of(ed)
    before = services.kb.count()
    bad = ed.post("/api/kb/entries", json={"question": "日期写错的条目", "answer": "答案。",
                                           "effective_from": "2026-13-01", "colour": "red"})
    assert bad.status_code == 422
    error = error_of(bad)
    assert error["code"] == "invalid_entry" and "effective_from" in error["message"]
    fields = {e["field"]: e["reason"] for e in error["errors"]}
    assert "YYYY-MM-DD" in fields["effective_from"] and fields["colour"].startswith("未知字段")
    empty = ed.post("/api/kb/entries", json={"question": "", "answer": "答案。"})
    assert error_of(empty)["errors"] == [{"field": "question",
                                          "reason": "不能为空 / must not be empty"}]
    assert services.kb.count() == before

    entry = create(ed, id=new_id(), question="有效的条目", answer="答案。")
    taken = ed.post("/api/kb/entries", json={"id": entry["id"], "question": "重", "answer": "复"})
    assert taken.status_code == 409 and "已存在" in error_of(taken)["message"]
    bad_put = ed.put(f"/api/kb/entries/{entry['id']}",
                     json={"expires_on": "31/12/2026", "version": 1})
    assert bad_put.status_code == 422
    assert error_of(bad_put)["errors"][0]["field"] == "expires_on"
    assert ed.get(f"/api/kb/entries/{entry['id']}").json()["entry"]["version"] == 1


def test_unknown_entries_are_404(ed):
    assert error_of(ed.get("/api/kb/entries/kb-none"))["code"] == "entry_not_found"
    assert ed.put("/api/kb/entries/kb-none", json={"question": "q", "answer": "a",
                                                    "version": 1}).status_code == 404
    for action in ("publish", "archive"):
        assert ed.post(f"/api/kb/entries/kb-none/{action}").status_code == 404
    assert ed.get("/api/kb/entries/kb-none/history").status_code == 404
    assert ed.post("/api/kb/entries/kb-none/rollback", json={"version": 1}).status_code == 404


def test_history_diff_and_rollback(ed, ed2):
    entry = create(ed, id=new_id(), question="有历史的条目", answer="第一版答案。")
    ed2.put(f"/api/kb/entries/{entry['id']}", json={"answer": "第二版答案。", "version": 1})
    versions = ed.get(f"/api/kb/entries/{entry['id']}/history").json()["versions"]
    assert [(v["version"], v["action"], v["changed_by"]) for v in versions] == [
        (2, "update", "ed2"), (1, "create", "ed")]
    assert versions[0]["data"]["answer"] == "第二版答案。" and versions[0]["changed_at"]

    diff = ed.get(f"/api/kb/entries/{entry['id']}/diff", params={"from": 1, "to": 2}).json()
    assert (diff["from"], diff["to"]) == (1, 2)
    assert '-answer: "第一版答案。"' in diff["unified"]
    assert '+answer: "第二版答案。"' in diff["unified"]
    fields = {f["field"]: f for f in diff["fields"]}
    assert [f["field"] for f in diff["fields"]] == list(FIELDS)
    assert fields["answer"] == {"field": "answer", "from": "第一版答案。", "to": "第二版答案。",
                                "changed": True}
    assert not fields["question"]["changed"] and fields["tags"]["from"] == []
    missing = ed.get(f"/api/kb/entries/{entry['id']}/diff", params={"from": 1, "to": 9})
    assert missing.status_code == 404

    rolled = ed.post(f"/api/kb/entries/{entry['id']}/rollback", json={"version": 1})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["entry"]["answer"] == "第一版答案。"
    assert rolled.json()["entry"]["version"] == 3
    newest = ed.get(f"/api/kb/entries/{entry['id']}/history").json()["versions"][0]
    assert (newest["version"], newest["action"], newest["changed_by"]) == (3, "rollback", "ed")
    no_version = ed.post(f"/api/kb/entries/{entry['id']}/rollback", json={"version": 7})
    assert no_version.status_code == 404


# --- the live preview ----------------------------------------------------------------------------

def test_the_preview_is_the_bots_card_with_warnings(ed):
    services = services_of(ed)
    form = {"question": "预览", "answer": "请到窗口办理。", "source_url": "https://zwdt.sh.gov.cn/",
            "effective_from": "2024-01-01"}
    shown = ed.post("/api/kb/preview", json=form)
    assert shown.status_code == 200, shown.text
    preview = shown.json()
    assert preview["card"] == answer_card(EntryData.model_validate({**form, "id": "p"}))
    assert "办理入口：上海“一网通办”（https://zwdt.sh.gov.cn/）" in preview["card"]
    assert "来源：本中心整理" in preview["card"]
    assert preview["needs_deep_link"] is True and preview["answerable"] is False  # a draft
    assert preview["review_state"] == "unreviewed"
    assert len(preview["warnings"]) == 3
    assert any("深链接" in w for w in preview["warnings"])
    assert any("最近核对" in w for w in preview["warnings"])
    assert any("本中心整理" in w for w in preview["warnings"])

    today = time.strftime("%Y-%m-%d")
    good = ed.post("/api/kb/preview", json={
        **form, "source": "《上海市某办法》", "source_url": "https://zwdt.sh.gov.cn/guide/1",
        "reviewed_on": today, "status": "published", "long_term": True}).json()
    assert good["warnings"] == [] and good["answerable"] is True
    assert good["review_state"] == "current" and good["needs_deep_link"] is False
    assert f"最近核对：{today}" in good["card"] and "长期有效" in good["card"]
    before = services.kb.count()
    bad = ed.post("/api/kb/preview", json={**form, "expires_on": "2020-01-01"})
    assert bad.status_code == 422 and error_of(bad)["code"] == "invalid_entry"
    assert services.kb.count() == before  # a preview saves nothing


# --- import and export ---------------------------------------------------------------------------

def upload(client: TestClient, name: str, data: bytes, dry_run: bool = False):
    return client.post("/api/kb/import", params={"dry_run": str(dry_run).lower()},
                       files={"file": (name, data)})


def csv_bytes(rows: list[dict], encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[dict]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append(list(row.values()))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(("name", "encode"), [
    ("bad.csv", lambda rows: csv_bytes(rows, "gb18030")),
    ("bad.csv", lambda rows: csv_bytes(rows, "utf-8")),
    ("bad.xlsx", xlsx_bytes),
    ("bad.jsonl", lambda rows: "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                       for r in rows).encode()),
])
def test_one_bad_row_fails_the_whole_import_naming_row_and_field(ed, name, encode):
    services = services_of(ed)
    before = services.kb.count()
    good_id = new_id()
    rows = [{"id": good_id, "question": "营业执照遗失补办（导入）", "answer": "登报声明后补领。",
             "effective_from": "2024-01-01"},
            {"id": new_id(), "question": "日期写错（导入）", "answer": "答案。",
             "effective_from": "2024-02-30"}]
    for dry_run in (True, False):
        response = upload(ed, name, encode(rows), dry_run)
        assert response.status_code == 422, response.text
        error = error_of(response)
        assert error["code"] == "import_failed" and "未写入任何条目" in error["message"]
        first_row = 1 if name.endswith(".jsonl") else 2  # CSV and XLSX: row 1 is the header
        assert [(e["row"], e["field"]) for e in error["errors"]] == [
            (first_row + 1, "effective_from")]
        assert "YYYY-MM-DD" in error["errors"][0]["reason"]
    assert services.kb.count() == before
    assert ed.get(f"/api/kb/entries/{good_id}").status_code == 404


def test_a_dry_run_writes_nothing_and_the_import_then_writes(ed):
    services = services_of(ed)
    ids = [new_id(), new_id()]
    data = yaml.safe_dump([
        {"id": ids[0], "question": "导入的第一条", "answer": "答案一。", "status": "draft"},
        {"id": ids[1], "question": "导入的第二条", "answer": "答案二。", "tags": ["导入"]},
    ], allow_unicode=True).encode()
    before = services.kb.count()
    dry = upload(ed, "new.yaml", data, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json() == {"dry_run": True, "rows": 2, "created": ids, "updated": [],
                          "unchanged": []}
    assert services.kb.count() == before
    assert ed.get(f"/api/kb/entries/{ids[0]}").status_code == 404

    done = upload(ed, "new.yaml", data).json()
    assert done["dry_run"] is False and done["created"] == ids
    assert services.kb.count() == before + 2
    assert ed.get(f"/api/kb/entries/{ids[1]}").json()["entry"]["updated_by"] == "ed"
    again = upload(ed, "new.yaml", data, dry_run=True).json()
    assert again["unchanged"] == ids and again["created"] == []


def test_a_file_of_another_kind_is_refused(ed):
    response = upload(ed, "entries.docx", b"PK\x03\x04")
    assert response.status_code == 422
    assert error_of(response)["code"] == "unsupported_file_type"
    assert ".docx" in error_of(response)["message"]
    broken = upload(ed, "broken.xlsx", b"not a workbook")
    assert broken.status_code == 422 and error_of(broken)["errors"][0]["field"] == "file"


def test_a_file_over_the_upload_cap_is_413(ed):
    settings = services_of(ed).settings  # the gateway's one Settings (its guard reads it too)
    cap = settings.max_upload_bytes
    settings.max_upload_bytes = 4096
    try:
        data = yaml.safe_dump([{"id": new_id(), "question": "大文件", "answer": "答" * 3000}],
                              allow_unicode=True).encode()
        response = upload(ed, "big.yaml", data, dry_run=True)
    finally:
        settings.max_upload_bytes = cap
    assert response.status_code == 413 and error_of(response)["code"] == "body_too_large"


@pytest.mark.parametrize(("fmt", "media_type"), [
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("csv", "text/csv"), ("yaml", "application/yaml"), ("jsonl", "application/x-ndjson")])
def test_export_then_import_changes_nothing(ed, fmt, media_type):
    create(ed, id=new_id(), question=f"导出往返｜检查 {fmt}", answer=f"答案\n第二行 {fmt}。",
           similar_questions=["问法一", "问法二"], tags=["甲", "乙"], long_term=True,
           reviewed_on="2026-01-02", reviewed_by="ed", effective_from="2025-01-01",
           source_url="https://zwdt.sh.gov.cn/x", status="archived")
    services = services_of(ed)
    response = ed.get("/api/kb/export", params={"format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    filename = f"knowledge_base-{time.strftime('%Y%m%d')}.{fmt}"
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    if fmt == "xlsx":
        assert load_workbook(io.BytesIO(response.content)).active.max_row == \
            services.kb.count() + 1
    back = upload(ed, filename, response.content).json()
    assert back["rows"] == services.kb.count()
    assert back["created"] == [] and back["updated"] == []  # every field survived the trip

    published = ed.get("/api/kb/export", params={"format": fmt, "status": "published"})
    rows = kb_io.parse_entries(Path(filename), published.content)
    assert {e.status for e in rows} == {"published"}
    assert len(rows) == services.kb.count("published")


def test_export_refuses_an_unknown_format(ed):
    assert ed.get("/api/kb/export", params={"format": "docx"}).status_code == 422
    assert ed.get("/api/kb/export", params={"status": "gone"}).status_code == 422


# --- the hit test: the chat's own decision -------------------------------------------------------

def run_answer_action(services, text: str) -> tuple[dict, dict]:
    """The bot's answer action with the gateway's services: (its message, its slots)."""
    latest = {"text": text, "intent": {"name": "ask_question", "confidence": 0.9},
              "entities": []}
    tracker = Tracker("kb-hit-test", {}, latest,
                      [{"event": "user", "text": text, "parse_data": latest}], False, None, {},
                      "action_listen")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAnswerQuestion(services).run(dispatcher, tracker, {}))
    [message] = dispatcher.messages
    return message, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_the_hit_test_decides_as_the_chat_does(ed):
    services = services_of(ed)
    seed = [e for f in SEED_FILES for e in kb_io.parse_entries(f)]
    queries = [seed[0].question, *(e.similar_questions[0] for e in seed[40::45]
                                   if e.similar_questions), "给我讲个笑话"]
    decisions = set()
    for query in queries:
        result = hit_test(ed, query)
        message, slots = run_answer_action(services, query)
        assert result["decision"] == slots["decision"], query
        assert result["reply"] == {"text": message["text"], "buttons": message["buttons"]}
        assert [c["id"] for c in result["candidates"]] == [c["id"] for c in slots["candidates"]]
        top = services.retriever.search(query).top
        if result["decision"] == "answer":
            assert result["entry_id"] == slots["last_entry_id"] == top.id
        else:
            assert result["entry_id"] is None
        decisions.add(result["decision"])
    assert "answer" in decisions and decisions - {"answer"}
    first = hit_test(ed, seed[0].question)
    assert set(first["features"]) == set(FEATURES) == {
        "question", "passage", "margin", "coverage", "coverage_q", "missing"}
    assert 0 <= first["plausibility"] <= 1
    assert 0 <= first["probability"] <= 1
    assert set(first["candidates"][0]) == {"id", "question", "category", "department", "score",
                                           "dense", "sparse"}


def test_the_hit_test_refuses_what_the_chat_refuses(ed):
    for query, code in (("   ", "empty_query"), ("？？？", "no_text")):
        response = ed.post("/api/kb/hit-test", json={"query": query})
        assert response.status_code == 400 and error_of(response)["code"] == code
        assert "/" in error_of(response)["message"]  # Chinese / English


# --- helpers' proposals --------------------------------------------------------------------------

def proposal(helper: TestClient, **body: Any) -> str:
    """A helper's draft from a ticket of their department (as the console makes it)."""
    services = services_of(helper)
    ticket_id = request_handoff(handoff_request(f"kb-{uuid.uuid4().hex[:12]}"),
                                ctx=services.handoff).ticket_id
    assert helper.post(f"/api/helper/tickets/{ticket_id}/claim").status_code == 200
    response = helper.post(f"/api/helper/tickets/{ticket_id}/kb-draft", json=body)
    assert response.status_code == 201, response.text
    return response.json()["draft_id"]


def pending(ed: TestClient) -> dict[str, dict]:
    response = ed.get("/api/kb/drafts")
    assert response.status_code == 200
    return {d["id"]: d for d in response.json()["items"]}


def test_an_accepted_proposal_answers_in_the_chat(ed, helper):
    draft_id = proposal(helper, **DRONE, category="其他")
    draft = pending(ed)[draft_id]
    assert draft["status"] == "draft" and draft["replaces"] == ""
    assert draft["replaces_entry"] is None
    assert draft["proposed_by"] == "kb-helper" and draft["ticket_id"]
    assert draft["question"] == DRONE["question"]
    assert not_found_by(ed, DRONE_ASKED, draft_id)

    accepted = ed.post(f"/api/kb/drafts/{draft_id}/accept",
                       json={"source": "《民用无人驾驶航空器飞行管理暂行条例》"})
    assert accepted.status_code == 200, accepted.text
    entry = accepted.json()["entry"]
    assert entry["id"] != draft_id and entry["status"] == "published"
    assert entry["source"] == "《民用无人驾驶航空器飞行管理暂行条例》"
    assert entry["reviewed_by"] == "ed" and entry["review_state"] == "current"
    assert not any(t.startswith(("ticket:", "helper_proposal")) for t in entry["tags"])
    assert draft_id not in pending(ed)
    assert poll(lambda: answered_with(ed, DRONE_ASKED, entry["id"])), \
        "the accepted proposal did not answer within 5 s"
    again = ed.post(f"/api/kb/drafts/{draft_id}/accept")
    assert again.status_code == 409 and error_of(again)["code"] == "draft_not_pending"


def test_a_proposal_amending_an_entry_becomes_its_new_version(ed, helper):
    entry = create(ed, id=new_id(), question="个体户营业执照年报怎么报？", answer="旧的年报答案。",
                   category=CATEGORY, status="published")
    draft_id = proposal(helper, question="个体户年报在哪里填",
                        answer="新的年报答案：登录公示系统填报。", category=CATEGORY,
                        replaces_entry_id=entry["id"])
    draft = pending(ed)[draft_id]
    assert draft["replaces"] == entry["id"]
    assert draft["replaces_entry"]["answer"] == "旧的年报答案。"

    accepted = ed.post(f"/api/kb/drafts/{draft_id}/accept").json()["entry"]
    assert accepted["id"] == entry["id"] and accepted["version"] == 2
    assert accepted["answer"] == "新的年报答案：登录公示系统填报。"
    assert "个体户年报在哪里填" in accepted["similar_questions"]
    newest = ed.get(f"/api/kb/entries/{entry['id']}/history").json()["versions"][0]
    assert newest["action"] == "accept_draft" and draft_id in newest["detail"]


def test_a_rejected_proposal_keeps_the_reason(ed, helper):
    draft_id = proposal(helper, question="能不能帮我代办执照", answer="可以，我们全程代办。")
    assert ed.post(f"/api/kb/drafts/{draft_id}/reject", json={"reason": "  "}).status_code == 422
    assert ed.post(f"/api/kb/drafts/{draft_id}/reject",
                   json={"reason": "长" * 501}).status_code == 422
    rejected = ed.post(f"/api/kb/drafts/{draft_id}/reject", json={"reason": "中心不提供代办服务"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["draft"]["status"] == "archived"
    assert draft_id not in pending(ed)
    newest = ed.get(f"/api/kb/entries/{draft_id}/history").json()["versions"][0]
    assert (newest["action"], newest["detail"], newest["changed_by"]) == (
        "reject", "中心不提供代办服务", "ed")
    twice = ed.post(f"/api/kb/drafts/{draft_id}/reject", json={"reason": "再次"})
    assert twice.status_code == 409
    not_a_proposal = create(ed, id=new_id(), question="普通草稿", answer="答案。")
    assert ed.post(f"/api/kb/drafts/{not_a_proposal['id']}/accept").status_code == 404


def test_an_alias_bomb_import_is_refused_quickly_and_stores_nothing(ed):
    services = services_of(ed)
    before = services.kb.count()
    bomb = ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi"))).encode()
    start = time.monotonic()
    response = upload(ed, "bomb.yaml", bomb, False)
    assert time.monotonic() - start < 1
    assert response.status_code == 422, response.text
    assert "别名" in response.text and len(response.content) < 2000
    assert services.kb.count() == before


def test_an_import_of_empty_csv_rows_returns_at_most_100_errors_and_a_count(ed):
    data = ("id,question,answer\n" + "x,,\n" * 5000).encode()
    response = upload(ed, "empty.csv", data, True)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert len(error["errors"]) <= 100 and error["total_errors"] > 100

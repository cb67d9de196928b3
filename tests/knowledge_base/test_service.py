"""KnowledgeBaseService: each change in its own transaction, announced once after it commits."""
from __future__ import annotations

import pytest
from sqlalchemy import Engine

from knowledge_base import store
from knowledge_base.schema import EntryData
from knowledge_base.service import KnowledgeBaseService
from xiaobao.db import session_scope


def entry(**kw) -> EntryData:
    base = dict(id="kb-1", question="如何申请营业执照？", answer="通过一网通办申请。",
                category="企业开办与变更")
    return EntryData.model_validate(base | kw)


class Recorder:
    """An announcer that also records what a fresh session sees at that moment."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.calls: list[list[str]] = []
        self.versions_seen: list[dict[str, int]] = []

    def __call__(self, entry_ids: list[str]) -> None:
        self.calls.append(list(entry_ids))
        with session_scope(self.engine) as s:  # another connection: only committed data
            self.versions_seen.append({i: store.get_entry(s, i).version for i in entry_ids})


@pytest.fixture
def announced(engine) -> Recorder:
    return Recorder(engine)


@pytest.fixture
def kb(engine, announced) -> KnowledgeBaseService:
    return KnowledgeBaseService(engine, announced)


def test_save_announces_its_id_once_after_the_commit(kb, announced):
    assert kb.save(entry(), "alice") == "created"
    assert announced.calls == [["kb-1"]]
    assert announced.versions_seen == [{"kb-1": 1}]  # already visible: announced after commit
    assert kb.save(entry(), "alice") == "unchanged"
    assert announced.calls == [["kb-1"]]  # nothing changed, nothing announced
    assert kb.save(entry(answer="到窗口办理。"), "bob", expected_version=1) == "updated"
    assert announced.calls == [["kb-1"], ["kb-1"]]
    assert announced.versions_seen[-1] == {"kb-1": 2}


def test_a_failed_save_announces_nothing_and_writes_nothing(kb, announced):
    kb.save(entry(), "alice")
    kb.save(entry(answer="第二版"), "bob")
    announced.calls.clear()
    with pytest.raises(store.VersionConflict):
        kb.save(entry(answer="基于旧版本的修改"), "carol", expected_version=1)
    with pytest.raises(store.EntryNotFound):
        kb.save(entry(id="kb-new"), "carol", expected_version=3)
    assert announced.calls == []
    current = kb.get("kb-1")
    assert (current.version, current.answer) == (2, "第二版")


def test_import_announces_only_changed_ids_in_one_message(kb, announced):
    summary = kb.import_entries([entry(), entry(id="kb-2")], "importer")
    assert summary.created == ["kb-1", "kb-2"]
    assert announced.calls == [["kb-1", "kb-2"]]
    again = kb.import_entries([entry(), entry(id="kb-2", answer="改了")], "importer")
    assert (again.unchanged, again.updated) == (["kb-1"], ["kb-2"])
    assert announced.calls == [["kb-1", "kb-2"], ["kb-2"]]
    kb.import_entries([entry(), entry(id="kb-2", answer="改了")], "importer")
    assert len(announced.calls) == 2


def test_a_failed_import_is_all_or_nothing_and_silent(kb, announced, monkeypatch):
    real = store.save_entry

    def fail_on_second(session, data, actor, **kw):
        if data.id == "kb-2":
            raise store.KnowledgeBaseError("boom")
        return real(session, data, actor, **kw)

    monkeypatch.setattr(store, "save_entry", fail_on_second)
    with pytest.raises(store.KnowledgeBaseError):
        kb.import_entries([entry(), entry(id="kb-2")], "importer")
    assert announced.calls == []
    assert kb.count() == 0


def test_publish_archive_rollback_announce_only_real_changes(kb, announced):
    kb.save(entry(status="draft"), "alice")
    announced.calls.clear()
    assert kb.publish("kb-1", "alice").status == "published"
    assert kb.publish("kb-1", "alice").version == 2  # already published: no new version
    assert announced.calls == [["kb-1"]]
    archived = kb.archive("kb-1", "bob", expected_version=2)
    assert (archived.status, archived.version) == ("archived", 3)
    rolled = kb.rollback("kb-1", 1, "carol")
    assert (rolled.status, rolled.version) == ("draft", 4)
    assert announced.calls == [["kb-1"]] * 3
    assert [v.changed_by for v in kb.history("kb-1")] == ["alice", "alice", "bob", "carol"]
    assert '+status: "archived"' in kb.diff("kb-1", 2, 3)
    with pytest.raises(store.VersionConflict):
        kb.publish("kb-1", "dave", expected_version=3)
    with pytest.raises(store.EntryNotFound):
        kb.rollback("kb-1", 99, "dave")
    with pytest.raises(store.EntryNotFound):
        kb.archive("kb-missing", "dave")
    assert len(announced.calls) == 3


def test_a_failing_announcer_does_not_undo_or_fail_the_change(engine):
    def broken(_ids: list[str]) -> None:
        raise RuntimeError("announcer down")

    kb = KnowledgeBaseService(engine, broken)
    assert kb.save(entry(), "alice") == "created"
    assert kb.get("kb-1").version == 1


def test_without_an_announcer_changes_still_commit(engine):
    kb = KnowledgeBaseService(engine)
    kb.import_entries([entry()], "alice")
    assert kb.count() == 1


# --- the editor's operations ------------------------------------------------------------------

def test_create_assigns_an_id_and_starts_as_a_draft(kb, announced):
    created = kb.create({"question": "新问题？", "answer": "新答案。"}, "edna")
    assert created.id.startswith("kb-") and created.status == "draft" and created.version == 1
    assert announced.calls == [[created.id]]
    with pytest.raises(store.VersionConflict):
        kb.create({"id": created.id, "question": "又一个", "answer": "答"}, "edna")


def test_update_names_the_version_it_read(kb):
    kb.create({"id": "kb-9", "question": "问？", "answer": "答一。", "status": "published"}, "a")
    first = kb.update("kb-9", {"question": "问？", "answer": "答二。"}, "a", expected_version=1)
    assert first.version == 2 and first.answer == "答二。"
    with pytest.raises(store.VersionConflict) as conflict:
        kb.update("kb-9", {"question": "问？", "answer": "答三。"}, "b", expected_version=1)
    assert "已被他人修改" in conflict.value.message
    assert kb.get("kb-9").answer == "答二。"  # the first editor's change is kept
    with pytest.raises(store.EntryNotFound):
        kb.update("kb-none", {"question": "问？", "answer": "答"}, "a", expected_version=1)


def test_find_filters_and_pages(kb):
    import datetime as dt

    today = dt.date(2026, 12, 1)
    kb.import_entries([
        entry(id="kb-a", department="区税务局", reviewed_on=today),
        entry(id="kb-b", question="公积金怎么缴？", answer="到公积金中心。",
              similar_questions=["单位公积金开户"], reviewed_on=today - dt.timedelta(days=200)),
        entry(id="kb-c", question="社保登记", answer="一网通办。", status="draft"),
    ], "seed")
    assert [e.id for e in kb.find(department="区税务局")[0]] == ["kb-a"]
    assert [e.id for e in kb.find(words="单位公积金")[0]] == ["kb-b"]  # a similar question
    assert [e.id for e in kb.find(needs_review=True, today=today)[0]] == ["kb-b", "kb-c"]
    assert [e.id for e in kb.needing_review(today=today)] == ["kb-b"]  # published only
    page, total = kb.find(offset=1, limit=1)
    assert total == 3 and [e.id for e in page] == ["kb-b"]


def test_a_dry_run_import_reports_what_would_change_and_keeps_nothing(kb, announced):
    kb.import_entries([entry(id="kb-1"), entry(id="kb-2")], "alice")
    announced.calls.clear()
    items = [entry(id="kb-1"), entry(id="kb-2", answer="到窗口办理。"), entry(id="kb-3")]
    summary = kb.import_entries(items, "bob", dry_run=True)
    assert (summary.created, summary.updated, summary.unchanged) == (["kb-3"], ["kb-2"], ["kb-1"])
    assert announced.calls == []
    assert kb.count() == 2 and kb.get("kb-2").version == 1 and len(kb.history("kb-2")) == 1
    assert [a.actor for a in kb.audit()] == ["alice", "alice"]  # no audit row of the dry run
    real = kb.import_entries(items, "bob")  # the same answer when it is done for real
    assert (real.created, real.updated, real.unchanged) == (["kb-3"], ["kb-2"], ["kb-1"])


def test_distinct_values_are_the_categories_and_departments_in_use(kb):
    kb.import_entries([entry(id="kb-1", department="区税务局"), entry(id="kb-2", category="税务"),
                       entry(id="kb-3", category="")], "alice")
    assert kb.distinct_values() == {"categories": ["企业开办与变更", "税务"],
                                    "departments": ["区税务局"]}

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from knowledge_base import store
from knowledge_base.models import AuditRecord, Entry
from knowledge_base.schema import EntryData
from xiaobao.db import session_scope


def entry(**kw) -> EntryData:
    base = dict(id="kb-1", question="如何申请营业执照？", similar_questions=["开公司要什么证"],
                answer="通过一网通办申请。", category="企业开办与变更", department="区市场监管局",
                source="企业开办指南")
    return EntryData.model_validate(base | kw)


def test_create_update_unchanged_and_history(engine):
    with session_scope(engine) as s:
        assert store.save_entry(s, entry(), "alice") == "created"
    with session_scope(engine) as s:
        assert store.save_entry(s, entry(), "alice") == "unchanged"
        assert store.save_entry(s, entry(answer="到窗口办理。"), "bob") == "updated"
    with session_scope(engine) as s:
        e = store.get_entry(s, "kb-1")
        assert (e.version, e.answer, e.updated_by) == (2, "到窗口办理。", "bob")
        versions = store.history(s, "kb-1")
        assert [v.version for v in versions] == [1, 2]
        assert versions[0].data["answer"] == "通过一网通办申请。"
        assert '-answer: "通过一网通办申请。"' in store.diff(s, "kb-1", 1, 2)
        actions = [a.action for a in store.audit_log(s, "kb-1")]
        assert actions == ["update", "create"]


def test_rollback_makes_a_new_version_with_old_content(engine):
    with session_scope(engine) as s:
        store.save_entry(s, entry(), "a")
        store.save_entry(s, entry(answer="新答案"), "a")
    with session_scope(engine) as s:
        e = store.rollback(s, "kb-1", 1, "carol")
        assert (e.version, e.answer) == (3, "通过一网通办申请。")
        assert store.audit_log(s, "kb-1")[0].action == "rollback"


def test_stale_edit_is_refused_and_changes_nothing(engine):
    with session_scope(engine) as s:
        store.save_entry(s, entry(), "a")
        store.save_entry(s, entry(answer="v2"), "a", expected_version=1)
    with pytest.raises(store.VersionConflict):
        with session_scope(engine) as s:
            store.save_entry(s, entry(answer="based on v1"), "b", expected_version=1)
    with session_scope(engine) as s:
        assert store.get_entry(s, "kb-1").answer == "v2"


def test_concurrent_edits_one_wins_no_lost_versions(engine):
    with session_scope(engine) as s:
        store.save_entry(s, entry(), "a")
    results, barrier = [], threading.Barrier(4)

    def edit(n: int) -> None:
        barrier.wait()
        try:
            with session_scope(engine) as s:
                store.save_entry(s, entry(answer=f"editor {n}"), f"e{n}", expected_version=1)
            results.append("ok")
        except (store.VersionConflict, Exception) as exc:  # SQLite may also report "locked"
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1
    with session_scope(engine) as s:
        e = store.get_entry(s, "kb-1")
        assert e.version == 2
        assert [v.version for v in store.history(s, "kb-1")] == [1, 2]
        assert s.scalar(select(AuditRecord).where(AuditRecord.version == 2)).actor == e.updated_by


@pytest.mark.parametrize("status,from_,to,answerable", [
    ("published", None, None, True),
    ("draft", None, None, False),
    ("archived", None, None, False),
    ("published", "2099-01-01", None, False),
    ("published", None, "2000-01-01", False),
    ("published", "2000-01-01", "2099-01-01", True),
])
def test_is_answerable(status, from_, to, answerable):
    e = entry(status=status, effective_from=from_, expires_on=to)
    assert store.is_answerable(e, dt.date(2026, 11, 28)) is answerable


def test_fingerprint_follows_changes(engine):
    with session_scope(engine) as s:
        empty = store.fingerprint(s)
        store.save_entry(s, entry(), "a")
    with session_scope(engine) as s:
        one = store.fingerprint(s)
        store.set_status(s, "kb-1", "archived", "a")
    with session_scope(engine) as s:
        assert len({empty, one, store.fingerprint(s)}) == 3
        assert s.get(Entry, "kb-1").status == "archived"


def test_unknown_entry_is_a_clear_error(engine):
    with session_scope(engine) as s, pytest.raises(store.EntryNotFound, match="条目不存在"):
        store.history(s, "nope")

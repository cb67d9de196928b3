"""The policy store on SQLite and PostgreSQL: all-or-nothing imports of YAML, JSON Lines and
XLSX, idempotent by id, the file's status honoured, review by a second editor, history, and
export that imports back unchanged."""
from __future__ import annotations

import json

import pytest
import yaml

from policies import store
from policies.models import PolicyItem
from policies.store import PolicyStoreError
from xiaobao.db import session_scope

GOOD = {"id": "p-1", "title": "测试事项",
        "document": {"title": "测试文件", "doc_no": "测〔2026〕1号"},
        "category": "减免", "mode": "依申请", "benefit": "减半征收。",
        "conditions": {"field": "employees", "op": "le", "value": 300},
        "valid_from": "2026-01-01", "valid_to": "2026-12-31"}


def write(tmp_path, name: str, items: list) -> object:
    path = tmp_path / name
    items = json.loads(json.dumps(items))  # no shared objects: YAML would write anchors
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), "utf-8")
    else:
        path.write_text(yaml.safe_dump(items, allow_unicode=True), "utf-8")
    return path


def count(engine) -> int:
    with session_scope(engine) as s:
        return s.query(PolicyItem).count()


def test_import_is_idempotent_and_a_file_without_status_makes_drafts(engine, tmp_path):
    path = write(tmp_path, "a.yaml", [GOOD, {**GOOD, "id": "p-2", "status": "published"}])
    with session_scope(engine) as s:
        assert store.import_files(s, [path], "ed").created == ["p-1", "p-2"]
    with session_scope(engine) as s:
        again = store.import_files(s, [path], "ed")
        assert again.unchanged == ["p-1", "p-2"] and not again.created + again.updated
        assert [i["status"] for i in store.all_items(s)] == ["draft", "published"]
        assert [i["id"] for i in store.all_items(s, "published")] == ["p-2"]
        assert len(store.history(s, "p-1")) == 1  # an unchanged import writes no version


@pytest.mark.parametrize(("bad", "field"), [
    ({**GOOD, "conditions": {"field": "nope", "op": "eq", "value": 1}}, "conditions"),
    ({**GOOD, "category": "其他"}, "category"),
    ({**GOOD, "valid_to": "2025-01-01"}, "item"),
    ({**GOOD, "id": "bad id!"}, "id"),
    ({**GOOD, "surprise": 1}, "surprise"),
    ({k: v for k, v in GOOD.items() if k != "benefit"}, "benefit"),
])
def test_one_bad_row_writes_nothing_and_names_row_and_field(engine, tmp_path, bad, field):
    path = write(tmp_path, "b.jsonl", [{**GOOD, "id": "p-ok"}, bad])
    with session_scope(engine) as s, pytest.raises(PolicyStoreError) as refused:
        store.import_files(s, [path], "ed")
    assert refused.value.status == 422 and refused.value.code == "import_failed"
    [error] = refused.value.errors
    assert (error.row, error.field.split(".")[0]) == (2, field)
    assert count(engine) == 0


def test_a_dry_run_reports_and_the_caller_writes_nothing(engine, tmp_path):
    path = write(tmp_path, "a.yaml", [GOOD])
    with session_scope(engine) as s:
        assert store.import_files(s, [path], "ed", dry_run=True).created == ["p-1"]
    assert count(engine) == 0


def test_publishing_needs_a_second_editor(engine, tmp_path):
    with session_scope(engine) as s:
        store.import_files(s, [write(tmp_path, "a.yaml", [GOOD])], "ed")
        with pytest.raises(PolicyStoreError) as not_in_review:
            store.publish(s, "p-1", "rev")
        assert not_in_review.value.code == "not_in_review"
        store.submit(s, "p-1", "ed", "请审核")
        with pytest.raises(PolicyStoreError) as same:
            store.publish(s, "p-1", "ed")
        assert (same.value.status, same.value.code) == (403, "same_reviewer")
        assert store.publish(s, "p-1", "rev", "已核对原文").status == "published"
        store.archive(s, "p-1", "rev", "政策到期")
        assert [(h["action"], h["actor"], h["status"]) for h in store.history(s, "p-1")] == [
            ("import", "ed", "draft"), ("submit", "ed", "in_review"),
            ("publish", "rev", "published"), ("archive", "rev", "archived")]
        with pytest.raises(PolicyStoreError) as unknown:
            store.history(s, "nope")
        assert unknown.value.status == 404


@pytest.mark.parametrize("suffix", [".yaml", ".jsonl", ".xlsx"])
def test_export_then_import_changes_nothing(engine, tmp_path, suffix):
    seed = sorted(store.SEED.glob("*.yaml"))
    with session_scope(engine) as s:
        created = store.import_files(s, seed, "seed").created
        assert len(created) >= 7
        out = tmp_path / f"export{suffix}"
        assert store.export(s, out) == len(created)
    with session_scope(engine) as s:
        again = store.import_files(s, [out], "ed")
    assert again.unchanged == sorted(created) and not again.updated


def test_an_unreadable_or_hostile_file_is_refused_plainly(engine, tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [x, x]\nb: [*a, *a]\n", "utf-8")
    other = tmp_path / "x.csv"
    other.write_text("id\n", "utf-8")
    for path, code in ((bomb, "unreadable_file"), (other, "unsupported_file_type")):
        with session_scope(engine) as s, pytest.raises(PolicyStoreError) as refused:
            store.import_files(s, [path], "ed")
        assert refused.value.code == code and len(refused.value.message) < 500
    assert count(engine) == 0

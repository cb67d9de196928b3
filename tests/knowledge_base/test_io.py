import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from knowledge_base import io, store
from knowledge_base.schema import FIELDS
from xiaobao.db import session_scope

ENTRIES = [
    {"id": "kb-1", "question": "如何申请营业执照？",
     "similar_questions": ["开公司要什么证", "营业执照在哪办"],
     "answer": "通过一网通办申请。", "category": "企业开办与变更", "department": "区市场监管局",
     "source": "企业开办指南", "source_url": "https://zwdt.sh.gov.cn/",
     "effective_from": "2024-01-01",
     "expires_on": "2099-12-31", "tags": ["营业执照"], "status": "published"},
    {"id": "kb-2", "question": "发票怎么领？", "answer": "在电子税务局申领。"},
]


def write_yaml(path: Path, rows) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(rows, allow_unicode=True), "utf-8")
    return path


def all_entries(engine):
    with session_scope(engine) as s:
        return [store.entry_data(e).to_record() for e in store.list_entries(s)]


def test_import_is_idempotent_and_defaults_to_published(engine, tmp_path):
    f = write_yaml(tmp_path / "kb.yaml", ENTRIES)
    with session_scope(engine) as s:
        first = io.import_file(s, f, "t")
    with session_scope(engine) as s:
        second = io.import_file(s, f, "t")
    assert (first.created, second.unchanged) == (["kb-1", "kb-2"], ["kb-1", "kb-2"])
    assert all_entries(engine)[1]["status"] == "published"
    changed = [ENTRIES[0], ENTRIES[1] | {"answer": "到窗口申领。"}]
    with session_scope(engine) as s:
        third = io.import_file(s, write_yaml(tmp_path / "kb2.yaml", changed), "t")
    assert (third.updated, third.unchanged) == (["kb-2"], ["kb-1"])


@pytest.mark.parametrize("ext", ["yaml", "jsonl", "csv", "xlsx"])
def test_export_then_import_gives_the_same_knowledge_base(engine, tmp_path, ext):
    with session_scope(engine) as s:
        io.import_file(s, write_yaml(tmp_path / "kb.yaml", ENTRIES), "t")
    before = all_entries(engine)
    out = tmp_path / f"export.{ext}"
    with session_scope(engine) as s:
        assert io.export_file(s, out) == 2
    parsed = [e.to_record() for e in io.parse_entries(out)]
    assert parsed == before
    with session_scope(engine) as s:
        assert io.import_file(s, out, "t").unchanged == ["kb-1", "kb-2"]


def test_gb18030_csv_from_chinese_excel(engine, tmp_path):
    f = tmp_path / "excel.csv"
    f.write_bytes(("id,question,similar_questions,answer\n"
                   "kb-9,公积金怎么开户,单位公积金开户|公司交公积金,通过一网通办办理。\n").encode("gb18030"))
    with session_scope(engine) as s:
        io.import_file(s, f, "t")
    (e,) = all_entries(engine)
    assert e["similar_questions"] == ["单位公积金开户", "公司交公积金"]
    assert e["question"] == "公积金怎么开户"


def test_xlsx_with_numeric_id_and_date_cells(engine, tmp_path):
    import datetime as dt

    wb = Workbook()
    wb.active.append(["id", "question", "answer", "effective_from"])
    wb.active.append([1001, "问题", "答案", dt.datetime(2025, 3, 1)])
    wb.save(tmp_path / "kb.xlsx")
    with session_scope(engine) as s:
        io.import_file(s, tmp_path / "kb.xlsx", "t")
    first = all_entries(engine)[0]
    assert (first["id"], first["effective_from"]) == ("1001", "2025-03-01")


BAD_ROWS = [
    ({"id": "x", "question": "q"}, "answer", "必填字段缺失"),
    ({"id": "x", "question": "   ", "answer": "a"}, "question", "不能为空"),
    ({"id": "有中文", "question": "q", "answer": "a"}, "id", "id 只能含"),
    ({"id": "x", "question": "q", "answer": "a", "effective_from": "2024/01/01"},
     "effective_from", "YYYY-MM-DD"),
    ({"id": "x", "question": "q", "answer": "a", "effective_from": "2025-01-01",
      "expires_on": "2024-01-01"}, "entry", "失效日期早于生效日期"),
    ({"id": "x", "question": "q", "answer": "a", "status": "live"}, "status", "状态应为"),
    ({"id": "x", "question": "q", "answer": "a", "colour": "red"}, "colour", "未知字段"),
]


@pytest.mark.parametrize("row,field,reason", BAD_ROWS)
def test_bad_rows_are_reported_with_row_field_and_reason(tmp_path, row, field, reason):
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(ENTRIES[1]) + "\n" + json.dumps(row, ensure_ascii=False) + "\n",
                 "utf-8")
    with pytest.raises(io.ImportFailed) as exc:
        io.parse_entries(f)
    (err,) = exc.value.errors
    assert (err.file, err.row, err.field) == ("bad.jsonl", 2, field)
    assert reason in err.reason


def test_a_bad_file_changes_nothing_already_stored(engine, tmp_path):
    with session_scope(engine) as s:
        io.import_file(s, write_yaml(tmp_path / "kb.yaml", ENTRIES), "t")
    before = all_entries(engine)
    bad = [ENTRIES[0] | {"answer": "改了"}, {"id": "kb-3", "question": "q"},
           ENTRIES[1] | {"id": "kb-1"}]
    with pytest.raises(io.ImportFailed) as exc:
        with session_scope(engine) as s:
            io.import_file(s, write_yaml(tmp_path / "bad.yaml", bad), "t")
    reasons = [(e.row, e.field) for e in exc.value.errors]
    assert reasons == [(2, "answer"), (3, "id")]  # missing answer; duplicate id
    assert all_entries(engine) == before


@pytest.mark.parametrize("name,content,reason", [
    ("kb.csv", b"\xff\xfe\x00\x00garbage\x81\x30", "编码"),
    ("kb.yaml", b"- id: [unclosed", "无法解析"),
    ("kb.yaml", b"id: x\n", "条目列表"),
    ("kb.jsonl", b"{not json}\n", "JSON"),
    ("kb.xlsx", b"not a zip", "无法解析"),
    ("kb.jsonl", b"\n\n", "没有条目"),
])
def test_broken_files_get_a_clear_message(tmp_path, name, content, reason):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(io.ImportFailed) as exc:
        io.parse_entries(f)
    assert reason in exc.value.message


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(store.KnowledgeBaseError, match="不支持的文件类型"):
        io.parse_entries(tmp_path / "kb.docx")


def test_export_csv_header_lists_every_field(engine, tmp_path):
    with session_scope(engine) as s:
        io.import_file(s, write_yaml(tmp_path / "kb.yaml", ENTRIES), "t")
        io.export_file(s, tmp_path / "out.csv")
    header = (tmp_path / "out.csv").read_text("utf-8-sig").splitlines()[0]
    assert header.split(",") == list(FIELDS)


def test_a_plain_faq_list_gets_stable_ids_and_flags_read_from_words(tmp_path):
    csv_file = tmp_path / "faq.csv"
    csv_file.write_text("question,answer,long_term,reviewed_on\n"
                        "营业执照怎么办？,一网通办。,是,2026-11-30\n"
                        "发票怎么领？,电子税务局。,,\n", "gb18030")
    first = io.parse_entries(csv_file)
    again = io.parse_entries(csv_file)
    assert [e.id for e in first] == [e.id for e in again]  # re-import updates, never duplicates
    assert all(e.id.startswith("kb-q") for e in first) and first[0].id != first[1].id
    assert first[0].long_term is True and str(first[0].reviewed_on) == "2026-11-30"
    assert first[1].long_term is False and first[1].reviewed_on is None
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer,long_term,expires_on\n问？,答。,也许,\n问2？,答。,是,2027-01-01\n",
                   "utf-8")
    with pytest.raises(io.ImportFailed) as failed:
        io.parse_entries(bad)
    assert [(e.row, e.field) for e in failed.value.errors] == [(2, "long_term"), (3, "entry")]


def test_kb_exports_write_formula_like_cells_as_plain_text(tmp_path):
    from openpyxl import load_workbook

    entry = io.EntryData.model_validate({"id": "kb-f", "question": "=1+1",
                                         "answer": "@SUM(A1)"})
    io.export_entries([entry], tmp_path / "kb.xlsx")
    sheet = load_workbook(tmp_path / "kb.xlsx").active
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value]
    assert "=1+1" in [c.value for c in cells]
    assert all(c.data_type != "f" for c in cells)
    io.export_entries([entry], tmp_path / "kb.csv")
    text = (tmp_path / "kb.csv").read_text("utf-8-sig")
    assert "'=1+1" in text and "'@SUM(A1)" in text


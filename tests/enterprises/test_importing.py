"""Import and export of the register: idempotent, atomic with every bad row previewed and
nothing stored, CSV in UTF-8 and GB18030, XLSX, JSON Lines, round trips, audit rows."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from enterprises import audit
from enterprises.importing import RegisterImportError, export, import_files
from enterprises.models import Enterprise, EnterpriseFact, RegisterAudit
from enterprises.register import RegisterError, history, profile, records
from tests.enterprises.conftest import DAY, code, write_csv, write_jsonl

HEADER = ["uscc", "name", "employees", "high_tech", "founded_on", "taxpayer_type"]
ROWS = [[code(1), "宝联机械", 45, "是", "2012-04-18", "一般纳税人"],
        [code(2), "淞滨软件", 28, "否", "2019-05-10", "小规模纳税人"],
        [code(3), "月浦材料", "", "true", "", ""]]


def count(session, table) -> int:
    return session.scalar(select(func.count()).select_from(table))


def run(session, paths, **kw):
    kw.setdefault("source", "市场监管登记")
    kw.setdefault("by", "li")
    kw.setdefault("as_of", dt.date(2026, 11, 1))
    return import_files(session, list(paths), day=DAY, **kw)


def test_import_then_the_same_file_again_is_a_no_op(session, tmp_path):
    path = write_csv(tmp_path / "r.csv", HEADER, ROWS)
    first = run(session, [path])
    assert (first.rows, len(first.created), first.facts_added) == (3, 3, 9)
    again = run(session, [path])
    assert (again.created, again.facts_added, again.facts_unchanged) == ([], 0, 9)
    assert count(session, EnterpriseFact) == 9
    p = profile(session, code(1), DAY)
    assert p.name == "宝联机械"
    assert p.facts == {"employees": 45, "high_tech": True, "founded_on": dt.date(2012, 4, 18),
                       "taxpayer_type": "一般纳税人"}
    assert profile(session, code(3), DAY).facts == {"high_tech": True}
    facts = history(session, code(1))
    assert {(h["source"], h["as_of"], h["loaded_by"]) for h in facts} == \
        {("市场监管登记", "2026-11-01", "li")}
    assert len({h["batch"] for h in facts}) == 1
    # the same facts from another source, or as of another day, are new rows (history)
    assert run(session, [path], source="税务").facts_added == 9
    assert run(session, [path], as_of=dt.date(2026, 11, 2)).facts_added == 9


def test_every_bad_row_is_previewed_and_nothing_is_stored(session, tmp_path):
    good = write_csv(tmp_path / "good.csv", HEADER, ROWS[:1])
    bad = write_csv(tmp_path / "bad.csv", ["uscc", "name", "as_of", "employees",
                                           "founded_on", "high_tech"], [
        [code(4)[:-1] + ("0" if code(4)[-1] != "0" else "1"), "校验位错", "", 5, "", ""],
        ["91350100M00010OY43", "含O", "", 5, "", ""],
        [code(5), "人数不对", "", "很多", "", ""],
        [code(6), "未来数据日期", "2027-01-01", 5, "", ""],
        [code(7), "未来成立日期", "", 5, "2030-01-01", ""],
        [code(8), "布尔错", "", 5, "", "也许"],
        [code(1), "宝联机械", "", 46, "", ""],  # conflicts with good.csv's 45
    ])
    with pytest.raises(RegisterImportError) as refused:
        run(session, [good, bad])
    errors = [(e.file, e.row, e.field) for e in refused.value.errors]
    assert errors == [("bad.csv", 2, "uscc"), ("bad.csv", 3, "uscc"), ("bad.csv", 4, "employees"),
                      ("bad.csv", 5, "as_of"), ("bad.csv", 6, "founded_on"),
                      ("bad.csv", 7, "high_tech"), ("bad.csv", 8, "employees")]
    reasons = [e.reason for e in refused.value.errors]
    assert "校验位" in reasons[0] and "不允许的字符" in reasons[1] and "晚于今天" in reasons[3]
    assert "晚于今天" in reasons[4] and "冲突" in reasons[6]
    assert "共 7 处错误" in refused.value.message and refused.value.details()["total_errors"] == 7
    assert count(session, Enterprise) == count(session, EnterpriseFact) == 0
    assert count(session, RegisterAudit) == 0


def test_unknown_and_derived_columns_and_a_missing_uscc_column(session, tmp_path):
    path = write_csv(tmp_path / "cols.csv", ["code", "name", "headcount", "scale"],
                     [["x", "y", 1, "小型"]])
    with pytest.raises(RegisterImportError) as refused:
        run(session, [path])
    assert [(e.row, e.field) for e in refused.value.errors] == \
        [(1, "uscc"), (1, "code"), (1, "headcount"), (1, "scale")]
    assert "未知字段" in refused.value.errors[1].reason
    assert "计算" in refused.value.errors[3].reason


def test_a_future_as_of_an_unknown_source_or_file_type_is_refused(session, tmp_path):
    path = write_csv(tmp_path / "r.csv", HEADER, ROWS)
    with pytest.raises(RegisterError, match="晚于今天"):
        run(session, [path], as_of=DAY + dt.timedelta(days=1))
    with pytest.raises(RegisterError, match="未知的数据来源"):
        run(session, [path], source="小道消息")
    other = tmp_path / "r.txt"
    other.write_text("uscc\n", "utf-8")
    with pytest.raises(RegisterImportError, match="不支持的文件类型"):
        run(session, [other])
    assert count(session, EnterpriseFact) == 0


def test_a_repeated_uscc_with_the_same_values_is_merged(session, tmp_path):
    path = write_csv(tmp_path / "r.csv", ["uscc", "employees", "revenue"],
                     [[code(1), 5, ""], [code(1).lower(), 5, 300]])
    assert run(session, [path]).facts_added == 2


def test_dry_run_reports_and_stores_nothing(session, tmp_path):
    report = run(session, [write_csv(tmp_path / "r.csv", HEADER, ROWS)], dry_run=True)
    assert (report.dry_run, len(report.created), report.facts_added) == (True, 3, 9)
    assert count(session, Enterprise) == count(session, EnterpriseFact) == 0
    assert count(session, RegisterAudit) == 0


def test_gb18030_csv(session, tmp_path):
    path = write_csv(tmp_path / "gbk.csv", HEADER, ROWS, encoding="gb18030")
    assert path.read_bytes().decode("gb18030") and not _is_utf8(path.read_bytes())
    run(session, [path])
    assert profile(session, code(2), DAY).name == "淞滨软件"
    assert profile(session, code(2), DAY).facts["taxpayer_type"] == "小规模纳税人"


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_xlsx_with_typed_cells(session, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER + ["revenue"])
    sheet.append([code(1), "宝联机械", 45, True, dt.datetime(2012, 4, 18), "一般纳税人", 2800.5])
    sheet.append([code(2), "淞滨软件", 28.0, "否", "2019/5/10", None, None])
    path = tmp_path / "r.xlsx"
    book.save(path)
    run(session, [path])
    assert profile(session, code(1), DAY).facts == {
        "employees": 45, "high_tech": True, "founded_on": dt.date(2012, 4, 18),
        "taxpayer_type": "一般纳税人", "revenue": 2800.5}
    assert profile(session, code(2), DAY).facts == {
        "employees": 28, "high_tech": False, "founded_on": dt.date(2019, 5, 10)}


def test_json_lines_with_a_bad_line(session, tmp_path):
    path = write_jsonl(tmp_path / "r.jsonl", [
        {"uscc": code(1), "name": "宝联机械", "employees": 45, "high_tech": True,
         "revenue": {"gte": 300, "lt": 500}},
        {"uscc": code(2), "as_of": "2026-10-01", "is_individual_business": "否"}])
    run(session, [path])
    assert profile(session, code(1), DAY).fields["revenue"].value.low == 300
    assert profile(session, code(2), DAY).fields["is_individual_business"].as_of == \
        dt.date(2026, 10, 1)
    broken = tmp_path / "broken.jsonl"
    first = json.dumps({"uscc": code(3), "employees": 1})
    broken.write_text(first + "\nnot json\n[1, 2]\n", "utf-8")
    with pytest.raises(RegisterImportError) as refused:
        run(session, [broken])
    assert [(e.row, e.field) for e in refused.value.errors] == [(2, "行"), (3, "行")]
    assert count(session, Enterprise) == 2


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".jsonl"])
def test_export_round_trip(session, engine, tmp_path, suffix):
    source = write_jsonl(tmp_path / "in.jsonl", [
        {"uscc": code(1), "name": "=HYPERLINK(\"http://x\")", "employees": 45,
         "high_tech": True, "founded_on": "2012-04-18", "revenue": {"gte": 300, "lt": 500},
         "industry": "c3921", "rd_ratio": 4.5},
        {"uscc": code(2), "name": "淞滨软件", "serious_dishonesty": False},
        {"uscc": code(3)}])
    run(session, [source])
    out = tmp_path / f"out{suffix}"
    assert export(session, out, by="li", day=DAY) == 3
    before = list(records(session, DAY))
    if suffix == ".csv":
        assert "'=HYPERLINK" in out.read_text("utf-8-sig")  # never run as a formula
    if suffix == ".xlsx":
        cell = load_workbook(out).active["B2"]  # a string cell, never a formula
        assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x")'

    # into an empty register: the same current facts
    from tests.conftest import _MIGRATED  # noqa: PLC0415 - a second, empty database
    from xiaobao.db import session_factory

    other = _MIGRATED.sqlite(tmp_path / "other.db")
    with session_factory(other)() as fresh:
        import_files(fresh, [out], source="市场监管登记", by="li", as_of=dt.date(2026, 11, 1),
                     day=DAY)
        after = list(records(fresh, DAY))
    other.dispose()
    assert [{**r, "name": r["name"].lstrip("'")} for r in after] == before
    [entry] = audit.entries(session, action="export")
    assert entry["actor"] == "li" and entry["detail"]["enterprises"] == 3
    assert entry["detail"]["file"] == out.name


def test_an_import_writes_one_audit_row(session, tmp_path):
    path = write_csv(tmp_path / "r.csv", HEADER, ROWS)
    report = run(session, [path])
    [entry] = audit.entries(session, action="import")
    assert entry["actor"] == "li" and entry["uscc"] is None
    assert entry["detail"]["batch"] == report.batch and entry["detail"]["facts_added"] == 9
    assert entry["detail"]["files"] == ["r.csv"] and entry["detail"]["source"] == "市场监管登记"
    json.dumps(entry)


def test_unreadable_files_are_refused_without_a_traceback(session, tmp_path):
    import zipfile

    not_a_book = tmp_path / "empty.xlsx"
    with zipfile.ZipFile(not_a_book, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"PK\x03\x04 not really")
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"uscc,employees\n\x00\x00,1\n")
    with pytest.raises(RegisterImportError) as refused:
        run(session, [not_a_book, garbage, nul])
    assert [(e.file, e.row) for e in refused.value.errors][:2] == \
        [("empty.xlsx", 0), ("garbage.xlsx", 0)]
    assert all("XLSX" in e.reason for e in refused.value.errors[:2])
    assert count(session, EnterpriseFact) == 0


def test_an_enterprise_created_meanwhile_refuses_the_import(session, tmp_path, monkeypatch):
    """Two imports of one new enterprise at once: the later one's insert meets the earlier
    one's row (here: the register is read as if the first had not committed yet)."""
    from enterprises import register

    path = write_csv(tmp_path / "r.csv", HEADER, ROWS[:1])
    run(session, [path])
    session.commit()
    monkeypatch.setattr(register, "existing_names", lambda s, usccs: {})
    with pytest.raises(RegisterError) as refused:
        run(session, [write_csv(tmp_path / "s.csv", ["uscc", "revenue"], [[code(1), 5]])])
    assert refused.value.status == 409
    session.rollback()
    assert count(session, EnterpriseFact) == 4

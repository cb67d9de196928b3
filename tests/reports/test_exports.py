"""Exports (reports/exports.py, reports/export_files.py) on a real database: conversations made
through the record's own functions, the scripted day's tickets and 差评 cases, each file read
back the way a spreadsheet or a script would (csv, openpyxl, json), formula cells neutralised,
and every export in the event log."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from handoff import claims, closing, relay
from handoff.context import HandoffContext
from reports import export_files, exports, facts
from reports.export_files import Export, ExportError
from reports.window import WindowError
from tests.reports import scenario
from tests.reports.scenario import CONFIG, NOW, PERMITS, TAX
from xiaobao import conversations
from xiaobao.db import session_scope
from xiaobao.enums import Speaker
from xiaobao.events import Event, EventKind, record_event

TODAY = dt.datetime.now(scenario.SH).date()
AROUND_TODAY = (TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1))


def say(engine, conversation_id: str, role: Speaker, text: str, **data) -> None:
    with session_scope(engine) as s:
        conversations.append(s, conversation_id, role, text, **data)


@pytest.fixture
def chats(engine, r) -> dict[str, str]:
    """Three conversations of today through the record's functions, one of ten days ago:

    formula — "=1+2" answered from kb-101, 有帮助, the bot rated 满意;
    at_sign — "@SUM(A1)" handed to ann (区市场监管局), answered with kb-202, resolved, rated
              不满意 with its reason given afterwards ("-等太久", itself formula-like);
    quiet   — a privacy notice, then "营业执照怎么办" in Chinese, never answered;
    old     — ten days ago, out of today's window."""
    ctx = HandoffContext(engine=engine, redis=r, config=CONFIG)
    ids = {name: f"v-{name}-{uuid.uuid4().hex[:8]}"
           for name in ("formula", "at_sign", "quiet", "old")}
    say(engine, ids["formula"], Speaker.USER, "=1+2")
    with session_scope(engine) as s:
        record_event(s, EventKind.BOT_ANSWER, conversation_id=ids["formula"], actor="bot",
                     decision="answer", entry_id="kb-101", query="=1+2", category="税务")
        record_event(s, EventKind.ANSWER_FEEDBACK, conversation_id=ids["formula"],
                     entry_id="kb-101", helpful=True)
    say(engine, ids["formula"], Speaker.BOT, "答案")
    scenario.rate(engine, ids["formula"], "满意")

    say(engine, ids["at_sign"], Speaker.USER, "@SUM(A1)")
    ann = scenario.helper(engine, "ann", [PERMITS])
    ticket = scenario.hand_off(ctx, ids["at_sign"], scenario.category_of(PERMITS),
                               trigger="user")
    claims.claim_ticket(ticket, ann, ctx=ctx)
    relay.send_helper_message(ticket, ann, "您好", ctx=ctx, kb_entry_id="kb-202")
    closing.resolve_ticket(ticket, ann, "已解答", ctx=ctx)
    from ratings.record import latest_rating, record_rating
    with session_scope(engine) as s:
        record_rating(s, ids["at_sign"], "不满意", ticket_id=ticket, reason_pending=True,
                      department=PERMITS, handler="ann")
    with session_scope(engine) as s:
        record_rating(s, ids["at_sign"], "不满意", ticket_id=ticket, reason="-等太久")
        assert latest_rating(s, ids["at_sign"], ticket).data["reason_pending"]

    say(engine, ids["quiet"], Speaker.NOTICE, "隐私提示")
    say(engine, ids["quiet"], Speaker.USER, "营业执照怎么办")
    say(engine, ids["old"], Speaker.USER, "十天前的问题")
    with session_scope(engine) as s:
        s.execute(update(conversations.Message)
                  .where(conversations.Message.conversation_id == ids["old"])
                  .values(at=dt.datetime.now(dt.UTC) - dt.timedelta(days=10)))
    ids["ticket"] = ticket
    return ids


def export_rows(engine, kind: str, first: dt.date, last: dt.date, **kw) -> list[dict]:
    with session_scope(engine) as s:
        return list(exports.rows(s, kind, first, last, config=CONFIG, **kw))


def test_one_row_per_conversation_of_the_window(engine, chats):
    got = {row["conversation_id"]: row for row in export_rows(engine, "conversations",
                                                              *AROUND_TODAY)}
    assert set(got) == {chats["formula"], chats["at_sign"], chats["quiet"]}  # not "old"
    assert all(tuple(row) == exports.COLUMNS["conversations"] for row in got.values())
    formula, at_sign, quiet = got[chats["formula"]], got[chats["at_sign"]], got[chats["quiet"]]
    assert formula["channel"] == at_sign["channel"] == exports.PORTAL == "portal"
    assert formula["first_message"] == "=1+2"  # as stored; the files neutralise it
    assert (formula["messages"], formula["questions"], formula["entries"]) == (2, 1, ["kb-101"])
    assert formula["resolution"] == "bot_resolved" and formula["handed_off"] is False
    assert (formula["rating"], formula["rating_target"], formula["department"]) == (
        "满意", "bot", None)
    assert dt.datetime.fromisoformat(formula["started_at"]).utcoffset() == dt.timedelta(hours=8)

    assert at_sign["first_message"] == "@SUM(A1)"
    assert at_sign["tickets"] == [chats["ticket"]] and at_sign["handed_off"] is True
    assert (at_sign["department"], at_sign["helper"], at_sign["handoff_channel"]) == (
        PERMITS, "ann", "online_helper")
    assert at_sign["entries"] == ["kb-202"]  # the helper answered from the knowledge base
    assert at_sign["resolution"] == "resolved"
    assert at_sign["first_response_at"] is not None and at_sign["first_response_s"] >= 0
    assert (at_sign["rating"], at_sign["rating_target"], at_sign["rating_reason"]) == (
        "不满意", "human", "-等太久")  # the reason given after the level
    assert quiet["first_message"] == "营业执照怎么办"  # the user's, not the notice
    assert (quiet["questions"], quiet["resolution"], quiet["rating"]) == (0, "", None)


def test_the_old_conversation_is_in_its_own_window(engine, chats):
    day = TODAY - dt.timedelta(days=10)
    [row] = export_rows(engine, "conversations", day - dt.timedelta(days=1), day)
    assert row["conversation_id"] == chats["old"] and row["first_message"] == "十天前的问题"


def test_rows_stream_in_chunks_with_the_same_result(engine, chats, monkeypatch):
    whole = export_rows(engine, "conversations", *AROUND_TODAY)
    monkeypatch.setattr(exports, "CHUNK", 1)  # every row its own chunk of the cursor
    assert export_rows(engine, "conversations", *AROUND_TODAY) == whole
    with session_scope(engine) as s:
        it = exports.rows(s, "tickets", *AROUND_TODAY, config=CONFIG)
        assert iter(it) is it  # a generator, not a list


def test_a_leader_exports_the_conversations_handed_to_the_department(engine, chats):
    mine = export_rows(engine, "conversations", *AROUND_TODAY, departments=[PERMITS])
    assert [row["conversation_id"] for row in mine] == [chats["at_sign"]]
    assert export_rows(engine, "conversations", *AROUND_TODAY, departments=[TAX]) == []


@pytest.fixture
def day(engine, r):
    return scenario.build(engine, r)


def test_tickets_carry_the_rates_figures(engine, day):
    rows = export_rows(engine, "tickets", scenario.DAY, scenario.DAY, now=NOW)
    by_id = {row["ticket_id"]: row for row in rows}
    names = {name for name, ticket in day.tickets.items() if ticket in by_id}
    assert names == {"T1", "T2", "T3", "T4", "T5", "T7", "T8"}  # created on 12-01 (Shanghai)
    responses = [row["response"] for row in rows]
    # 响应率 4/6 with T4 abandoned before its service level (tests/reports/test_scenario.py)
    assert (responses.count(facts.IN_TIME), responses.count(facts.LATE),
            responses.count(facts.ABANDONED_EARLY)) == (4, 2, 1)
    t1, t2, t8 = (by_id[day.tickets[n]] for n in ("T1", "T2", "T8"))
    assert (t1["rating"], t1["rating_reason"]) == ("满意", "")  # the later rating replaced 不满意
    assert t1["first_response_s"] == 120 and t1["first_contact_resolved"] is True
    assert (t2["department"], t2["helper"], t2["transferred"]) == (TAX, "bob", True)
    assert (t2["rating"], t2["rating_reason"]) == ("非常不满意", "转来转去")
    # T2's first response came before the transfer, in 区市场监管局 (11:06)
    assert t2["first_response_at"] == "2026-12-01T11:06:00+08:00"
    assert t8["first_response_s"] == 150 and t8["created_at"] == "2026-12-01T16:58:30+08:00"
    assert "phone" not in t8  # a 12345 number stays in the console
    leader = export_rows(engine, "tickets", scenario.DAY, scenario.DAY, now=NOW,
                         departments=[TAX])
    assert [row["ticket_id"] for row in leader] == [day.tickets["T2"]]


def test_complaints_with_review_rectification_and_timers(engine, day):
    rows = export_rows(engine, "complaints", scenario.DAY, scenario.DAY, now=NOW)
    by_ticket = {}
    for row in rows:
        by_ticket.setdefault(row["ticket_id"], []).append(row)
    t1 = by_ticket[day.tickets["T1"]]
    assert [(c["rating"], c["status"], c["counts"]) for c in t1] == [
        ("不满意", "superseded", False)]  # rated 满意 afterwards
    [t2] = by_ticket[day.tickets["T2"]]
    assert (t2["verdict"], t2["review_note"], t2["counts"]) == ("不属实", "已按规定转办，答复正确",
                                                                False)
    [t3] = by_ticket[day.tickets["T3"]]
    assert (t3["status"], t3["rectified_in_time"], t3["overdue"]) == ("followed_up", True,
                                                                      False)
    assert t3["contact_due"] == "2026-12-03T00:00:00+08:00"  # the end of the next working day
    [t5] = by_ticket[day.tickets["T5"]]
    assert (t5["overturned"], t5["overdue"], t5["rectified_in_time"]) == (True, True, False)
    assert len(rows) == 4


def read(path, fmt: str, encoding: str = "utf-8-sig") -> list[dict]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(path.read_bytes().decode(encoding))))
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    sheet = load_workbook(path).active
    values = list(sheet.values)
    for row in sheet.iter_rows(min_row=2):
        assert all(cell.data_type != "f" for cell in row)  # nothing is a formula
    return [dict(zip(values[0], row)) for row in values[1:]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_spreadsheet_files_neutralise_formula_cells(engine, chats, tmp_path, fmt):
    path = tmp_path / f"conversations.{fmt}"
    export = Export(engine, "conversations", *AROUND_TODAY, fmt, config=CONFIG, actor="sam")
    assert export.write(path) == 3
    if fmt == "csv":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for Excel
    got = {row["conversation_id"]: row for row in read(path, fmt)}
    assert list(next(iter(got.values()))) == list(exports.COLUMNS["conversations"])
    assert got[chats["formula"]]["first_message"] == "'=1+2"
    assert got[chats["at_sign"]]["first_message"] == "'@SUM(A1)"
    assert got[chats["at_sign"]]["rating_reason"] == "'-等太久"
    assert got[chats["quiet"]]["first_message"] == "营业执照怎么办"
    assert got[chats["at_sign"]]["tickets"] == chats["ticket"]


def test_a_gb18030_csv_decodes_with_its_chinese(engine, chats, tmp_path):
    path = tmp_path / "conversations.csv"
    Export(engine, "conversations", *AROUND_TODAY, "csv", config=CONFIG, actor="sam",
           encoding="gb18030").write(path)
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really GB18030, not UTF-8 under another name
    got = {row["conversation_id"]: row for row in read(path, "csv", "gb18030")}
    assert got[chats["quiet"]]["first_message"] == "营业执照怎么办"
    assert got[chats["at_sign"]]["department"] == PERMITS


def test_json_lines_one_object_a_line_as_stored(engine, chats, tmp_path):
    path = tmp_path / "conversations.jsonl"
    Export(engine, "conversations", *AROUND_TODAY, "jsonl", config=CONFIG, actor="sam").write(path)
    lines = path.read_text("utf-8").splitlines()
    assert len(lines) == 3 and all(line.startswith("{") and line.endswith("}") for line in lines)
    got = {row["conversation_id"]: row for row in read(path, "jsonl")}
    assert got[chats["formula"]]["first_message"] == "=1+2"  # JSON is data, not a formula
    assert got[chats["at_sign"]]["tickets"] == [chats["ticket"]]
    assert got[chats["formula"]]["handed_off"] is False


def test_every_export_is_in_the_event_log(engine, chats, tmp_path):
    Export(engine, "tickets", *AROUND_TODAY, "xlsx", config=CONFIG, actor="sam",
           departments=[PERMITS]).write(tmp_path / "t.xlsx")
    cut = Export(engine, "conversations", *AROUND_TODAY, "jsonl", config=CONFIG, actor="lee")
    chunks = cut.chunks()
    next(chunks)
    chunks.close()  # a download cut short
    with session_scope(engine) as s:
        logged = [(e.actor, e.data) for e in s.scalars(
            select(Event).where(Event.kind == EventKind.DATA_EXPORTED.value).order_by(Event.pk))]
    first, last = (d.isoformat() for d in AROUND_TODAY)
    assert logged == [
        ("sam", {"what": "tickets", "first": first, "last": last, "format": "xlsx",
                 "encoding": "utf-8", "departments": [PERMITS], "rows": 1, "complete": True}),
        ("lee", {"what": "conversations", "first": first, "last": last, "format": "jsonl",
                 "encoding": "utf-8", "departments": None, "rows": 3, "complete": False})]


def test_an_xlsx_cell_drops_what_openpyxl_refuses(tmp_path):
    chunks = export_files.encoded("xlsx", ["a", "b"], [{"a": "x\x00y\x1b", "b": ["=p", "q"]}])
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"".join(chunks))
    assert list(load_workbook(path).active.values)[1] == ("xy", "'=p; q")


@pytest.mark.parametrize("kind,fmt,encoding,words", [
    ("visitors", "csv", "utf-8", "导出内容"),
    ("tickets", "pdf", "utf-8", "csv, xlsx or jsonl"),
    ("tickets", "csv", "latin-1", "gb18030"),
    ("tickets", "xlsx", "gb18030", "Only a CSV"),
])
def test_a_bad_request_is_refused_before_anything_is_written(engine, kind, fmt, encoding,
                                                              words):
    with pytest.raises(ExportError, match=words) as refused:
        Export(engine, kind, TODAY, TODAY, fmt, config=CONFIG, actor="sam", encoding=encoding)
    assert refused.value.status == 422 and " / " in refused.value.message
    with pytest.raises(WindowError, match="晚于"):
        Export(engine, "tickets", TODAY, TODAY - dt.timedelta(days=1), "csv", config=CONFIG,
               actor="sam")
    with session_scope(engine) as s:
        assert s.scalar(select(Event).where(Event.kind == EventKind.DATA_EXPORTED.value)) is None


def test_the_extension_names_the_format(tmp_path):
    assert [export_files.format_of(tmp_path / n) for n in ("a.CSV", "b.xlsx", "c.jsonl")] == [
        "csv", "xlsx", "jsonl"]
    with pytest.raises(ExportError, match=".csv, .xlsx or .jsonl"):
        export_files.format_of(tmp_path / "a.xls")

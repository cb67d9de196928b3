"""`xiaobao export conversations|tickets|complaints FILE --from D --to D` in process: the
format by FILE's extension, --encoding gb18030, the export logged with --by, and bad dates,
windows, extensions or encodings exit 2 with a Chinese / English message and no file."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app
from tests.reports import scenario
from xiaobao import conversations
from xiaobao.db import session_scope
from xiaobao.enums import Speaker
from xiaobao.events import Event, EventKind

DAY = ["--from", "2026-12-01", "--to", "2026-12-01"]


def run(*args: str):
    return CliRunner().invoke(app, ["export", *args])


@pytest.fixture
def built(on_engine, r):
    return scenario.build(on_engine, r)


def test_tickets_to_xlsx_and_complaints_to_jsonl(built, tmp_path, engine):
    book = tmp_path / "tickets.xlsx"
    result = run("tickets", str(book), *DAY, "--by", "sam")
    assert result.exit_code == 0, result.output
    assert "exported 7 tickets" in result.stdout
    values = list(load_workbook(book).active.values)
    header = values[0]
    assert header[:3] == ("ticket_id", "conversation_id", "channel") and len(values) == 8
    assert {dict(zip(header, row))["ticket_id"] for row in values[1:]} == {
        built.tickets[n] for n in ("T1", "T2", "T3", "T4", "T5", "T7", "T8")}

    lines = tmp_path / "complaints.jsonl"
    assert run("complaints", str(lines), *DAY).exit_code == 0
    cases = [json.loads(line) for line in lines.read_text("utf-8").splitlines()]
    assert sorted(c["case_id"] for c in cases if c["counts"]) == sorted(
        [built.cases["T3"], built.cases["T5"]])  # T1's superseded, T2's upheld 不属实
    with session_scope(engine) as s:
        logged = [(e.actor, e.data["what"], e.data["rows"]) for e in s.scalars(
            select(Event).where(Event.kind == EventKind.DATA_EXPORTED.value).order_by(Event.pk))]
    assert logged == [("sam", "tickets", 7), ("cli", "complaints", 4)]


def test_conversations_to_a_gb18030_csv(on_engine, tmp_path):
    with session_scope(on_engine) as s:
        conversations.append(s, "v-cli-1", Speaker.USER, "=HYPERLINK(\"http://x\")")
        conversations.append(s, "v-cli-2", Speaker.USER, "企业开办需要哪些材料")
    today = dt.datetime.now(scenario.SH).date()
    window = ["--from", (today - dt.timedelta(days=1)).isoformat(),
              "--to", (today + dt.timedelta(days=1)).isoformat()]
    path = tmp_path / "c.csv"
    result = run("conversations", str(path), *window, "--encoding", "gb18030")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("gb18030"))))
    assert {r["conversation_id"]: r["first_message"] for r in rows} == {
        "v-cli-1": "'=HYPERLINK(\"http://x\")", "v-cli-2": "企业开办需要哪些材料"}
    assert {r["channel"] for r in rows} == {"portal"}
    assert {"started_at", "rating", "rating_reason"} <= set(rows[0])


@pytest.mark.parametrize("args,words", [
    (["tickets", "t.csv", "--from", "2026-12-32", "--to", "2026-12-01"], "--from 须为日期"),
    (["tickets", "t.csv", "--from", "2026-12-02", "--to", "2026-12-01"], "晚于"),
    (["tickets", "t.pdf", *DAY], ".csv, .xlsx or .jsonl"),
    (["tickets", "t.csv", *DAY, "--encoding", "big5"], "utf-8 or gb18030"),
    (["complaints", "t.xlsx", *DAY, "--encoding", "gb18030"], "Only a CSV"),
    (["tickets", "nowhere/t.csv", *DAY], "No directory"),
])
def test_bad_options_exit_2_with_a_message_and_no_file(on_engine, tmp_path, monkeypatch,
                                                       args, words):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2
    assert words in result.stderr and " / " in result.stderr
    assert list(tmp_path.glob("t.*")) == []

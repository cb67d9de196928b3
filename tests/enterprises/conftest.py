"""What the register's tests share: valid USCCs made with the check character, a session on
the migrated test database (SQLite, and PostgreSQL when configured), and a file writer."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from enterprises.uscc import check_character
from xiaobao.db import session_factory

DAY = dt.date(2026, 12, 7)


def code(n: int, kind: str = "91") -> str:
    """A valid, fictitious USCC (宝山区, organisation code from ``n``)."""
    first17 = f"{kind}310113{n:09d}"
    return first17 + check_character(first17)


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with session_factory(engine)() as s:
        yield s
        s.rollback()


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path

"""What the entitlement tests share: a session on the migrated test database (SQLite, and
PostgreSQL when configured) holding the shipped policy seed and a small register whose
enterprises are built to land on each side of the seed's conditions."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from enterprises.importing import import_files as import_register
from enterprises.uscc import check_character
from policies.store import SEED
from policies.store import import_files as import_policies
from xiaobao.db import session_factory

DAY = dt.date(2026, 12, 7)


def code(n: int) -> str:
    first17 = f"91310113{n:09d}"
    return first17 + check_character(first17)


# A small profit enterprise on authority's data (免申即享-ready for 小微企业所得税优惠), the same
# facts only declared by the enterprise (possible to claim, never 免申即享-ready), one too big,
# and one that has told us nothing.
AUTHORITY = ["uscc,name,taxable_income,employees,total_assets,is_individual_business,"
             "taxpayer_type",
             f"{code(1)},甲公司,100,20,800,否,一般纳税人",
             f"{code(3)},丙公司,900,900,90000,否,一般纳税人",
             f"{code(4)},丁公司,,,,,"]
DECLARED = ["uscc,name,taxable_income,employees,total_assets,is_individual_business,"
            "taxpayer_type",
            f"{code(2)},乙公司,100,20,800,否,一般纳税人"]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def session(engine, tmp_path) -> Iterator[Session]:
    with session_factory(engine)() as s:
        import_policies(s, sorted(SEED.glob("*.yaml")), "seed")
        import_register(s, [write(tmp_path / "authority.csv", AUTHORITY)], source="税务",
                        by="test", as_of=DAY - dt.timedelta(days=30), day=DAY)
        import_register(s, [write(tmp_path / "declared.csv", DECLARED)], source="企业自报",
                        by="test", as_of=DAY - dt.timedelta(days=30), day=DAY)
        s.flush()
        yield s
        s.rollback()

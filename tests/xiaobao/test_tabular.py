import csv
import io
import time
import zipfile

import pytest
from openpyxl import load_workbook

from xiaobao import tabular

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi"))


def test_yaml_alias_bomb_is_refused_quickly():
    start = time.monotonic()
    with pytest.raises(tabular.TableTooLarge, match="别名"):
        tabular.safe_yaml_load(BOMB)
    assert time.monotonic() - start < 1


def test_plain_yaml_still_loads():
    assert tabular.safe_yaml_load("- id: x\n  n: 1\n") == [{"id": "x", "n": 1}]


def big_shared_string_xlsx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/sharedStrings.xml", "<sst><si><t>" + "A" * (30 * 2**20) + "</t></si></sst>")
    return out.getvalue()


def test_big_xlsx_part_is_refused_before_parsing():
    raw = big_shared_string_xlsx()
    assert len(raw) < 100_000
    with pytest.raises(tabular.TableTooLarge, match="XLSX") as exc:
        tabular.read_xlsx_rows(raw)
    assert len(str(exc.value)) < 200


def test_empty_csv_rows_are_skipped_and_too_many_rows_refused():
    assert tabular.read_csv_rows("id,q\n,\n,\nx,y\n") == [(4, {"id": "x", "q": "y"})]
    with pytest.raises(tabular.TableTooLarge, match="行数"):
        tabular.read_csv_rows("id,q\n" + ",\n" * (tabular.MAX_ROWS + 5))


def test_long_csv_cell_is_refused():
    with pytest.raises(tabular.TableTooLarge, match="单元格"):
        tabular.read_csv_rows("id,q\nx," + "y" * (tabular.MAX_CELL_CHARS + 1) + "\n")


DANGEROUS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "=HYPERLINK(\"http://x\")"]


@pytest.mark.parametrize("value,expected", [
    ("  =1+2", "'  =1+2"), ("\t-3", "'\t-3"), ("\r@x", "'\r@x"), (" \n+1", "' \n+1"),
    ("1-2", "1-2"), ("a=b", "a=b"), ("", ""), ("  ", "  "), (-3, -3)])
def test_neutral_looks_past_leading_whitespace(value, expected):
    assert tabular.neutral(value) == expected


def test_csv_writer_neutralises_formula_cells():
    out = io.StringIO()
    tabular.write_csv(out, ["a"], [{"a": v} for v in DANGEROUS])
    values = [r["a"] for r in csv.DictReader(io.StringIO(out.getvalue()))]
    assert values == ["'" + v for v in DANGEROUS]


def test_xlsx_writer_never_writes_formulas():
    out = io.BytesIO()
    tabular.write_xlsx(out, "t", ["a"], [[v] for v in DANGEROUS])
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == DANGEROUS
    assert all(c.data_type != "f" for c in cells)

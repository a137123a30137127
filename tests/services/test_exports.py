"""Exports read back with the libraries a user's tools would use."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import pyogrio
from openpyxl import load_workbook

from geo_service.services.exports import export_rows, shapefile_names

ROWS = [
    {"id": 7, "enterprise_id": 1, "enterprise_name": "红河化工有限公司", "description": "液氯储罐压力表失效，" * 20,
     "level_name": "重大隐患", "state_name": "整改中", "source_name": "挂牌督办", "category": None,
     "found_on": dt.date(2026, 1, 20), "found_by": None, "deadline": dt.date(2026, 3, 1), "overdue": True,
     "overdue_days": 14, "resp_person": "李四", "measures": "更换阀门", "funds_wan": 12.5, "emergency_plan": None,
     "supervision_doc_no": "红安督〔2026〕1号", "rectified_on": None, "verified_on": None, "verifier": None,
     "lng": 103.25, "lat": 23.5},
]


def test_csv_has_bom_and_chinese_headers():
    data, mimetype, ext = export_rows("hazards", ROWS, "csv")
    assert data[:3] == b"\xef\xbb\xbf" and ext == "csv" and "csv" in mimetype
    row = next(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert row["企业名称"] == "红河化工有限公司" and row["是否逾期"] == "是" and row["整改期限"] == "2026-03-01"


def test_xlsx_keeps_dates_as_dates():
    data, _, _ = export_rows("hazards", ROWS, "xlsx")
    ws = load_workbook(io.BytesIO(data)).active
    header = [c.value for c in ws[1]]
    assert ws.title == "事故隐患" and header[-2:] == ["经度", "纬度"]
    assert ws.cell(2, header.index("发现日期") + 1).value == dt.datetime(2026, 1, 20)


def test_shapefile_has_short_names_utf8_and_the_point(tmp_path):
    warnings: list[str] = []
    data, mimetype, ext = export_rows("hazards", ROWS, "shp", warnings)
    assert (mimetype, ext) == ("application/zip", "zip")
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path)
    # the 200-character description does not fit: said in the response and in the archive
    assert len(warnings) == 1 and "隐患描述（descr）有 1 条" in warnings[0] and "GeoPackage" in warnings[0]
    assert (tmp_path / "导出警告.txt").read_text(encoding="utf-8").strip() == warnings[0]
    gdf = pyogrio.read_dataframe(tmp_path / "hazards.shp")
    assert all(len(c) <= 10 for c in gdf.columns)
    assert gdf["ent_name"][0] == "红河化工有限公司" and gdf["sup_doc"][0] == "红安督〔2026〕1号"
    assert (gdf.geometry[0].x, gdf.geometry[0].y) == (103.25, 23.5)
    # a dBASE field holds 254 bytes: 84 whole CJK characters of UTF-8, nothing more
    assert gdf["descr"][0] == ROWS[0]["description"][:84]


def test_geopackage_keeps_full_text(tmp_path):
    data, _, _ = export_rows("hazards", ROWS, "gpkg")
    (tmp_path / "h.gpkg").write_bytes(data)
    gdf = pyogrio.read_dataframe(tmp_path / "h.gpkg")
    assert gdf["description"][0] == ROWS[0]["description"] and gdf.crs.to_epsg() == 4326


def test_shapefile_names_are_unique():
    names = shapefile_names(["description_long_a", "description_long_b", "x"])
    assert len(set(names.values())) == 3 and all(len(v) <= 10 for v in names.values())

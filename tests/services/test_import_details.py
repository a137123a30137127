"""The import's small things: a polygon among points, a missing parent region,
full-width digits, a file of headers only, the sheet that holds the data.

Geography as in test_importers (squares.geojson): 甲县 990101 = 100–101°E ×
25–26°N, 乙县 990102 = 101–102°E, both under 测试州 990100.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from openpyxl import Workbook

from geo_service.services.importers import (
    ImportFailed,
    RegionRecord,
    import_records,
    import_regions,
    read_region_file,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HEADERS = ["统一社会信用代码", "企业名称", "行业领域", "经度", "纬度", "联系电话"]
CODES = ["91990101MA00000110", "91990101MA00000224", "91990102MA0000033N"]


@pytest.fixture
def squares(session):
    import_regions(session, read_region_file(FIXTURES / "squares.geojson"))
    return session


def _point(code: str, name: str, lng: float, lat: float) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lng, lat]},
            "properties": {"统一社会信用代码": code, "企业名称": name, "行业领域": "机械"}}


def _with_polygon(tmp_path: Path) -> Path:
    polygon = {"type": "Feature",
               "geometry": {"type": "Polygon", "coordinates": [[[100.1, 25.1], [100.2, 25.1], [100.2, 25.2],
                                                                [100.1, 25.1]]]},
               "properties": {"统一社会信用代码": CODES[1], "企业名称": "画成面的化工厂", "行业领域": "危险化学品"}}
    doc = {"type": "FeatureCollection",
           "features": [_point(CODES[0], "机械厂", 100.5, 25.5), polygon, _point(CODES[2], "乙县一中", 101.5, 25.5)]}
    path = tmp_path / "mixed.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_one_polygon_among_points_rejects_only_its_own_row(squares, tmp_path):
    path = _with_polygon(tmp_path)
    refused = import_records(squares, "enterprises", path)
    assert [(e.row, e.column, e.reason) for e in refused.errors] == [(2, "经度", "几何类型应为 Point，实为 Polygon")]
    assert not refused.written

    result = import_records(squares, "enterprises", path, skip_bad=True)
    assert (result.inserted, result.rejected) == (2, 1)
    assert [row for row, _, _ in result.rejected_rows] == [2]
    stored = set(squares.execute(sa.text("SELECT credit_code FROM enterprise")).scalars())
    assert stored == {CODES[0], CODES[2]}


def test_cli_skip_bad_names_the_polygon_row(make_database, tmp_path, monkeypatch):
    from geo_service import db
    from geo_service.cli import main
    from geo_service.services.importers import import_regions as regions

    url = make_database()
    engine = db.make_engine(url)
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        regions(s, read_region_file(FIXTURES / "squares.geojson"))
        s.commit()
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    out = CliRunner().invoke(main, ["import", "enterprises", str(_with_polygon(tmp_path)), "--skip-bad"])
    assert out.exit_code == 0, out.output
    table = [line.split() for line in out.output.splitlines()]
    assert ["2", "经度", "几何类型应为", "Point，实为", "Polygon"] in table
    assert "新增2" in out.output and "拒绝1" in out.output


def test_full_width_digits_are_read_as_digits(squares, tmp_path):
    path = tmp_path / "fullwidth.csv"
    path.write_text(",".join(HEADERS) + "\n"
                    "９１９９０１０１ＭＡ０００００１１０,甲县红星机械厂,机械,１００.５,２５.５,０８７３－１２３４５６７\n",
                    encoding="utf-8")
    result = import_records(squares, "enterprises", path)
    assert result.ok, [str(e) for e in result.errors]
    row = squares.execute(sa.text("SELECT credit_code, contact_phone, ST_X(geom), ST_Y(geom) FROM enterprise")).one()
    assert tuple(row) == (CODES[0], "0873-1234567", 100.5, 25.5)


def test_free_text_keeps_its_chinese_punctuation(squares, tmp_path):
    path = tmp_path / "punct.csv"
    path.write_text("统一社会信用代码,企业名称,行业领域,经度,纬度,地址\n"
                    f"{CODES[0]},红星机械厂（甲县）,机械,100.5,25.5,甲县工业园，１号\n", encoding="utf-8")
    assert import_records(squares, "enterprises", path).ok
    assert squares.execute(sa.text("SELECT name, address FROM enterprise")).one() == ("红星机械厂（甲县）",
                                                                                    "甲县工业园，１号")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".geojson"])
def test_headers_only_is_an_error(squares, tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    if suffix == ".csv":
        path.write_text(",".join(HEADERS) + "\n", encoding="utf-8")
    elif suffix == ".xlsx":
        wb = Workbook()
        wb.active.append(HEADERS)
        wb.save(path)
    else:
        path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(ImportFailed, match="文件没有数据行"):
        import_records(squares, "enterprises", path)


def test_the_sheet_with_the_template_headers_is_read_and_named(squares, tmp_path):
    wb = Workbook()
    help_ws = wb.active
    help_ws.title = "填写说明"
    help_ws.append(["列名", "是否必填", "说明与可选值"])
    help_ws.append(["统一社会信用代码", "必填", "18位"])
    data = wb.create_sheet("企业名单")
    data.append(HEADERS)
    data.append([CODES[0], "甲县红星机械厂", "机械", 100.5, 25.5, "0873-1234567"])
    path = tmp_path / "two-sheets.xlsx"
    wb.save(path)
    result = import_records(squares, "enterprises", path)
    assert result.ok and result.inserted == 1
    assert result.warnings == ["读取的是工作表“企业名单”（按表头识别，共 2 个工作表）"]


def test_a_missing_parent_region_is_warned_with_the_way_to_create_it(session):
    from shapely.geometry import MultiPolygon, box

    county = RegionRecord("532503", "蒙自市", "county", None, MultiPolygon([box(103.3, 23.2, 103.6, 23.5)]))
    result = import_regions(session, [county])
    assert result.inserted == 1
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert "蒙自市（532503）的上级区划 532500 未导入" in warning
    assert "--parent-field" in warning and "--cnmaps 532500" in warning
    assert session.execute(sa.text("SELECT parent_code FROM region WHERE code = '532503'")).scalar() is None
    # a named parent that is missing is said too
    named = RegionRecord("532504", "弥勒市", "county", "532500", MultiPolygon([box(103.3, 24.2, 103.6, 24.5)]))
    assert "弥勒市（532504）的上级区划 532500 未导入" in import_regions(session, [named]).warnings[0]
    # with its parent in the same import, nothing to say of the county (the prefecture's own
    # province is missing, and that is said)
    parent = RegionRecord("532500", "红河州", "prefecture", None, MultiPolygon([box(102, 22, 105, 25)]))
    warnings = import_regions(session, [parent, county]).warnings
    assert len(warnings) == 1 and warnings[0].startswith("红河州（532500）的上级区划 530000 未导入")
    assert session.execute(sa.text("SELECT parent_code FROM region WHERE code = '532503'")).scalar() == "532500"

"""The enterprise's own 四色图: zones and the layout image, written through the service.

Geography: county 990101 = 103–104°E × 23–24°N.  The chemical plant stands at
(103.5, 23.5); at that latitude 0.001° of longitude is ~102 m and 0.001° of
latitude ~111 m.  Its zones are small squares a few hundred metres from it; a
square 0.03° east (~3 km) lies beyond the default 2 000 m.  The other plant
(103.8, 23.8) belongs to another enterprise user.
"""

from __future__ import annotations

import io
import json
import zipfile

import geopandas as gpd
import pytest
import shapely
from helpers import credit_code
from PIL import Image
from sqlalchemy import func, select, text

from geo_service.domain import Actor
from geo_service.errors import Forbidden, NotFound, VersionConflict
from geo_service.models import EnterpriseLayout, RiskPoint, RiskZone
from geo_service.queries.scope import ALL, Scope
from geo_service.services import zones
from geo_service.services.validation import RecordInvalid

REGULATOR = Actor("监管员", None, "regulator")
READONLY = Actor("只读", None, "readonly")
LNG, LAT = 103.5, 23.5
MAX_M = 2000.0


def square(lng: float, lat: float, d: float = 0.001) -> dict:
    """A GeoJSON square with its south-west corner at (lng, lat), ``d`` degrees wide."""
    return {"type": "Polygon", "coordinates": [[[lng, lat], [lng + d, lat], [lng + d, lat + d], [lng, lat + d],
                                                [lng, lat]]]}


# A bow-tie: the ring crosses itself at (103.5015, 23.5015).
BOWTIE = {"type": "Polygon", "coordinates": [[[103.501, 23.501], [103.502, 23.502], [103.502, 23.501],
                                              [103.501, 23.502], [103.501, 23.501]]]}


@pytest.fixture
def plant(session):
    session.execute(text(
        "INSERT INTO region (code, name, level, geom) VALUES ('990101', '测试县', 'county',"
        " ST_Multi(ST_MakeEnvelope(103, 23, 104, 24, 4326)))"))
    ids = {}
    for key, n, lng, lat in (("chem", 1, LNG, LAT), ("other", 2, 103.8, 23.8)):
        ids[key] = session.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
            " (:c, :n, 'hazchem', ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"),
            {"c": credit_code(n, "990101"), "n": f"测试化工{n}厂", "x": lng, "y": lat}).scalar_one()
    ids["tank"] = session.execute(text(
        "INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, '液氯储罐', 2) RETURNING id"),
        {"e": ids["chem"]}).scalar_one()
    ids["pump"] = session.execute(text(
        "INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, '输送泵', 3) RETURNING id"),
        {"e": ids["chem"]}).scalar_one()
    ids["theirs"] = session.execute(text(
        "INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, '他厂储罐', 1) RETURNING id"),
        {"e": ids["other"]}).scalar_one()
    return ids


def n_zones(session) -> int:
    return session.scalar(select(func.count()).select_from(RiskZone))


def create(session, plant, **over):
    raw = {"name": "罐区", "geometry": square(103.501, 23.501)} | over
    return zones.create_zone(session, plant["chem"], raw, REGULATOR, scope=ALL, max_distance_m=MAX_M)


def test_zone_grade_is_the_highest_of_its_points_until_set(session, plant):
    w = create(session, plant, risk_point_ids=[plant["tank"], plant["pump"]])
    assert w.zone.grade == 2 and w.zone.grade_auto == 2 and w.warnings == []
    # the trigger follows a risk point's grade
    session.execute(text("UPDATE risk_point SET grade = 1 WHERE id = :i"), {"i": plant["pump"]})
    session.refresh(w.zone)
    assert w.zone.grade == 1
    # an explicit grade wins; the 固有/管控后 grades are kept beside it
    w2 = zones.update_zone(session, w.zone.id, {"grade": "蓝", "grade_inherent": "红", "grade_residual": 3},
                           REGULATOR, scope=ALL, expected_version=1, max_distance_m=MAX_M)
    assert (w2.zone.grade, w2.zone.grade_auto, w2.zone.grade_inherent, w2.zone.grade_residual) == (4, 1, 1, 3)
    assert w2.zone.version == 2
    zone_of = dict(session.execute(select(RiskPoint.id, RiskPoint.zone_id)).all())
    assert zone_of[plant["tank"]] == w.zone.id and zone_of[plant["theirs"]] is None


def test_a_zone_write_is_audited_and_bumps_the_tile_token(session, plant):
    def county_token() -> int:  # the enterprise's county (migration 0014): what keys its tiles
        return session.scalar(text("SELECT coalesce(sum(weight), 0) FROM region_change WHERE code = '990101'"))

    county_before = county_token()
    w = create(session, plant)
    assert county_token() > county_before
    row = session.execute(text("SELECT action, after FROM audit_log WHERE object_type = 'risk_zone'"
                               " AND object_id = :i"), {"i": str(w.zone.id)}).one()
    assert row.action == "create" and row.after["name"] == "罐区"


def test_a_self_intersecting_polygon_is_repaired_for_confirmation(session, plant):
    with pytest.raises(zones.GeometryNeedsRepair, match="边界自相交") as info:
        create(session, plant, geometry=BOWTIE)
    assert n_zones(session) == 0
    repaired = shapely.geometry.shape(info.value.extra["repaired"])
    assert repaired.geom_type == "MultiPolygon" and len(repaired.geoms) == 2 and repaired.is_valid
    # confirmed: the repaired shape (two triangles) is written
    w = create(session, plant, geometry=BOWTIE, confirm_repair=True)
    assert session.scalar(select(func.ST_NumGeometries(RiskZone.geom)).where(RiskZone.id == w.zone.id)) == 2


def test_a_polygon_that_cannot_be_repaired_is_refused(session, plant):
    flat = {"type": "Polygon", "coordinates": [[[103.501, 23.501], [103.502, 23.501], [103.503, 23.501],
                                                [103.501, 23.501]]]}
    with pytest.raises(RecordInvalid, match="无效且无法修复"):
        create(session, plant, geometry=flat)
    with pytest.raises(RecordInvalid, match="几何类型应为面"):
        create(session, plant, geometry={"type": "Point", "coordinates": [103.5, 23.5]})
    assert n_zones(session) == 0


def test_a_zone_too_far_from_the_enterprise_is_refused(session, plant):
    far = square(103.53, 23.5)  # ~3 km east of the plant's point
    with pytest.raises(RecordInvalid, match="超过允许的 2,000 米"):
        create(session, plant, geometry=far)
    assert n_zones(session) == 0
    w = zones.create_zone(session, plant["chem"], {"name": "远处仓库", "geometry": far}, REGULATOR, scope=ALL,
                          max_distance_m=4000.0)
    assert w.zone.id


def test_overlapping_zones_are_written_with_a_warning(session, plant):
    create(session, plant)
    w = create(session, plant, name="泵房", geometry=square(103.5015, 23.5015))
    assert n_zones(session) == 2
    assert [x["name"] for x in w.warnings] == ["罐区"]
    # a quarter of the 0.001° square overlaps: ~0.0005° × 0.0005° ≈ 51 m × 56 m
    assert 2500 < w.warnings[0]["overlap_m2"] < 3200
    # floors: the same square on 1F and on 2F do not overlap; a zone of unknown floor overlaps both
    create(session, plant, name="一层控制室", floor="1F", geometry=square(103.505, 23.505))
    w3 = create(session, plant, name="二层控制室", floor="2F", geometry=square(103.505, 23.505))
    assert w3.warnings == []
    w4 = create(session, plant, name="控制楼", geometry=square(103.505, 23.505))
    assert [x["name"] for x in w4.warnings] == ["一层控制室", "二层控制室"]


def test_a_stale_version_is_a_conflict_and_changes_nothing(session, plant):
    w = create(session, plant)
    zones.update_zone(session, w.zone.id, {"name": "一号罐区"}, REGULATOR, scope=ALL, expected_version=1,
                      max_distance_m=MAX_M)
    with pytest.raises(VersionConflict):
        zones.update_zone(session, w.zone.id, {"name": "二号罐区"}, REGULATOR, scope=ALL, expected_version=1,
                          max_distance_m=MAX_M)
    with pytest.raises(VersionConflict):
        zones.delete_zone(session, w.zone.id, REGULATOR, scope=ALL, expected_version=1)
    assert session.scalar(select(RiskZone.name)) == "一号罐区"
    zones.delete_zone(session, w.zone.id, REGULATOR, scope=ALL, expected_version=2)
    assert n_zones(session) == 0
    assert session.scalar(select(RiskPoint.zone_id).where(RiskPoint.id == plant["tank"])) is None


def test_scope_and_roles(session, plant):
    own = Scope(enterprise_id=plant["other"])
    user = Actor("他厂用户", None, "enterprise")
    with pytest.raises(NotFound):  # another enterprise's: as if it did not exist
        zones.create_zone(session, plant["chem"], {"name": "x", "geometry": square(103.501, 23.501)}, user,
                          scope=own, max_distance_m=MAX_M)
    with pytest.raises(Forbidden):
        zones.create_zone(session, plant["chem"], {"name": "x", "geometry": square(103.501, 23.501)}, READONLY,
                          scope=ALL, max_distance_m=MAX_M)
    # the enterprise's own user may draw on its own plant, not attach another's risk point
    w = zones.create_zone(session, plant["other"], {"name": "储罐区", "geometry": square(103.801, 23.801)}, user,
                          scope=own, max_distance_m=MAX_M)
    with pytest.raises(RecordInvalid, match="不属于该企业"):
        zones.update_zone(session, w.zone.id, {"risk_point_ids": [plant["tank"]]}, user, scope=own,
                          expected_version=1, max_distance_m=MAX_M)
    with pytest.raises(NotFound):
        zones.load_zone(session, w.zone.id, scope=Scope(enterprise_id=plant["chem"]))


def _png(w: int = 400, h: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), "white").save(out, format="PNG")
    return out.getvalue()


def upload(session, plant, data: bytes, tmp_path, name="平面图.png", max_bytes=5_000_000, version=None):
    return zones.upload_layout(session, plant["chem"], io.BytesIO(data), name, REGULATOR, scope=ALL,
                               upload_dir=tmp_path, max_bytes=max_bytes, max_distance_m=MAX_M,
                               expected_version=version)


def test_a_layout_image_is_stored_by_content_and_placed_on_the_plant(session, plant, tmp_path):
    row = upload(session, plant, _png(), tmp_path)
    assert (row.width_px, row.height_px, row.content_type) == (400, 200, "image/png")
    assert (tmp_path / row.sha256[:2] / row.sha256).read_bytes() == _png()
    corners = zones.layout_dict(row)["corners"]
    # centred on the plant, 300 m wide and 150 m high
    centre = shapely.Polygon(corners).centroid
    assert abs(centre.x - LNG) < 1e-6 and abs(centre.y - LAT) < 1e-6
    tl, tr, br, bl = corners
    assert abs((tr[0] - tl[0]) * 102_000 - 300) < 5 and abs((tl[1] - bl[1]) * 110_800 - 150) < 3
    # dragged corners (three: TL, TR, BL) are saved with the version
    moved = zones.place_layout(session, plant["chem"], {"corners": [[103.499, 23.502], [103.503, 23.502],
                                                                    [103.499, 23.500]]},
                               REGULATOR, scope=ALL, expected_version=1, max_distance_m=MAX_M)
    assert moved.version == 2
    assert zones.layout_dict(moved)["corners"][2] == [103.503, 23.5]
    with pytest.raises(VersionConflict):
        zones.place_layout(session, plant["chem"], {"corners": [[103.499, 23.502], [103.503, 23.502],
                                                                [103.499, 23.500]]},
                           REGULATOR, scope=ALL, expected_version=1, max_distance_m=MAX_M)
    with pytest.raises(RecordInvalid, match="平面图距企业位置"):
        zones.place_layout(session, plant["chem"], {"corners": [[103.6, 23.6], [103.61, 23.6], [103.6, 23.59]]},
                           REGULATOR, scope=ALL, expected_version=2, max_distance_m=MAX_M)


def test_a_layout_that_is_not_an_image_or_pdf_is_refused(session, plant, tmp_path):
    with pytest.raises(zones.LayoutRejected, match="按文件内容判断"):
        upload(session, plant, b"MZ\x90\x00 not really a png", tmp_path, name="plan.png")
    with pytest.raises(zones.LayoutRejected, match="损坏"):
        upload(session, plant, _png()[:60], tmp_path)
    with pytest.raises(zones.FileTooLarge):
        upload(session, plant, _png(), tmp_path, max_bytes=100)
    assert session.scalar(select(func.count()).select_from(EnterpriseLayout)) == 0
    assert list(tmp_path.iterdir()) == []


def test_a_pdf_layout_is_rasterised(session, plant, tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 5.0))  # 595 × 360 pt
    fig.text(0.5, 0.5, "plan")
    pdf = io.BytesIO()
    fig.savefig(pdf, format="pdf")
    row = upload(session, plant, pdf.getvalue(), tmp_path, name="平面图.pdf")
    assert (row.source_type, row.content_type) == ("application/pdf", "image/png")
    # 200 dpi: 8.27 in → 1654 px
    assert abs(row.width_px - 1654) <= 2 and abs(row.height_px - 1000) <= 2
    with Image.open(tmp_path / row.stored_path) as img:
        assert img.size == (row.width_px, row.height_px)


def _frame(features: list[tuple[str, dict]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [n for n, _ in features], "grade": ["橙"] * len(features)},
                            geometry=[shapely.geometry.shape(g) for _, g in features], crs=4326)


def test_zones_import_from_every_format_with_per_feature_errors(session, plant, tmp_path):
    good = [("罐区", square(103.501, 23.501)), ("仓库", square(103.503, 23.501))]
    bad = good + [("自相交", BOWTIE), ("远处", square(103.53, 23.5))]
    path = tmp_path / "zones.geojson"
    _frame(bad).to_file(path, driver="GeoJSON", engine="pyogrio")
    result = zones.import_zones(session, plant["chem"], path, REGULATOR, scope=ALL, max_distance_m=MAX_M)
    assert (result.written, n_zones(session)) == (False, 0)
    assert [(e.row, e.column) for e in result.errors] == [(3, "区域范围"), (4, "区域范围")]
    assert "自相交" in result.errors[0].reason and "超过允许" in result.errors[1].reason
    result = zones.import_zones(session, plant["chem"], path, REGULATOR, scope=ALL, max_distance_m=MAX_M,
                                skip_bad=True)
    assert (result.written, result.inserted, n_zones(session)) == (True, 2, 2)
    assert session.scalar(select(RiskZone.grade).where(RiskZone.name == "仓库")) == 2

    for ext, driver in ((".gpkg", "GPKG"), (".kml", "KML")):
        p = tmp_path / f"zones{ext}"
        _frame(good).to_file(p, driver=driver, engine="pyogrio")
        result = zones.import_zones(session, plant["chem"], p, REGULATOR, scope=ALL, max_distance_m=MAX_M)
        assert (result.errors, result.updated, result.inserted) == ([], 2, 0), ext
    shp = tmp_path / "shp"
    shp.mkdir()
    _frame(good).to_file(shp / "zones.shp", driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
    z = tmp_path / "zones.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in shp.iterdir():
            zf.write(f, f.name)
    result = zones.import_zones(session, plant["chem"], z, REGULATOR, scope=ALL, max_distance_m=MAX_M)
    assert (result.errors, result.updated) == ([], 2)
    assert n_zones(session) == 2

    fake = tmp_path / "zones.gpkg"
    fake.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(zones.LayoutRejected, match="内容不是GeoPackage"):
        zones.import_zones(session, plant["chem"], fake, REGULATOR, scope=ALL, max_distance_m=MAX_M)

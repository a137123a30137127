"""The /api/ lists and searches over HTTP, on the hand-made world."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from openpyxl import load_workbook
from pyproj import Geod
from queries.world import World, build_world
from shapely.geometry import Point, shape

GEOD = Geod(ellps="WGS84")


def metres(a, b):
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


@pytest.fixture
def world(session):
    w = build_world(session)
    session.commit()
    return w


def test_enterprises_geojson_paged_with_links(client, world):
    r = client.get("/api/enterprises?limit=2")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    body = r.get_json()
    assert body["type"] == "FeatureCollection" and body["total"] == 5 and body["numberReturned"] == 2
    assert [f["properties"]["name"] for f in body["features"]] == [world.plant.name, world.school.name]
    assert body["features"][0]["geometry"] == {"type": "Point", "coordinates": list(World.POINTS["plant"])}
    nxt = next(ln["href"] for ln in body["links"] if ln["rel"] == "next")
    body2 = client.get(nxt).get_json()
    assert [f["id"] for f in body2["features"]] == [world.market.id, world.mill.id]
    last = client.get("/api/enterprises?limit=2&offset=4").get_json()
    assert [ln["rel"] for ln in last["links"]] == ["self", "prev"]
    plain = client.get("/api/enterprises?format=json&region=532502").get_json()
    assert [i["name"] for i in plain["items"]] == [world.mill.name] and plain["next"] is None


def test_radius_over_http_matches_geod(client, world):
    centre = World.POINTS["plant"]
    body = client.get(f"/api/enterprises?lon={centre[0]}&lat={centre[1]}&radius_m=1500").get_json()
    expected = sorted((metres(centre, p), k) for k, p in World.POINTS.items() if metres(centre, p) <= 1500)
    assert [f["properties"]["name"] for f in body["features"]] == [getattr(world, k).name for _, k in expected]
    assert [f["properties"]["distance_m"] for f in body["features"]] == pytest.approx([d for d, _ in expected], abs=0.5)


def test_knn_over_http(client, world):
    body = client.get("/api/enterprises?lon=103.70&lat=23.59&k=2").get_json()
    # the mill is ~1.1 km away; every other enterprise is more than 40 km west
    assert [f["id"] for f in body["features"]][0] == world.mill.id and len(body["features"]) == 2


def test_nearby_crowded_places_of_the_plant(client, world):
    body = client.get(f"/api/enterprises/{world.plant.id}/nearby?radius_m=1000&industry=crowded").get_json()
    assert [f["id"] for f in body["features"]] == [world.school.id]  # ~714 m; the market is ~1 330 m


def test_polygon_search_agrees_with_shapely(client, world):
    poly = {"type": "Polygon", "coordinates": [[[103.0, 23.0], [103.26, 23.0], [103.26, 24.0], [103.0, 24.0],
                                                [103.0, 23.0]]]}
    expected = sorted(getattr(world, k).id for k, p in World.POINTS.items() if shape(poly).intersects(Point(p)))
    r = client.post("/api/enterprises/search", json=poly)
    assert sorted(f["id"] for f in r.get_json()["features"]) == expected
    r = client.post("/api/hazards/search?hazard_level=major", json={"type": "Feature", "geometry": poly, "properties": {}})
    assert [f["id"] for f in r.get_json()["features"]] == [world.h_major_overdue.id]


def test_enterprise_popup(client, world):
    r = client.get(f"/api/enterprises/{world.plant.id}")
    d = r.get_json()
    assert r.headers["ETag"] == '"v1"'
    assert (d["name"], d["grade"], d["grade_name"], d["industry_code"], d["industry_name"]) == (
        "红河化工有限公司", 1, "重大风险", "hazchem", "危险化学品")
    assert [rp["name"] for rp in d["risk_points"]] == ["液氯储罐区", "机修车间"]
    oh = d["open_hazards"][0]
    assert (oh["id"], oh["level"], oh["state_name"], oh["overdue"]) == (world.h_major_overdue.id, "major", "整改中", True)
    assert oh["overdue_days"] > 0
    assert client.get("/api/enterprises/999999").status_code == 404


def test_hazard_detail_and_filters(client, world):
    d = client.get(f"/api/hazards/{world.h_school.id}").get_json()
    assert d["lng"] == 103.2571 and d["events"][0]["to_state"] == "registered"
    # on 15 March only the major hazard (deadline 1 March) is overdue; the 1 April one is not yet
    body = client.get("/api/hazards?overdue=true&format=json&as_of=2026-03-15").get_json()
    assert [i["id"] for i in body["items"]] == [world.h_major_overdue.id]
    body = client.get(f"/api/hazards?enterprise_id={world.plant.id}&format=json").get_json()
    assert sorted(i["id"] for i in body["items"]) == sorted([world.h_major_overdue.id, world.h_general_open.id])
    body = client.get("/api/risk-points?grade=黄&format=json").get_json()
    assert sorted(i["name"] for i in body["items"]) == ["机修车间", "燃气管线"]


def test_regions_summary_lookup(client, world):
    s = client.get("/api/regions/532500/summary?as_of=2026-03-15").get_json()
    assert s["enterprises_by_grade"] == {"1": 1, "2": 1, "3": 1, "4": 1} and s["overdue"] == 1
    assert [c["code"] for c in s["children"]] == ["532501", "532502"]
    assert client.get("/api/regions/lookup?lon=103.7&lat=23.6").get_json()["region"]["code"] == "532502"
    kids = client.get("/api/regions/532500/children?as_of=2026-03-15").get_json()
    assert [(f["id"], f["properties"]["enterprises"]) for f in kids["features"]] == [("532501", 4), ("532502", 1)]
    assert kids["features"][0]["geometry"]["type"] == "MultiPolygon"
    lst = client.get("/api/regions?parent=532500").get_json()
    assert [i["code"] for i in lst["items"]] == ["532501", "532502"]
    assert client.get("/api/regions/999999/summary").status_code == 404


@pytest.mark.parametrize("url,parameter", [
    ("/api/enterprises?bbox=104,23,103,24", "bbox"),
    ("/api/enterprises?bbox=60,0,130,50", "bbox"),
    ("/api/enterprises?bbox=a,b,c,d", "bbox"),
    ("/api/enterprises?lon=200&lat=23&radius_m=10", "lon"),
    ("/api/enterprises?lon=abc&lat=23&radius_m=10", "lon"),
    ("/api/enterprises?lon=103&lat=95&radius_m=10", "lat"),
    ("/api/enterprises?lon=103&lat=23&radius_m=0", "radius_m"),
    ("/api/enterprises?lon=103&lat=23&radius_m=-5", "radius_m"),
    ("/api/enterprises?lon=103&lat=23&radius_m=1e9", "radius_m"),
    ("/api/enterprises?lon=103&lat=23&k=0", "k"),
    ("/api/enterprises?limit=1001", "limit"),
    ("/api/enterprises?limit=0", "limit"),
    ("/api/enterprises?offset=-1", "offset"),
    ("/api/enterprises?grade=purple", "grade"),
    ("/api/enterprises?industry=nuclear", "industry"),
    ("/api/hazards?hazard_state=lost", "hazard_state"),
    ("/api/hazards?region=12", "region"),
    ("/api/enterprises?format=pdf", "format"),
    ("/api/regions/lookup?lon=103", "lat"),
    ("/api/regions/532500/summary?as_of=tomorrow", "as_of"),
    ("/api/hazards?as_of=2026-02-30", "as_of"),
])
def test_bad_parameters_answer_400_naming_the_parameter(client, world, url, parameter):
    r = client.get(url)
    assert r.status_code == 400
    body = r.get_json()
    assert body["error"] == "invalid_parameter" and body["parameter"] == parameter and body["reason"]


@pytest.mark.parametrize("payload,reason", [
    ({"type": "Polygon", "coordinates": [[[103, 23], [103.3, 23.3], [103.3, 23], [103, 23.3], [103, 23]]]}, "自相交"),
    ({"type": "Point", "coordinates": [103, 23]}, "Polygon"),
    ({"type": "Polygon", "coordinates": "nonsense"}, "解析"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [0, 80], [120, 80], [0, 0]]]}, "过大"),
])
def test_bad_polygons_answer_400(client, world, payload, reason):
    r = client.post("/api/enterprises/search", json=payload)
    assert r.status_code == 400 and r.get_json()["parameter"] == "polygon" and reason in r.get_json()["reason"]
    r = client.post("/api/enterprises/search", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["parameter"] == "polygon"


def test_downloads_read_back(client, world, tmp_path):
    import pyogrio

    r = client.get("/api/enterprises?format=csv&region=532501")
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert r.data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    rows = list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert [row["企业名称"] for row in rows] == [world.plant.name, world.school.name, world.market.name,
                                               world.shop.name]
    assert rows[0]["风险等级"] == "重大风险" and float(rows[0]["经度"]) == 103.25

    r = client.get("/api/hazards?format=xlsx&overdue=true&as_of=2026-03-15")
    ws = load_workbook(io.BytesIO(r.data)).active
    header = [c.value for c in ws[1]]
    assert header[:4] == ["编号", "企业编号", "企业名称", "隐患描述"]
    assert ws.max_row == 2 and ws.cell(2, header.index("是否逾期") + 1).value == "是"

    r = client.get("/api/enterprises?format=gpkg&grade=1,2")
    path = tmp_path / "e.gpkg"
    path.write_bytes(r.data)
    gdf = pyogrio.read_dataframe(path)
    assert sorted(gdf["name"]) == sorted([world.plant.name, world.mill.name])
    assert gdf.crs.to_epsg() == 4326
    mill = gdf[gdf["name"] == world.mill.name].geometry.iloc[0]
    assert (mill.x, mill.y) == World.POINTS["mill"]

    r = client.get("/api/risk-points?format=shp")
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        assert {n.rsplit(".", 1)[1] for n in zf.namelist()} >= {"shp", "shx", "dbf", "prj", "cpg"}
        zf.extractall(tmp_path / "shp")
    gdf = pyogrio.read_dataframe(tmp_path / "shp" / "risk_points.shp")
    assert sorted(gdf["name"]) == sorted(["液氯储罐区", "机修车间", "食堂", "燃气管线", "高炉"])

    r = client.get("/api/enterprises?download=1&region=532502")
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert [f["id"] for f in r.get_json()["features"]] == [world.mill.id]


def test_openapi_describes_every_api_route(client, app):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in described, (path, method)

"""Vector tiles decoded back with mapbox-vector-tile: the expected features at
the expected places, the filters, clustering, ETag/304 and freshness after a write."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
from pyproj import Transformer
from queries.world import World, build_world

from geo_service.domain import Actor
from geo_service.queries.scope import ALL
from geo_service.services import register

TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
HALF = 20037508.342789244


def tile_of(lng: float, lat: float, z: int) -> tuple[int, int]:
    """XYZ tile containing a point (the slippy-map formula, independent of PostGIS)."""
    n = 2 ** z
    x = int((lng + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def pixel_in_tile(lng: float, lat: float, z: int, x: int, y: int, extent: int = 4096) -> tuple[float, float]:
    """Where a point falls in a tile, in tile units with y pointing down."""
    mx, my = TO_MERCATOR.transform(lng, lat)
    size = 2 * HALF / 2 ** z
    left, top = -HALF + x * size, HALF - y * size
    return (mx - left) / size * extent, (top - my) / size * extent


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


@pytest.fixture
def world(session):
    w = build_world(session)
    session.commit()
    return w


def test_enterprise_tile_has_the_enterprises_at_their_places(client, world):
    z = 14
    x, y = tile_of(*World.POINTS["plant"], z)
    r = client.get(f"/tiles/enterprises/{z}/{x}/{y}.pbf")
    assert r.status_code == 200 and r.mimetype == "application/vnd.mapbox-vector-tile"
    layer = decode(r.data)["enterprises"]
    by_id = {f["properties"]["id"]: f for f in layer["features"]}
    # every enterprise whose point lies in this tile is there, and only those
    expected = {getattr(world, k).id for k, p in World.POINTS.items() if tile_of(*p, z) == (x, y)}
    assert world.plant.id in expected and set(by_id) == expected
    plant = by_id[world.plant.id]
    assert plant["properties"] == {"id": world.plant.id, "name": "红河化工有限公司", "grade": 1,
                                   "industry_code": "hazchem", "count": 1}
    px, py = plant["geometry"]["coordinates"]
    ex, ey = pixel_in_tile(*World.POINTS["plant"], z, x, y)
    assert abs(px - ex) <= 1 and abs(py - ey) <= 1  # within one tile unit of the projected point


@pytest.mark.parametrize("z", [14, 10])  # raw points; cells read from enterprise_cell
def test_tiles_of_one_zoom_in_turn_each_hold_their_own_enterprises(client, world, z):
    # one statement per zoom serves every tile of it, x and y given at execution
    plant_tile, mill_tile = tile_of(*World.POINTS["plant"], z), tile_of(*World.POINTS["mill"], z)
    assert plant_tile != mill_tile
    for x, y in (plant_tile, mill_tile, plant_tile):
        feats = decode(client.get(f"/tiles/enterprises/{z}/{x}/{y}.pbf").data)["enterprises"]["features"]
        expected = {getattr(world, k).id for k, p in World.POINTS.items() if tile_of(*p, z) == (x, y)}
        assert sum(f["properties"]["count"] for f in feats) == len(expected)
        assert {f["properties"]["id"] for f in feats if f["properties"]["count"] == 1} <= expected


def test_tile_filters_and_empty_tiles(client, world):
    z = 14
    x, y = tile_of(*World.POINTS["plant"], z)
    layer = decode(client.get(f"/tiles/enterprises/{z}/{x}/{y}.pbf?industry=crowded").data)["enterprises"]
    names = {f["properties"]["name"] for f in layer["features"]}
    assert "红河化工有限公司" not in names and names <= {"实验小学", "农贸市场"} and names
    # a tile over the sea off Fiji has nothing
    fx, fy = tile_of(178.0, -18.0, z)
    r = client.get(f"/tiles/enterprises/{z}/{fx}/{fy}.pbf")
    assert r.status_code == 200 and decode(r.data) == {}


def test_low_zoom_aggregates_into_cells(client, world):
    z = 6  # one tile holds the whole prefecture; a cell is 1/16 of a tile (~39 km)
    x, y = tile_of(*World.POINTS["plant"], z)
    feats = decode(client.get(f"/tiles/enterprises/{z}/{x}/{y}.pbf").data)["enterprises"]["features"]
    assert sum(f["properties"]["count"] for f in feats) == 5  # every enterprise counted once
    big = max(feats, key=lambda f: f["properties"]["count"])
    # the four enterprises around the plant share a cell; the mill (~46 km east) has its own
    assert big["properties"]["count"] == 4 and big["properties"]["grade"] == 1
    # by grade: the plant 红, the school 蓝, the market 黄; the shop is unrated (in ``count`` only)
    assert [big["properties"][f"count_{g}"] for g in (1, 2, 3, 4)] == [1, 0, 1, 1]
    assert "id" not in big["properties"] and "name" not in big["properties"]
    single = min(feats, key=lambda f: f["properties"]["count"])
    assert single["properties"]["count"] == 1 and single["properties"]["id"] == world.mill.id
    assert [single["properties"][f"count_{g}"] for g in (1, 2, 3, 4)] == [0, 1, 0, 0]  # the mill is 橙
    # only red enterprises: one cell with count 1
    feats = decode(client.get(f"/tiles/enterprises/{z}/{x}/{y}.pbf?grade=红").data)["enterprises"]["features"]
    assert [(f["properties"]["count"], f["properties"]["grade"]) for f in feats] == [(1, 1)]


def test_hazard_and_region_tiles(client, world):
    z = 14
    x, y = tile_of(*World.POINTS["plant"], z)
    layer = decode(client.get(f"/tiles/hazards/{z}/{x}/{y}.pbf?as_of=2026-03-15").data)["hazards"]
    props = {f["properties"]["id"]: f["properties"] for f in layer["features"]}
    major = props[world.h_major_overdue.id]
    assert (major["level"], major["state"], major["overdue"], major["overdue_days"]) == ("major", "rectifying",
                                                                                           True, 14)
    assert props[world.h_general_open.id]["overdue"] is False
    school_hz = next(f for f in layer["features"] if f["properties"]["id"] == world.h_school.id)
    ex, ey = pixel_in_tile(103.2571, 23.5001, z, x, y)  # its own point, not the school's
    assert abs(school_hz["geometry"]["coordinates"][0] - ex) <= 1
    assert world.h_closed.id not in props  # the mill is 46 km away, in another tile
    layer = decode(client.get(f"/tiles/hazards/{z}/{x}/{y}.pbf?overdue=true&as_of=2026-03-15").data)["hazards"]
    assert [f["properties"]["id"] for f in layer["features"]] == [world.h_major_overdue.id]
    regions = decode(client.get("/tiles/regions/6/50/27.pbf?level=county").data)
    codes = {f["properties"]["code"] for f in regions["regions"]["features"]}
    assert codes == {"532501", "532502"}


def test_etag_304_and_fresh_after_a_write(client, world, session):
    z = 14
    x, y = tile_of(*World.POINTS["plant"], z)
    url = f"/tiles/enterprises/{z}/{x}/{y}.pbf"
    r1 = client.get(url)
    etag = r1.headers["ETag"]
    assert "no-cache" in r1.headers["Cache-Control"]
    r2 = client.get(url, headers={"If-None-Match": etag})
    assert r2.status_code == 304 and not r2.data
    # a regulator overrides the plant's grade: the very next request sees it
    register.update_enterprise(session, world.plant.id, {"grade_override": "橙"}, Actor("测试", None, "regulator"),
                               scope=ALL, expected_version=1)
    session.commit()
    r3 = client.get(url, headers={"If-None-Match": etag})
    assert r3.status_code == 200 and r3.headers["ETag"] != etag
    plant = next(f for f in decode(r3.data)["enterprises"]["features"] if f["properties"].get("id") == world.plant.id)
    assert plant["properties"]["grade"] == 2


@pytest.mark.parametrize("url,status", [
    ("/tiles/enterprises/3/8/0.pbf", 400),
    ("/tiles/enterprises/30/0/0.pbf", 400),
    ("/tiles/schools/3/0/0.pbf", 404),
    ("/tiles/enterprises/14/13000/7000.pbf?grade=purple", 400),
    ("/tiles/regions/6/50/27.pbf?level=village", 400),
])
def test_bad_tile_requests(client, url, status):
    r = client.get(url)
    assert r.status_code == status and r.get_json()["error"]

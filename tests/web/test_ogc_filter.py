"""OGC API – Features Part 3: CQL2 filters and queryables, read by the clients GIS
users have: GDAL's ogr2ogr (``-where``) and OWSLib (``collection_items(filter=…)``).

World (tests/queries/world.py): plant (hazchem, grade 1) and shop (trade.commerce,
ungraded) and school/market (crowded) in county 532501; mill (trade.metallurgy,
grade 2) in 532502 at (103.70, 23.60).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from live import api_token, serve
from queries.world import build_world
from sqlalchemy.orm import Session

from geo_service import db


@pytest.fixture
def world(session):
    w = build_world(session)
    session.commit()
    return w


def _ids(client, cid: str, query: str) -> list[int]:
    r = client.get(f"/ogc/collections/{cid}/items?{query}")
    assert r.status_code == 200, r.get_json()
    return [f["id"] for f in r.get_json()["features"]]


def test_cql2_text_and_json_filter_the_items(client, world):
    q = quote("industry_code = 'crowded'")
    assert _ids(client, "enterprises", f"filter={q}") == [world.school.id, world.market.id]
    assert _ids(client, "enterprises", f"filter={q}&filter-lang=cql2-text") == [world.school.id, world.market.id]
    q = quote("grade IS NULL OR grade <= 2")
    assert _ids(client, "enterprises", f"filter={q}") == [world.plant.id, world.mill.id, world.shop.id]
    q = quote("name LIKE '%厂%' AND NOT region_code = '532501'")
    assert _ids(client, "enterprises", f"filter={q}") == [world.mill.id]
    # spatial: the mill's county half, as a polygon in CRS84
    q = quote("S_INTERSECTS(geometry, POLYGON((103.5 23, 104 23, 104 24, 103.5 24, 103.5 23)))")
    assert _ids(client, "enterprises", f"filter={q}") == [world.mill.id]
    cql_json = {"op": "and", "args": [{"op": "=", "args": [{"property": "level"}, "major"]},
                                      {"op": "in", "args": [{"property": "state"}, ["rectifying", "registered"]]}]}
    assert _ids(client, "hazards", f"filter={quote(json.dumps(cql_json))}&filter-lang=cql2-json") == \
        [world.h_major_overdue.id]
    # filters combine with the other parameters and keep paging right
    body = client.get(f"/ogc/collections/enterprises/items?filter={quote('grade IS NOT NULL')}&limit=2").get_json()
    assert body["numberMatched"] == 4 and body["numberReturned"] == 2


@pytest.mark.parametrize(("query", "parameter"), [
    ("filter=" + quote("no_such_property = 1"), "filter"),
    ("filter=" + quote("grade = "), "filter"),
    ("filter=" + quote("grade + 1 = 2"), "filter"),  # arithmetic: not implemented, so refused
    ("filter=" + quote("grade = 1") + "&filter-lang=ecql", "filter-lang"),
    ("filter=" + quote("grade = 1") + "&filter-crs=" + quote("http://www.opengis.net/def/crs/EPSG/0/3857"),
     "filter-crs"),
    ("filter-lang=cql2-text", "filter"),
])
def test_an_unknown_or_unsupported_filter_is_refused_never_ignored(client, world, query, parameter):
    r = client.get(f"/ogc/collections/enterprises/items?{query}")
    assert r.status_code == 400 and r.get_json()["parameter"] == parameter


def test_queryables_describe_each_collection(client, world):
    doc = client.get("/ogc/collections/enterprises/queryables").get_json()
    assert doc["type"] == "object" and doc["properties"]["grade"] == {"title": "风险等级代码", "type": "integer"}
    assert doc["properties"]["geometry"]["format"] == "geometry-point"
    assert doc["properties"]["industry_code"]["type"] == "string"
    hz = client.get("/ogc/collections/hazards/queryables").get_json()["properties"]
    assert hz["found_on"] == {"title": "发现日期", "type": "string", "format": "date"}
    links = client.get("/ogc/collections/hazards").get_json()["links"]
    assert any(ln["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables" for ln in links)
    conf = client.get("/ogc/conformance").get_json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in conf
    assert client.get("/ogc/collections/schools/queryables").status_code == 404


def test_a_filter_is_scoped_like_everything_else(client, app, world, session):
    """A county regulator's filter narrows his own list; it never reaches the other county."""
    from geo_service.services import accounts

    user = accounts.create_user(session, "kaiyuan", "correct-horse-9", "regulator", region_code="532502")
    token = accounts.create_token(session, user, "脚本")
    session.commit()
    app.config["LOGIN_REQUIRED"] = True
    auth = {"Authorization": f"Bearer {token}"}
    q = quote("grade IS NULL OR grade >= 1")
    r = client.get(f"/ogc/collections/enterprises/items?filter={q}", headers=auth)
    assert [f["id"] for f in r.get_json()["features"]] == [world.mill.id]


# --------------------------------------------------------------------------- real clients on a live server


@dataclass
class Live:
    url: str
    token: str


@pytest.fixture
def live_server(make_database, tmp_path):
    url = make_database()
    engine = db.make_engine(url)
    with Session(engine) as s:
        build_world(s)
        s.commit()
    engine.dispose()
    with serve(url, tmp_path / "var") as base:
        yield Live(base, api_token(url))


def _ogr2ogr(live: Live, tmp_path, layer: str, where: str) -> tuple[list[str], str]:
    out = tmp_path / f"{layer}.geojson"
    env = {"GDAL_HTTP_TIMEOUT": "30", "CPL_DEBUG": "ON", "PATH": "/usr/bin:/bin",
           "GDAL_HTTP_HEADERS": f"Authorization: Bearer {live.token}"}
    done = subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{live.url}/ogc", layer, "-where", where],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr
    names = [f["properties"]["name"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]]
    return names, done.stderr


def test_ogr2ogr_where_is_sent_as_a_cql_filter_and_gets_the_subset(live_server, tmp_path):
    names, log = _ogr2ogr(live_server, tmp_path, "enterprises", "industry_code = 'crowded'")
    assert sorted(names) == ["农贸市场", "实验小学"]
    # GDAL evaluated nothing itself: the items request carried the filter
    assert "filter-lang=cql-text" in log and "Full filter will be evaluated on client side" not in log
    names, log = _ogr2ogr(live_server, tmp_path, "enterprises", "grade = 1 OR grade = 2")
    assert sorted(names) == ["开远钢铁厂", "红河化工有限公司"]
    assert "filter-lang=cql-text" in log


def test_owslib_collection_items_with_a_filter(live_server):
    from owslib.ogcapi.features import Features

    api = Features(f"{live_server.url}/ogc", headers={"Authorization": f"Bearer {live_server.token}"})
    assert "grade" in api.collection_queryables("enterprises")["properties"]
    items = api.collection_items("enterprises", filter="industry_code = 'crowded'")
    assert sorted(f["properties"]["name"] for f in items["features"]) == ["农贸市场", "实验小学"]
    items = api.collection_items("hazards", filter="level = 'major'")
    assert [f["properties"]["description"] for f in items["features"]] == ["液氯储罐压力表失效"]


# --------------------------------------------------------------------------- tiles metadata


def test_tiles_metadata_and_tilejson_lead_to_real_tiles(client, world):
    import mapbox_vector_tile

    tms = client.get("/ogc/tileMatrixSets/WebMercatorQuad").get_json()
    z10 = tms["tileMatrices"][10]
    assert (z10["matrixWidth"], z10["tileWidth"]) == (1024, 256)
    assert z10["cellSize"] == pytest.approx(152.8740565703525)  # metres per pixel at zoom 10
    tileset = client.get("/ogc/collections/enterprises/tiles/WebMercatorQuad").get_json()
    assert tileset["dataType"] == "vector" and tileset["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    template = next(ln["href"] for ln in tileset["links"] if ln["rel"] == "item")
    # the plant (103.25, 23.50) at zoom 14: column 12891, row 7091
    url = template.replace("{tileMatrix}", "14").replace("{tileCol}", "12891").replace("{tileRow}", "7091")
    r = client.get(url.removeprefix("http://localhost"))
    assert r.status_code == 200 and r.mimetype == "application/vnd.mapbox-vector-tile"
    names = {f["properties"].get("name") for f in mapbox_vector_tile.decode(r.data)["enterprises"]["features"]}
    assert "红河化工有限公司" in names
    tj = client.get("/tiles/enterprises.json").get_json()
    assert tj["tilejson"] == "3.0.0" and tj["tiles"][0].endswith("/tiles/enterprises/{z}/{x}/{y}.pbf")
    assert tj["vector_layers"][0]["id"] == "enterprises"
    assert client.get("/ogc/collections/risk-points/tiles").status_code == 404
    assert client.get("/tiles/schools.json").status_code == 404
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset" in \
        client.get("/ogc/conformance").get_json()["conformsTo"]

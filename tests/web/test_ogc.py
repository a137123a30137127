"""OGC API – Features: the documents themselves, and a live server read by GDAL's
own client (``ogrinfo OAPIF:``) on a committed copy of the hand-made world."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest
from live import api_token, serve
from queries.world import World, build_world
from sqlalchemy.orm import Session

from geo_service import db


@pytest.fixture
def world(session):
    w = build_world(session)
    session.commit()
    return w


def test_landing_conformance_collections(client, world):
    landing = client.get("/ogc/").get_json()
    rels = {ln["rel"] for ln in landing["links"]}
    assert {"self", "conformance", "data", "service-desc"} <= rels
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in \
        client.get("/ogc/conformance").get_json()["conformsTo"]
    cols = client.get("/ogc/collections").get_json()["collections"]
    assert [c["id"] for c in cols] == ["enterprises", "risk-points", "hazards", "regions"]
    ent = next(c for c in cols if c["id"] == "enterprises")
    xs = [p[0] for p in World.POINTS.values()]
    ys = [p[1] for p in World.POINTS.values()]
    assert ent["extent"]["spatial"]["bbox"][0] == pytest.approx([min(xs), min(ys), max(xs), max(ys)])


def test_items_paging_links_and_filters(client, world):
    r = client.get("/ogc/collections/enterprises/items?limit=2&offset=2")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    body = r.get_json()
    assert (body["numberMatched"], body["numberReturned"]) == (5, 2)
    assert [f["id"] for f in body["features"]] == [world.market.id, world.mill.id]
    rels = {ln["rel"]: ln["href"] for ln in body["links"]}
    assert {"self", "next", "prev", "alternate"} <= set(rels)
    assert [f["id"] for f in client.get(rels["next"]).get_json()["features"]] == [world.shop.id]
    body = client.get("/ogc/collections/enterprises/items?bbox=103.6,23.5,103.8,23.7").get_json()
    assert [f["id"] for f in body["features"]] == [world.mill.id]
    body = client.get("/ogc/collections/hazards/items?hazard_level=major").get_json()
    assert [f["id"] for f in body["features"]] == [world.h_major_overdue.id]
    # a limit above the maximum is lowered to it (OGC permission), not refused
    assert client.get("/ogc/collections/enterprises/items?limit=100000").get_json()["numberReturned"] == 5
    item = client.get(f"/ogc/collections/enterprises/items/{world.plant.id}")
    assert item.mimetype == "application/geo+json" and item.get_json()["properties"]["grade"] == 1
    region = client.get("/ogc/collections/regions/items/532502").get_json()
    assert region["geometry"]["type"] == "MultiPolygon" and region["properties"]["name"] == "开远市"
    assert client.get("/ogc/collections/schools/items").status_code == 404
    assert client.get("/ogc/collections/enterprises/items/999999").status_code == 404
    r = client.get("/ogc/collections/enterprises/items?bbox=104,23,103,24")
    assert r.status_code == 400 and r.get_json()["parameter"] == "bbox"
    assert client.get("/ogc/collections/enterprises/items?f=html").status_code == 400


@dataclass
class Live:
    url: str
    token: str


@pytest.fixture
def live_server(make_database, tmp_path):
    """The application, with login on, on a committed database served on a free port."""
    url = make_database()
    engine = db.make_engine(url)
    with Session(engine) as s:
        build_world(s)
        s.commit()
    engine.dispose()
    with serve(url, tmp_path / "var") as base:
        yield Live(base, api_token(url))


def ogrinfo(live: Live, *args: str) -> str:
    """GDAL's own OGC API client, authenticating the way a script would: with an API token."""
    env = {"GDAL_HTTP_TIMEOUT": "30", "CPL_DEBUG": "OFF", "PATH": "/usr/bin:/bin",
           "GDAL_HTTP_HEADERS": f"Authorization: Bearer {live.token}"}
    done = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_gdal_lists_the_collections_and_reads_the_features(live_server):
    summary = ogrinfo(live_server, "-so", "-al", f"OAPIF:{live_server.url}/ogc")
    for layer in ("enterprises", "risk-points", "hazards", "regions"):
        assert f"Layer name: {layer}" in summary
    out = ogrinfo(live_server, f"OAPIF:{live_server.url}/ogc", "enterprises")
    assert out.count("OGRFeature(enterprises)") == 5
    for name in ("红河化工有限公司", "实验小学", "农贸市场", "开远钢铁厂", "五金店"):
        assert name in out
    assert "POINT (103.7 23.6)" in out  # the mill, where the fixture put it
    out = ogrinfo(live_server, f"OAPIF:{live_server.url}/ogc", "regions", "-where", "code = '532502'")
    assert "开远市" in out and "MULTIPOLYGON" in out
    # a spatial filter GDAL turns into bbox= on the items request
    out = ogrinfo(live_server, f"OAPIF:{live_server.url}/ogc", "enterprises", "-spat", "103.6", "23.5", "103.8", "23.7")
    assert out.count("OGRFeature(enterprises)") == 1 and "开远钢铁厂" in out


def test_gdal_without_a_token_reads_nothing(live_server):
    done = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{live_server.url}/ogc"], capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "GDAL_HTTP_TIMEOUT": "30"},
                          check=False)
    assert done.returncode != 0
    assert "401" in done.stderr

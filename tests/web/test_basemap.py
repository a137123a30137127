"""A local base map file named by BASEMAP, served by the application itself:
MBTiles tile by tile (XYZ rows flipped to the file's TMS rows), PMTiles whole
with HTTP Range requests; the web map, the ledger's small maps and the plant
map all draw the one base map ``basemap_config`` decides."""

from __future__ import annotations

import io
import json

import lxml.html
import pytest
from basemap_files import make_mbtiles, make_vector_pmtiles, tile_range
from browser.map_world import build
from PIL import Image

from geo_service.services.basemap import local_basemap, pmtiles_info

GREEN = (60, 179, 113)
BOX = (102.5, 22.5, 104.5, 24.5)


def test_mbtiles_tiles_are_served_by_xyz(app, client, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "honghe.mbtiles"
    assert make_mbtiles(path, GREEN, BOX, range(6, 10)) > 0
    app.config["BASEMAP"] = str(path)
    cols, rows = tile_range(*BOX, 9)
    resp = client.get(f"/map/basemap/9/{cols.start}/{rows.start}.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    with Image.open(io.BytesIO(resp.data)) as img:
        assert img.convert("RGB").getpixel((128, 128)) == GREEN
    # outside the file's box, and beyond its zooms: no tile
    assert client.get("/map/basemap/9/0/0.png").status_code == 204
    assert client.get(f"/map/basemap/12/{cols.start * 8}/{rows.start * 8}.png").status_code == 204
    # the page draws it (and no external base map)
    page = client.get("/map").get_data(as_text=True)
    assert "/map/basemap/{z}/{x}/{y}.png" in page and "tianditu" not in page


def test_pmtiles_answers_range_requests(app, client, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "yunnan.pmtiles"
    body = bytes(range(256)) * 40
    path.write_bytes(body)
    app.config["BASEMAP"] = str(path)
    resp = client.get("/map/basemap.pmtiles", headers={"Range": "bytes=100-227"})
    assert resp.status_code == 206
    assert resp.get_data() == body[100:228]
    assert resp.headers["Content-Range"] == f"bytes 100-227/{len(body)}"
    resp.close()
    assert client.get("/map/basemap/0/0/0.png").status_code == 404  # not an MBTiles file


def _basemap_config(client) -> dict:  # type: ignore[no-untyped-def]
    """The base map the web map's page hands to its modules in ``window.RiskMap``."""
    page = client.get("/map").get_data(as_text=True)
    start = page.index("{", page.index("config: ", page.index("window.RiskMap = {")))
    return json.JSONDecoder().raw_decode(page, start)[0]["basemap"]


def test_a_vector_pmtiles_is_drawn_as_vector_and_a_raster_one_as_raster(app, client, tmp_path):  # type: ignore[no-untyped-def]
    vector = tmp_path / "honghe.pmtiles"
    assert make_vector_pmtiles(vector, BOX, (102.5, 22.5, 103.0, 24.5), range(4, 9)) > 0
    info = pmtiles_info(vector)
    assert info is not None and info.vector and (info.min_zoom, info.max_zoom) == (4, 8)
    app.config["BASEMAP"] = str(vector)
    conf = _basemap_config(client)
    assert conf["kind"] == "pmtiles" and conf["raster"] is False and conf["max_zoom"] == 8
    assert conf["url"] == "/map/basemap.pmtiles"
    # the header the browser reads first is served from the file, with a Range request
    resp = client.get("/map/basemap.pmtiles", headers={"Range": "bytes=0-126"})
    assert resp.status_code == 206 and resp.get_data() == vector.read_bytes()[:127]
    resp.close()
    # a file without a PMTiles header is offered as raster, as before
    other = tmp_path / "other.pmtiles"
    other.write_bytes(bytes(range(256)))
    assert pmtiles_info(other) is None
    app.config["BASEMAP"] = str(other)
    assert _basemap_config(client)["raster"] is True


def test_without_a_local_file_there_is_nothing_to_serve(client):  # type: ignore[no-untyped-def]
    assert client.get("/map/basemap/0/0/0.png").status_code == 404
    assert client.get("/map/basemap.pmtiles").status_code == 404
    assert local_basemap("https://tiles.example/{z}/{x}/{y}.png") is None
    assert local_basemap("tianditu") is None


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    return build(session)


@pytest.mark.parametrize("kind", ["mbtiles", "vector-pmtiles", "tianditu", "none"])
def test_the_ledger_and_plant_maps_draw_the_web_maps_base_map(app, client, world, tmp_path, kind):  # type: ignore[no-untyped-def]
    if kind == "mbtiles":
        make_mbtiles(tmp_path / "honghe.mbtiles", GREEN, BOX, range(6, 10))
        app.config["BASEMAP"] = str(tmp_path / "honghe.mbtiles")
    elif kind == "vector-pmtiles":
        make_vector_pmtiles(tmp_path / "honghe.pmtiles", BOX, (102.5, 22.5, 103.0, 24.5), range(4, 9))
        app.config["BASEMAP"] = str(tmp_path / "honghe.pmtiles")
    elif kind == "tianditu":
        app.config.update(BASEMAP="tianditu", TIANDITU_KEY="k123")
    on_map = _basemap_config(client)
    resp = client.get(f"/enterprises/{world.ids['a']}")
    assert resp.status_code == 200
    doc = lxml.html.fromstring(resp.get_data(as_text=True))
    ledger = json.loads(doc.cssselect("#ledger-map-data")[0].text_content())["basemap"]
    plant = json.loads(doc.cssselect("#plant-map-data")[0].text_content())["basemap"]
    assert ledger == on_map and plant == on_map
    scripts = [el.get("src") for el in doc.cssselect("script[src]")]
    if kind == "none":
        assert on_map is None
        return
    assert on_map["kind"] == {"mbtiles": "mbtiles", "vector-pmtiles": "pmtiles", "tianditu": "xyz"}[kind]
    if kind == "mbtiles":  # the tiles this application serves, not a URL elsewhere
        assert on_map["url"] == "/map/basemap/{z}/{x}/{y}.png" and on_map["raster"] is True
    if kind == "vector-pmtiles":
        assert on_map["url"] == "/map/basemap.pmtiles" and on_map["raster"] is False
        assert on_map["scripts"] == ["vendor/protomaps-leaflet/protomaps-leaflet.js"]
    if kind == "tianditu":
        assert [u.split("?")[0] for u in on_map["urls"]] == ["https://t{s}.tianditu.gov.cn/vec_w/wmts",
                                                            "https://t{s}.tianditu.gov.cn/cva_w/wmts"]
    # the page loads what draws it: the scripts the base map needs, then the shared drawing code
    needed = [f"/static/{p}" for p in on_map["scripts"]] + ["/static/js/basemap.js"]
    assert all(src in scripts for src in needed), scripts
    assert scripts.index("/static/js/basemap.js") < scripts.index("/static/js/ledger-map.js")
    # the web map too, and only those: no PMTiles library unless the base map is a PMTiles file
    on_page = [el.get("src") for el in lxml.html.fromstring(client.get("/map").get_data(as_text=True))
               .cssselect("script[src]")]
    assert all(src in on_page for src in needed), on_page
    assert all(on_page.index(src) < on_page.index("/static/js/basemap.js") for src in needed[:-1])
    libraries = {"/static/vendor/pmtiles/pmtiles.js", "/static/vendor/protomaps-leaflet/protomaps-leaflet.js"}
    assert libraries & set(on_page) == libraries & set(needed)

"""A local base map file named by BASEMAP, served by the application itself:
MBTiles tile by tile (XYZ rows flipped to the file's TMS rows), PMTiles whole
with HTTP Range requests."""

from __future__ import annotations

import io
import json
import re

from basemap_files import make_mbtiles, make_vector_pmtiles, tile_range
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
    page = client.get("/map").get_data(as_text=True)
    m = re.search(r'"basemap": (\{[^{}]*\})', page)
    assert m, "the page carries no local base map"
    return json.loads(m.group(1))


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

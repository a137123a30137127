"""The map page and its data endpoints, through the Flask test client.

The register is the hand-made one of ``browser/map_world.py``; every expected
number is counted by hand from its table (``EXPECTED``), not by the code
under test.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from browser.map_world import ENTERPRISES, EXPECTED, build

from geo_service.config import project_root
from geo_service.layers import layers_dir, load_layers

JSON = {"Accept": "application/json"}  # what the map sends; errors then answer JSON
URL_RE = re.compile(r"https?://[^\s\"'<>)]+")
STATIC = project_root() / "static"


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    return build(session)


def _page(client, query: str = "") -> str:  # type: ignore[no-untyped-def]
    resp = client.get("/map" + query)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return _unescape(resp.get_data(as_text=True))


def _join(base: str, rel: str) -> str:
    """A module's import ``rel`` ("./x.js", "../y.js") resolved against its folder URL ``base``."""
    parts = base.split("/")
    for step in rel.split("/"):
        if step == "..":
            parts.pop()
        elif step != ".":
            parts.append(step)
    return "/".join(parts)


def _unescape(html: str) -> str:
    """The page with the JSON \\uXXXX escapes of its scripts turned back into characters."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), html)


def test_page_lists_every_layer_in_chinese_and_stays_small(client, world):  # type: ignore[no-untyped-def]
    resp = client.get("/map")
    html = _unescape(resp.get_data(as_text=True))
    assert resp.status_code == 200
    # The 500 KB budget of the issue: data comes by viewport, never embedded.
    assert len(resp.data) < 500 * 1024
    for layer in load_layers(layers_dir()).values():
        assert layer.title in html
    for word in ("企业（按风险等级）", "重大风险（红）", "较大风险（橙）", "一般风险（黄）", "低风险（蓝）", "区域风险热度",
                 "行政区划", "导出图片"):
        assert word in html
    # No enterprise is embedded in the page: their names come only from the API on click.
    for spec in ENTERPRISES.values():
        assert spec["name"] not in html
    # The home page is the map; it hands every layer's spec, in the control's order, to the modules.
    home = client.get("/").get_data(as_text=True)
    config = json.loads(re.search(r"window\.RiskMap = \{map: \w+, config: (\{.*\})\};", home).group(1))
    assert [spec["name"] for spec in config["layers"]] == list(load_layers(layers_dir()))


def test_page_and_own_assets_load_nothing_external(client, world):  # type: ignore[no-untyped-def]
    html = _page(client)
    assert URL_RE.findall(html) == []
    own = [STATIC / "css" / "map.css", STATIC / "js" / "map-core.js", STATIC / "js" / "map-zones.js",
           *sorted((STATIC / "js" / "map").glob("*.js"))]
    for path in own:
        urls = set(URL_RE.findall(path.read_text(encoding="utf-8")))
        # The SVG namespace is an identifier for createElementNS, never requested.
        assert urls - {"http://www.w3.org/2000/svg"} == set(), path
    # The page icon is written into the page: the browser asks no file for it.
    icon = re.search(r'<link rel="icon" href="data:image/svg\+xml;base64,([^"]+)"', html)
    assert icon and base64.b64decode(icon.group(1)) == (STATIC / "favicon.svg").read_bytes()
    # Every script and stylesheet the page names is served by us.
    refs = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any("leaflet.js" in r for r in refs) and any("Leaflet.VectorGrid" in r for r in refs)
    assert any("leaflet-heat.js" in r for r in refs)
    # no base map: neither PMTiles library (148 KB) is loaded
    assert not any("pmtiles" in r or "protomaps" in r for r in refs)
    for ref in refs:
        with client.get(ref) as resp:
            assert resp.status_code == 200, ref
    # The map's ES modules are loaded as modules, and every module they import is served too.
    modules = re.findall(r'<script type="module" src="(/static/[^"]+)"></script>', html)
    assert modules == ["/static/js/map-zones.js", "/static/js/map/main.js"]
    seen: set[str] = set()
    while modules:
        ref = modules.pop()
        if ref in seen:
            continue
        seen.add(ref)
        with client.get(ref) as resp:
            assert resp.status_code == 200, ref
            text = resp.get_data(as_text=True)
        base = ref.rsplit("/", 1)[0]
        for rel in re.findall(r"^import .*? from '(\.{1,2}/[^']+)';", text, flags=re.M) + \
                re.findall(r"^import '(\.{1,2}/[^']+)';", text, flags=re.M):
            modules.append(_join(base, rel))
    assert "/static/js/map/leaflet-private.js" in seen and "/static/js/map-core.js" in seen
    # … and every module imported is named in the head, so the browser fetches them all
    # at once instead of one level of imports after the other
    preloads = re.findall(r'<link rel="modulepreload" href="(/static/[^"]+)">', html)
    assert sorted(preloads) == sorted(seen - {"/static/js/map-zones.js", "/static/js/map/main.js"})
    assert html.index("modulepreload") < html.index("<body")


def test_basemap_setting_is_the_only_external_url(app, client, world):  # type: ignore[no-untyped-def]
    app.config["BASEMAP"] = "https://tiles.example.org/{z}/{x}/{y}.png"
    app.config["BASEMAP_ATTRIBUTION"] = "示例底图"
    html = _page(client)
    assert set(URL_RE.findall(html)) == {"https://tiles.example.org/{z}/{x}/{y}.png"}
    assert "示例底图" in html

    app.config["BASEMAP"] = "tianditu"
    app.config["TIANDITU_KEY"] = "k123"
    html = _page(client)
    urls = URL_RE.findall(html)
    assert len(urls) == 2 and all(u.startswith("https://t{s}.tianditu.gov.cn/") for u in urls)
    assert {"vec_w" in u for u in urls} == {True, False}  # vec + cva
    assert all("tk=k123" in u for u in urls)


def test_page_scope_from_query_string(client, world):  # type: ignore[no-untyped-def]
    html = _page(client, "?region=532502")
    # The selector preselects the region and the map fits its box (103.3–103.6 E, 23–24 N).
    assert re.search(r'<option value="532502"\s+selected', html)
    assert "[[23.0, 103.3], [24.0, 103.6]]" in html
    resp = client.get("/map?region=999999")
    assert resp.status_code == 400
    assert "region" in resp.get_data(as_text=True)


@pytest.mark.parametrize("metric", sorted(EXPECTED["532501"].keys() - {"enterprises"}))
def test_district_numbers_match_hand_count(client, world, metric):  # type: ignore[no-untyped-def]
    resp = client.get(f"/map/districts.geojson?region=532500&metric={metric}&zoom=9")
    assert resp.status_code == 200
    body = resp.get_json()
    got = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    assert set(got) == set(EXPECTED)
    for code, expected in EXPECTED.items():
        assert got[code][metric] == expected[metric], (code, metric)
        assert got[code]["value"] == expected[metric]
        assert got[code]["enterprises"] == expected["enterprises"]
    assert body["metric"] == metric and body["metric_title"]


def test_district_class_breaks_are_monotonic_and_consistent(client, world):  # type: ignore[no-untyped-def]
    body = client.get("/map/districts.geojson?region=532500&metric=weighted_risk").get_json()
    breaks = body["breaks"]
    values = sorted(f["properties"]["value"] for f in body["features"])  # 0, 7, 9
    assert breaks == sorted(breaks) and len(set(breaks)) == len(breaks)
    assert 1 <= len(breaks) <= 5 and breaks[-1] == values[-1]
    assert len(body["colors"]) == len(breaks)
    for f in body["features"]:
        p = f["properties"]
        lower = breaks[p["class"] - 1] if p["class"] > 0 else float("-inf")
        assert lower < p["value"] <= breaks[p["class"]]
        assert p["color"] == body["colors"][p["class"]]
    # A hotter district is never in a lower class.
    by_value = sorted(body["features"], key=lambda f: f["properties"]["value"])
    classes = [f["properties"]["class"] for f in by_value]
    assert classes == sorted(classes) and classes[0] < classes[-1]
    # Outlines come back as polygons inside the prefecture's box.
    for f in body["features"]:
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_district_single_class_when_all_equal(client, world):  # type: ignore[no-untyped-def]
    # major_risk_enterprises is 1, 1, 0 → two classes; a region with one child is one class.
    body = client.get("/map/districts.geojson?region=530000&metric=weighted_risk").get_json()
    assert [f["properties"]["code"] for f in body["features"]] == ["532500"]
    assert body["features"][0]["properties"]["weighted_risk"] == sum(e["weighted_risk"] for e in EXPECTED.values())
    assert body["breaks"] == [16.0] and len(body["colors"]) == 1


def test_district_bad_parameters(client, world):  # type: ignore[no-untyped-def]
    resp = client.get("/map/districts.geojson?region=532500&metric=nonsense", headers=JSON)
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "metric"
    resp = client.get("/map/districts.geojson?region=5325", headers=JSON)
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "region"
    resp = client.get("/map/districts.geojson?region=532500&zoom=40", headers=JSON)
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "zoom"


def test_heat_points_weighted_by_grade_within_bbox(client, world):  # type: ignore[no-untyped-def]
    weights = {1: 4, 2: 3, 3: 2, 4: 1}

    def expected(west: float, east: float, grades: set[int] | None = None) -> int:
        return sum(weights[e["grade"]] for e in ENTERPRISES.values()
                   if e["grade"] is not None and west <= e["lnglat"][0] <= east
                   and (grades is None or e["grade"] in grades))

    body = client.get("/map/heat.json?bbox=103,23,104,24&zoom=8").get_json()
    assert sum(p[2] for p in body["points"]) == expected(103, 104) == 16
    assert body["max"] == max(p[2] for p in body["points"])
    # West county only: a (红) and b (橙).
    body = client.get("/map/heat.json?bbox=103,23,103.3,24&zoom=12").get_json()
    assert sum(p[2] for p in body["points"]) == expected(103, 103.3) == 7
    for lat, lng, _ in body["points"]:
        assert 103 <= lng <= 103.3 and 23 <= lat <= 24
    # The common filters apply: red only.
    body = client.get("/map/heat.json?bbox=103,23,104,24&zoom=12&grade=1").get_json()
    assert sum(p[2] for p in body["points"]) == expected(103, 104, {1}) == 8
    # At zoom 12 a cell is ~230 m: every enterprise is its own point.
    assert len(body["points"]) == 2


def test_heat_requires_a_sane_bbox(client, world):  # type: ignore[no-untyped-def]
    resp = client.get("/map/heat.json?zoom=8", headers=JSON)
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "bbox"
    resp = client.get("/map/heat.json?bbox=104,23,103,24", headers=JSON)
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "bbox"
    resp = client.get("/map/heat.json?bbox=0,0,60,60", headers=JSON)
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "bbox"


def test_region_outlines_with_labels(client, world):  # type: ignore[no-untyped-def]
    body = client.get("/map/regions.geojson?region=532500&zoom=6").get_json()
    roles = {f["properties"]["code"]: f["properties"]["role"] for f in body["features"]}
    assert roles == {"532500": "self", "532501": "child", "532502": "child", "532503": "child"}
    for f in body["features"]:
        lng, lat = f["properties"]["label"]
        assert 103 <= lng <= 104 and 23 <= lat <= 24  # the label lies inside the prefecture
    kaiyuan = next(f for f in body["features"] if f["properties"]["code"] == "532502")
    lng, _ = kaiyuan["properties"]["label"]
    assert 103.3 <= lng <= 103.6
    assert kaiyuan["properties"]["name"] == "开远市"


def test_every_static_vendor_file_is_committed_locally() -> None:
    for rel in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "vendor/leaflet/images/layers.png",
                "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
                "vendor/leaflet.heat/leaflet-heat.js"):
        assert (STATIC / rel).stat().st_size > 500, rel
    assert Path(project_root() / "package-lock.json").exists()

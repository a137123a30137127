"""An offline base map in a real headless Chromium: the test builds a small
MBTiles file of green PNG tiles around 红河州, the live server is configured
with BASEMAP=<that file>, and the map draws it — west of the prefecture, where
no other layer covers the ground, the map is the file's green — with no
request leaving this machine.  Likewise a vector PMTiles archive (MVT) with
water west of 103 E and land elsewhere, drawn by protomaps-leaflet in the
map's plain light style: water's colour to the west, land's to the east.  The
ledger's small map of an enterprise draws the same local file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from basemap_files import make_mbtiles, make_vector_pmtiles
from browser.map_world import build
from helpers import committed_database
from live import login, serve
from PIL import Image

GREEN = (60, 179, 113)
# The plain light style of static/js/basemap.js (STYLE): land and water.
LAND = (0xF2, 0xEF, 0xE9)
WATER = (0xA8, 0xCC, 0xE0)


@pytest.fixture(scope="module")
def basemap_server(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, _ = committed_database(make_database, build)
    files = tmp_path_factory.mktemp("basemap")
    make_mbtiles(files / "honghe.mbtiles", GREEN, (101.5, 22.0, 105.5, 25.0), range(5, 12))
    with serve(url, files / "var", {"BASEMAP": str(files / "honghe.mbtiles")}) as base:
        yield base


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_a_local_mbtiles_base_map_is_drawn_offline(basemap_server, browser, viewport, tmp_path):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport=viewport, locale="zh-CN")
    page = ctx.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    login(page, basemap_server)
    page.goto(basemap_server + "/map?region=532500", wait_until="networkidle")
    page.wait_for_function("() => RiskMap.state.basemap && !RiskMap.state.basemap.isLoading()")
    # Leaflet fades new tiles in: wait until none is still fading.
    page.wait_for_function("() => !document.querySelector('.leaflet-tile:not(.leaflet-tile-loaded)')")
    page.wait_for_timeout(800)
    tiles = [u for u in requests if "/map/basemap/" in u]
    assert tiles, "no base map tile was asked for"
    # West of the prefecture's 103–104 E box, at the height of its centre, in view:
    # nothing but the base map there, so the file's green.
    x, y = page.evaluate("""() => { const m = RiskMap.state.map, b = m.getBounds(), c = m.getCenter();
        const at = [c.lat, (b.getWest() + 103) / 2];
        const p = m.latLngToContainerPoint(at), r = m.getContainer().getBoundingClientRect();
        return [Math.round(p.x + r.left), Math.round(p.y + r.top)]; }""")
    shot = tmp_path / "map.png"
    page.screenshot(path=str(shot))
    with Image.open(shot) as img:
        px = img.convert("RGB").getpixel((x, y))
    assert sum(abs(a - b) for a, b in zip(px, GREEN, strict=True)) < 20, px
    foreign = [u for u in requests if not u.startswith(("data:", "blob:"))
               and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]
    assert foreign == []
    ctx.close()


@pytest.fixture(scope="module")
def vector_server(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, _ = committed_database(make_database, build)
    files = tmp_path_factory.mktemp("vector")
    # water over everything west of the prefecture (103 E), land elsewhere
    make_vector_pmtiles(files / "honghe.pmtiles", (101.5, 22.0, 105.5, 25.0), (101.5, 22.0, 103.0, 25.0),
                        range(4, 12))
    with serve(url, files / "var", {"BASEMAP": str(files / "honghe.pmtiles")}) as base:
        yield base


def _pixel_at(page, shot, lnglat_js: str) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """The screenshot's colour at the map point that ``lnglat_js`` computes from ``m``, ``b``, ``c``."""
    x, y = page.evaluate(f"""() => {{ const m = RiskMap.state.map, b = m.getBounds(), c = m.getCenter();
        const p = m.latLngToContainerPoint({lnglat_js}), r = m.getContainer().getBoundingClientRect();
        return [Math.round(p.x + r.left), Math.round(p.y + r.top)]; }}""")
    with Image.open(shot) as img:
        return img.convert("RGB").getpixel((x, y))


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_a_local_vector_pmtiles_base_map_is_drawn_offline(vector_server, browser, viewport, tmp_path):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport=viewport, locale="zh-CN")
    page = ctx.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, vector_server)
    page.goto(vector_server + "/map?region=532500", wait_until="networkidle")
    page.wait_for_function("() => RiskMap.state.basemap && !RiskMap.state.basemap.isLoading()")
    page.wait_for_timeout(800)  # tiles are painted after their data arrives
    # the archive is read in parts, with Range requests, from this server
    assert [u for u in requests if "/map/basemap.pmtiles" in u], "the archive was never read"
    shot = tmp_path / "map.png"
    page.screenshot(path=str(shot))
    # West of the prefecture (103–104 E) the archive has water; east of it, land.
    west = _pixel_at(page, shot, "[c.lat, (b.getWest() + 103) / 2]")
    east = _pixel_at(page, shot, "[c.lat, (b.getEast() + 104) / 2]")
    assert sum(abs(a - b) for a, b in zip(west, WATER, strict=True)) < 20, west
    assert sum(abs(a - b) for a, b in zip(east, LAND, strict=True)) < 20, east
    assert errors == []
    foreign = [u for u in requests if not u.startswith(("data:", "blob:"))
               and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]
    assert foreign == []
    ctx.close()


def test_the_ledgers_small_map_draws_the_local_base_map(basemap_server, browser, tmp_path):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    login(page, basemap_server)
    found = page.request.get(basemap_server + "/map/search.json?q=红河化工").json()["results"]
    page.goto(basemap_server + f"/enterprises/{found[0]['id']}", wait_until="networkidle")
    page.wait_for_function("""() => { const el = document.getElementById('ledger-map');
        return el && el._ledgerBasemap && !el._ledgerBasemap.isLoading(); }""")
    page.wait_for_function("() => !document.querySelector('#ledger-map .leaflet-tile:not(.leaflet-tile-loaded)')")
    page.wait_for_timeout(800)
    assert [u for u in requests if "/map/basemap/" in u], "the small map asked for no tile of the local file"
    # A corner of the small map (no marker there): the file's green under the county's
    # outline, filled #e8edf3 at 0.6 opacity (static/js/ledger-map.js).
    box = page.locator("#ledger-map").bounding_box()
    shot = tmp_path / "ledger.png"
    page.screenshot(path=str(shot))
    with Image.open(shot) as img:
        px = img.convert("RGB").getpixel((round(box["x"] + 12), round(box["y"] + box["height"] - 12)))
    fill = (0xE8, 0xED, 0xF3)
    expected = tuple(round(0.4 * g + 0.6 * f) for g, f in zip(GREEN, fill, strict=True))
    assert sum(abs(a - b) for a, b in zip(px, expected, strict=True)) < 20, (px, expected)
    foreign = [u for u in requests if not u.startswith(("data:", "blob:"))
               and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]
    assert foreign == []
    ctx.close()

"""The map in a real headless Chromium against a live server.

A person opens /map, sees the enterprise layer (coloured by grade) and the
district layer in the layer control, clicks an enterprise and reads its open
hazards in the side panel; switches grades off and on in the legend without
a new tile request; the page loads nothing from outside this machine.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import numpy as np
from browser.map_world import COUNTIES, ENTERPRISES
from live import login
from PIL import Image

from geo_service.domain import GRADE_BY_VALUE

GRADE_RED = GRADE_BY_VALUE[1].default_hex

ENTERPRISE_LAYER = "企业（按风险等级）"
GRADE_ENTRIES = ["重大风险（红）", "较大风险（橙）", "一般风险（黄）", "低风险（蓝）"]


def _only_local(requests: list[str]) -> list[str]:
    return [u for u in requests
            if not u.startswith(("data:", "blob:")) and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]


def _pressed(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The legend's grade toggles: label → aria-pressed."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.rm-legend-toggle')]
        .map(b => [b.textContent.trim(), b.getAttribute('aria-pressed')]))""")


def _drawn(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """The enterprise points drawn in the loaded tiles: grade, fill colour, count, hidden."""
    return page.evaluate("""async () => {
        const P = await import('/static/js/map/leaflet-private.js');
        return P.loadedFeatures(RiskMap.state.layers.enterprises).map(f => ({
            grade: f.properties.grade === undefined ? null : f.properties.grade,
            id: f.properties.id === undefined ? null : f.properties.id,
            fill: f.options.hidden ? null : f.options.fillColor, count: f.options.count || null,
            hidden: !!f.options.hidden }));
    }""")


def _wait_tiles(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until layer ``name``'s visible tiles are loaded and drawn."""
    page.wait_for_function(
        """(name) => { const l = RiskMap.state.layers[name];
                       return RiskMap.state.map.hasLayer(l) && !l.isLoading(); }""",
        arg=name, timeout=20000,
    )
    page.wait_for_timeout(300)  # VectorGrid draws on the next animation frame


def test_map_layers_click_enterprise_shows_open_hazards(live_server, page, screenshot_dir):  # type: ignore[no-untyped-def]
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, live_server.url)
    page.goto(live_server.url + "/map?region=532500", wait_until="networkidle")

    # The layer control lists the one enterprise layer and the district layer.
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    labels = [t.strip() for t in labels]
    for title in [ENTERPRISE_LAYER, "区域风险热度", "隐患（未销号）", "行政区划"]:
        assert title in labels, labels

    # The choropleth has drawn the three counties, and the legend shows its classes.
    page.wait_for_function("() => RiskMap.state.choropleth && RiskMap.state.choropleth.features.length === 3")
    legend = page.locator(".rm-legend").inner_text()
    assert "区域风险热度" in legend and "重大风险（红）" in legend
    # County names are on the map.
    for name, _, _ in COUNTIES.values():
        assert page.locator(".rm-region-label", has_text=name).count() == 1

    page.screenshot(path=str(screenshot_dir / "map-overview.png"))

    # Zoom to enterprise a and click it where it is drawn.
    a = ENTERPRISES["a"]
    lng, lat = a["lnglat"]
    page.evaluate("([lat, lng]) => RiskMap.state.map.setView([lat, lng], 14, {animate: false})", [lat, lng])
    _wait_tiles(page, "enterprises")
    _wait_tiles(page, "hazards")
    x, y = page.evaluate(
        """([lat, lng]) => { const m = RiskMap.state.map;
                             const p = m.latLngToContainerPoint([lat, lng]);
                             const r = m.getContainer().getBoundingClientRect();
                             return [p.x + r.left, p.y + r.top]; }""",
        [lat, lng],
    )
    page.mouse.click(x, y)
    panel = page.locator("#rm-panel")
    panel.wait_for(state="visible", timeout=10000)
    page.wait_for_function("() => document.querySelector('#rm-panel-body h2') !== null", timeout=10000)
    text = panel.inner_text()
    assert a["name"] in text
    assert "液氯储罐压力表失效" in text and "消防通道堵塞" in text  # its two open hazards
    assert "重大隐患" in text and "逾期 10 天" in text             # the major one is 10 days overdue
    assert "未销号隐患（2）" in text
    link = page.locator("#rm-panel a", has_text="查看企业详情")
    assert link.get_attribute("href") == f"/enterprises/{live_server.world.ids['a']}"
    page.screenshot(path=str(screenshot_dir / "map-enterprise.png"))

    assert errors == []
    assert _only_local(requests) == []
    assert any("/tiles/enterprises/" in u for u in requests)
    # the page icon is in the page: no request for it, however often the address changed
    assert not any("favicon" in urlsplit(u).path for u in requests), requests


def test_filters_live_in_the_url_and_export_png(live_server, page, screenshot_dir):  # type: ignore[no-untyped-def]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    login(page, live_server.url)
    page.goto(live_server.url + "/map?region=532500&grade=1&metric=overdue_hazards", wait_until="networkidle")
    # grade=1 leaves only 红 switched on in the legend and the form; the metric select follows the URL.
    assert _pressed(page) == {"重大风险（红）": "true", "较大风险（橙）": "false", "一般风险（黄）": "false",
                              "低风险（蓝）": "false"}
    assert page.locator("input[name=grade][value='1']").is_checked()
    assert not page.locator("input[name=grade][value='2']").is_checked()
    assert page.locator("#rm-metric").input_value() == "overdue_hazards"
    page.wait_for_function("() => RiskMap.state.choropleth && RiskMap.state.choropleth.metric === 'overdue_hazards'")

    # Choosing an industry updates the URL and the tile requests carry it.
    page.select_option("select[name=industry]", "hazchem")
    page.wait_for_function("() => location.search.includes('industry=hazchem')")
    page.wait_for_timeout(500)
    assert any("/tiles/enterprises/" in u and "industry=hazchem" in u and "region=532500" in u for u in requests)

    with page.expect_download(timeout=60000) as info:
        # (export first, while only 红 is shown)
        page.click("#rm-export")
    # A map sheet drawn by the server with the return's cartography, named after the region.
    assert info.value.suggested_filename.startswith("风险地图-红河州-"), info.value.suggested_filename
    path = screenshot_dir / "export.png"
    info.value.save_as(str(path))
    sheet = page.evaluate("() => RiskMap.state.lastSheet")
    assert sheet["url"].startswith("/map/sheet.png?")
    assert "industry=hazchem" in sheet["url"] and "grade=1" in sheet["url"] and "bbox=" in sheet["url"]
    on = page.evaluate("() => Object.keys(RiskMap.state.layers).filter("
                       "n => RiskMap.state.map.hasLayer(RiskMap.state.layers[n]))")
    assert "layers=" + "%2C".join(on) in sheet["url"]
    red = tuple(int(GRADE_RED[i:i + 2], 16) for i in (1, 3, 5))
    with Image.open(path) as img:
        # its title and legend, written in the PNG beside the pixels
        assert img.info["Title"] == "红河州安全风险分布图"
        legend = img.info["Description"].splitlines()
        assert legend[0] == "筛选：行业：危险化学品；风险等级：红"
        assert "重大风险（红）  1 家" in legend  # enterprise a, the one 红 hazchem enterprise
        assert not any(line.startswith(("较大风险", "一般风险", "低风险")) for line in legend)  # layers off
        assert "红河州界线" in legend
        rgb = np.asarray(img.convert("RGB")).astype(int)
    assert sorted(rgb.shape[:2]) == [2480, 3508]  # A4 at 300 dpi
    assert (np.abs(rgb - np.array(red)).max(axis=2) <= 6).sum() > 100  # the red marker and its swatch
    w = rgb.shape[1]
    mm = 300 / 25.4  # pixels per millimetre; the title is 19 mm from the top edge
    title_band = rgb[round(12 * mm):round(26 * mm), w // 3:2 * w // 3]
    assert (title_band.sum(axis=2) < 200).sum() > 1000  # the title is drawn in dark ink
    assert _only_local(requests) == []

    # Clearing the grade filter shows the other three grades again, from the tiles already
    # loaded (no new enterprise tile request), and the URL forgets it.
    before = len([u for u in requests if "/tiles/enterprises/" in u])
    page.uncheck("input[name=grade][value='1']")
    page.wait_for_function("() => !new URLSearchParams(location.search).has('grade')")
    assert set(_pressed(page).values()) == {"true"}
    page.wait_for_timeout(500)
    assert len([u for u in requests if "/tiles/enterprises/" in u]) == before


def test_one_enterprise_layer_coloured_by_grade_with_legend_toggles(live_server, page):  # type: ignore[no-untyped-def]
    """Issue 16: the first view asks ONE set of enterprise tiles (not one per grade), each
    enterprise drawn in its grade's colour; the legend's grades hide and show without a request."""
    tiles: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: tiles.append(r.url) if "/tiles/enterprises/" in r.url else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, live_server.url)  # (which lands on the map at its default view)
    page.wait_for_load_state("networkidle")
    tiles.clear()
    # zoom 11 over the enterprises of 个旧市 and 开远市
    page.goto(live_server.url + "/map?region=532500&center=103.3,23.45&zoom=11", wait_until="networkidle")
    _wait_tiles(page, "enterprises")
    first = list(tiles)
    # One layer: each tile of the view asked once, with one parameter set, and no grade in it.
    paths = [urlsplit(u).path for u in first]
    assert first and len(paths) == len(set(paths)), first
    assert len({urlsplit(u).query for u in first}) == 1 and "grade" not in first[0]
    # …no more than the 512-px tiles the view covers (four per-grade layers asked four times as many).
    covered = page.evaluate("""() => { const m = RiskMap.state.map, b = m.getPixelBounds();
        return (Math.ceil(b.max.x / 512) - Math.floor(b.min.x / 512)) * (Math.ceil(b.max.y / 512) - Math.floor(b.min.y / 512)); }""")
    assert len(first) <= covered, (first, covered)
    assert page.evaluate("() => Object.keys(RiskMap.state.layers).filter(n => n.startsWith('enterprises'))") \
        == ["enterprises"]

    # Every rated enterprise in view is drawn in its grade's colour of the palette; the unrated none.
    palette = {g: GRADE_BY_VALUE[g].default_hex.upper() for g in (1, 2, 3, 4)}
    drawn = {d["id"]: d for d in _drawn(page) if d["id"] is not None}
    ids = live_server.world.ids
    bounds = page.evaluate("() => { const b = RiskMap.state.map.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }")
    in_view = {k: e for k, e in ENTERPRISES.items() if e["grade"] is not None
               and bounds[0] < e["lnglat"][0] < bounds[2] and bounds[1] < e["lnglat"][1] < bounds[3]}
    assert {"a", "b", "d", "e"} <= set(in_view)
    for key, e in in_view.items():
        d = drawn[ids[key]]
        assert d["grade"] == e["grade"] and d["fill"].upper() == palette[e["grade"]] and not d["hidden"], (key, d)
    assert {d["grade"] for d in drawn.values()} == {1, 2, 3, 4}

    # …and on screen: the pixel at enterprise a is 红, at enterprise d 蓝.
    def pixel_at(key: str) -> tuple[int, int, int]:
        lng, lat = ENTERPRISES[key]["lnglat"]
        x, y = page.evaluate("""([lat, lng]) => { const m = RiskMap.state.map, p = m.latLngToContainerPoint([lat, lng]);
            const r = m.getContainer().getBoundingClientRect(); return [p.x + r.left, p.y + r.top]; }""", [lat, lng])
        return page.evaluate("""async ([x, y]) => {
            const c = [...document.querySelectorAll('.leaflet-rm-points-pane canvas')]
                .find(c => { const b = c.getBoundingClientRect();
                             return x >= b.left && x < b.right && y >= b.top && y < b.bottom; });
            const b = c.getBoundingClientRect(), k = c.width / b.width;
            return [...c.getContext('2d').getImageData(Math.round((x - b.left) * k), Math.round((y - b.top) * k), 1, 1).data]
                .slice(0, 3); }""", [x, y])

    def rgb(hex_: str) -> tuple[int, int, int]:
        return tuple(int(hex_[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]

    def near(px, colour) -> bool:  # type: ignore[no-untyped-def]
        return sum(abs(a - b) for a, b in zip(px, colour, strict=True)) < 45

    assert near(pixel_at("a"), rgb(palette[1])), pixel_at("a")
    assert near(pixel_at("d"), rgb(palette[4])), pixel_at("d")

    # The legend's 红 toggle hides the red enterprises: no new tile, the URL and the form follow.
    page.locator(".rm-legend-toggle", has_text="重大风险（红）").click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('grade') === '2,3,4'")
    assert _pressed(page)["重大风险（红）"] == "false"
    assert not page.locator("input[name=grade][value='1']").is_checked()
    assert page.locator("input[name=grade][value='4']").is_checked()
    page.wait_for_timeout(300)
    drawn = {d["id"]: d for d in _drawn(page) if d["id"] is not None}
    assert drawn[ids["a"]]["hidden"] and drawn[ids["e"]]["hidden"]          # the two 红
    assert not drawn[ids["b"]]["hidden"] and not drawn[ids["d"]]["hidden"]  # 橙 and 蓝 stay
    assert not near(pixel_at("a"), rgb(palette[1]))
    assert near(pixel_at("d"), rgb(palette[4]))
    # …and back on.
    page.locator(".rm-legend-toggle", has_text="重大风险（红）").click()
    page.wait_for_function("() => !new URLSearchParams(location.search).has('grade')")
    page.wait_for_timeout(300)
    assert near(pixel_at("a"), rgb(palette[1]))
    assert tiles == first  # hiding and showing asked no tile again
    assert errors == []


def test_cells_recount_when_a_grade_is_hidden(live_server, page):  # type: ignore[no-untyped-def]
    """At prefecture scale the enterprises are cells; hiding a grade recounts and recolours them."""
    login(page, live_server.url)
    page.goto(live_server.url + "/map?region=532500&center=103.3,23.45&zoom=6", wait_until="networkidle")
    _wait_tiles(page, "enterprises")
    rated = [e for e in ENTERPRISES.values() if e["grade"] is not None]
    drawn = [d for d in _drawn(page) if not d["hidden"]]
    assert sum(d["count"] or 1 for d in drawn) == len(rated)
    page.goto(live_server.url + "/map?region=532500&center=103.3,23.45&zoom=6&grade=3,4", wait_until="networkidle")
    _wait_tiles(page, "enterprises")
    drawn = [d for d in _drawn(page) if not d["hidden"]]
    assert sum(d["count"] or 1 for d in drawn) == len([e for e in rated if e["grade"] in (3, 4)])
    yellow = GRADE_BY_VALUE[3].default_hex.upper()
    blue = GRADE_BY_VALUE[4].default_hex.upper()
    assert {d["fill"].upper() for d in drawn} <= {yellow, blue}


def test_every_module_is_asked_for_by_the_page_head(live_server, page):  # type: ignore[no-untyped-def]
    # The entry module is held back for a second: the modules it imports, however deep, are
    # asked for meanwhile (<link rel="modulepreload"> in the head), each once, not one level
    # of imports after another once the entry has arrived.
    login(page, live_server.url)
    page.route("**/static/js/map/main.js", lambda route: (time.sleep(1.0), route.continue_()))
    page.goto(live_server.url + "/map?region=532500", wait_until="networkidle")
    fetched = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(e => new URL(e.name).pathname.startsWith('/static/js/'))
        .map(e => ({path: new URL(e.name).pathname, start: e.startTime, answered: e.responseStart}))""")
    entry = next(f for f in fetched if f["path"] == "/static/js/map/main.js")
    deps = [f for f in fetched if f["path"] not in ("/static/js/basemap.js", "/static/js/map-zones.js",
                                                     "/static/js/map/main.js")]
    paths = [f["path"] for f in deps]
    assert "/static/js/map/leaflet-private.js" in paths and "/static/js/map-core.js" in paths
    assert len(paths) == len(set(paths)) == 10, fetched
    assert all(f["start"] < entry["answered"] for f in deps), (entry, deps)
    assert page.evaluate("() => !!(window.RiskMap && RiskMap.state)")  # and the map started

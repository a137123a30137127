"""The map in a real headless Chromium against a live server.

A person opens /map, sees the four grade layers and the district layer in the
layer control, clicks an enterprise and reads its open hazards in the side
panel; the page loads nothing from outside this machine.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from browser.map_world import COUNTIES, ENTERPRISES
from live import login
from PIL import Image

from geo_service.domain import GRADE_BY_VALUE

GRADE_RED = GRADE_BY_VALUE[1].default_hex

GRADE_LAYERS = ["红色企业（重大风险）", "橙色企业（较大风险）", "黄色企业（一般风险）", "蓝色企业（低风险）"]


def _only_local(requests: list[str]) -> list[str]:
    return [u for u in requests
            if not u.startswith(("data:", "blob:")) and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]


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

    # The layer control lists the four grade layers and the district layer.
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    labels = [t.strip() for t in labels]
    for title in GRADE_LAYERS + ["区域风险热度", "隐患（未销号）", "行政区划"]:
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
    _wait_tiles(page, "enterprises_red")
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


def test_filters_live_in_the_url_and_export_png(live_server, page, screenshot_dir):  # type: ignore[no-untyped-def]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    login(page, live_server.url)
    page.goto(live_server.url + "/map?region=532500&grade=1&metric=overdue_hazards", wait_until="networkidle")
    # grade=1 leaves only the red layer on; the metric select follows the URL.
    on = page.evaluate("""Object.keys(RiskMap.state.layers).filter(
        n => n.startsWith('enterprises_') && RiskMap.state.map.hasLayer(RiskMap.state.layers[n]))""")
    assert on == ["enterprises_red"]
    assert page.locator("#rm-metric").input_value() == "overdue_hazards"
    page.wait_for_function("() => RiskMap.state.choropleth && RiskMap.state.choropleth.metric === 'overdue_hazards'")

    # Choosing an industry updates the URL and the tile requests carry it.
    page.select_option("select[name=industry]", "hazchem")
    page.wait_for_function("() => location.search.includes('industry=hazchem')")
    page.wait_for_timeout(500)
    assert any("/tiles/enterprises/" in u and "industry=hazchem" in u and "region=532500" in u for u in requests)

    with page.expect_download(timeout=30000) as info:
        # (export first, while only the red layer is on)
        page.click("#rm-export")
    # A map sheet named after the region, not its code.
    assert info.value.suggested_filename.startswith("风险地图-红河州-"), info.value.suggested_filename
    path = screenshot_dir / "export.png"
    info.value.save_as(str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    sheet = page.evaluate("() => RiskMap.state.lastSheet")
    assert sheet["texts"]["title"] == "红河州安全风险分布图"
    assert "红色企业（重大风险）" in sheet["texts"]["subtitle"] and "制图日期" in sheet["texts"]["subtitle"]
    assert "行业：危险化学品" in sheet["texts"]["filters"] and "风险等级：红" in sheet["texts"]["filters"]
    assert sheet["texts"]["footer"] == "内部用图"
    ox, oy = sheet["mapOffset"]
    red = tuple(int(GRADE_RED[i:i + 2], 16) for i in (1, 3, 5))

    def near(px, colour, tolerance=45):  # type: ignore[no-untyped-def]
        return sum(abs(a - b) for a, b in zip(px, colour, strict=True)) < tolerance

    with Image.open(path) as img:
        rgb = img.convert("RGB")
        size = page.evaluate("() => [RiskMap.state.map.getSize().x, RiskMap.state.map.getSize().y]")
        assert sheet["mapSize"] == size and list(rgb.size) == sheet["size"]
        assert rgb.size[0] > size[0] and rgb.size[1] > size[1] + 80  # a title above, a footer below
        # Enterprise a (the one 红 hazchem enterprise left by the filters) drawn in
        # the red of the palette where it is on the map…
        lng, lat = ENTERPRISES["a"]["lnglat"]
        x, y = page.evaluate("([lat, lng]) => { const p = RiskMap.state.map.latLngToContainerPoint([lat, lng]);"
                             " return [Math.round(p.x), Math.round(p.y)]; }", [lat, lng])
        around = [rgb.getpixel((ox + x + dx, oy + y + dy)) for dx in range(-2, 3) for dy in range(-2, 3)]
        assert any(near(px, red) for px in around), around
        # …and not where no enterprise is (蒙自市, east of 103.6 E, has none drawn in red).
        x, y = page.evaluate("() => { const p = RiskMap.state.map.latLngToContainerPoint([23.5, 103.8]);"
                             " return [Math.round(p.x), Math.round(p.y)]; }")
        assert not near(rgb.getpixel((ox + x, oy + y)), red, 100)
        # The legend is on the sheet: its box holds the red swatch of the one grade layer on.
        lx, ly, lw, lh = sheet["legendBox"]
        legend_pixels = [rgb.getpixel((i, j)) for i in range(lx, lx + lw) for j in range(ly, ly + lh)]
        assert sum(near(px, red) for px in legend_pixels) >= 20
        # The title is drawn: dark text pixels in the band above the map.
        title_band = [rgb.getpixel((i, j)) for i in range(rgb.size[0] // 3, 2 * rgb.size[0] // 3) for j in range(10, 40)]
        assert sum(sum(px) < 200 for px in title_band) > 100
    assert _only_local(requests) == []

    # Clearing the grade filter brings the other three grade layers back, and the URL forgets it.
    page.uncheck("input[name=grade][value='1']")
    page.wait_for_function("() => !new URLSearchParams(location.search).has('grade')")
    on = page.evaluate("""Object.keys(RiskMap.state.layers).filter(
        n => n.startsWith('enterprises_') && RiskMap.state.map.hasLayer(RiskMap.state.layers[n]))""")
    assert sorted(on) == ["enterprises_blue", "enterprises_orange", "enterprises_red", "enterprises_yellow"]

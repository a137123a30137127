"""The map in a real headless Chromium against a live server.

A person opens /map, sees the four grade layers and the district layer in the
layer control, clicks an enterprise and reads its open hazards in the side
panel; the page loads nothing from outside this machine.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import numpy as np
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

    with page.expect_download(timeout=60000) as info:
        # (export first, while only the red layer is on)
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

    # Clearing the grade filter brings the other three grade layers back, and the URL forgets it.
    page.uncheck("input[name=grade][value='1']")
    page.wait_for_function("() => !new URLSearchParams(location.search).has('grade')")
    on = page.evaluate("""Object.keys(RiskMap.state.layers).filter(
        n => n.startsWith('enterprises_') && RiskMap.state.map.hasLayer(RiskMap.state.layers[n]))""")
    assert sorted(on) == ["enterprises_blue", "enterprises_orange", "enterprises_red", "enterprises_yellow"]

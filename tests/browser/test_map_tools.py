"""Find and go, in a real headless Chromium: the map's search box suggests
enterprises of the caller's jurisdiction and locates the chosen one; the
ledger's and the enterprise page's "在地图上定位" open the map on the
enterprise with every filter kept; the side panel's hazards link to their
pages.  Enterprise e (开远燃气公司) stands at 103.50 E, 23.60 N with one open
重大隐患 (燃气管道腐蚀), see :mod:`map_world`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from browser.map_world import ENTERPRISES
from browser.screens import COUNTY, DESKTOP, PHONE, Live, screens_server
from browser.screens import context as _context
from browser.screens import foreign as _foreign
from browser.screens import login_as as _login
from browser.screens import watch as _watch
from live import BROWSER_PASSWORD, BROWSER_USER


@pytest.fixture(scope="module")
def server(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with screens_server(make_database, tmp_path_factory.mktemp("find") / "var") as live:
        yield live


def _centred_on(page, lnglat: tuple[float, float]) -> None:  # type: ignore[no-untyped-def]
    """Wait until the map is centred on ``lnglat`` at a street zoom (16 or more)."""
    page.wait_for_function(
        """([lng, lat]) => { const c = RiskMap.state.map.getCenter();
                             return Math.abs(c.lng - lng) < 1e-4 && Math.abs(c.lat - lat) < 1e-4
                                    && RiskMap.state.map.getZoom() >= 16; }""",
        arg=list(lnglat), timeout=10000)


def _panel_shows(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.locator("#rm-panel").wait_for(state="visible", timeout=10000)
    page.wait_for_function("(n) => (document.querySelector('#rm-panel-body h2') || {}).textContent === n",
                           arg=name, timeout=10000)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_search_suggests_and_locates(server, browser, viewport):  # type: ignore[no-untyped-def]
    ctx = _context(browser, viewport)
    page = ctx.new_page()
    requests, errors = _watch(page)
    _login(page, server.url, BROWSER_USER, BROWSER_PASSWORD)
    page.goto(server.url + "/map?region=532500", wait_until="networkidle")
    page.fill("#rm-search-input", "开远")
    options = page.locator("#rm-search-list [role=option]")
    options.first.wait_for(timeout=10000)
    names = sorted(options.all_inner_texts())
    assert len(names) == 4 and all("开远" in n for n in names), names
    page.fill("#rm-search-input", "开远燃气")
    page.wait_for_function("() => document.querySelectorAll('#rm-search-list [role=option]').length === 1")
    page.keyboard.press("Enter")
    e = ENTERPRISES["e"]
    _centred_on(page, e["lnglat"])
    _panel_shows(page, e["name"])
    query = parse_qs(urlsplit(page.url).query)
    assert query["focus"] == [str(server.world.ids["e"])] and query["region"] == ["532500"]
    # The panel's hazard links to its page.
    link = page.locator("#rm-panel a.rm-desc", has_text="燃气管道腐蚀")
    assert link.get_attribute("href") == f"/hazards/{server.world.hazard_ids['e_major']}"
    link.click()
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path == f"/hazards/{server.world.hazard_ids['e_major']}"
    assert errors == [] and _foreign(requests) == []
    ctx.close()


def test_ledger_locate_keeps_every_filter(server, browser):  # type: ignore[no-untyped-def]
    ctx = _context(browser, DESKTOP)
    page = ctx.new_page()
    _login(page, server.url, BROWSER_USER, BROWSER_PASSWORD)
    page.goto(server.url + "/hazards?region=532502&hazard_level=major&industry=gas", wait_until="networkidle")
    row = page.locator(f"tr[data-hazard='{server.world.hazard_ids['e_major']}']")
    row.locator("a.locate").click()
    page.wait_for_load_state("networkidle")
    e = ENTERPRISES["e"]
    _centred_on(page, e["lnglat"])
    _panel_shows(page, e["name"])
    query = parse_qs(urlsplit(page.url).query)
    assert query["region"] == ["532502"] and query["hazard_level"] == ["major"] and query["industry"] == ["gas"]
    assert page.locator("select[name=hazard_level]").input_value() == "major"
    assert page.locator("select[name=industry]").input_value() == "gas"
    ctx.close()


def test_enterprise_page_locates_on_the_map(server, browser):  # type: ignore[no-untyped-def]
    ctx = _context(browser, PHONE)
    page = ctx.new_page()
    _login(page, server.url, BROWSER_USER, BROWSER_PASSWORD)
    page.goto(f"{server.url}/enterprises/{server.world.ids['c']}", wait_until="networkidle")
    page.click("#locate-on-map")
    page.wait_for_load_state("networkidle")
    _centred_on(page, ENTERPRISES["c"]["lnglat"])
    _panel_shows(page, ENTERPRISES["c"]["name"])
    ctx.close()


def _indicator(page, name: str) -> str:  # type: ignore[no-untyped-def]
    return page.locator(f"#rm-indicators .rm-ind-{name} .rm-n").inner_text()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_indicators_follow_the_filters_and_a_district_click_drills_down(server, browser, viewport):  # type: ignore[no-untyped-def]
    ctx = _context(browser, viewport)
    page = ctx.new_page()
    requests, errors = _watch(page)
    _login(page, server.url, BROWSER_USER, BROWSER_PASSWORD)
    page.goto(server.url + "/map?region=532500", wait_until="networkidle")
    # 红河州: seven enterprises (红 a, e), two open 重大隐患, two overdue (map_world's table).
    page.wait_for_function("() => RiskMap.state.indicators && RiskMap.state.indicators.region.code === '532500'")
    assert _indicator(page, "enterprises") == "7" and _indicator(page, "grade-1") == "2"
    assert _indicator(page, "open-major") == "2" and _indicator(page, "overdue") == "2"
    assert page.locator("#rm-crumbs").inner_text().split() == ["云南省", "›", "红河州"]
    # A filter changes them: only overdue hazards leaves a (红) and d (蓝).
    if viewport is PHONE:
        page.click("#rm-open-filters")
    page.check("input[name=overdue]")
    page.wait_for_function("() => document.querySelector('#rm-indicators .rm-ind-enterprises .rm-n').textContent === '2'")
    assert _indicator(page, "grade-1") == "1" and _indicator(page, "grade-4") == "1"
    assert _indicator(page, "open-major") == "1"
    page.uncheck("input[name=overdue]")
    page.wait_for_function("() => document.querySelector('#rm-indicators .rm-ind-enterprises .rm-n').textContent === '7'")
    if viewport is PHONE:
        page.click("#rm-filters-close")
        page.wait_for_function("() => document.getElementById('rm-filters').getBoundingClientRect().right <= 0")
    # A click on 开远市 (103.3–103.6 E), away from its enterprises, drills down to it.
    page.wait_for_function("() => RiskMap.state.choropleth && RiskMap.state.choropleth.features.length === 3")
    x, y = page.evaluate(
        """() => { const m = RiskMap.state.map, p = m.latLngToContainerPoint([23.9, 103.45]);
                   const r = m.getContainer().getBoundingClientRect(); return [p.x + r.left, p.y + r.top]; }""")
    page.mouse.click(x, y)
    page.wait_for_function("() => new URLSearchParams(location.search).get('region') === '532502'")
    page.wait_for_function("() => RiskMap.state.indicators && RiskMap.state.indicators.region.code === '532502'")
    assert _indicator(page, "enterprises") == "4"  # c, d, e, g
    assert page.evaluate("() => document.getElementById('rm-region').value") == "532502"
    # Fitted to the county (103.3–103.6 E, 23–24 N): centred on it, the whole of it in view.
    centre = page.evaluate("() => { const c = RiskMap.state.map.getCenter(); return [c.lng, c.lat]; }")
    assert centre[0] == pytest.approx(103.45, abs=0.01) and centre[1] == pytest.approx(23.5, abs=0.05), centre
    assert page.evaluate("() => RiskMap.state.map.getBounds().contains([[23, 103.3], [24, 103.6]])")
    assert page.locator("#rm-crumbs").inner_text().split() == ["云南省", "›", "红河州", "›", "开远市"]
    # The breadcrumb goes back up.
    page.click("#rm-crumbs button[data-region='532500']")
    page.wait_for_function("() => new URLSearchParams(location.search).get('region') === '532500'")
    page.wait_for_function("() => document.querySelector('#rm-indicators .rm-ind-enterprises .rm-n').textContent === '7'")
    assert errors == [] and _foreign(requests) == []
    ctx.close()


def test_the_url_holds_the_view_and_reset_goes_back_to_the_default(server, browser):  # type: ignore[no-untyped-def]
    ctx = _context(browser, DESKTOP)
    page = ctx.new_page()
    _login(page, server.url, BROWSER_USER, BROWSER_PASSWORD)
    # The ledger's "在地图上查看" carries every filter.
    page.goto(server.url + "/hazards?region=532502&industry=gas&hazard_level=major&overdue=false&grade=1",
              wait_until="networkidle")
    page.click("#show-on-map")
    page.wait_for_load_state("networkidle")
    query = parse_qs(urlsplit(page.url).query)
    assert {k: query[k] for k in ("region", "industry", "hazard_level", "overdue", "grade")} == {
        "region": ["532502"], "industry": ["gas"], "hazard_level": ["major"], "overdue": ["false"], "grade": ["1"]}
    # Move the map: the URL follows; opening that URL again gives the same view.
    page.evaluate("() => RiskMap.state.map.setView([23.61, 103.47], 13, {animate: false})")
    page.wait_for_function("() => new URLSearchParams(location.search).get('zoom') === '13'")
    shared = page.url
    assert parse_qs(urlsplit(shared).query)["center"] == ["103.47000,23.61000"]
    page.goto(shared, wait_until="networkidle")
    view = page.evaluate("() => { const c = RiskMap.state.map.getCenter(); return [c.lng, c.lat, RiskMap.state.map.getZoom()]; }")
    assert view[2] == 13 and view[0] == pytest.approx(103.47, abs=1e-4) and view[1] == pytest.approx(23.61, abs=1e-4)
    assert page.locator("select[name=industry]").input_value() == "gas"
    # 重置: no filters, the default region, fitted.
    default = page.evaluate("() => RiskMap.state.cfg.default_region")
    page.click("#rm-reset")
    page.wait_for_function("(d) => new URLSearchParams(location.search).get('region') === d", arg=default)
    query = parse_qs(urlsplit(page.url).query)
    assert not {"industry", "hazard_level", "overdue", "grade"} & set(query), query
    assert page.locator("select[name=industry]").input_value() == ""
    bbox = page.evaluate("(d) => RiskMap.state.cfg.regions.find(r => r.code === d).bbox", default)
    assert page.evaluate("(b) => RiskMap.state.map.getBounds().contains([[b[1], b[0]], [b[3], b[2]]])", bbox)
    assert page.evaluate("() => RiskMap.state.map.getZoom()") < 13
    ctx.close()


def test_the_small_things(server, browser):  # type: ignore[no-untyped-def]
    ctx = _context(browser, DESKTOP)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, server.url, BROWSER_USER, BROWSER_PASSWORD)
    page.goto(server.url + "/map?region=532500", wait_until="networkidle")
    # Integer class breaks do not overlap (the page's own module, as the legend uses it).
    labels = "async (b) => (await import('/static/js/map-core.js')).classLabels(b)"
    assert page.evaluate(labels, [5, 8, 12]) == ["≤ 5", "6 – 8", "9 – 12"]
    assert page.evaluate(labels, [5, 6, 12]) == ["≤ 5", "6", "7 – 12"]
    # Hovering an enterprise shows its name and grade, not the district's figures.
    lng, lat = ENTERPRISES["a"]["lnglat"]
    page.evaluate("([lat, lng]) => RiskMap.state.map.setView([lat, lng], 14, {animate: false})", [lat, lng])
    page.wait_for_function("() => !RiskMap.state.layers.enterprises.isLoading()")
    page.wait_for_timeout(400)
    x, y = page.evaluate("""([lat, lng]) => { const m = RiskMap.state.map, p = m.latLngToContainerPoint([lat, lng]);
        const r = m.getContainer().getBoundingClientRect(); return [p.x + r.left, p.y + r.top]; }""", [lat, lng])
    page.mouse.move(x - 40, y - 40)
    page.mouse.move(x, y, steps=4)
    # (headless Chromium may hold the last move until its next frame: a little wiggle over the point)
    page.mouse.move(x + 2, y + 1, steps=2)
    tip = page.locator(".rm-hover-tip")
    page.wait_for_function("(n) => (document.querySelector('.rm-hover-tip') || {}).textContent?.includes(n)",
                           arg=ENTERPRISES["a"]["name"], timeout=5000)
    text = tip.inner_text()
    assert ENTERPRISES["a"]["name"] in text and "红·重大风险" in text and "企业数" not in text, text
    # Away from the points, the district's figures.
    page.mouse.move(x + 60, y + 120, steps=4)
    page.mouse.move(x + 62, y + 121, steps=2)
    page.wait_for_function("() => (document.querySelector('.rm-hover-tip') || {}).textContent?.includes('企业数')")
    assert "个旧市" in tip.inner_text()
    # The hazard layer, greyed out below zoom 9, says from which zoom it shows.
    page.evaluate("() => RiskMap.state.map.setZoom(7, {animate: false})")
    label = page.locator(".leaflet-control-layers-overlays label", has_text="隐患（未销号）")
    page.wait_for_function("() => document.querySelector('.rm-zoom-note') !== null")
    assert "放大到第 9 级显示" in label.inner_text()
    page.evaluate("() => RiskMap.state.map.setZoom(10, {animate: false})")
    # (other layers, such as the plants' risk zones from zoom 16, keep their own notes)
    page.wait_for_function("""() => ![...document.querySelectorAll('.leaflet-control-layers-overlays label')]
        .some(l => l.textContent.includes('隐患（未销号）') && l.querySelector('.rm-zoom-note'))""")
    assert errors == []
    ctx.close()


def test_a_county_user_gets_the_density_heat_by_default(server, browser):  # type: ignore[no-untyped-def]
    ctx = _context(browser, DESKTOP)
    page = ctx.new_page()
    _login(page, server.url, *COUNTY)
    page.goto(server.url + "/map", wait_until="networkidle")
    on = page.evaluate("() => Object.keys(RiskMap.state.layers).filter(n => RiskMap.state.map.hasLayer(RiskMap.state.layers[n]))")
    assert "risk_heat" in on and "district_heat" not in on, on
    # …and the heat has points: 开远市's four graded enterprises.
    page.wait_for_function("""async () => (await import('/static/js/map/leaflet-private.js'))
        .heatPoints(RiskMap.state.layers.risk_heat).length > 0""", timeout=10000)
    assert page.locator("#rm-crumbs").inner_text().strip().endswith("开远市")
    ctx.close()

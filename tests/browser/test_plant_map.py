"""The enterprise's own 四色图 in a real headless Chromium against a live server:
an administrator uploads the plant layout, places it by dragging a corner,
draws a zone over the tank farm, attaches the 较大 risk point, saves it and
sees it coloured orange; a read-only account only views; the page works at
390 × 844 and 1440 × 900 without loading anything from outside or breaking
the Content-Security-Policy.

The world: one chemical plant at (103.10, 23.30) in county 990101 with a
较大 (orange) risk point 液氯储罐 and a 一般 (yellow) one 输送泵.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import box, credit_code
from live import login, serve
from PIL import Image, ImageDraw
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from geo_service.models import EnterpriseLayout, RiskZone
from geo_service.services import accounts

ORANGE = "#FF8C00"  # the default 较大风险 colour (GRADE_COLORS)
VIEWER, VIEWER_PASSWORD = "kan", "readonly-test-2026"


@dataclass
class Live:
    url: str
    database_url: str
    enterprise_id: int


@pytest.fixture(scope="module")
def plant_server(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    url = make_database()
    engine = create_engine(url)
    with Session(engine) as s:
        s.execute(text("INSERT INTO region (code, name, level, geom) VALUES ('990101', '测试县', 'county',"
                       " ST_GeomFromEWKT(:g))"), {"g": box(103.0, 23.0, 103.3, 23.5)})
        eid = s.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom, complaint_phone) VALUES"
            " (:c, '测试氯碱化工有限公司', 'hazchem', 'SRID=4326;POINT(103.1 23.3)', '0873-1234567') RETURNING id"),
            {"c": credit_code(1, "990101")}).scalar_one()
        s.execute(text("INSERT INTO risk_point (enterprise_id, name, grade, accident_type) VALUES"
                       " (:e, '液氯储罐', 2, '中毒和窒息'), (:e, '输送泵', 3, '机械伤害')"), {"e": eid})
        accounts.create_user(s, VIEWER, VIEWER_PASSWORD, "readonly", region_code="990101")
        s.commit()
    engine.dispose()
    with serve(url, tmp_path_factory.mktemp("plant-live") / "var") as base:
        yield Live(base, url, eid)


def layout_png() -> bytes:
    img = Image.new("RGB", (600, 300), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((40, 40, 260, 260), outline="black", width=4)   # tank farm
    d.rectangle((320, 60, 560, 200), outline="black", width=4)  # workshop
    d.line((0, 285, 600, 285), fill="gray", width=8)            # road
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _watch(page) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    # console errors (a CSP violation is one); failed requests are judged by the response listener
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    # a missing asset or a server error is a failure; the refused import's 422 is expected
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if (r.status >= 500 or r.status == 404) and not r.url.endswith("/favicon.ico") else None)
    return requests, errors


def _foreign(requests: list[str]) -> list[str]:
    return [u for u in requests if not u.startswith(("data:", "blob:"))
            and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]


def _zone_fills(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all("#plant-map path.leaflet-interactive",
                                     "els => els.map(e => (e.getAttribute('fill') || '').toUpperCase())")


def test_upload_place_draw_and_save_a_zone(plant_server, browser, screenshot_dir: Path):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    requests, errors = _watch(page)
    login(page, plant_server.url)
    page.goto(f"{plant_server.url}/enterprises/{plant_server.enterprise_id}")
    page.wait_for_selector("#plant-map[data-ready='1']")
    page.locator("#plant-map").scroll_into_view_if_needed()

    # Upload the layout: it lands centred on the plant with three corner handles.
    page.set_input_files("#plant-layout-file", files=[{"name": "厂区平面图.png", "mimeType": "image/png",
                                                       "buffer": layout_png()}])
    page.wait_for_selector("text=平面图已上传")
    assert page.locator(".plant-corner").count() == 3
    engine = create_engine(plant_server.database_url)
    with Session(engine) as s:
        before = s.scalars(select(EnterpriseLayout)).one()
        assert (before.width_px, before.height_px, before.version) == (600, 300, 1)
        tr_before = before.control_points[1]["lnglat"]

    # Place it: drag the top-right corner 80 px to the right and save (once the map has
    # finished fitting the layout: a handle read mid-animation would be missed by the drag).
    handle = page.locator(".plant-corner-1").bounding_box()
    for _ in range(40):
        page.wait_for_timeout(150)
        settled = page.locator(".plant-corner-1").bounding_box()
        if settled == handle:
            break
        handle = settled
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y, steps=4)
    page.mouse.move(x + 80, y, steps=4)
    page.mouse.up()
    page.click("#plant-layout-save")
    page.wait_for_selector("text=平面图位置已保存")
    with Session(engine) as s:
        after = s.scalars(select(EnterpriseLayout)).one()
        assert after.version == 2
        assert after.control_points[1]["lnglat"][0] > tr_before[0] + 1e-5  # moved east
        assert abs(after.control_points[0]["lnglat"][0] - before.control_points[0]["lnglat"][0]) < 1e-9

    # Draw a rectangle around the map's centre with geoman, fill in the zone and save.
    page.click(".leaflet-pm-icon-rectangle")
    m = page.locator("#plant-map").bounding_box()
    cx, cy = m["x"] + m["width"] / 2, m["y"] + m["height"] / 2
    page.mouse.click(cx - 60, cy - 40)
    page.mouse.move(cx + 60, cy + 40, steps=5)
    page.mouse.click(cx + 60, cy + 40)
    page.wait_for_selector("#plant-zone-form:not([hidden])")
    page.fill("#plant-zone-name", "液氯罐区")
    page.check("#plant-zone-points label:has-text('液氯储罐') input")
    page.click("#plant-zone-save")
    page.wait_for_selector("text=区域“液氯罐区”已保存")
    page.wait_for_function("() => document.querySelectorAll('#plant-map path.leaflet-interactive').length >= 1")
    assert ORANGE in _zone_fills(page)
    assert "液氯罐区（橙·较大风险）" in page.inner_text("#plant-map")
    assert "液氯罐区（橙·较大风险）：液氯储罐" in page.inner_text("#plant-zone-list")
    page.screenshot(path=str(screenshot_dir / "plant-map-drawn.png"), full_page=True)
    with Session(engine) as s:
        zone = s.scalars(select(RiskZone)).one()
        assert (zone.name, zone.grade, zone.version) == ("液氯罐区", 2, 1)
        # the drawn rectangle lies around the plant (the map is centred on its layout)
        bbox = s.execute(text("SELECT ST_XMin(geom), ST_XMax(geom), ST_YMin(geom), ST_YMax(geom)"
                              " FROM risk_zone")).one()
        assert bbox[0] < 103.1 + 0.002 and bbox[1] > 103.1 - 0.002 and bbox[2] < 23.3 + 0.002
    engine.dispose()

    # Import zones from a GeoJSON file: a feature too far away is named, nothing is written;
    # skipping it imports the other one.
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"区域名称": "仓库", "风险等级": "黄"},
         "geometry": {"type": "Polygon", "coordinates": [[[103.1010, 23.3010], [103.1015, 23.3010],
                                                          [103.1015, 23.3014], [103.1010, 23.3014],
                                                          [103.1010, 23.3010]]]}},
        {"type": "Feature", "properties": {"区域名称": "远处堆场"},
         "geometry": {"type": "Polygon", "coordinates": [[[103.2, 23.3], [103.201, 23.3], [103.201, 23.301],
                                                          [103.2, 23.3]]]}}]}
    geojson = {"name": "zones.geojson", "mimeType": "application/geo+json",
               "buffer": json.dumps(doc, ensure_ascii=False).encode()}
    page.set_input_files("#plant-zones-file", files=[geojson])
    page.wait_for_selector("text=未导入任何区域")
    assert "第2个要素 区域范围" in page.inner_text("#plant-import-result")
    page.check("#plant-zones-skip")
    page.set_input_files("#plant-zones-file", files=[geojson])
    page.wait_for_selector("text=已导入：新增 1 个")
    page.wait_for_function("() => document.querySelector('#plant-zone-list').innerText.includes('仓库')")
    assert "#FFD700" in _zone_fills(page)
    assert errors == [], errors
    assert _foreign(requests) == []
    context.close()


def _ensure_zone(live: Live) -> None:
    """The orange zone 液氯罐区 around the plant with 液氯储罐 in it, whatever order the tests run in."""
    engine = create_engine(live.database_url)
    with Session(engine) as s:
        if s.scalar(select(RiskZone.id).limit(1)) is None:
            zid = s.execute(text(
                "INSERT INTO risk_zone (enterprise_id, name, geom) VALUES (:e, '液氯罐区',"
                " ST_Multi(ST_MakeEnvelope(103.0995, 23.2996, 103.1005, 23.3004, 4326))) RETURNING id"),
                {"e": live.enterprise_id}).scalar_one()
            s.execute(text("UPDATE risk_point SET zone_id = :z WHERE name = '液氯储罐'"), {"z": zid})
            s.commit()
    engine.dispose()


def test_read_only_accounts_only_view_on_a_phone(plant_server, browser, screenshot_dir: Path):  # type: ignore[no-untyped-def]
    _ensure_zone(plant_server)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    requests, errors = _watch(page)
    page.goto(f"{plant_server.url}/login")
    page.fill("input[name=username]", VIEWER)
    page.fill("input[name=password]", VIEWER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{plant_server.url}/enterprises/{plant_server.enterprise_id}")
    page.wait_for_selector("#plant-map[data-ready='1']")
    assert ORANGE in _zone_fills(page)
    assert page.locator(".leaflet-pm-toolbar").count() == 0
    assert page.locator("#plant-zone-form").count() == 0 and page.locator("#plant-layout-file").count() == 0
    assert page.locator(".plant-corner").count() == 0
    map_box = page.locator("#plant-map").bounding_box()
    assert map_box["width"] <= 390 and map_box["height"] >= 300
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    page.locator("#plant-map").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "plant-map-phone.png"), full_page=True)
    assert errors == []
    assert _foreign(requests) == []
    context.close()


def test_the_regional_map_shows_zones_from_zoom_16_and_opens_the_panel(plant_server, browser,  # type: ignore[no-untyped-def]
                                                                      screenshot_dir: Path):
    _ensure_zone(plant_server)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    requests, errors = _watch(page)
    login(page, plant_server.url)
    page.goto(f"{plant_server.url}/map?region=990101")
    page.wait_for_function("() => window.RiskMap && RiskMap.state.map !== null")
    zones = "RiskMap.state.layers.risk_zones"
    page.evaluate("() => RiskMap.state.map.setView([23.3, 103.1], 15, {animate: false})")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(f"() => {zones}.getLayers().length") == 0  # not below 16
    page.evaluate("() => RiskMap.state.map.setView([23.3, 103.1], 18, {animate: false})")
    page.wait_for_function(f"() => {zones}.getLayers().length >= 1")
    tank = f"{zones}.getLayers().filter(l => l.feature.properties.name === '液氯罐区')[0]"
    assert page.evaluate(f"() => {tank}.options.fillColor").upper() == ORANGE
    # click the middle of the zone (the plant's own point is not drawn at this zoom)
    x, y = page.evaluate(
        """() => { const m = RiskMap.state.map;
                   const z = RiskMap.state.layers.risk_zones.getLayers()
                     .filter(l => l.feature.properties.name === '液氯罐区')[0];
                   const p = m.latLngToContainerPoint(z.getBounds().getCenter());
                   const r = m.getContainer().getBoundingClientRect(); return [p.x + r.left, p.y + r.top]; }""")
    page.mouse.click(x, y)
    page.wait_for_selector("#rm-panel .rm-zone")
    panel = page.inner_text("#rm-panel")
    assert "测试氯碱化工有限公司" in panel and "风险区域：液氯罐区" in panel and "液氯储罐" in panel
    page.screenshot(path=str(screenshot_dir / "plant-zones-regional.png"))
    assert errors == []
    assert _foreign(requests) == []
    context.close()

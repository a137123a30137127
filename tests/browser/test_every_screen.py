"""The map and the ledgers on a phone (390×844) and a desktop (1440×900), in a
real headless Chromium against a live server of its own (the hand-made
register of :mod:`map_world`): the map takes at least half the phone screen,
the filters and the legend open as drawers, the ledgers are cards with their
state, and an enterprise user lands on his enterprise and reports a hazard
with a photo and the phone's position.  Nothing leaves this machine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser.map_world import ENTERPRISES
from browser.screens import DESKTOP, OWNER_A, OWNER_F, PHONE, Live, screens_server
from browser.screens import box as _box
from browser.screens import context as _context
from browser.screens import foreign as _foreign
from browser.screens import login_as as _login
from browser.screens import watch as _watch
from live import BROWSER_PASSWORD, BROWSER_USER
from PIL import Image
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from geo_service.models import Hazard, HazardEvidence


@pytest.fixture(scope="module")
def server(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with screens_server(make_database, tmp_path_factory.mktemp("screens") / "var") as live:
        yield live


def test_phone_map_comes_first_and_takes_half_the_screen(server, browser, screenshot_dir: Path):  # type: ignore[no-untyped-def]
    ctx = _context(browser, PHONE)
    page = ctx.new_page()
    requests, errors = _watch(page)
    _login(page, server.url, BROWSER_USER, BROWSER_PASSWORD)
    page.goto(server.url + "/map?region=532500", wait_until="networkidle")
    size = page.evaluate("() => [RiskMap.state.map.getSize().x, RiskMap.state.map.getSize().y]")
    assert size[0] >= 380 and size[1] >= PHONE["height"] / 2, size
    # The map is on the first screen, above the fold, not under the filters.
    top = _box(page, "#rm-map-wrap")["y"]
    assert top + size[1] / 2 < PHONE["height"], top
    # The filters are a closed drawer, out of the screen, until 筛选 is tapped.
    assert not page.locator("select[name=industry]").is_visible() or _box(page, "#rm-filters")["x"] < -100
    for sel in ("#rm-open-filters", "#rm-open-legend", ".leaflet-control-zoom-in", ".leaflet-control-zoom-out"):
        b = _box(page, sel)
        assert b["width"] >= 40 and b["height"] >= 40, (sel, b)
    page.screenshot(path=str(screenshot_dir / "phone-map.png"))
    page.click("#rm-open-filters")
    page.wait_for_function("() => document.getElementById('rm-filters').getBoundingClientRect().left >= 0")
    assert page.locator("select[name=industry]").is_visible()
    for sel in ("select[name=industry]", "select[name=hazard_state]", "#rm-reset", "#rm-filters-close"):
        b = _box(page, sel)
        assert b["height"] >= 40, (sel, b)
    page.select_option("select[name=industry]", "hazchem")
    page.wait_for_function("() => location.search.includes('industry=hazchem')")
    page.click("#rm-filters-close")
    page.wait_for_function("() => document.getElementById('rm-filters').getBoundingClientRect().right <= 0")
    # The legend (with the layer control) is a drawer too.
    assert not page.locator(".rm-legend").is_visible()
    page.click("#rm-open-legend")
    assert page.locator(".rm-legend").is_visible()
    assert "重大风险（红）" in page.locator(".rm-legend").inner_text()
    assert page.locator(".leaflet-control-layers").is_visible()
    assert errors == []
    assert _foreign(requests) == []
    ctx.close()


def test_desktop_map_keeps_its_side_filters(server, browser):  # type: ignore[no-untyped-def]
    ctx = _context(browser, DESKTOP)
    page = ctx.new_page()
    _login(page, server.url, BROWSER_USER, BROWSER_PASSWORD)
    page.goto(server.url + "/map?region=532500", wait_until="networkidle")
    size = page.evaluate("() => [RiskMap.state.map.getSize().x, RiskMap.state.map.getSize().y]")
    assert size[0] >= 1000 and size[1] >= 800, size
    assert page.locator("select[name=industry]").is_visible()
    assert not page.locator("#rm-open-filters").is_visible()
    assert page.locator(".rm-legend").is_visible()
    ctx.close()


def test_phone_ledger_rows_are_cards_with_their_state(server, browser, screenshot_dir: Path):  # type: ignore[no-untyped-def]
    ctx = _context(browser, PHONE)
    page = ctx.new_page()
    _login(page, server.url, BROWSER_USER, BROWSER_PASSWORD)
    page.goto(server.url + "/hazards", wait_until="networkidle")
    # Nothing scrolls sideways, the header row is hidden, each hazard is a card.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    assert not page.locator("#hazard-table thead").is_visible()
    cards = page.locator("#hazard-table tbody tr")
    assert cards.count() == 5  # the five hazards of the map world
    first = cards.first
    assert first.evaluate("tr => getComputedStyle(tr).display") == "block"
    state = first.locator("td[data-label=状态] .state")
    assert state.is_visible() and state.inner_text() in ("已登记", "整改中", "已整改", "已验收销号"), state.inner_text()
    page.screenshot(path=str(screenshot_dir / "phone-hazards.png"))
    ctx.close()


def test_enterprise_user_lands_on_his_enterprise(server, browser):  # type: ignore[no-untyped-def]
    ctx = _context(browser, PHONE)
    page = ctx.new_page()
    _login(page, server.url, *OWNER_A)
    ent_id = server.world.ids["a"]
    assert urlsplit(page.url).path == f"/enterprises/{ent_id}"
    # …and at / too.
    page.goto(server.url + "/", wait_until="networkidle")
    assert urlsplit(page.url).path == f"/enterprises/{ent_id}"
    assert page.locator("h1").inner_text().strip() == ENTERPRISES["a"]["name"]
    first_action = page.locator(".page-head .actions a").first
    assert first_action.inner_text().strip() == "上报隐患"
    # His two open hazards, each with its state.
    cards = page.locator("#open-hazards li")
    assert cards.count() == 2
    text = page.locator("#open-hazards").inner_text()
    assert "液氯储罐压力表失效" in text and "整改中" in text
    assert "消防通道堵塞" in text and "已登记" in text
    ctx.close()


def test_enterprise_user_reports_a_hazard_with_photo_and_phone_position(  # type: ignore[no-untyped-def]
        server, browser, tmp_path: Path, screenshot_dir: Path):
    lng, lat = 103.80421, 23.50133  # where the phone is: beside 蒙自五金店 (103.80, 23.50)
    ctx = _context(browser, PHONE, geolocation={"latitude": lat, "longitude": lng}, permissions=["geolocation"])
    page = ctx.new_page()
    requests, errors = _watch(page)
    _login(page, server.url, *OWNER_F)
    ent_id = server.world.ids["f"]
    assert urlsplit(page.url).path == f"/enterprises/{ent_id}"
    page.click("text=上报隐患")
    page.wait_for_load_state("networkidle")
    # The camera input, and no choice of source: an enterprise reports 企业自查.
    photo_input = page.locator("input[type=file][name=photo]")
    assert photo_input.get_attribute("capture") == "environment"
    assert photo_input.get_attribute("accept") == "image/*"
    assert page.locator("select[name=source]").count() == 0
    photo = tmp_path / "site.jpg"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(photo, "JPEG")
    page.fill("textarea[name=description]", "货架堆放过高且无防倾倒措施")
    photo_input.set_input_files(str(photo))
    page.click("#use-gps")
    page.wait_for_function("() => document.getElementById('f-lng').value !== ''")
    assert page.locator("#f-own_location").is_checked()
    page.screenshot(path=str(screenshot_dir / "phone-report-hazard.png"), full_page=True)
    page.click("#hazard-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/hazards/" in page.url and "/new" not in page.url, page.url
    hazard_id = int(urlsplit(page.url).path.rsplit("/", 1)[1])

    engine = create_engine(server.database_url)
    try:
        with Session(engine) as session:
            h = session.get(Hazard, hazard_id)
            assert h is not None and h.enterprise_id == ent_id
            assert h.source == "self" and h.description == "货架堆放过高且无防倾倒措施"
            got = session.execute(select(Hazard.geom.ST_X(), Hazard.geom.ST_Y()).where(Hazard.id == hazard_id)).one()
            assert got[0] == pytest.approx(lng, abs=1e-6) and got[1] == pytest.approx(lat, abs=1e-6)
            ev = session.scalars(select(HazardEvidence).where(HazardEvidence.hazard_id == hazard_id)).all()
            assert [(e.kind, e.filename) for e in ev] == [("before", "site.jpg")]
    finally:
        engine.dispose()
    assert errors == []
    assert _foreign(requests) == []
    ctx.close()

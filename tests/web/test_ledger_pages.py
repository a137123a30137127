"""The ledger pages through the Flask test client, on the hand-made register of
``test_ledger_world`` (see its table for every expectation below)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import lxml.html
import pytest
from pyproj import Geod
from shapely.geometry import shape
from web.test_ledger_world import ENTERPRISES, LedgerWorld, build


@pytest.fixture
def world(session) -> LedgerWorld:  # type: ignore[no-untyped-def]
    w = build(session)
    session.commit()  # a savepoint inside the test's transaction: visible to the app's session
    return w


def page(client, url: str, status: int = 200) -> lxml.html.HtmlElement:  # type: ignore[no-untyped-def]
    resp = client.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]
    return lxml.html.fromstring(resp.get_data(as_text=True))


def text(el: Any) -> str:
    return re.sub(r"\s+", " ", el.text_content()).strip()


def counts(doc: lxml.html.HtmlElement) -> dict[str, int]:
    return {el.get("data-count"): int(el.text_content()) for el in doc.cssselect("[data-count]")}


def table_ids(doc: lxml.html.HtmlElement) -> list[int]:
    return [int(tr.get("data-hazard")) for tr in doc.cssselect("#hazard-table tbody tr[data-hazard]")]


# --------------------------------------------------------------------------- the hazard ledger

# Each case: query string, and the predicate over the fixture table that says
# which hazards it must list.
LEDGER_CASES: list[tuple[str, Callable[[dict[str, Any], dt.date], bool]]] = [
    ("", lambda h, t: True),
    ("region=532502", lambda h, t: h["region"] == "532502"),
    ("region=532500", lambda h, t: h["region"].startswith("5325")),
    ("industry=trade", lambda h, t: h["industry"].startswith("trade")),
    ("hazard_level=major", lambda h, t: h["level"] == "major"),
    ("hazard_source=supervised", lambda h, t: h["source"] == "supervised"),
    ("hazard_state=registered", lambda h, t: h["state"] == "registered"),
    ("overdue=true", lambda h, t: h["state"] in ("registered", "rectifying") and h["deadline"] < t),
    ("overdue=true&hazard_level=major",
     lambda h, t: h["level"] == "major" and h["state"] in ("registered", "rectifying") and h["deadline"] < t),
    ("q=乙机械", lambda h, t: "乙机械" in h["enterprise"]),
    ("q=通风机", lambda h, t: "通风机" in h["description"]),
]


@pytest.mark.parametrize(("qs", "wanted"), LEDGER_CASES, ids=[c[0] or "all" for c in LEDGER_CASES])
def test_ledger_filters_match_an_independent_count(client, world, qs, wanted):
    facts = world.hazard_facts()
    expected = {h["id"] for h in facts if wanted(h, world.today)}
    doc = page(client, "/hazards?" + qs)
    assert set(table_ids(doc)) == expected
    c = counts(doc)
    assert c["total"] == len(expected)
    chosen = [h for h in facts if h["id"] in expected]
    assert c["open"] == sum(h["state"] != "closed" for h in chosen)
    assert c["major"] == sum(h["level"] == "major" for h in chosen)
    assert c["supervised"] == sum(h["source"] == "supervised" for h in chosen)
    assert c["overdue"] == sum(h["state"] in ("registered", "rectifying") and h["deadline"] < world.today
                               for h in chosen)


def test_ledger_date_range(client, world):
    t = world.today
    frm, to = t - dt.timedelta(days=20), t - dt.timedelta(days=5)
    doc = page(client, f"/hazards?found_from={frm}&found_to={to}")
    # h4 (−20), h5 (−15), h2 (−10), h7 (−5): both ends inclusive.
    assert set(table_ids(doc)) == {world.hazards[k].id for k in ("h2", "h4", "h5", "h7")}


def test_ledger_sorts_and_pages_with_filters_kept(client, world):
    doc = page(client, "/hazards?sort=deadline&dir=asc&per_page=3&hazard_level=general")
    # general hazards by deadline: h6 (−1), h5 (−2)… ascending: h5 (−2), h6 (−1), h2 (+3), h8 (+8), h4 (+30)
    assert table_ids(doc) == [world.hazards[k].id for k in ("h5", "h6", "h2")]
    nxt = doc.cssselect("a[rel=next]")[0].get("href")
    assert "hazard_level=general" in nxt and "sort=deadline" in nxt and "page=2" in nxt
    doc2 = page(client, nxt)
    assert table_ids(doc2) == [world.hazards[k].id for k in ("h8", "h4")]
    assert "第 2 / 2 页" in text(doc2.cssselect(".pager")[0])


def test_ledger_links_to_map_and_exports_with_the_same_filters(client, world):
    doc = page(client, "/hazards?region=532501&hazard_level=major&overdue=true&q=液氯")
    map_href = doc.cssselect("#show-on-map")[0].get("href")
    assert map_href.startswith("/map?")
    assert "region=532501" in map_href and "hazard_level=major" in map_href and "overdue=true" in map_href
    for sel in ("#export-checklist", "#export-worklog"):
        href = doc.cssselect(sel)[0].get("href")
        assert "region=532501" in href and "hazard_level=major" in href and "q=" in href


def test_ledger_bad_filter_is_a_chinese_400(client, world):
    resp = client.get("/hazards?found_from=2026-13-01")
    assert resp.status_code == 400
    assert "found_from" in resp.get_data(as_text=True)
    assert "日期格式" in resp.get_data(as_text=True)
    assert client.get("/hazards?sort=drop_table").status_code == 400


# --------------------------------------------------------------------------- overdue / due soon


def test_overdue_and_due_soon_by_region(client, world):
    doc = page(client, "/hazards/overdue")
    groups = {g.get("data-region"): g for g in doc.cssselect("section.region-group")}
    assert set(groups) == {"532501", "532502"}

    def ids(group, cls):
        return {int(tr.get("data-hazard")) for tr in group.cssselect(f"tr.{cls}")}

    hz = world.hazards
    # 个旧市: h1 overdue; h2 due in 3 days. h5 is rectified (clock stopped), h4 due in 30 days.
    assert ids(groups["532501"], "row-overdue") == {hz["h1"].id}
    assert ids(groups["532501"], "row-due-soon") == {hz["h2"].id}
    # 开远市: h6 overdue; h7 due on the 7th day (inside); h8 on the 8th (outside).
    assert ids(groups["532502"], "row-overdue") == {hz["h6"].id}
    assert ids(groups["532502"], "row-due-soon") == {hz["h7"].id}
    assert doc.cssselect("#total-overdue")[0].text_content() == "2"
    assert doc.cssselect("#total-due-soon")[0].text_content() == "2"
    row = doc.cssselect(f"tr[data-hazard='{hz['h1'].id}']")[0]
    assert "逾期 5 天" in text(row)


def test_overdue_window_follows_the_setting(app, client, world):
    app.config["DUE_SOON_DAYS"] = 8
    doc = page(client, "/hazards/overdue?region=532502")
    due = {int(tr.get("data-hazard")) for tr in doc.cssselect("tr.row-due-soon")}
    assert due == {world.hazards["h7"].id, world.hazards["h8"].id}


# --------------------------------------------------------------------------- enterprise page


def test_enterprise_page(client, world):
    chem = world.enterprises["chem"]
    doc = page(client, f"/enterprises/{chem.id}")
    assert chem.name in text(doc.cssselect("h1")[0])
    notice = text(doc.cssselect("#risk-notice")[0])
    # The public notice: 较大 and above only, with the complaint phone.
    assert "液氯储罐区" in notice and "装卸区" in notice and "办公区" not in notice
    assert "中毒和窒息" in notice and "0873-12350" in notice and "王工" in notice
    points = text(doc.cssselect("#risk-points")[0])
    assert all(n in points for n in ("液氯储罐区", "装卸区", "办公区"))
    hazards = doc.cssselect("#hazards")[0]
    assert "未销号 2，已销号 1" in text(hazards)
    assert "逾期 5 天" in text(hazards)  # h1
    assert "剩 3 天" in text(hazards)  # h2
    # History: the events of its hazards (h3 went all the way to 已验收销号).
    history = text(doc.cssselect("#history")[0])
    assert f"#{world.hazards['h3'].id}" in history and "已验收销号" in history
    # Surroundings within 1 000 m: 乙机械厂 (independently ~620 m), not 丙煤矿 (~50 km).
    geod = Geod(ellps="WGS84")
    a, b = ENTERPRISES["chem"], ENTERPRISES["works"]
    metres = geod.inv(a["lng"], a["lat"], b["lng"], b["lat"])[2]
    assert metres < 1000
    around = text(doc.cssselect(".small")[0])
    assert f"乙机械厂（{round(metres)} 米）" in around
    assert "丙煤矿" not in around
    # The small map's background is the enterprise's county (个旧市 box 103.0–103.3 E, 23–24 N).
    data = json.loads(doc.cssselect("#ledger-map-data")[0].text_content())
    assert shape(data["outline"]).bounds == pytest.approx((103.0, 23.0, 103.3, 24.0))
    assert data["centre"] == pytest.approx([103.10, 23.30])
    assert data["basemap"] is None  # nothing external unless BASEMAP is configured


def test_enterprise_page_unknown_is_404(client, world):
    resp = client.get("/enterprises/999999")
    assert resp.status_code == 404
    assert "不存在" in resp.get_data(as_text=True)


def test_pages_reference_no_external_url(client, world):
    for url in (f"/enterprises/{world.enterprises['chem'].id}", "/hazards", "/hazards/overdue",
                f"/hazards/{world.hazards['h1'].id}", "/enterprises/new",
                f"/hazards/new?enterprise={world.enterprises['chem'].id}",
                f"/enterprises/{world.enterprises['chem'].id}/risk-points/new"):
        body = client.get(url).get_data(as_text=True)
        assert not re.search(r"(src|href)=\"(https?:)?//", body), url


# --------------------------------------------------------------------------- hazard page


def test_hazard_page_shows_everything_and_the_allowed_steps(client, world):
    h1 = world.hazards["h1"]
    doc = page(client, f"/hazards/{h1.id}")
    facts = text(doc.cssselect("#hazard-facts")[0])
    for value in ("甲化工有限公司", "液氯储罐区未设置泄漏报警装置", "重大隐患", "部门检查", "王工", "12.50 万元",
                  "液氯泄漏专项应急预案", "市应急局检查组"):
        assert value in facts
    assert "逾期 5 天" in text(doc.cssselect("h1")[0])
    # From 整改中 the only step is 整改完成.
    assert [f.get("id") for f in doc.cssselect("form.step-form")] == ["step-rectifying-rectified"]
    timeline = [text(li) for li in doc.cssselect("#timeline li")]
    assert len(timeline) == 2 and "已登记" in timeline[0] and "整改中" in timeline[1]
    assert doc.cssselect("#ledger-pdf") and doc.cssselect("#ledger-docx")


def test_closed_hazard_has_no_steps(client, world):
    doc = page(client, f"/hazards/{world.hazards['h3'].id}")
    assert doc.cssselect("form.step-form") == []
    assert "流程结束" in text(doc.cssselect("#actions")[0])


def test_rectified_hazard_offers_close_and_send_back(client, world):
    doc = page(client, f"/hazards/{world.hazards['h5'].id}")
    assert {f.get("id") for f in doc.cssselect("form.step-form")} == {
        "step-rectified-closed", "step-rectified-rectifying"}
    # A general hazard has no 附件6.
    assert not doc.cssselect("#ledger-pdf")
    # Two step forms with a note each: every id on the page is unique, every label finds its field.
    ids = [el.get("id") for el in doc.iter() if el.get("id")]
    assert len(ids) == len(set(ids))
    for label in doc.cssselect("label[for]"):
        assert doc.cssselect(f"#{label.get('for')}"), label.get("for")

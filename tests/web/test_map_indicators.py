"""The map's indicator strip and its one reading of the filters.

Counted by hand from the table of ``browser/map_world.py``: in 红河州 (532500)
seven enterprises — 红 a, e; 橙 b; 黄 c, g; 蓝 d; ungraded f — and five
hazards found 40 days ago: a_major (rectifying, 10 days overdue), a_general
(registered, due in 20 days), c_closed (重大, closed, verified 22 days ago),
d_general (registered, 3 days overdue), e_major (registered, due in 30 days).
Enterprise c (开远市 532502, 黄) has a 重大隐患 that is closed, and no open one.
"""

from __future__ import annotations

import datetime as dt

import pytest
from browser.map_world import ENTERPRISES, build
from web.test_tiles import decode, tile_of


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    return build(session)


def _ind(client, query: str) -> dict:  # type: ignore[no-untyped-def]
    resp = client.get("/map/indicators.json?" + query)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()


def _this_year(world) -> int:  # type: ignore[no-untyped-def]
    """1 when the world's hazards (found 40 days ago) were found this year, else 0."""
    return int((world.today - dt.timedelta(days=40)).year == world.today.year)


def test_the_prefecture_without_filters(client, world):  # type: ignore[no-untyped-def]
    d = _ind(client, "region=532500")
    assert d["region"]["name"] == "红河州"
    assert d["enterprises"] == 7 and d["ungraded"] == 1
    assert d["grades"] == {"1": 2, "2": 1, "3": 2, "4": 1}
    assert d["open_major"] == 2 and d["overdue"] == 2
    y = _this_year(world)
    assert (d["found_this_year"], d["rectified_this_year"]) == (5 * y, 1 * y)
    assert d["rectification_rate"] == (20.0 if y else None)


def test_major_means_open_major_unless_a_state_is_chosen(client, world):  # type: ignore[no-untyped-def]
    d = _ind(client, "region=532500&hazard_level=major")
    # a and e have an open 重大隐患; c's only one is closed, so c is not counted
    assert d["grades"] == {"1": 2, "2": 0, "3": 0, "4": 0} and d["enterprises"] == 2
    assert d["open_major"] == 2 and d["overdue"] == 1  # a_major
    y = _this_year(world)
    assert (d["found_this_year"], d["rectified_this_year"]) == (3 * y, 1 * y)  # the rate reads level, not state
    closed = _ind(client, "region=532500&hazard_level=major&hazard_state=closed")
    assert closed["grades"] == {"1": 0, "2": 0, "3": 1, "4": 0}  # c
    assert closed["open_major"] == 0 and closed["overdue"] == 0


def test_the_issue_url_shows_no_enterprise_whose_major_hazards_are_closed(client, world):  # type: ignore[no-untyped-def]
    # 开远市 with 黄 and 重大隐患: c has only a closed one.
    assert _ind(client, "region=532502&grade=3&hazard_level=major")["enterprises"] == 0
    lng, lat = ENTERPRISES["c"]["lnglat"]
    x, y = tile_of(lng, lat, 14)
    names = lambda q: [f["properties"].get("name") for f in decode(  # noqa: E731
        client.get(f"/tiles/enterprises/14/{x}/{y}.pbf?{q}").data).get("enterprises", {"features": []})["features"]]
    assert ENTERPRISES["c"]["name"] not in names("region=532502&grade=3&hazard_level=major")
    assert ENTERPRISES["c"]["name"] in names("region=532502&grade=3&hazard_level=major&hazard_state=closed")
    assert ENTERPRISES["c"]["name"] in names("region=532502&grade=3")  # no hazard filter: every 黄 enterprise


def test_overdue_and_counts_follow_the_region(client, world):  # type: ignore[no-untyped-def]
    d = _ind(client, "region=532502&overdue=true")
    assert d["enterprises"] == 1 and d["grades"]["4"] == 1  # d
    assert d["overdue"] == 1 and d["open_major"] == 0
    assert _ind(client, "region=532503")["enterprises"] == 1  # f


def test_the_panel_lists_what_the_hazard_layer_draws(client, world):  # type: ignore[no-untyped-def]
    def ids(q: str) -> list[int]:
        return [h["id"] for h in client.get(f"/map/panel-hazards.json?{q}").get_json()["hazards"]]

    c, a = world.ids["c"], world.ids["a"]
    assert ids(f"enterprise_id={c}") == []  # open by default: c's only hazard is closed
    assert ids(f"enterprise_id={c}&hazard_state=closed") == [world.hazard_ids["c_closed"]]
    assert ids(f"enterprise_id={a}") == [world.hazard_ids["a_major"], world.hazard_ids["a_general"]]
    assert ids(f"enterprise_id={a}&hazard_level=general") == [world.hazard_ids["a_general"]]
    assert ids(f"enterprise_id={a}&overdue=true") == [world.hazard_ids["a_major"]]

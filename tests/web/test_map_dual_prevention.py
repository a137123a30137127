"""The 双重预防 figures on the map: 任务完成率 as a district heat metric and in the
indicator strip, and the enterprise layers drawn "as of" the end of a month
(``as_of=YYYY-MM``: each enterprise's grade from the grade history).

The register is the hand-built world of ``services/test_dual_prevention.py``;
its October counts, worked out there by hand (seen after the month is over):
甲县 (539901) 甲厂 due 35 done 22, 乙厂 due 31 done 0; 乙县 (539902) 丙厂 due 31
done 31.
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import credit_code
from services.test_dual_prevention import build
from sqlalchemy import text
from web.test_tiles import decode, tile_of

CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    return build(session)


def test_task_completion_is_a_district_heat_metric(client, world):  # type: ignore[no-untyped-def]
    resp = client.get("/map/districts.geojson?region=539900&metric=task_completion_rate&month=2026-10&zoom=9")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    assert body["metric_title"].startswith("任务完成率") and body["task_month"] == "2026-10"
    got = {f["properties"]["name"]: f["properties"] for f in body["features"]}
    # 甲县: (22 + 0) / (35 + 31) = 33.3 %; 乙县: 31 / 31 = 100 %
    assert (got["甲县"]["tasks_due"], got["甲县"]["tasks_done"]) == (66, 22)
    assert (got["乙县"]["tasks_due"], got["乙县"]["tasks_done"]) == (31, 31)
    assert got["甲县"]["value"] == got["甲县"]["task_completion_rate"] == 33.3
    assert got["乙县"]["value"] == got["乙县"]["task_completion_rate"] == 100.0
    # the lagging county is in a lower class than the complete one
    assert got["甲县"]["class"] < got["乙县"]["class"]
    # another metric is coloured without reading the tasks
    other = client.get("/map/districts.geojson?region=539900&metric=weighted_risk&month=2026-10").get_json()
    assert all("task_completion_rate" not in f["properties"] for f in other["features"])


def test_a_month_with_nothing_due_has_no_rate_and_the_no_data_colour(client, world):  # type: ignore[no-untyped-def]
    # September: the tasks start on 1 October, nothing was due.
    body = client.get("/map/districts.geojson?region=539900&metric=task_completion_rate&month=2026-09").get_json()
    assert {f["properties"]["name"]: (f["properties"]["value"], f["properties"]["class"])
            for f in body["features"]} == {"甲县": (None, None), "乙县": (None, None)}
    assert len({f["properties"]["color"] for f in body["features"]}) == 1


def test_task_completion_in_the_indicator_strip(client, world):  # type: ignore[no-untyped-def]
    def tc(query: str) -> dict:
        resp = client.get("/map/indicators.json?" + query)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return resp.get_json()["task_completion"]

    # the prefecture: (22 + 0 + 31) / (35 + 31 + 31) = 53 / 97 = 54.6 %
    assert tc("region=539900&month=2026-10") == {"month": "2026-10", "due": 97, "done": 53, "rate": 54.6}
    assert tc("region=539901&month=2026-10") == {"month": "2026-10", "due": 66, "done": 22, "rate": 33.3}
    assert tc("region=539902&month=2026-10")["rate"] == 100.0
    assert tc("region=539900&month=2026-09")["rate"] is None


def _last_month(today: dt.date) -> dt.date:
    return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


@pytest.fixture
def regraded(session, world):  # type: ignore[no-untyped-def]
    return regrade(session)


def regrade(session) -> int:  # type: ignore[no-untyped-def]
    """丁厂, registered on the 10th of last month as 黄 (3), raised to 红 (1) today; 甲厂 of
    the world (橙 from its unit) was registered today.  Both lie in one zoom-14 tile."""
    then = dt.datetime.combine(_last_month(dt.date.today()).replace(day=10), dt.time(12), tzinfo=CST)
    eid = session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, region_code, geom, grade_override, created_at)"
        " VALUES (:c, '丁厂', 'hazchem', '539901', ST_SetSRID(ST_MakePoint(100.49, 20.5), 4326), 3, :t)"
        " RETURNING id"), {"c": credit_code(4, "539901"), "t": then}).scalar_one()
    # the history of a grade set last month (the trigger stamps the insert with the clock)
    session.execute(text("UPDATE grade_event SET at = :t WHERE enterprise_id = :e"), {"t": then, "e": eid})
    session.execute(text("UPDATE enterprise SET grade_override = 1 WHERE id = :e"), {"e": eid})
    session.commit()
    return eid


def _features(client, z: int, query: str = "") -> dict[str, dict]:  # type: ignore[no-untyped-def]
    x, y = tile_of(100.49, 20.5, z)
    resp = client.get(f"/tiles/enterprises/{z}/{x}/{y}.pbf?{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    layer = decode(resp.data).get("enterprises", {"features": []})
    return {f["properties"].get("name", f"cluster of {f['properties']['count']}"): f["properties"]
            for f in layer["features"]}


def test_the_map_as_of_last_month_differs_from_now_after_a_grade_change(client, regraded):  # type: ignore[no-untyped-def]
    last = _last_month(dt.date.today()).strftime("%Y-%m")
    now = _features(client, 14)
    assert now["丁厂"]["grade"] == 1 and "甲厂" in now
    then = _features(client, 14, f"as_of={last}")
    assert then["丁厂"]["grade"] == 3
    assert "甲厂" not in then  # not yet registered at the end of last month
    # the tiles' grade filter (for other clients: the web map colours and hides grades itself) follows
    assert "丁厂" in _features(client, 14, "grade=1") and "丁厂" not in _features(client, 14, "grade=3")
    assert "丁厂" not in _features(client, 14, f"grade=1&as_of={last}")
    assert "丁厂" in _features(client, 14, f"grade=3&as_of={last}")
    # this month's map is today's
    assert _features(client, 14, f"as_of={dt.date.today():%Y-%m}")["丁厂"]["grade"] == 1


def test_clustered_tiles_as_of_a_month_read_the_history_too(client, regraded):  # type: ignore[no-untyped-def]
    last = _last_month(dt.date.today()).strftime("%Y-%m")
    x, y = tile_of(100.49, 20.5, 8)

    def cells(query: str) -> list[tuple[int, int | None]]:
        data = client.get(f"/tiles/enterprises/8/{x}/{y}.pbf?{query}").data
        return sorted((f["properties"]["count"], f["properties"].get("grade"))
                      for f in decode(data).get("enterprises", {"features": []})["features"])

    # zoom 8: 丁厂 (红 now), 甲厂 (橙) and 乙厂 (黄), both registered today, share the tile (丙厂 at
    # 101.5° lies in the next one); at the end of last month only 丁厂 existed, 黄
    now = cells("")
    assert sum(n for n, _ in now) == 3 and min(g for _, g in now if g is not None) == 1
    assert cells(f"as_of={last}") == [(1, 3)]


def test_a_bad_as_of_month_is_refused(client, world):  # type: ignore[no-untyped-def]
    x, y = tile_of(100.49, 20.5, 14)
    resp = client.get(f"/tiles/enterprises/14/{x}/{y}.pbf?as_of=2026-13", headers={"Accept": "application/json"})
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "as_of"


def test_the_indicator_strip_counts_grades_as_of_the_month(client, regraded):  # type: ignore[no-untyped-def]
    last = _last_month(dt.date.today()).strftime("%Y-%m")
    now = client.get("/map/indicators.json?region=539901").get_json()
    # 丁厂 红, 甲厂 橙 and 乙厂 黄 (their units' grades)
    assert (now["enterprises"], now["ungraded"], now["grades"]) == (3, 0, {"1": 1, "2": 1, "3": 1, "4": 0})
    then = client.get(f"/map/indicators.json?region=539901&as_of={last}").get_json()
    assert (then["enterprises"], then["ungraded"], then["grades"]) == (1, 0, {"1": 0, "2": 0, "3": 1, "4": 0})

"""The heat points and the enterprises' zones layer drawn "as of" a month's end.

A hand-built county 990101 (103–104 E, 23–24 N); "then" is the 10th of last month:

* 戊厂 (103.5, 23.5), registered then, unit 储罐 黄 then and 红 since today, in its
  zone 罐区 drawn then (so 黄 then, 红 now).  A 重大隐患 found on the 5th of last
  month was signed off today: open at the end of last month, closed now.
* 庚厂 (103.8, 23.8), registered then, unit 仓库 蓝; its zone 库区 was drawn today.
  A 重大隐患 found today is open now, and did not exist at the end of last month.
* 辛厂 (103.2, 23.2), registered today, unit 泵房 橙.

Heat weights: 红 4, 橙 3, 黄 2, 蓝 1 (one enterprise per cell at zoom 12).
"""

from __future__ import annotations

import datetime as dt
import math

import mapbox_vector_tile
import pytest
from helpers import credit_code
from sqlalchemy import text

from geo_service.domain import Actor
from geo_service.queries.scope import ALL
from geo_service.services import zones

CST = dt.timezone(dt.timedelta(hours=8))
ADMIN = Actor("管理员", None, "admin")
FIVE = ("'李四'", "'整改'", "1", "'预案'")


def _last_month(d: dt.date) -> dt.date:
    return d.replace(day=1) - dt.timedelta(days=1)


LAST = _last_month(dt.date.today())
THEN = dt.datetime.combine(LAST.replace(day=10), dt.time(12), tzinfo=CST)
AS_OF = f"as_of={LAST:%Y-%m}"


def _square(lng: float, lat: float, d: float = 0.001) -> dict:
    return {"type": "Polygon", "coordinates": [[[lng, lat], [lng + d, lat], [lng + d, lat + d], [lng, lat + d],
                                                [lng, lat]]]}


def _enterprise(session, n: int, name: str, lng: float, lat: float, registered: dt.datetime) -> int:  # type: ignore[no-untyped-def]
    return session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, geom, created_at) VALUES"
        " (:c, :n, 'hazchem', ST_SetSRID(ST_MakePoint(:x, :y), 4326), :t) RETURNING id"),
        {"c": credit_code(n, "990101"), "n": name, "x": lng, "y": lat, "t": registered}).scalar_one()


def _unit(session, eid: int, name: str, grade: int) -> int:  # type: ignore[no-untyped-def]
    return session.execute(text("INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, :n, :g) RETURNING id"),
                           {"e": eid, "n": name, "g": grade}).scalar_one()


def _hazard(session, eid: int, found: dt.date, closed_on: dt.date | None) -> None:  # type: ignore[no-untyped-def]
    state = "'closed', :v, '县应急局'" if closed_on else "'rectifying', NULL, NULL"
    session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, deadline, resp_person, measures,"
        f" funds_wan, emergency_plan, state, verified_on, verifier) VALUES (:e, '储罐区未设紧急切断', 'major',"
        f" 'inspection', :f, :f, {', '.join(FIVE)}, {state})"), {"e": eid, "f": found, "v": closed_on})


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    session.execute(text(
        "INSERT INTO region (code, name, level, geom) VALUES ('990101', '测试县', 'county',"
        " ST_Multi(ST_MakeEnvelope(103, 23, 104, 24, 4326)))"))
    wu = _enterprise(session, 1, "戊厂", 103.5, 23.5, THEN)
    geng = _enterprise(session, 2, "庚厂", 103.8, 23.8, THEN)
    tank = _unit(session, wu, "储罐", 3)
    _unit(session, geng, "仓库", 4)
    zones.create_zone(session, wu, {"name": "罐区", "geometry": _square(103.5001, 23.5001),
                                    "risk_point_ids": [tank]}, ADMIN, scope=ALL, max_distance_m=2000)
    _hazard(session, wu, LAST.replace(day=5), dt.date.today())
    # all of the above happened then (the triggers stamp their history with the clock)
    session.execute(text("UPDATE grade_event SET at = :t"), {"t": THEN})
    session.execute(text("UPDATE risk_zone SET created_at = :t"), {"t": THEN})
    session.execute(text("UPDATE risk_point SET created_at = :t"), {"t": THEN})
    # today: the unit is raised to 红, 庚厂 draws its zone, a new hazard, 辛厂 registers
    session.execute(text("UPDATE risk_point SET grade = 1 WHERE id = :r"), {"r": tank})
    zones.create_zone(session, geng, {"name": "库区", "geometry": _square(103.8001, 23.8001)}, ADMIN, scope=ALL,
                      max_distance_m=2000)
    _hazard(session, geng, dt.date.today(), None)
    xin = _enterprise(session, 3, "辛厂", 103.2, 23.2, dt.datetime.now(CST))
    _unit(session, xin, "泵房", 2)
    session.commit()


def _heat(client, query: str = "") -> dict[tuple[float, float], int]:  # type: ignore[no-untyped-def]
    body = client.get(f"/map/heat.json?bbox=103,23,104,24&zoom=12&{query}").get_json()
    return {(round(p[1], 1), round(p[0], 1)): p[2] for p in body["points"]}


def test_heat_points_as_of_last_month(client, world):  # type: ignore[no-untyped-def]
    # now: 戊厂 红 4, 庚厂 蓝 1, 辛厂 橙 3
    assert _heat(client) == {(103.5, 23.5): 4, (103.8, 23.8): 1, (103.2, 23.2): 3}
    # the end of last month: 戊厂 黄 2, 庚厂 蓝 1; 辛厂 not registered yet
    assert _heat(client, AS_OF) == {(103.5, 23.5): 2, (103.8, 23.8): 1}
    # enterprises with an open 重大隐患: now 庚厂 (戊厂's was signed off today) …
    assert _heat(client, "hazard_level=major") == {(103.8, 23.8): 1}
    # … then 戊厂 (its hazard still open; 庚厂's not found yet)
    assert _heat(client, f"hazard_level=major&{AS_OF}") == {(103.5, 23.5): 2}


def _zones(client, query: str = "") -> dict[str, tuple[int, list]]:  # type: ignore[no-untyped-def]
    body = client.get(f"/map/zones.geojson?bbox=103,23,104,24&zoom=17&{query}").get_json()
    return {f["properties"]["name"]: (f["properties"]["grade"], f["properties"]["risk_points"])
            for f in body["features"]}


def _tile_names(client, lng: float, lat: float, z: int, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    n = 2 ** z
    x = int((lng + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    layers = mapbox_vector_tile.decode(client.get(f"/tiles/enterprises/{z}/{x}/{y}.pbf?{query}").data)
    return sorted(f["properties"].get("name", "") for la in layers.values() for f in la["features"])


def test_the_zones_layer_as_of_last_month(client, world):  # type: ignore[no-untyped-def]
    assert _zones(client) == {"罐区": (1, [{"name": "储罐", "grade": 1}]), "库区": (None, [])}
    # then: 罐区 was 黄 with its unit; 库区 was not drawn yet
    assert _zones(client, AS_OF) == {"罐区": (3, [{"name": "储罐", "grade": 3}])}
    # the grade filter reads the grades then too
    assert _zones(client, f"grade=3&{AS_OF}") == {"罐区": (3, [{"name": "储罐", "grade": 3}])}
    assert _zones(client, "grade=3") == {}
    # from tile zoom 15 an enterprise whose zones were drawn by then shows them instead of its point:
    # 庚厂 drew its zone only today, so last month's map still has its point there
    assert _tile_names(client, 103.8, 23.8, 15, "") == []
    assert _tile_names(client, 103.8, 23.8, 15, AS_OF) == ["庚厂"]
    assert _tile_names(client, 103.5, 23.5, 15, AS_OF) == []

"""Spatial queries checked against independent computations: pyproj.Geod for
distances on the WGS84 ellipsoid, shapely for polygon containment."""

from __future__ import annotations

import pytest
from pyproj import Geod
from queries.world import TODAY, World, build_world
from shapely.geometry import Point, shape

from geo_service.errors import InvalidBBox, InvalidParameter, NotFound
from geo_service.queries import enterprises as eq
from geo_service.queries.filters import Filters, parse_filters, parse_polygon
from geo_service.queries.hazards import hazard_detail, hazards_select
from geo_service.queries.regions import lookup
from geo_service.queries.risk_points import risk_points_select
from geo_service.queries.scope import ALL, Scope

GEOD = Geod(ellps="WGS84")


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def ids(session, stmt):
    return [r.id for r in session.execute(stmt)]


def test_radius_keeps_what_geod_says_is_inside_and_orders_by_distance(session):
    w = build_world(session)
    centre = World.POINTS["plant"]
    for radius in (500, 800, 1000, 1500, 50_000):
        rows = session.execute(eq.within_radius(Filters(), eq.point_geometry(*centre), radius,
                                                scope=ALL, as_of=TODAY)).all()
        expected = sorted((metres(centre, p), k) for k, p in World.POINTS.items() if metres(centre, p) <= radius)
        assert [r.name for r in rows] == [getattr(w, k).name for _, k in expected], radius
        for r, (d, _) in zip(rows, expected, strict=True):
            assert r.distance_m == pytest.approx(d, abs=0.5)  # PostGIS geography vs Geod, half a metre


def test_knn_matches_the_brute_force_order(session):
    build_world(session)
    here = (103.255, 23.505)
    by_geod = sorted(World.POINTS, key=lambda k: metres(here, World.POINTS[k]))
    for k in (1, 3, 5):
        rows = session.execute(eq.nearest(Filters(), *here, k, scope=ALL, as_of=TODAY)).all()
        assert [r.lng for r in rows] == pytest.approx([World.POINTS[n][0] for n in by_geod[:k]])
        assert [r.distance_m for r in rows] == pytest.approx([metres(here, World.POINTS[n]) for n in by_geod[:k]],
                                                             abs=0.5)


def test_around_the_plant_finds_crowded_places_within_one_km(session):
    w = build_world(session)
    f = parse_filters({"industry": "crowded"}, max_bbox_area_deg2=400)
    stmt = eq.around_enterprise(session, w.plant.id, f, 1000, scope=ALL, as_of=TODAY)
    # the school is ~714 m away, the market ~1 330 m: only the school is within 1 km
    assert metres(World.POINTS["plant"], World.POINTS["school"]) < 1000 < metres(World.POINTS["plant"],
                                                                                  World.POINTS["market"])
    assert ids(session, stmt) == [w.school.id]
    stmt = eq.around_enterprise(session, w.plant.id, f, 1500, scope=ALL, as_of=TODAY)
    assert ids(session, stmt) == [w.school.id, w.market.id]
    with pytest.raises(NotFound):
        eq.around_enterprise(session, w.plant.id, f, 1000, scope=Scope(region="532502"), as_of=TODAY)


def test_bbox_and_region_filters(session):
    w = build_world(session)
    f = parse_filters({"bbox": "103.2,23.45,103.3,23.55"}, max_bbox_area_deg2=400)
    inside = {k for k, (x, y) in World.POINTS.items() if 103.2 <= x <= 103.3 and 23.45 <= y <= 23.55}
    got = ids(session, eq.enterprises_select(f, scope=ALL, as_of=TODAY))
    assert sorted(got) == sorted(getattr(w, k).id for k in inside)
    f = parse_filters({"region": "532502"}, max_bbox_area_deg2=400)
    assert ids(session, eq.enterprises_select(f, scope=ALL, as_of=TODAY)) == [w.mill.id]
    f = parse_filters({"region": "532500", "industry": "工贸"}, max_bbox_area_deg2=400)  # trade + trade.*
    assert ids(session, eq.enterprises_select(f, scope=ALL, as_of=TODAY)) == [w.mill.id, w.shop.id]
    f = parse_filters({"grade": "red,蓝"}, max_bbox_area_deg2=400)
    assert ids(session, eq.enterprises_select(f, scope=ALL, as_of=TODAY)) == [w.plant.id, w.school.id]


def test_polygon_search_agrees_with_shapely(session):
    w = build_world(session)
    triangle = {"type": "Polygon", "coordinates": [[[103.24, 23.49], [103.27, 23.49], [103.25, 23.52],
                                                    [103.24, 23.49]]]}
    f = Filters(polygon=parse_polygon(triangle, max_area_deg2=400))
    poly = shape(triangle)
    expected = sorted(getattr(w, k).id for k, p in World.POINTS.items() if poly.intersects(Point(p)))
    assert expected  # the fixture puts the plant and the school inside
    assert sorted(ids(session, eq.enterprises_select(f, scope=ALL, as_of=TODAY))) == expected


def test_hazard_filters(session):
    w = build_world(session)
    def hz(args):
        f = parse_filters(args, max_bbox_area_deg2=400)
        return ids(session, hazards_select(f, scope=ALL, as_of=TODAY))
    assert hz({"overdue": "true"}) == [w.h_major_overdue.id]
    assert hz({"overdue": "false"}) == [w.h_general_open.id, w.h_closed.id, w.h_school.id]
    assert hz({"hazard_level": "重大"}) == [w.h_major_overdue.id]
    assert hz({"hazard_state": "registered,已验收销号"}) == [w.h_general_open.id, w.h_closed.id, w.h_school.id]
    assert hz({"month": "2026-02"}) == [w.h_closed.id, w.h_school.id]
    assert hz({"hazard_source": "挂牌督办"}) == [w.h_major_overdue.id]
    assert hz({"q": "灭火器"}) == [w.h_school.id]
    # the school's hazard has its own point just east of the school; the others sit on their enterprise
    assert hz({"bbox": "103.2570,23.5000,103.2575,23.5005"}) == [w.h_school.id]
    row = session.execute(hazards_select(Filters(), scope=ALL, as_of=TODAY)).first()
    assert row.id == w.h_major_overdue.id and row.overdue and row.overdue_days == 14  # 1 → 15 March
    # enterprises with an overdue hazard
    f = parse_filters({"overdue": "1"}, max_bbox_area_deg2=400)
    assert ids(session, eq.enterprises_select(f, scope=ALL, as_of=TODAY)) == [w.plant.id]


def test_risk_points_filter_by_their_own_grade(session):
    w = build_world(session)
    f = parse_filters({"grade": "黄"}, max_bbox_area_deg2=400)
    rows = session.execute(risk_points_select(f, scope=ALL)).all()
    assert sorted(r.name for r in rows) == ["机修车间", "燃气管线"]
    assert {r.enterprise_id for r in rows} == {w.plant.id, w.market.id}


def test_enterprise_and_hazard_detail(session):
    w = build_world(session)
    d = eq.enterprise_detail(session, w.plant.id, scope=ALL, as_of=TODAY)
    assert (d["grade"], d["grade_name"], d["industry_name"]) == (1, "重大风险", "危险化学品")
    assert [rp["name"] for rp in d["risk_points"]] == ["液氯储罐区", "机修车间"]
    assert [(h["id"], h["overdue_days"]) for h in d["open_hazards"]] == [(w.h_major_overdue.id, 14),
                                                                         (w.h_general_open.id, 0)]
    h = hazard_detail(session, w.h_closed.id, scope=ALL, as_of=TODAY)
    assert h["state_name"] == "已验收销号" and [e["to_state"] for e in h["events"]] == ["registered"]
    with pytest.raises(NotFound):
        eq.enterprise_detail(session, w.plant.id, scope=Scope(enterprise_id=w.mill.id), as_of=TODAY)


def test_region_lookup(session):
    build_world(session)
    assert [r["code"] for r in lookup(session, 103.7, 23.6, scope=ALL)] == ["532502", "532500", "530000"]
    assert lookup(session, 110.0, 30.0, scope=ALL) == []
    # Another county's regulator sees only the regions above its own county there.
    assert [r["code"] for r in lookup(session, 103.7, 23.6, scope=Scope(region="532501"))] == ["532500", "530000"]


@pytest.mark.parametrize("args,parameter", [
    ({"bbox": "104,23,103,24"}, "bbox"),          # inverted
    ({"bbox": "70,0,130,50"}, "bbox"),            # 3000 square degrees > 400
    ({"bbox": "103,23,104"}, "bbox"),
    ({"bbox": "103,23,104,abc"}, "bbox"),
    ({"bbox": "103,23,190,24"}, "bbox"),
    ({"grade": "purple"}, "grade"),
    ({"industry": "nuclear"}, "industry"),
    ({"hazard_state": "lost"}, "hazard_state"),
    ({"hazard_level": "medium"}, "hazard_level"),
    ({"region": "53"}, "region"),
    ({"overdue": "maybe"}, "overdue"),
    ({"month": "2026-13"}, "month"),
    ({"found_from": "yesterday"}, "found_from"),
])
def test_bad_filters_name_the_parameter(args, parameter):
    with pytest.raises(InvalidParameter) as info:
        parse_filters(args, max_bbox_area_deg2=400)
    assert info.value.extra["parameter"] == parameter


def test_bad_polygons():
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    with pytest.raises(InvalidParameter, match="自相交"):
        parse_polygon(bowtie, max_area_deg2=400)
    with pytest.raises(InvalidParameter, match="Polygon"):
        parse_polygon({"type": "Point", "coordinates": [0, 0]}, max_area_deg2=400)
    with pytest.raises(InvalidParameter, match="解析"):
        parse_polygon({"type": "Polygon", "coordinates": [[[0, 0], [1]]]}, max_area_deg2=400)
    with pytest.raises(InvalidParameter, match="经纬度"):
        parse_polygon({"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [0, 1], [0, 0]]]}, max_area_deg2=1e9)
    with pytest.raises(InvalidBBox):
        parse_filters({"bbox": "1,1,1,1"}, max_bbox_area_deg2=400)

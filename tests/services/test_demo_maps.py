"""The demo's drawn 四色图: about 30 enterprises with a layout image and zones of every grade.

Loaded once into a database of its own (committed, like ``make run``) with 400
enterprises; then loaded again, which adds no map.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.orm import Session

from geo_service import db
from geo_service.services import demo, demo_maps

TODAY = dt.date(2026, 11, 24)
SEED = 7


@pytest.fixture(scope="module")
def demo_db(make_database, tmp_path_factory):
    url = make_database()
    uploads = tmp_path_factory.mktemp("demo-uploads")
    engine = db.make_engine(url)
    with Session(engine) as session:
        demo.load(session, today=TODAY, seed=SEED, n_enterprises=400, upload_dir=uploads)
        session.commit()
        demo.load(session, today=TODAY, seed=SEED, n_enterprises=400, upload_dir=uploads)
        session.commit()
    yield engine, uploads
    engine.dispose()


def rows(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def test_about_thirty_enterprises_have_a_drawn_map(demo_db):
    engine, uploads = demo_db
    drawn = rows(engine, "SELECT enterprise_id, count(*), array_agg(DISTINCT grade ORDER BY grade),"
                         " bool_and(ST_IsValid(geom)) FROM risk_zone GROUP BY enterprise_id")
    assert len(drawn) == demo_maps.DEMO_MAPS  # and the second load added none
    for _eid, n, grades, valid in drawn:
        assert n == 6 and grades == [1, 2, 3, 4] and valid
    layouts = rows(engine, "SELECT l.sha256, l.stored_path, l.width_px, l.height_px,"
                           " ST_Distance(geography(l.footprint), geography(e.geom)) FROM enterprise_layout l"
                           " JOIN enterprise e ON e.id = l.enterprise_id")
    assert len(layouts) == demo_maps.DEMO_MAPS
    for sha, path, w, h, distance in layouts:
        data = (uploads / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha
        with Image.open(uploads / path) as img:
            assert img.size == (w, h)
        assert distance == 0  # the layout lies over the enterprise's point
    # every zone lies on its layout, and a zone holding risk points has their highest grade
    outside = rows(engine, "SELECT count(*) FROM risk_zone z JOIN enterprise_layout l USING (enterprise_id)"
                           " WHERE NOT ST_Covers(l.footprint, z.geom)")
    assert outside == [(0,)]
    wrong = rows(engine, "SELECT count(*) FROM risk_zone z WHERE grade_auto IS DISTINCT FROM"
                         " (SELECT min(grade) FROM risk_point WHERE zone_id = z.id)")
    assert wrong == [(0,)]
    # industries with a plant of their own are among them (tank farms, kilns, mines …)
    names = {r[0] for r in rows(engine, "SELECT name FROM risk_zone")}
    assert len(names & {"液氯罐区", "回转窑", "炸药库", "煤气柜", "储气罐区", "药物混合工房", "瓦斯抽放站"}) >= 2


def test_the_plan_is_deterministic():
    a = demo_maps.plan(random.Random(3), "hazchem", "演示化工")
    b = demo_maps.plan(random.Random(3), "hazchem", "演示化工")
    c = demo_maps.plan(random.Random(4), "hazchem", "演示化工")
    assert a == b and a[1] != c[1]
    assert [z.name for z in a[1]][:2] == ["液氯罐区", "合成车间"] and [z.grade for z in a[1]] == [1, 2, 3, 4, 4, 4]


def test_the_maps_were_drawn_before_this_month(demo_db):
    """Every zone and layout dates from before TODAY's month, after its enterprise's risk points;
    last month's map of zones (their grades as of October's end) shows each zone with the grade
    it has now (no drawn enterprise was re-assessed since)."""
    engine, _ = demo_db
    month_start = "2026-11-01 00:00+08"
    late = rows(engine, f"SELECT count(*) FROM risk_zone WHERE created_at >= '{month_start}'")
    before_points = rows(engine, "SELECT count(*) FROM risk_zone z JOIN risk_point r ON r.zone_id = z.id"
                                 " WHERE z.created_at < r.created_at")
    layouts = rows(engine, "SELECT count(*) FROM enterprise_layout l JOIN risk_zone z USING (enterprise_id)"
                           " WHERE l.created_at <> z.created_at")
    assert late == [(0,)] and before_points == [(0,)] and layouts == [(0,)]
    then = rows(engine, "SELECT z.id, z.grade, a.grade FROM risk_zone z LEFT JOIN"
                        f" risk_zone_grade_as_of('{month_start}') a ON a.zone_id = z.id")
    assert len(then) == demo_maps.DEMO_MAPS * 6
    assert all(now == was for _zid, now, was in then)

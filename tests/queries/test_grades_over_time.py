"""四色动态: every grade change is an event with its time and actor, grades can be
read "as of" the end of a month, and the 待复核等级 queue."""

from __future__ import annotations

import datetime as dt
import io

from helpers import credit_code
from sqlalchemy import select as sa_select
from sqlalchemy import text

from geo_service.domain import Actor
from geo_service.queries import dual_prevention as dp
from geo_service.queries.scope import ALL
from geo_service.services import inspections, register

CST = dt.timezone(dt.timedelta(hours=8))
ASSESSOR = Actor("评估员甲", None, "regulator")
REVIEWER = Actor("复核员乙", None, "regulator")


def _enterprise(session, n: int, name: str) -> int:  # type: ignore[no-untyped-def]
    return session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
        " (:c, :n, 'hazchem', ST_SetSRID(ST_MakePoint(100.5, 20.5), 4326)) RETURNING id"),
        {"c": credit_code(n, "539901"), "n": name}).scalar_one()


def test_the_grade_as_of_last_month_differs_after_a_change_this_month(session):  # type: ignore[no-untyped-def]
    eid = _enterprise(session, 21, "戊化工")
    rp = register.create_risk_point(session, eid, {"name": "氯乙烯储罐", "grade": 3}, ASSESSOR, scope=ALL)
    # The assessment was made 40 days ago (history is stamped by the triggers; move it back).
    now = dt.datetime.now(CST)
    session.execute(text("UPDATE grade_event SET at = at - interval '40 days' WHERE enterprise_id = :e"), {"e": eid})
    # This month the unit is re-assessed 红.
    register.update_risk_point(session, rp.id, {"grade": 1}, REVIEWER, scope=ALL, expected_version=1)
    end_of_last_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = {r.id: (r.grade_then, r.grade_now)
            for r in session.execute(dp.grades_as_of(ALL, at=end_of_last_month))}
    assert rows[eid] == (3, 1)
    assert {r.id: r.grade_then for r in session.execute(dp.grades_as_of(ALL, at=now + dt.timedelta(seconds=5)))}[
        eid] == 1
    events = session.execute(text(
        "SELECT kind, from_grade, to_grade, actor FROM grade_event WHERE enterprise_id = :e"
        " ORDER BY from_grade IS NOT NULL, kind"),
        {"e": eid}).all()
    assert [tuple(e) for e in events] == [
        ("enterprise", None, 3, "评估员甲"), ("enterprise_auto", None, 3, "评估员甲"),
        ("risk_point", None, 3, "评估员甲"),
        ("enterprise", 3, 1, "复核员乙"), ("enterprise_auto", 3, 1, "复核员乙"), ("risk_point", 3, 1, "复核员乙")]
    # An override is its own event, and changes the effective grade.
    register.update_enterprise(session, eid, {"grade_override": 2, "grade_override_note": "百分制诊断"},
                               REVIEWER, scope=ALL, expected_version=1)
    last = session.execute(text(
        "SELECT kind, from_grade, to_grade FROM grade_event WHERE enterprise_id = :e ORDER BY id DESC LIMIT 2"),
        {"e": eid}).all()
    assert [tuple(e) for e in last] == [("enterprise", 1, 2), ("enterprise_override", None, 2)]
    # before the enterprise existed it had no grade
    long_ago = dt.datetime(2020, 1, 1, tzinfo=CST)
    assert {r.id: r.grade_then for r in session.execute(dp.grades_as_of(ALL, at=long_ago))}[eid] is None


def test_review_queue(session, tmp_path):  # type: ignore[no-untyped-def]
    major = _enterprise(session, 22, "己化工")   # an open 重大隐患
    red = _enterprise(session, 23, "庚化工")     # an 异常 on a 重大 (红) unit
    yellow = _enterprise(session, 24, "辛化工")  # an 异常 on a 黄 unit: not queued
    quiet = _enterprise(session, 25, "壬化工")   # a closed 重大隐患 only: not queued
    session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, state, resp_person, measures,"
        " funds_wan, emergency_plan, deadline, rectified_on, verified_on, verifier) VALUES"
        " (:a, '储罐区未设紧急切断', 'major', 'inspection', '2026-10-01', 'registered', NULL, NULL, NULL, NULL,"
        "  NULL, NULL, NULL, NULL),"
        " (:q, '反应釜未设联锁', 'major', 'inspection', '2026-09-01', 'closed', '李', '加装', 1, '预案',"
        "  '2026-10-01', '2026-09-20', '2026-09-25', '王')"), {"a": major, "q": quiet})
    for eid, grade in ((red, 1), (yellow, 3)):
        rp = session.execute(text("INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, '单元', :g)"
                                  " RETURNING id"), {"e": eid, "g": grade}).scalar_one()
        ev = inspections.create_event(session, rp, {"name": "泄漏", "accident_type": "火灾", "grade": grade},
                                      Actor("导入"), scope=ALL)
        me = inspections.create_measure(session, ev.id, {"description": "报警器完好", "kind": "工程技术",
                                                         "level": "岗位"}, Actor("导入"), scope=ALL)
        task = inspections.create_task(session, me.id, {"content": "巡检", "cycle_n": 1, "cycle_unit": "天",
                                                        "starts_on": "2026-10-01"}, Actor("导入"), scope=ALL)
        inspections.record_inspection(session, task.id, "异常", Actor("操作工"), scope=ALL,
                                      photo=io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"x" * 20), upload_dir=tmp_path,
                                      at=dt.datetime(2026, 10, 5, 9, tzinfo=CST))
    queue = {r["name"]: (r["open_major"], r["abnormal_on_red"])
             for r in session.execute(dp.review_queue(ALL)).mappings()}
    assert queue == {"己化工": (1, 0), "庚化工": (0, 1)}
    assert "辛化工" not in queue and "壬化工" not in queue and yellow and quiet


def test_grade_changes_month_over_month(session):  # type: ignore[no-untyped-def]
    # 癸化工 graded 黄 in August, raised to 橙 in September; 子化工 graded 蓝 in August, unchanged
    changed = _enterprise(session, 26, "癸化工")
    steady = _enterprise(session, 27, "子化工")
    rp = register.create_risk_point(session, changed, {"name": "粉尘爆炸区", "grade": 3}, ASSESSOR, scope=ALL)
    register.create_risk_point(session, steady, {"name": "仓库", "grade": 4}, ASSESSOR, scope=ALL)
    session.execute(text("UPDATE grade_event SET at = '2026-08-10 10:00+08' WHERE enterprise_id IN (:a, :b)"),
                    {"a": changed, "b": steady})
    register.update_risk_point(session, rp.id, {"grade": 2}, REVIEWER, scope=ALL, expected_version=1)
    session.execute(text("UPDATE grade_event SET at = '2026-09-20 10:00+08'"
                         " WHERE enterprise_id = :a AND from_grade IS NOT NULL"), {"a": changed})
    rows = {r.id: (r.grade_before, r.grade_after)
            for r in session.execute(dp.grade_changes(ALL, month=dt.date(2026, 9, 1)))}
    assert rows[changed] == (3, 2) and steady not in rows
    # August: both appear for the first time (ungraded → graded)
    rows = {r.id: (r.grade_before, r.grade_after)
            for r in session.execute(dp.grade_changes(ALL, month=dt.date(2026, 8, 1)))}
    assert rows[changed] == (None, 3) and rows[steady] == (None, 4)
    # October: nothing changed
    assert not {changed, steady} & {r.id for r in session.execute(dp.grade_changes(ALL, month=dt.date(2026, 10, 1)))}


def test_every_zone_grade_change_is_an_event(session):  # type: ignore[no-untyped-def]
    """Migration 0017: a zone's creation, the grade its risk points give it, an explicit grade
    and its deletion are events of kind ``zone`` with their actor; ``zone_grade_at`` reads them."""
    from geo_service.services import zones

    eid = _enterprise(session, 28, "丑化工")
    rp = register.create_risk_point(session, eid, {"name": "液氨储罐", "grade": 3}, ASSESSOR, scope=ALL)
    square = {"type": "Polygon", "coordinates": [[[100.5, 20.5], [100.501, 20.5], [100.501, 20.501],
                                                  [100.5, 20.501], [100.5, 20.5]]]}
    w = zones.create_zone(session, eid, {"name": "氨区", "geometry": square, "risk_point_ids": [rp.id]}, ASSESSOR,
                          scope=ALL, max_distance_m=2000)
    zones.update_zone(session, w.zone.id, {"grade": "红"}, REVIEWER, scope=ALL, expected_version=1,
                      max_distance_m=2000)
    rows = session.execute(text(
        "SELECT from_grade, to_grade, actor FROM grade_event WHERE kind = 'zone' AND zone_id = :z ORDER BY id"),
        {"z": w.zone.id}).all()
    # drawn ungraded, 黄 from its risk point, then set 红 by the reviewer
    assert [tuple(r) for r in rows] == [(None, None, "评估员甲"), (None, 3, "评估员甲"), (3, 1, "复核员乙")]
    before_override = session.execute(text(
        "SELECT at FROM grade_event WHERE kind = 'zone' AND zone_id = :z AND to_grade = 1"), {"z": w.zone.id}
    ).scalar_one() - dt.timedelta(microseconds=1)
    at_then = session.execute(sa_select(dp.zone_grade_at(before_override, w.zone.id))).scalar_one()
    assert at_then == 3
    zones.delete_zone(session, w.zone.id, REVIEWER, scope=ALL, expected_version=2)
    last = session.execute(text(
        "SELECT from_grade, to_grade FROM grade_event WHERE kind = 'zone' ORDER BY id DESC LIMIT 1")).one()
    assert tuple(last) == (1, None)

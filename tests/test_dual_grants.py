"""The application role and the 双重预防 tables: it records inspections (and the
triggers keep the tallies with its rights), but cannot rewrite the records,
the grade events or the 一单四制 steps."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError


def test_app_role_records_but_never_rewrites(make_database):  # type: ignore[no-untyped-def]
    url = make_database()
    owner = create_engine(url)
    with owner.begin() as conn:
        eid = conn.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES ('91539901MA00000002',"
            " '测试化工', 'hazchem', ST_SetSRID(ST_MakePoint(100.25, 20.75), 4326)) RETURNING id")).scalar_one()
        rp = conn.execute(text("INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, '罐区', 2)"
                               " RETURNING id"), {"e": eid}).scalar_one()
        ev = conn.execute(text("INSERT INTO risk_event (enterprise_id, risk_point_id, name, accident_type, grade)"
                               " VALUES (:e, :r, '泄漏', '火灾', 2) RETURNING id"), {"e": eid, "r": rp}).scalar_one()
        me = conn.execute(text("INSERT INTO control_measure (enterprise_id, event_id, description, kind, level)"
                               " VALUES (:e, :v, '报警器完好', 'engineering', 'team') RETURNING id"),
                          {"e": eid, "v": ev}).scalar_one()
        task = conn.execute(text(
            "INSERT INTO inspection_task (enterprise_id, measure_id, content, cycle_n, cycle_unit, starts_on)"
            " VALUES (:e, :m, '巡检', 1, 'day', '2026-10-01') RETURNING id"), {"e": eid, "m": me}).scalar_one()
        hz = conn.execute(text("INSERT INTO hazard (enterprise_id, description, level, source, found_on)"
                               " VALUES (:e, '罐区未设切断', 'major', 'inspection', '2026-10-01') RETURNING id"),
                          {"e": eid}).scalar_one()
    owner.dispose()
    app = create_engine(make_url(url).set(username="geo_app").render_as_string(hide_password=False))
    with app.begin() as conn:
        conn.execute(text("INSERT INTO inspection_record (task_id, person, result, recorded_at)"
                          " VALUES (:t, '张三', 'normal', '2026-10-05 09:00+08')"), {"t": task})
        conn.execute(text("INSERT INTO major_action (hazard_id, kind, actor, assignee, due_on)"
                          " VALUES (:h, 'assign', '科员', '危化科', '2026-10-30')"), {"h": hz})
        conn.execute(text("UPDATE risk_point SET grade = 1 WHERE id = :r"), {"r": rp})  # a grade event
        assert conn.execute(text("SELECT done FROM task_tally WHERE enterprise_id = :e"), {"e": eid}).scalar_one() == 1
        # pausing the task (the only column it may change) ends it in the mix too, with the owner's rights
        conn.execute(text("UPDATE inspection_task SET active = false WHERE id = :t"), {"t": task})
        ended = conn.execute(text("SELECT ended_on FROM inspection_task WHERE id = :t"), {"t": task}).scalar_one()
        assert conn.execute(text("SELECT ended_on, n FROM task_mix WHERE enterprise_id = :e"),
                            {"e": eid}).all() == [(ended, 1)]
    with app.connect() as conn:
        for sql in ("UPDATE inspection_record SET note = 'x'", "DELETE FROM inspection_record",
                    "UPDATE grade_event SET to_grade = 4", "DELETE FROM major_action"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(sql))
            conn.rollback()
    app.dispose()

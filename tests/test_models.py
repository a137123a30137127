"""The schema's own guarantees: CHECK constraints, the grade trigger, region by
point-in-polygon, the append-only event log.

Geography: 甲县 990101 = 100–101°E × 25–26°N and 乙县 990102 = 101–102°E ×
25–26°N, two squares sharing the 101°E edge.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from geo_service import geo

CODE = "91990101MA00000110"  # valid (checked below)


def square(x0: float) -> str:
    return f"SRID=4326;MULTIPOLYGON((({x0} 25,{x0 + 1} 25,{x0 + 1} 26,{x0} 26,{x0} 25)))"


@pytest.fixture
def world(session):
    session.execute(text(
        "INSERT INTO region (code, name, level, geom) VALUES"
        " ('990101', '甲县', 'county', ST_GeomFromEWKT(:a)), ('990102', '乙县', 'county', ST_GeomFromEWKT(:b))"),
        {"a": square(100), "b": square(101)})
    eid = session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, geom)"
        " VALUES (:c, '甲县机械厂', 'trade.machinery', 'SRID=4326;POINT(100.5 25.5)') RETURNING id"),
        {"c": CODE}).scalar()
    session.info["eid"] = eid
    return session


def fails(session, sql: str, match: str, **params) -> None:
    """``sql`` is refused with an error matching ``match``; the test transaction survives."""
    nested = session.begin_nested()
    with pytest.raises((IntegrityError, DBAPIError), match=match):
        session.execute(text(sql), params)
    nested.rollback()


def hazard_sql(**over: str) -> str:
    cols = {"enterprise_id": ":eid", "description": "'x'", "level": "'general'", "source": "'self'",
            "found_on": "'2026-01-05'", "state": "'registered'"}
    cols.update(over)
    return f"INSERT INTO hazard ({', '.join(cols)}) VALUES ({', '.join(cols.values())})"


def test_fixture_code_is_valid():
    assert geo.credit_code_valid(CODE)


def test_region_assigned_by_point_in_polygon(world):
    # 机械厂 (100.5, 25.5) lies in 甲县; a shop at (101.5, 25.5) in 乙县; one at (105, 25.5) in neither
    assert world.execute(text("SELECT region_code FROM enterprise WHERE id = :e"), {"e": world.info["eid"]}).scalar() == "990101"
    for code, lng, expected in (("91990102MA0000033N", 101.5, "990102"), ("91990101MA0000055G", 105.0, None)):
        got = world.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom)"
            " VALUES (:c, 's', 'trade.commerce', ST_SetSRID(ST_MakePoint(:lng, 25.5), 4326)) RETURNING region_code"),
            {"c": code, "lng": lng}).scalar()
        assert got == expected
    # moving the enterprise across the border (region cleared) re-assigns it
    world.execute(text("UPDATE enterprise SET geom = 'SRID=4326;POINT(101.2 25.2)', region_code = NULL WHERE id = :e"),
                  {"e": world.info["eid"]})
    assert world.execute(text("SELECT region_code FROM enterprise WHERE id = :e"), {"e": world.info["eid"]}).scalar() == "990102"


def test_given_region_is_kept(world):
    got = world.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, region_code, geom)"
        " VALUES ('91990102MA0000033N', 's', 'other', '990102', 'SRID=4326;POINT(100.5 25.5)') RETURNING region_code"
    )).scalar()
    assert got == "990102"


def test_grade_trigger_sets_clears_and_override_wins(world):
    eid = world.info["eid"]

    def grades():
        return tuple(world.execute(text("SELECT grade_auto, grade_override, grade FROM enterprise WHERE id = :e"),
                                   {"e": eid}).one())

    assert grades() == (None, None, None)
    world.execute(text("INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, 'a', 3), (:e, 'b', 4)"),
                  {"e": eid})
    assert grades() == (3, None, 3)  # the highest of 黄 and 蓝
    world.execute(text("UPDATE risk_point SET grade = 2 WHERE name = 'b' AND enterprise_id = :e"), {"e": eid})
    assert grades() == (2, None, 2)
    world.execute(text("UPDATE enterprise SET grade_override = 4 WHERE id = :e"), {"e": eid})
    assert grades() == (2, 4, 4)  # the regulator's grade wins, the computed one is kept
    world.execute(text("UPDATE enterprise SET grade_override = NULL WHERE id = :e"), {"e": eid})
    world.execute(text("DELETE FROM risk_point WHERE name = 'b' AND enterprise_id = :e"), {"e": eid})
    assert grades() == (3, None, 3)
    world.execute(text("DELETE FROM risk_point WHERE enterprise_id = :e"), {"e": eid})
    assert grades() == (None, None, None)


def test_grade_constraints(world):
    eid = world.info["eid"]
    fails(world, "INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:eid, 'x', 5)", "ck_risk_point_grade",
          eid=eid)
    fails(world, "INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:eid, 'x', 0)", "ck_risk_point_grade",
          eid=eid)
    fails(world, "UPDATE enterprise SET grade_override = 5 WHERE id = :eid", "ck_enterprise_grade_override", eid=eid)
    fails(world, "INSERT INTO risk_point (enterprise_id, name, grade, method) VALUES (:eid, 'x', 1, 'GUESS')",
          "ck_risk_point_method", eid=eid)
    world.execute(text("INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, 'x', 1)"), {"e": eid})
    fails(world, "INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:eid, 'x', 2)",
          "uq_risk_point_enterprise_name", eid=eid)


def test_enterprise_constraints(world):
    fails(world, "INSERT INTO enterprise (credit_code, name, industry_code, geom)"
                 " VALUES ('91990101MA0000011O', 'x', 'other', 'SRID=4326;POINT(100.5 25.5)')",
          "ck_enterprise_credit_code")  # O is not in the charset
    fails(world, "INSERT INTO enterprise (credit_code, name, industry_code, geom)"
                 " VALUES (:c, 'x', 'other', 'SRID=4326;POINT(100.5 25.5)')", "enterprise_credit_code_key", c=CODE)
    fails(world, "INSERT INTO enterprise (credit_code, name, industry_code, geom)"
                 " VALUES ('91990102MA0000033N', 'x', 'farming', 'SRID=4326;POINT(100.5 25.5)')",
          "industry_code_fkey")


def test_hazard_state_level_source_constraints(world):
    eid = world.info["eid"]
    fails(world, hazard_sql(state="'done'"), "ck_hazard_state", eid=eid)
    fails(world, hazard_sql(level="'huge'"), "ck_hazard_level", eid=eid)
    fails(world, hazard_sql(source="'rumour'"), "ck_hazard_source", eid=eid)
    fails(world, hazard_sql(funds_wan="-1"), "ck_hazard_funds", eid=eid)


def test_closed_needs_verifier_and_date(world):
    eid = world.info["eid"]
    fails(world, hazard_sql(state="'closed'", verified_on="'2026-01-09'"), "ck_hazard_closed_verified", eid=eid)
    fails(world, hazard_sql(state="'closed'", verifier="'李四'"), "ck_hazard_closed_verified", eid=eid)
    world.execute(text(hazard_sql(state="'closed'", verifier="'李四'", verified_on="'2026-01-09'")), {"eid": eid})


def test_major_beyond_registered_needs_the_five_measures(world):
    eid = world.info["eid"]
    five = {"resp_person": "'张三'", "measures": "'m'", "funds_wan": "10", "deadline": "'2026-03-01'",
            "emergency_plan": "'p'"}
    world.execute(text(hazard_sql(level="'major'", description="'registered ok'")), {"eid": eid})
    for missing in five:
        partial = {k: v for k, v in five.items() if k != missing}
        fails(world, hazard_sql(level="'major'", state="'rectifying'", **partial), "ck_hazard_major_five", eid=eid)
    world.execute(text(hazard_sql(level="'major'", state="'rectifying'", **five)), {"eid": eid})


def test_supervised_needs_a_document_number(world):
    eid = world.info["eid"]
    fails(world, hazard_sql(source="'supervised'"), "ck_hazard_supervised_doc", eid=eid)
    world.execute(text(hazard_sql(source="'supervised'", supervision_doc_no="'甲安委办督〔2026〕1号'")), {"eid": eid})


def test_hazard_event_is_append_only(world):
    eid = world.info["eid"]
    hid = world.execute(text(hazard_sql() + " RETURNING id"), {"eid": eid}).scalar()
    world.execute(text("INSERT INTO hazard_event (hazard_id, actor, to_state, at) VALUES (:h, '张三', 'registered', :at)"),
                  {"h": hid, "at": dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)})
    fails(world, "UPDATE hazard_event SET note = 'edited' WHERE hazard_id = :h", "append-only: UPDATE refused", h=hid)
    fails(world, "DELETE FROM hazard_event WHERE hazard_id = :h", "append-only: DELETE refused", h=hid)
    fails(world, "TRUNCATE hazard_event CASCADE", "append-only: TRUNCATE refused")
    # and a hazard with history cannot be deleted out from under it
    fails(world, "DELETE FROM hazard WHERE id = :h", "hazard_event_hazard_id_fkey", h=hid)
    assert world.execute(text("SELECT count(*) FROM hazard_event WHERE hazard_id = :h"), {"h": hid}).scalar() == 1

"""The monthly return from the tallies (migration 0020) equals the return from the register.

``compute_return(..., tallies=True)`` (the default) counts the enterprises from
``activity_tally``, the 重大 columns from the 重大 hazards and red risk points only, and the
month's changes from the date indexes; ``tallies=False`` reads the register itself.  Every
figure of the return — province, prefecture and both counties, a past month and the running
one — must be the same after each kind of change.  The world is ``world.py`` (个旧市 532501
west of 103.5 E: the plant, the school, the market and the shop; 开远市 532502: the mill),
with dated hazards and assessments added here.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from helpers import committed_database, wait_for
from queries.world import build_world
from sqlalchemy import create_engine, text

from geo_service.models import Hazard, RiskPoint
from geo_service.queries import metrics
from geo_service.queries.scope import ALL, Scope
from geo_service.services.statistics import compute_return

OCT = metrics.period(2026, 10)
NOV = metrics.period(2026, 11)  # the running month when these tests were written (the clock's month too)
JAN = metrics.period(2026, 1)
DEC_2025 = metrics.period(2025, 12)
PERIODS = (OCT, NOV, JAN, DEC_2025)
CODES = ("530000", "532500", "532501")


def returns(session, scope=ALL) -> list[tuple[Any, Any]]:  # type: ignore[no-untyped-def]
    """(tallied, register) for each region and month."""
    return [(compute_return(session, code, p, scope=scope), compute_return(session, code, p, scope=scope,
                                                                          tallies=False))
            for code in CODES for p in PERIODS]


def assert_same(session, scope=ALL) -> None:  # type: ignore[no-untyped-def]
    session.flush()
    for tallied, register in returns(session, scope):
        assert tallied == register, (tallied["region"]["code"], tallied["period"])


def figure(session, code: str, period: metrics.Period, *path: str) -> Any:  # type: ignore[no-untyped-def]
    value: Any = compute_return(session, code, period, scope=ALL)["regions"][0]
    for key in path:
        value = value[key]
    return value


def tally_rows(session) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    return (session.execute(text("SELECT * FROM enterprise_activity ORDER BY 1, 2, 3")).all(),
            session.execute(text("SELECT * FROM activity_tally ORDER BY 1, 2, 3, 4, 5")).all())


def hazard(session, enterprise_id: int, description: str, found: str, **kw: Any) -> Hazard:  # type: ignore[no-untyped-def]
    h = Hazard(enterprise_id=enterprise_id, description=description, found_on=dt.date.fromisoformat(found),
               **{"level": "general", "source": "self", "state": "registered", **kw})
    session.add(h)
    session.flush()
    return h


FIVE = dict(resp_person="李四", measures="整改", funds_wan=3, emergency_plan="预案")


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    w = build_world(session)
    # assessments this year and last (the world's units have no date: never counted)
    session.execute(text("UPDATE risk_point SET assessed_on = '2026-10-12' WHERE enterprise_id = :e"),
                    {"e": w.plant.id})
    session.execute(text("UPDATE risk_point SET assessed_on = '2026-03-02' WHERE enterprise_id = :e"),
                    {"e": w.mill.id})
    session.execute(text("UPDATE risk_point SET assessed_on = '2025-12-20' WHERE enterprise_id = :e"),
                    {"e": w.market.id})
    # hazards over the year: October, the month boundary, November, last December
    hazard(session, w.mill.id, "煤气管道泄漏", "2026-10-31", level="major", source="inspection",
           deadline=dt.date(2026, 11, 10), state="rectifying", **FIVE)
    hazard(session, w.mill.id, "行车限位失效", "2026-11-01", level="major", source="self", state="registered")
    hazard(session, w.market.id, "燃气软管老化", "2026-10-05", deadline=dt.date(2026, 10, 20))
    hazard(session, w.school.id, "楼梯扶手松动", "2025-12-15", level="major", source="self",
           deadline=dt.date(2026, 1, 10), state="closed", verified_on=dt.date(2026, 1, 8), verifier="王五",
           **FIVE)
    session.flush()
    return w


def test_the_tallied_return_equals_the_register_after_each_change(session, world):  # type: ignore[no-untyped-def]
    assert_same(session)
    # hand check: October's item 13 — enterprises with a hazard found in 2026 by 31 October are
    # the plant (Jan, Mar), the mill (Feb, 31 Oct), the school (Feb) and the market (5 Oct)
    assert figure(session, "532500", OCT, "form000", "item13", "enterprises") == 4
    # and item 12: the plant's two units assessed on 12 October, the mill's in March
    assert figure(session, "532500", OCT, "form000", "item12", "enterprises") == 2
    assert figure(session, "532500", OCT, "form000", "item12", "major_risks") == 1

    # inserts, among them one by the application's own role (the owner's triggers keep the tally)
    session.execute(text("SET ROLE geo_app"))
    session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, state, supervision_doc_no,"
        " deadline, resp_person, measures, funds_wan, emergency_plan)"
        " VALUES (:e, '储罐区防雷检测过期', 'major', 'supervised', '2026-10-20', 'rectifying', '红安督〔2026〕9号',"
        " '2026-11-05', '赵六', '检测', 1, '预案')"), {"e": world.shop.id})
    session.execute(text("RESET ROLE"))
    h_oct = hazard(session, world.school.id, "围墙开裂", "2026-10-03", deadline=dt.date(2026, 10, 30))
    session.add(RiskPoint(enterprise_id=world.shop.id, name="仓库", grade=1, assessed_on=dt.date(2026, 10, 1)))
    assert_same(session)
    assert figure(session, "532500", OCT, "form000", "item13", "enterprises") == 5

    # grade changes now, after October's end: October keeps its grades, November takes the new ones
    session.execute(text("UPDATE risk_point SET grade = 3 WHERE enterprise_id = :e AND grade = 1"),
                    {"e": world.plant.id})
    session.execute(text("UPDATE risk_point SET grade = 1 WHERE enterprise_id = :e"), {"e": world.mill.id})
    assert_same(session)
    assert figure(session, "532500", OCT, "form000", "item12", "major_risks") == 2  # plant + shop then
    assert figure(session, "532500", NOV, "form000", "item12", "major_risks") == 2  # mill + shop now

    # state changes: signed off in October, then reopened; rectifying, closed in November
    session.execute(text("UPDATE hazard SET state = 'closed', verified_on = '2026-10-25', verifier = '王五'"
                         " WHERE description = '煤气管道泄漏'"))
    assert_same(session)
    session.execute(text("UPDATE hazard SET state = 'rectifying', verified_on = NULL, verifier = NULL"
                         " WHERE description = '煤气管道泄漏'"))
    session.execute(text("UPDATE hazard SET state = 'closed', verified_on = '2026-11-03', verifier = '王五'"
                         " WHERE id = :id"), {"id": h_oct.id})
    assert_same(session)

    # the month boundary: a hazard moved from 31 October to 1 November, and one to last year
    session.execute(text("UPDATE hazard SET found_on = '2026-11-01' WHERE description = '燃气软管老化'"))
    session.execute(text("UPDATE hazard SET found_on = '2025-12-31' WHERE id = :id"), {"id": world.h_school.id})
    assert_same(session)

    # moves: an enterprise to the other county, another to another industry, a hazard to another enterprise
    session.execute(text("UPDATE enterprise SET region_code = '532502' WHERE id = :id"), {"id": world.plant.id})
    session.execute(text("UPDATE enterprise SET industry_code = 'gas' WHERE id = :id"), {"id": world.market.id})
    session.execute(text("UPDATE hazard SET enterprise_id = :to WHERE id = :id"),
                    {"to": world.shop.id, "id": h_oct.id})
    assert_same(session)

    # deletes: a hazard, a risk point, an enterprise with its hazards and units (cascade)
    session.execute(text("DELETE FROM hazard WHERE description = '行车限位失效'"))
    session.execute(text("DELETE FROM risk_point WHERE enterprise_id = :e AND grade = 3"), {"e": world.plant.id})
    session.execute(text("DELETE FROM enterprise WHERE id = :id"), {"id": world.shop.id})
    assert_same(session)
    # October: the plant (Jan, Mar) and the mill (Feb, 31 Oct); the school's and the market's
    # hazards were moved out of 2026 / into November above
    assert figure(session, "532500", OCT, "form000", "item13", "enterprises") == 2

    # a county's account sees the same figures either way
    assert_same(session, Scope(region="532501"))
    assert_same(session, Scope(region="532502"))

    # what the triggers kept equals a rebuild from the register
    maintained = tally_rows(session)
    session.execute(text("SELECT activity_tally_rebuild()"))
    assert tally_rows(session) == maintained


def test_an_enterprise_account_reads_the_register(session, world):  # type: ignore[no-untyped-def]
    scope = Scope(enterprise_id=world.mill.id)
    tallied = compute_return(session, "532500", OCT, scope=scope)
    assert tallied == compute_return(session, "532500", OCT, scope=scope, tallies=False)
    assert tallied["regions"][0]["form000"]["item13"]["enterprises"] == 1


def test_the_tally_counts_each_enterprise_once_per_year(session, world):  # type: ignore[no-untyped-def]
    # the mill found hazards on 1 February, 31 October and 1 November 2026: one enterprise, three months
    mill = (1 << 1) | (1 << 9) | (1 << 10)
    rows = session.execute(text(
        "SELECT year, months FROM enterprise_activity WHERE enterprise_id = :e AND kind = 'hazard' ORDER BY 1"),
        {"e": world.mill.id}).all()
    assert [tuple(r) for r in rows] == [(2026, mill)]
    # another hazard in November adds nothing; one in December adds a month, not an enterprise
    count = text("SELECT sum(n) FROM activity_tally WHERE kind = 'hazard' AND year = 2026")
    months = text("SELECT months FROM enterprise_activity WHERE enterprise_id = :e AND kind = 'hazard'"
                  " AND year = 2026")
    before = session.execute(count).scalar_one()
    hazard(session, world.mill.id, "除尘器积灰", "2026-11-20")
    assert session.execute(months, {"e": world.mill.id}).scalar_one() == mill
    hazard(session, world.mill.id, "皮带机防护罩缺失", "2026-12-02")
    assert session.execute(months, {"e": world.mill.id}).scalar_one() == mill | (1 << 11)
    assert session.execute(count).scalar_one() == before


def _activity(conn) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    return (conn.execute(text("SELECT * FROM enterprise_activity ORDER BY 1, 2, 3")).all(),
            conn.execute(text("SELECT * FROM activity_tally ORDER BY 1, 2, 3, 4, 5")).all())


def test_concurrent_writers_of_one_enterprise_both_count(make_database):  # type: ignore[no-untyped-def]
    """Two transactions change hazards of the same enterprise at once: the second waits for
    the first's lock on the enterprise's activity row and then recomputes from what the first
    committed (each recomputing from its own snapshot would lose the other's change).  Three
    races: two new months on an existing row; the same on an enterprise without a row yet (the
    first's placeholder insert makes the second wait); and a hazard added in a month that the
    mask already holds (no change to write, only the lock) while the month's other hazard is
    deleted: the month must stay."""

    def build(s):  # type: ignore[no-untyped-def]
        w = build_world(s)
        june = Hazard(enterprise_id=w.market.id, description="六月隐患", level="general", source="self",
                      found_on=dt.date(2026, 6, 3), state="registered")
        s.add(june)
        s.flush()
        return {"mill": w.mill.id, "shop": w.shop.id, "market": w.market.id, "june": june.id}

    url, ids = committed_database(make_database, build)
    engine = create_engine(url)
    # different states: the hazards share no row of the other tallies (hazard_tally,
    # hazard_cell), so the only lock between the writers is the enterprise's activity row
    insert = text("INSERT INTO hazard (enterprise_id, description, level, source, found_on, state)"
                  " VALUES (:e, :d, 'general', 'self', :f, :s)")
    delete = text("DELETE FROM hazard WHERE id = :id")

    def race(first_sql, first_params, second_sql, second_params) -> None:  # type: ignore[no-untyped-def]
        first = engine.connect()
        tx = first.begin()
        first.execute(first_sql, first_params)
        done = threading.Event()

        def second() -> None:
            with engine.begin() as conn:
                conn.execute(second_sql, second_params)
            done.set()

        worker = threading.Thread(target=second)
        worker.start()

        def waiting() -> bool:
            # a new connection each time: pg_stat_activity is a snapshot per transaction
            with engine.connect() as watch:
                return watch.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND (query LIKE 'INSERT INTO hazard%' OR query LIKE 'DELETE FROM hazard%')")).scalar_one() == 1

        try:
            wait_for(waiting, "the second writer waits", limit_s=20)
            assert not done.is_set()
        finally:
            tx.commit()
            first.close()
            worker.join(30)
        assert done.is_set()

    def months(eid: int) -> int:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT coalesce(max(months), 0) FROM enterprise_activity WHERE enterprise_id = :e"
                " AND kind = 'hazard' AND year = 2026"), {"e": eid}).scalar_one()

    try:
        for eid in (ids["mill"], ids["shop"]):  # the mill has a 2026 row, the shop none
            race(insert, {"e": eid, "d": "甲", "f": "2026-06-01", "s": "registered"},
                 insert, {"e": eid, "d": "乙", "f": "2026-07-01", "s": "rectifying"})
            assert months(eid) & (1 << 5) and months(eid) & (1 << 6)
        race(insert, {"e": ids["market"], "d": "丙", "f": "2026-06-20", "s": "rectifying"},
             delete, {"id": ids["june"]})
        assert months(ids["market"]) & (1 << 5)
        with engine.connect() as conn:
            maintained = _activity(conn)
            conn.execute(text("SELECT activity_tally_rebuild()"))
            assert _activity(conn) == maintained
            conn.rollback()
    finally:
        engine.dispose()

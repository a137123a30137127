"""双重预防 as it runs, on a small hand-built register: completion rates, overdue
tasks, silent enterprises and an 异常 record opening a hazard, against counts
worked out by hand in the comments.

The world (all tasks start on Thursday 2026-10-01, China Standard Time):

* 甲厂 in 甲县 (539901): one unit (橙), one event, one measure and three tasks
  - T1 daily: records on 1–19 October, and a second one on the 5th;
  - T2 weekly (ISO weeks, Monday–Sunday): records on Sat 3 Oct (in the week
    of 28 Sep, which began before the task did: not owed), Tue 6 Oct (week
    5–11 Oct) and Tue 20 Oct (week 19–25 Oct); the week 12–18 Oct is missed;
  - T3 monthly: a record on 15 October.
* 乙厂 in 甲县: one daily task, no record at all (silent).
* 丙厂 in 乙县 (539902): one daily task with a record on every October day.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import pytest
from helpers import credit_code
from sqlalchemy import select, text

from geo_service.domain import Actor
from geo_service.errors import InvalidParameter, NotFound
from geo_service.models import Hazard, HazardEvidence, InspectionRecord
from geo_service.queries import dual_prevention as dp
from geo_service.queries.scope import ALL, Scope
from geo_service.services import inspections

CST = dt.timezone(dt.timedelta(hours=8))
SYSTEM = Actor("测试导入")
JPEG = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 10


def at(day: int, hour: int = 9, month: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=CST)


@dataclass
class World:
    jia: int
    yi: int
    bing: int
    unit: int
    t1: int
    t2: int
    t3: int
    t_yi: int
    t_bing: int


def _enterprise(session, n: int, name: str, region: str, lng: float) -> int:  # type: ignore[no-untyped-def]
    return session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, region_code, geom) VALUES"
        " (:c, :n, 'hazchem', :r, ST_SetSRID(ST_MakePoint(:x, 20.5), 4326)) RETURNING id"),
        {"c": credit_code(n, region), "n": name, "r": region, "x": lng}).scalar_one()


def _chain(session, enterprise_id: int, unit: str, grade: int, tasks: list[tuple[str, int, str]]):  # type: ignore[no-untyped-def]
    rp = session.execute(text("INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, :n, :g) RETURNING id"),
                         {"e": enterprise_id, "n": unit, "g": grade}).scalar_one()
    event = inspections.create_event(session, rp, {"name": f"{unit}泄漏", "accident_type": "中毒和窒息",
                                                   "consequence": "人员中毒", "grade": grade}, SYSTEM, scope=ALL)
    measure = inspections.create_measure(session, event.id, {"description": f"{unit}可燃气体报警器完好",
                                                             "kind": "工程技术", "level": "班组"},
                                         SYSTEM, scope=ALL)
    ids = [inspections.create_task(session, measure.id, {"content": c, "cycle_n": n, "cycle_unit": u,
                                                         "resp_post": "操作工", "starts_on": "2026-10-01"},
                                   SYSTEM, scope=ALL).id for c, n, u in tasks]
    return rp, ids


@pytest.fixture
def world(session) -> World:  # type: ignore[no-untyped-def]
    return build(session)


def build(session) -> World:  # type: ignore[no-untyped-def]
    """The world of the module docstring (the map's tests read it too)."""
    session.execute(text(
        "INSERT INTO region (code, name, level, parent_code, geom) VALUES"
        " ('539900', '测试州', 'prefecture', NULL, ST_Multi(ST_MakeEnvelope(100, 20, 102, 21, 4326))),"
        " ('539901', '甲县', 'county', '539900', ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326))),"
        " ('539902', '乙县', 'county', '539900', ST_Multi(ST_MakeEnvelope(101, 20, 102, 21, 4326)))"))
    jia = _enterprise(session, 1, "甲厂", "539901", 100.5)
    yi = _enterprise(session, 2, "乙厂", "539901", 100.6)
    bing = _enterprise(session, 3, "丙厂", "539902", 101.5)
    unit, (t1, t2, t3) = _chain(session, jia, "液氯储罐区", 2, [("巡检报警器", 1, "day"), ("周检", 1, "周"),
                                                                ("月度检查", 1, "月")])
    _, (t_yi,) = _chain(session, yi, "乙厂罐区", 3, [("巡检", 1, "天")])
    _, (t_bing,) = _chain(session, bing, "丙厂罐区", 3, [("巡检", 1, "天")])
    for day in range(1, 20):
        inspections.record_inspection(session, t1, "正常", SYSTEM, scope=ALL, at=at(day))
    inspections.record_inspection(session, t1, "正常", SYSTEM, scope=ALL, at=at(5, 15))  # same window
    for day in (3, 6, 20):
        inspections.record_inspection(session, t2, "正常", SYSTEM, scope=ALL, at=at(day))
    inspections.record_inspection(session, t3, "正常", SYSTEM, scope=ALL, at=at(15))
    for day in range(1, 32):
        inspections.record_inspection(session, t_bing, "normal", SYSTEM, scope=ALL, at=at(day))
    session.flush()
    return World(jia, yi, bing, unit, t1, t2, t3, t_yi, t_bing)


def _by_enterprise(session, **kw):  # type: ignore[no-untyped-def]
    rows = session.execute(dp.completion_by_enterprise(ALL, **kw)).mappings().all()
    return {r["name"]: (r["due"], r["done"]) for r in rows}


def test_completion_of_a_finished_month(session, world):  # type: ignore[no-untyped-def]
    # October, seen on 15 November (the month is over):
    # 甲厂 due: T1 31 days + T2 3 weeks ending in October (5–11, 12–18, 19–25; the week of
    #   26 Oct ends 1 Nov 24:00 → November; the week of 28 Sep began before the task) + T3 1 = 35;
    #   done: T1 19 days (the 5th counted once) + T2 2 (weeks of 5 and 19 Oct) + T3 1 = 22.
    # 乙厂: due 31, done 0.  丙厂: due 31, done 31.
    got = _by_enterprise(session, first_month=dt.date(2026, 10, 1), last_month=dt.date(2026, 10, 1),
                         as_of=at(15, month=11))
    assert got == {"甲厂": (35, 22), "乙厂": (31, 0), "丙厂": (31, 31)}
    # 甲县 alone: 35 + 31 due, 22 + 0 done.
    total = session.execute(dp.completion_total(ALL, first_month=dt.date(2026, 10, 1),
                                                last_month=dt.date(2026, 10, 1), as_of=at(15, month=11),
                                                region="539901")).mappings().one()
    assert (total["enterprises"], total["due"], total["done"]) == (2, 66, 22)
    # the map's strip leaves the enterprises out (NULL), its figures the same
    bare = session.execute(dp.completion_total(ALL, first_month=dt.date(2026, 10, 1),
                                               last_month=dt.date(2026, 10, 1), as_of=at(15, month=11),
                                               region="539901", enterprises=False)).mappings().one()
    assert (bare["enterprises"], bare["due"], bare["done"], bare["abnormal"]) == \
        (None, 66, 22, total["abnormal"])


def test_completion_of_the_month_in_progress(session, world):  # type: ignore[no-untyped-def]
    # On 21 October 10:00: 甲厂's windows that have ended: T1 1–20 Oct (20), T2 the weeks
    # ending 11 and 18 Oct (2), T3 none (October ends later) = 22; open windows already done
    # count as owed too: T2's week 19–25 (record on the 20th) and T3's October (record on
    # the 15th) = 2, so due 24.  Done: T1 19 + T2 2 (weeks of 5 and 19 Oct) + T3 1 = 22.
    got = _by_enterprise(session, first_month=dt.date(2026, 10, 1), last_month=dt.date(2026, 10, 1),
                         as_of=at(21, 10), enterprise_id=world.jia)
    assert got == {"甲厂": (24, 22)}
    # 甲县's total finds the same two open windows done early, cycle by cycle; 乙厂 owes the
    # 20 days that have ended and has done none (its open day is not done, so not owed yet)
    total = session.execute(dp.completion_total(ALL, first_month=dt.date(2026, 10, 1),
                                                last_month=dt.date(2026, 10, 1), as_of=at(21, 10),
                                                region="539901")).mappings().one()
    assert (total["due"], total["done"]) == (24 + 20, 22)


def test_a_quarterly_task_is_owed_in_the_month_its_window_ends(session):  # type: ignore[no-untyped-def]
    # Quarters are 3-month blocks from January 2000: Oct–Dec 2026 is one, ending 1 Jan 2027,
    # so it is owed in December, not in October or November.
    due = [session.execute(text(
        "SELECT inspection_due(3, 'month', DATE '2026-10-01', NULL, CAST(:m AS timestamp),"
        " CAST(:m AS timestamp) + interval '1 month', TIMESTAMP '2027-06-01')"), {"m": m}).scalar_one()
        for m in ("2026-10-01", "2026-11-01", "2026-12-01")]
    assert due == [0, 0, 1]
    # Every 8 hours, windows from midnight: a 31-day month owes 93; a task starting mid-month
    # (on the 11th) owes 21 days × 3 = 63.
    assert session.execute(text(
        "SELECT inspection_due(8, 'hour', DATE '2026-10-01', NULL, TIMESTAMP '2026-10-01',"
        " TIMESTAMP '2026-11-01', TIMESTAMP '2027-01-01'), inspection_due(8, 'hour', DATE '2026-10-11', NULL,"
        " TIMESTAMP '2026-10-01', TIMESTAMP '2026-11-01', TIMESTAMP '2027-01-01')")).one() == (93, 63)


def test_overdue_and_today_tasks(session, world):  # type: ignore[no-untyped-def]
    # 21 October 10:00.  T1 missed the 20th and has nothing on the 21st: overdue.  T2 missed
    # the week of 12 Oct but recorded on the 20th (this week): not behind.  T3 is done for
    # October.  乙厂's task missed the 20th: overdue.  丙厂 recorded on the 20th and 21st.
    now = at(21, 10)
    counts = {r.enterprise_id: (r.tasks, r.overdue)
              for r in session.execute(dp.overdue_task_counts(ALL, as_of=now))}
    assert counts == {world.jia: (3, 1), world.yi: (1, 1), world.bing: (1, 0)}
    today = session.execute(dp.today_tasks(Scope(enterprise_id=world.jia), as_of=now)).mappings().all()
    assert [(r["id"], r["overdue"]) for r in today] == [(world.t1, True)]
    # next due: T1 by the end of the 21st; T2 (this week done) by the end of next week's
    # Sunday, 1 Nov; T3 (October done) by the end of November
    windows = {r["id"]: r["next_due"] for r in session.execute(
        dp.task_windows(Scope(enterprise_id=world.jia), as_of=now)).mappings()}
    assert windows == {world.t1: dt.datetime(2026, 10, 22), world.t2: dt.datetime(2026, 11, 2),
                       world.t3: dt.datetime(2026, 12, 1)}
    # On 1 November T2's week 26 Oct–1 Nov is open and not done (not overdue: the week of
    # 19 Oct was done); T3's November is open; T1 is still behind.
    today = session.execute(dp.today_tasks(Scope(enterprise_id=world.jia), as_of=at(1, 10, 11))).mappings().all()
    assert [(r["id"], r["overdue"]) for r in today] == [(world.t1, True), (world.t2, False), (world.t3, False)]


def test_silent_enterprises(session, world):  # type: ignore[no-untyped-def]
    silent = session.execute(dp.silent_enterprises(ALL, month=dt.date(2026, 10, 1))).all()
    assert [r.name for r in silent] == ["乙厂"]
    # in November nobody has recorded anything yet
    silent = session.execute(dp.silent_enterprises(ALL, month=dt.date(2026, 11, 1), region="539901")).all()
    assert sorted(r.name for r in silent) == ["乙厂", "甲厂"]


def test_an_abnormal_record_opens_a_linked_hazard(session, world, tmp_path):  # type: ignore[no-untyped-def]
    worker = Actor("张三", None, "enterprise")
    own = Scope(enterprise_id=world.jia)
    with pytest.raises(InvalidParameter, match="拍照"):
        inspections.record_inspection(session, world.t1, "异常", worker, scope=own, at=at(21))
    with pytest.raises(NotFound):  # another enterprise's: as if it did not exist
        inspections.record_inspection(session, world.t_bing, "正常", worker, scope=own, at=at(21))
    record, hazard_id = inspections.record_inspection(
        session, world.t1, "异常", worker, scope=own, note="报警器无显示", lng=100.5001, lat=20.5002,
        photo=io.BytesIO(JPEG), photo_name="p.jpg", upload_dir=tmp_path, at=at(21, 11))
    hz = session.get(Hazard, hazard_id)
    assert (hz.enterprise_id, hz.source, hz.level, hz.state, hz.found_on) == (
        world.jia, "self", "general", "registered", dt.date(2026, 10, 21))
    assert hz.record_id == record.id and "巡检报警器" in hz.description and "报警器无显示" in hz.description
    assert session.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM hazard WHERE id = :h"),
                           {"h": hazard_id}).one() == pytest.approx((100.5001, 20.5002))
    photo = session.scalars(select(HazardEvidence).where(HazardEvidence.hazard_id == hazard_id)).one()
    assert (tmp_path / photo.stored_path).read_bytes() == JPEG
    # the record is kept as made: no edits
    with pytest.raises(Exception, match="append-only"):
        with session.begin_nested():
            session.execute(text("UPDATE inspection_record SET note = 'x' WHERE id = :i"), {"i": record.id})
    # the tally: one 异常 in October; the share of self-found hazards counts it
    share = session.execute(dp.self_found_share(ALL, found_from=dt.date(2026, 10, 1),
                                                found_to=dt.date(2026, 10, 31))).one()
    assert (share.total, share.self_found, share.from_records) == (1, 1, 1)
    assert session.execute(text("SELECT abnormal FROM task_tally WHERE enterprise_id = :e AND month = '2026-10-01'"),
                           {"e": world.jia}).scalar_one() == 1


def test_records_land_in_their_month_partition(session, world):  # type: ignore[no-untyped-def]
    # 31 records of 丙厂 in October, all in the October partition (CST month bounds)
    n = session.execute(text("SELECT count(*) FROM inspection_record_202610 WHERE task_id = :t"),
                        {"t": world.t_bing}).scalar_one()
    assert n == 31
    assert session.execute(text("SELECT count(*) FROM inspection_record_default")).scalar_one() == 0
    assert session.execute(select(InspectionRecord).where(InspectionRecord.task_id == world.t3)).scalar_one()


def test_rebuild_gives_the_same_tallies(session, world):  # type: ignore[no-untyped-def]
    before = session.execute(text("SELECT * FROM task_tally ORDER BY 1, 2")).all()
    mix = session.execute(text("SELECT * FROM task_mix ORDER BY 1, 2, 3, 4, 5")).all()
    session.execute(text("SELECT task_tally_rebuild()"))
    assert session.execute(text("SELECT * FROM task_tally ORDER BY 1, 2")).all() == before
    assert session.execute(text("SELECT * FROM task_mix ORDER BY 1, 2, 3, 4, 5")).all() == mix


def test_completion_by_child_region(session, world):  # type: ignore[no-untyped-def]
    # October seen on 15 November, under 测试州: 甲县 66 due / 22 done, 乙县 31 / 31
    rows = session.execute(dp.completion_by_region(ALL, parent="539900", first_month=dt.date(2026, 10, 1),
                                                   last_month=dt.date(2026, 10, 1), as_of=at(15, month=11))).all()
    assert [(r.code, r.enterprises, r.due, r.done) for r in rows] == [("539901", 2, 66, 22), ("539902", 1, 31, 31)]
    # a county regulator of 甲县 looking at the prefecture sees only its own county
    rows = session.execute(dp.completion_by_region(Scope(region="539901"), parent="539900",
                                                   first_month=dt.date(2026, 10, 1), last_month=dt.date(2026, 10, 1),
                                                   as_of=at(15, month=11))).all()
    assert [(r.code, r.due, r.done) for r in rows] == [("539901", 66, 22)]
    # 甲厂's own account likewise
    rows = session.execute(dp.completion_by_region(Scope(enterprise_id=world.jia), parent="539900",
                                                   first_month=dt.date(2026, 10, 1), last_month=dt.date(2026, 10, 1),
                                                   as_of=at(15, month=11))).all()
    assert [(r.code, r.due, r.done) for r in rows] == [("539901", 35, 22)]


def test_a_task_is_owned_by_an_account_of_its_enterprise(session, world):  # type: ignore[no-untyped-def]
    from geo_service.services import accounts

    other = accounts.create_user(session, "bing-worker", "long-enough-pw", "enterprise", enterprise_id=world.bing)
    own = accounts.create_user(session, "jia-worker", "long-enough-pw", "enterprise", enterprise_id=world.jia)
    measure = session.execute(text("SELECT measure_id FROM inspection_task WHERE id = :t"),
                              {"t": world.t1}).scalar_one()
    with pytest.raises(InvalidParameter, match="该企业的账号"):
        inspections.create_task(session, measure, {"content": "夜间巡检", "cycle_n": 8, "cycle_unit": "小时",
                                                   "resp_user_id": other.id}, SYSTEM, scope=ALL)
    task = inspections.create_task(session, measure, {"content": "夜间巡检", "cycle_n": 8, "cycle_unit": "小时",
                                                      "resp_user_id": own.id}, SYSTEM, scope=ALL)
    assert (task.cycle_n, task.cycle_unit, task.resp_user_id) == (8, "hour", own.id)
    assert task.starts_on == dt.datetime.now(CST).date()  # starts today (China time) unless told


def test_tallies_move_with_the_enterprise(session, world):  # type: ignore[no-untyped-def]
    # 乙厂 (31 due, 0 done in October) moves from 甲县 to 乙县: its counts go with it
    session.execute(text("UPDATE enterprise SET region_code = '539902' WHERE id = :e"), {"e": world.yi})

    def county(code: str) -> tuple[int, int, int]:
        r = session.execute(dp.completion_total(ALL, first_month=dt.date(2026, 10, 1),
                                                last_month=dt.date(2026, 10, 1), as_of=at(15, month=11),
                                                region=code)).mappings().one()
        return r["enterprises"], r["due"], r["done"]

    assert county("539901") == (1, 35, 22)
    assert county("539902") == (2, 62, 31)
    assert county("539900") == (3, 97, 53)


def test_pausing_a_task_mid_month_stops_it_counting_as_due(session):  # type: ignore[no-untyped-def]
    """丁厂 has two daily tasks from the first of this month (China time): 巡检 keeps running
    with records on the odd days before today; 夜检 has a record on every day before today and
    is paused today.  This month's figures, read at 10:00 on the first of next month:

    * 巡检: every day of the month is owed (its window ends in the month by then), done on the
      odd days before today;
    * 夜检: paused today, so only the days before today are owed, and all of them are done.
    """
    session.execute(text(
        "INSERT INTO region (code, name, level, geom) VALUES"
        " ('539903', '丁县', 'county', ST_Multi(ST_MakeEnvelope(102, 20, 103, 21, 4326)))"))
    ding = _enterprise(session, 4, "丁厂", "539903", 102.5)
    # "today" as the database (and so the pause trigger) sees it
    today = session.execute(text("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")).scalar_one()
    first = today.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    month_days = (nxt - first).days
    _, (kept, paused) = _chain(session, ding, "丁厂罐区", 3, [("巡检", 1, "天"), ("夜检", 1, "天")])
    session.execute(text("UPDATE inspection_task SET starts_on = :d WHERE id IN (:a, :b)"),
                    {"d": first, "a": kept, "b": paused})
    before = [first + dt.timedelta(days=i) for i in range(today.day - 1)]
    for day in before:
        noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=CST)
        inspections.record_inspection(session, paused, "正常", SYSTEM, scope=ALL, at=noon)
        if day.day % 2:
            inspections.record_inspection(session, kept, "正常", SYSTEM, scope=ALL, at=noon)
    task = inspections.set_task_active(session, paused, False, SYSTEM, scope=ALL)
    assert (task.active, task.ended_on) == (False, today)
    session.flush()

    odd_before = sum(1 for d in before if d.day % 2)
    hand = {"due": month_days + len(before), "done": odd_before + len(before)}
    read_at = dt.datetime(nxt.year, nxt.month, 1, 10, tzinfo=CST)

    def figures() -> dict[str, int]:
        r = session.execute(dp.completion_total(ALL, first_month=first, last_month=first, as_of=read_at,
                                                region="539903")).mappings().one()
        return {"due": r["due"], "done": r["done"]}

    assert figures() == hand
    by_enterprise = _by_enterprise(session, first_month=first, last_month=first, as_of=read_at, enterprise_id=ding)
    assert by_enterprise == {"丁厂": (hand["due"], hand["done"])}
    # the mix the triggers keep is the one a rebuild from the register gives
    mix = session.execute(text("SELECT * FROM task_mix WHERE enterprise_id = :e ORDER BY 3, 4, 5, 6"),
                          {"e": ding}).all()
    session.execute(text("SELECT task_tally_rebuild()"))
    assert session.execute(text("SELECT * FROM task_mix WHERE enterprise_id = :e ORDER BY 3, 4, 5, 6"),
                           {"e": ding}).all() == mix
    assert figures() == hand

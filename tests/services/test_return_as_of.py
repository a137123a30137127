"""The monthly return counts and draws the grades as of its month's end.

A hand-built register (regions of ``test_statistics.add_regions``: 红河州 532500 =
个旧市 532501 west of 103.5 E + 开远市 532502 east of it); every grade event is
stamped by hand so the months are fixed:

* 甲厂 (个旧市, registered 1 Sep 2026): unit R1 assessed 红 on 10 Oct, re-graded 橙 on 15 Nov.
* 乙厂 (开远市, registered 1 Sep 2026): unit R2 assessed 黄 on 10 Oct, raised to 红 on 15 Nov.
* 丙厂 (开远市, registered 20 Nov 2026): unit R3 assessed 红 on 20 Nov.

October's return (as of 1 Nov 00:00 CST): 重大风险 = R1 only, in 个旧市; the 四色图
draws 甲厂 红 and 乙厂 黄, not 丙厂.  November's: 重大风险 = R2 (assessed in October,
red at November's end) and R3 (assessed in November, so also 本月新增), both in
开远市; the map draws 甲厂 橙, 乙厂 红, 丙厂 红.
"""

from __future__ import annotations

import pytest
from helpers import credit_code
from sqlalchemy import text

from geo_service.config import Config
from geo_service.queries import metrics
from geo_service.queries.scope import ALL
from geo_service.services import returns
from geo_service.services.maprender import MapStyle, grade_counts, load_map_data
from geo_service.services.statistics import compute_return
from services.test_statistics import add_regions, region

OCT = metrics.period(2026, 10)
NOV = metrics.period(2026, 11)


def _enterprise(session, n: int, name: str, lng: float, registered: str) -> int:  # type: ignore[no-untyped-def]
    return session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, geom, created_at) VALUES"
        " (:c, :n, 'hazchem', ST_SetSRID(ST_MakePoint(:x, 23.5), 4326), :t) RETURNING id"),
        {"c": credit_code(n), "n": name, "x": lng, "t": registered}).scalar_one()


def _unit(session, eid: int, name: str, grade: int, assessed: str) -> int:  # type: ignore[no-untyped-def]
    return session.execute(text(
        "INSERT INTO risk_point (enterprise_id, name, grade, assessed_on) VALUES (:e, :n, :g, :a) RETURNING id"),
        {"e": eid, "n": name, "g": grade, "a": assessed}).scalar_one()


def _stamp(session, at: str, after: str) -> None:  # type: ignore[no-untyped-def]
    """Date the grade events written since ``after`` (the triggers stamp them with the clock)."""
    session.execute(text("UPDATE grade_event SET at = :at WHERE at > :after"), {"at": at, "after": after})


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    add_regions(session)
    jia = _enterprise(session, 1, "甲厂", 103.25, "2026-09-01 09:00+08")
    yi = _enterprise(session, 2, "乙厂", 103.75, "2026-09-01 09:00+08")
    r1 = _unit(session, jia, "R1 液氯储罐区", 1, "2026-10-10")
    r2 = _unit(session, yi, "R2 装卸区", 3, "2026-10-10")
    _stamp(session, "2026-10-10 10:00+08", "2000-01-01")
    session.execute(text("UPDATE risk_point SET grade = 2 WHERE id = :r"), {"r": r1})
    session.execute(text("UPDATE risk_point SET grade = 1 WHERE id = :r"), {"r": r2})
    _stamp(session, "2026-11-15 10:00+08", "2026-10-11")
    bing = _enterprise(session, 3, "丙厂", 103.85, "2026-11-20 09:00+08")
    _unit(session, bing, "R3 反应釜", 1, "2026-11-20")
    _stamp(session, "2026-11-20 10:00+08", "2026-11-16")
    session.flush()
    return jia, yi, bing


def _majors(numbers) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Per region: (重大风险 of item 12, 新增重大风险 of the month)."""
    return {code: (region(numbers, code)["form000"]["item12"]["major_risks"],
                   region(numbers, code)["changes"]["new_major_risks"])
            for code in ("532500", "532501", "532502")}


def test_last_months_return_counts_the_grades_of_its_months_end(session, world):  # type: ignore[no-untyped-def]
    assert _majors(compute_return(session, "532500", OCT, scope=ALL)) == {
        "532500": (1, 1), "532501": (1, 1), "532502": (0, 0)}
    assert _majors(compute_return(session, "532500", NOV, scope=ALL)) == {
        "532500": (2, 1), "532501": (0, 0), "532502": (2, 1)}
    # the 环比变化图's "新增重大风险" points follow the same rule
    data = load_map_data(session, "532500", OCT, scope=ALL, as_of_month=True)
    assert len(data.change_points.get("new_major_risk", [])) == 1


def test_the_return_package_draws_and_counts_its_months_grades(session, world, tmp_path):  # type: ignore[no-untyped-def]
    style = MapStyle.from_config(Config(var_dir=tmp_path))
    october = returns.build_bundle(session, "532500", OCT, scope=ALL, style=style, by="张科长")
    november = returns.build_bundle(session, "532500", NOV, scope=ALL, style=style, by="张科长")
    none = {1: 0, 2: 0, 3: 0, 4: 0, None: 0}
    assert october.map_grades == {"532500": {**none, 1: 1, 3: 1}, "532501": {**none, 1: 1},
                                  "532502": {**none, 3: 1}}
    assert november.map_grades == {"532500": {**none, 1: 2, 2: 1}, "532501": {**none, 2: 1},
                                   "532502": {**none, 1: 2}}
    # the numbers in the same package agree with its maps' month
    assert _majors(october.numbers)["532501"] == (1, 1)
    assert _majors(november.numbers)["532502"] == (2, 1)
    # the enterprises drawn, by name
    data = load_map_data(session, "532500", OCT, scope=ALL, as_of_month=True)
    assert {name: grade for _, name, grade, _, _ in data.enterprises} == {"甲厂": 1, "乙厂": 3}
    assert grade_counts(data) == october.map_grades["532500"]

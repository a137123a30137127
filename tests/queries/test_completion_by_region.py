"""The district 任务完成率 read from the tallies by region in one grouped statement equals
the per-enterprise figures summed per child region.

World: ``tests/services/test_dual_prevention.py`` (甲厂 and 乙厂 in 甲县 539901, 丙厂 in
乙县 539902, under 测试州 539900), plus here 戊厂 in 乙县 with a weekly task started on
8 October and paused on 24 October (its ``ended_on``), and one 异常 record.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict

import pytest
from helpers import credit_code
from services.test_dual_prevention import at, build
from sqlalchemy import text

from geo_service.domain import Actor
from geo_service.queries import dual_prevention as dp
from geo_service.queries.scope import ALL, Scope
from geo_service.services import inspections

SYSTEM = Actor("测试导入")
OCT, NOV = dt.date(2026, 10, 1), dt.date(2026, 11, 1)


@pytest.fixture
def world(session, tmp_path):  # type: ignore[no-untyped-def]
    w = build(session)
    wu = session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, region_code, geom) VALUES"
        " (:c, '戊厂', 'hazchem', '539902', ST_SetSRID(ST_MakePoint(101.6, 20.5), 4326)) RETURNING id"),
        {"c": credit_code(5, "539902")}).scalar_one()
    rp = session.execute(text("INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, '戊厂罐区', 2)"
                              " RETURNING id"), {"e": wu}).scalar_one()
    event = inspections.create_event(session, rp, {"name": "泄漏", "accident_type": "火灾", "grade": 2}, SYSTEM,
                                     scope=ALL)
    measure = inspections.create_measure(session, event.id, {"description": "报警器完好", "kind": "工程技术",
                                                             "level": "班组"}, SYSTEM, scope=ALL)
    task = inspections.create_task(session, measure.id, {"content": "周检", "cycle_n": 1, "cycle_unit": "周",
                                                         "starts_on": "2026-10-08"}, SYSTEM, scope=ALL).id
    inspections.record_inspection(session, task, "异常", SYSTEM, scope=ALL, at=at(14),
                                  photo=io.BytesIO(b"\xff\xd8\xff\xe0" + b"x" * 40), upload_dir=tmp_path)
    # paused (its trigger ends it today; naming ended_on makes the mix follow), then dated back
    # to 24 October
    session.execute(text("UPDATE inspection_task SET active = false, ended_on = NULL WHERE id = :t"), {"t": task})
    session.execute(text("UPDATE inspection_task SET ended_on = '2026-10-24' WHERE id = :t"), {"t": task})
    assert session.execute(text("SELECT ended_on FROM task_mix WHERE enterprise_id = :e"),
                           {"e": wu}).scalar_one() == dt.date(2026, 10, 24)
    session.flush()
    return w


def _summed(session, scope, first, last, as_of):  # type: ignore[no-untyped-def]
    """The per-enterprise figures summed per county (each enterprise's own region_code)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in session.execute(dp.completion_by_enterprise(scope, first_month=first, last_month=last, as_of=as_of,
                                                         region="539900")).mappings():
        row = out[r["region_code"]]
        row[0] += 1
        row[1] += r["due"]
        row[2] += r["done"]
        row[3] += r["abnormal"]
    return {code: tuple(v) for code, v in out.items()}


@pytest.mark.parametrize("scope", [ALL, Scope(region="539902"), Scope(enterprise_id=None, region="539900")])
@pytest.mark.parametrize(("first", "last", "as_of"), [
    (OCT, OCT, at(15, month=11)),   # a finished month
    (OCT, OCT, at(21, 10)),         # the month in progress: windows done early count
    (OCT, NOV, at(20, month=11)),   # two months, the second in progress
])
def test_grouped_by_region_equals_the_per_enterprise_sums(session, world, scope, first, last, as_of):  # type: ignore[no-untyped-def]
    rows = session.execute(dp.completion_by_region(scope, parent="539900", first_month=first, last_month=last,
                                                   as_of=as_of)).mappings().all()
    got = {r["code"]: (r["enterprises"], r["due"], r["done"], r["abnormal"]) for r in rows}
    expected = _summed(session, scope, first, last, as_of)
    assert {k: v for k, v in got.items() if v != (0, 0, 0, 0)} == expected
    assert expected  # the world has figures in every case
    # a county's regulator sees its own county only
    assert set(got) == ({"539902"} if scope.region == "539902" else {"539901", "539902"})

"""Form 000 item 14 "个企业已绘制": enterprises with at least one risk zone at the month's end.

World: prefecture 539900 with counties 539901 and 539902.
- A (539901): a zone drawn 2026-10-15                    → counts from October
- B (539901): a zone drawn 2026-11-01 00:10 Beijing time  → November only (it is 31 Oct 16:10 UTC)
- C (539902): two zones, the first 2026-10-31 23:30 Beijing → October, once
- D (539902): no zone                                      → never
So October: 539900 → 2, 539901 → 1, 539902 → 1; November: 539900 → 3, 539901 → 2.
"""

from __future__ import annotations

from helpers import box, credit_code
from sqlalchemy import text

from geo_service.queries import metrics
from geo_service.queries.scope import ALL, Scope
from geo_service.queries.zones import enterprises_with_drawn_map

CODES = ["539900", "539901", "539902"]


def _world(session) -> None:
    session.execute(text(
        "INSERT INTO region (code, name, level, parent_code, geom) VALUES"
        " ('539900', '测试州', 'prefecture', NULL, ST_GeomFromEWKT(:p)),"
        " ('539901', '甲县', 'county', '539900', ST_GeomFromEWKT(:a)),"
        " ('539902', '乙县', 'county', '539900', ST_GeomFromEWKT(:b))"),
        {"p": box(100, 20, 102, 21), "a": box(100, 20, 101, 21), "b": box(101, 20, 102, 21)})
    zones = {"A": ["2026-10-15 10:00+08"], "B": ["2026-11-01 00:10+08"],
             "C": ["2026-10-31 23:30+08", "2026-11-20 09:00+08"], "D": []}
    for i, (key, lng) in enumerate((("A", 100.5), ("B", 100.6), ("C", 101.5), ("D", 101.6)), start=1):
        eid = session.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
            " (:c, :n, 'hazchem', ST_SetSRID(ST_MakePoint(:x, 20.5), 4326)) RETURNING id"),
            {"c": credit_code(i, "539901" if lng < 101 else "539902"), "n": f"企业{key}", "x": lng}).scalar_one()
        for j, at in enumerate(zones[key]):
            session.execute(text(
                "INSERT INTO risk_zone (enterprise_id, name, geom, created_at) VALUES (:e, :n,"
                " ST_Multi(ST_Expand(ST_SetSRID(ST_MakePoint(:x, 20.5), 4326), 0.0005)), :at)"),
                {"e": eid, "n": f"区域{j}", "x": lng, "at": at})


def counts(session, period, scope=ALL) -> dict[str, int]:
    return {r.code: r.enterprises for r in session.execute(enterprises_with_drawn_map(CODES, scope, period))}


def test_item_14_counts_the_enterprises_with_a_zone_at_the_month_end(session):
    _world(session)
    assert counts(session, metrics.period(2026, 9)) == {"539900": 0, "539901": 0, "539902": 0}
    assert counts(session, metrics.period(2026, 10)) == {"539900": 2, "539901": 1, "539902": 1}
    assert counts(session, metrics.period(2026, 11)) == {"539900": 3, "539901": 2, "539902": 1}


def test_item_14_is_scoped(session):
    _world(session)
    assert counts(session, metrics.period(2026, 11), Scope(region="539902")) == {
        "539900": 1, "539901": 0, "539902": 1}

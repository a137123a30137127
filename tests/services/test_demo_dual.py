"""The demo register's 双重预防: measures, tasks and three months of records with a
realistic completion (most near 90 %, a few lagging, a few silent)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo_service.queries import dual_prevention as dp
from geo_service.queries.scope import ALL
from geo_service.services import demo

TODAY = dt.date(2026, 11, 20)
SEED = 2532500


@pytest.fixture(scope="module")
def demo_dual_db(make_database):  # type: ignore[no-untyped-def]
    url = make_database()
    engine = create_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        demo.load(session, today=TODAY, seed=SEED, n_enterprises=400)
        session.commit()
        print(f"demo load with dual prevention: {time.perf_counter() - started:.1f} s")
    yield engine
    engine.dispose()


def test_completion_is_realistic(demo_dual_db):  # type: ignore[no-untyped-def]
    with Session(demo_dual_db) as s:
        october = dt.date(2026, 10, 1)
        rows = s.execute(dp.completion_by_enterprise(ALL, first_month=october, last_month=october,
                                                     as_of=dt.datetime(2026, 11, 20, tzinfo=dp.CST))).mappings().all()
        rates = [r["done"] / r["due"] for r in rows if r["due"]]
        assert len(rates) > 300  # nearly every enterprise has tasks
        near_90 = sum(1 for x in rates if 0.8 <= x <= 1.0)
        lagging = sum(1 for x in rates if x < 0.75)
        assert near_90 / len(rates) > 0.7 and 0.05 < lagging / len(rates) < 0.35
        assert all(r["done"] <= r["due"] for r in rows)
        # the grouped total is the sum over the enterprises, for a finished month and for the
        # month in progress (20 November: open windows already done count as due)
        for as_of, month in ((dt.datetime(2026, 11, 20, tzinfo=dp.CST), october),
                             (dt.datetime(2026, 11, 19, 15, tzinfo=dp.CST), dt.date(2026, 11, 1))):
            per = s.execute(dp.completion_by_enterprise(ALL, first_month=month, last_month=month,
                                                        as_of=as_of, region="532500")).mappings().all()
            total = s.execute(dp.completion_total(ALL, first_month=month, last_month=month, as_of=as_of,
                                                  region="532500")).mappings().one()
            assert (total["enterprises"], total["due"], total["done"], total["abnormal"]) == (
                len(per), sum(r["due"] for r in per), sum(r["done"] for r in per), sum(r["abnormal"] for r in per))
        silent = s.execute(dp.silent_enterprises(ALL, month=dt.date(2026, 11, 1))).all()
        assert 0.02 < len(silent) / len(rates) < 0.15
        # the tallies agree with a recount from the records
        before = s.execute(text("SELECT * FROM task_tally ORDER BY 1, 2")).all()
        s.execute(text("SELECT task_tally_rebuild()"))
        assert s.execute(text("SELECT * FROM task_tally ORDER BY 1, 2")).all() == before
        s.rollback()


def test_loading_again_adds_nothing(demo_dual_db):  # type: ignore[no-untyped-def]
    with Session(demo_dual_db) as s:
        n = s.execute(text("SELECT count(*) FROM inspection_record")).scalar_one()
        demo.load(s, today=TODAY, seed=SEED, n_enterprises=400)
        assert s.execute(text("SELECT count(*) FROM inspection_record")).scalar_one() == n
        s.rollback()

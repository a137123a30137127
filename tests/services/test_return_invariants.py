"""Reading D on the demo register: for every cumulative column of the 调度表 and
003 附件2, 累计(m) = 累计(m−1) + 本月(m), over all twelve months of 2026, for
红河州 and each of its 13 counties; and reading C (其中 never exceeds its column).

The demo register (``services/demo.py``, as ``tests/services/test_demo.py``
loads it) has hazards found over the twelve months before 24 November 2026 in
every state and from every source, and risk points assessed over the 18
months before, so the year boundary, the campaign's start (1 May) and every
month boundary carry records.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from geo_service import db
from geo_service.queries import metrics
from geo_service.queries.scope import ALL
from geo_service.services import demo
from geo_service.services.statistics import compute_return
from services.test_return_hand_count import check_invariants

TODAY = dt.date(2026, 11, 24)


@pytest.fixture(scope="module")
def demo_engine(make_database):
    url = make_database()
    engine = db.make_engine(url)
    with Session(engine) as session:
        demo.load(session, today=TODAY, seed=7)
        session.commit()
    yield engine
    engine.dispose()


def test_cumulative_is_last_month_plus_this_month_on_the_demo_register(demo_engine):
    with Session(demo_engine) as session:
        # the register really spans the boundaries the invariant is about
        spans = session.execute(sa.text(
            "SELECT min(found_on), max(found_on), count(*) FILTER (WHERE state = 'closed' AND"
            " date_trunc('month', verified_on) > date_trunc('month', found_on)) FROM hazard")).one()
        assert spans[0] < dt.date(2026, 1, 1) and spans[1] > dt.date(2026, 10, 1)
        assert spans[2] > 0  # hazards found in one month and signed off in a later one
        checked = check_invariants(session, "532500", 2026)
        # 14 regions × 12 months × 6 columns of 附件2, and 14 × 8 months (May–December) × 6 of the 调度表
        assert checked == 14 * 12 * 6 + 14 * 8 * 6
        # and the month's parts are not all zero: October signs off hazards found in earlier months
        oct_ = compute_return(session, "532500", metrics.period(2026, 10), scope=ALL)["regions"][0]
        month = next(row["values"] for row in oct_["industry_table"] if row["key"] == "month")
        assert month["rectified"] > 0 and month["major_found"] > 0 and oct_["dispatch_month"]["self_found"] > 0
        # a campaign that began mid-month (15 June) holds the invariant as well
        assert check_invariants(session, "532500", 2026, "06-15") == 14 * 12 * 6 + 14 * 7 * 6

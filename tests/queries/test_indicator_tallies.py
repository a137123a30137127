"""The map's indicator strip from the maintained aggregates (the first view: a
region and no other filter) gives the same counts as the register path, after
every kind of change.

The reference is the register path of :mod:`geo_service.queries.indicators`
(``tallies=False``), which joins the enterprises to their hazards; the
hand-made world is ``world.py`` (counties 532501 west and 532502 east of
103.5 E, four hazards in 2026)."""

from __future__ import annotations

import datetime as dt

from queries.world import TODAY, build_world
from sqlalchemy import text

from geo_service.models import Hazard, RiskPoint
from geo_service.queries import indicators as iq
from geo_service.queries.filters import Filters
from geo_service.queries.scope import ALL, Scope

REGIONS = ("530000", "532500", "532501", "532502", "532503")


def counts(session, region, *, tallies, scope=ALL, as_of=TODAY):
    f = Filters(region=region)
    ent = session.execute(iq.enterprise_counts(f, scope=scope, as_of=as_of, tallies=tallies)).one()
    hz = session.execute(iq.hazard_counts(f, scope=scope, as_of=as_of, tallies=tallies)).one()
    return {**ent._asdict(), **hz._asdict()}


def both(session, scope=ALL, as_of=TODAY):
    return ([counts(session, r, tallies=True, scope=scope, as_of=as_of) for r in REGIONS],
            [counts(session, r, tallies=False, scope=scope, as_of=as_of) for r in REGIONS])


def test_the_first_view_reads_the_tallies_and_only_it():
    assert iq.tallies_answer(Filters(region="532500"), ALL)
    assert iq.tallies_answer(Filters(), Scope(region="532501"))
    assert not iq.tallies_answer(Filters(region="532500", grade=(1,)), ALL)
    assert not iq.tallies_answer(Filters(region="532500", hazard_level="major"), ALL)
    assert not iq.tallies_answer(Filters(region="532500", month=dt.date(2026, 2, 1)), ALL)
    assert not iq.tallies_answer(Filters(region="532500"), Scope(enterprise_id=1))


def test_tallied_indicators_equal_the_register_after_each_change(session):
    world = build_world(session)
    session.flush()
    a, b = both(session)
    assert a == b
    # by hand, 个旧市 (532501): plant 红, school 蓝, market 黄, shop ungraded; its three hazards
    # found this year, none signed off; the plant's 重大 one 14 days overdue
    gejiu = a[2]
    assert (gejiu["total"], gejiu["ungraded"], gejiu["grade_1"], gejiu["grade_3"], gejiu["grade_4"]) == (4, 1, 1, 1, 1)
    assert (gejiu["open_major"], gejiu["overdue"], gejiu["found_this_year"], gejiu["rectified_this_year"]) == (1, 1, 3, 0)
    assert a[3]["rectified_this_year"] == 1  # the mill's, signed off on 20 February
    # a new 重大 hazard already overdue, another found last year, a sign-off
    h = Hazard(enterprise_id=world.market.id, description="燃气报警器失灵", level="major", source="self",
               found_on=dt.date(2026, 3, 1), deadline=dt.date(2026, 3, 10), state="registered")
    session.add(h)
    session.add(Hazard(enterprise_id=world.market.id, description="配电箱未接地", level="general", source="self",
                       found_on=dt.date(2025, 12, 5), deadline=dt.date(2026, 2, 10), state="rectifying"))
    session.flush()
    a, b = both(session)
    assert a == b
    assert (a[2]["open_major"], a[2]["overdue"], a[2]["found_this_year"]) == (2, 3, 4)
    session.execute(text("UPDATE hazard SET state = 'closed', verifier = '李工', verified_on = '2026-03-12' WHERE id = :id"),
                    {"id": world.h_general_open.id})
    session.execute(text("UPDATE hazard SET deadline = '2026-04-30' WHERE id = :id"), {"id": h.id})
    a, b = both(session)
    assert a == b and a[2]["rectified_this_year"] == 1 and a[2]["overdue"] == 2
    # a re-grade through a risk point, a new risk point, an enterprise moved to the other county
    session.execute(text("UPDATE risk_point SET grade = 2 WHERE enterprise_id = :id"), {"id": world.school.id})
    session.add(RiskPoint(enterprise_id=world.shop.id, name="仓库", grade=3))
    session.flush()
    session.execute(text("UPDATE enterprise SET region_code = '532502' WHERE id = :id"), {"id": world.plant.id})
    a, b = both(session)
    assert a == b
    assert a[3]["total"] == 2 and a[3]["open_major"] == 1  # the mill and the plant with its 重大 hazard
    # deletes: a hazard, an enterprise with its risk points
    session.execute(text("DELETE FROM hazard WHERE id = :id"), {"id": h.id})
    session.execute(text("DELETE FROM enterprise WHERE id = :id"), {"id": world.shop.id})
    a, b = both(session)
    assert a == b and a[0]["total"] == 4
    # a county's account sees its own county under any region asked for; another day counts alike
    county = Scope(region="532501")
    assert both(session, scope=county)[0] == both(session, scope=county)[1]
    later = dt.date(2026, 5, 20)
    assert both(session, as_of=later)[0] == both(session, as_of=later)[1]

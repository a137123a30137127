"""The maintained tallies (``risk_tally``, ``hazard_tally`` of migration 0003)
give the same region summaries as the grouped queries over the register
itself, after every kind of change, and equal a rebuild from scratch.

The reference is the register path of :func:`summaries` (``tallies=False``),
which joins the enterprises, risk points and hazards; the hand-made world is
``world.py`` (counties 532501 west and 532502 east of 103.5 E)."""

from __future__ import annotations

import datetime as dt

import pytest
from queries.world import TODAY, build_world
from sqlalchemy import text

from geo_service.models import Hazard, RiskPoint
from geo_service.queries.scope import ALL, Scope
from geo_service.queries.summary import summaries

REGIONS = [("530000", "云南省", "province"), ("532500", "红河州", "prefecture"),
           ("532501", "个旧市", "county"), ("532502", "开远市", "county")]


def both(session, scope=ALL, as_of=TODAY):
    return (summaries(session, REGIONS, scope=scope, as_of=as_of, tallies=True),
            summaries(session, REGIONS, scope=scope, as_of=as_of, tallies=False))


def tallies(session) -> tuple[list, list]:
    return (session.execute(text("SELECT * FROM risk_tally ORDER BY 1, 2")).all(),
            session.execute(text("SELECT * FROM hazard_tally ORDER BY 1, 2, 3, 4, 5")).all())


@pytest.fixture
def world(session):
    w = build_world(session)
    session.flush()
    return w


def test_tallies_equal_the_register_after_each_change(session, world):
    via_tallies, via_register = both(session)
    assert via_tallies == via_register
    # hand check of one number: the plant's major hazard (deadline 1 March) is overdue on 15 March
    assert via_tallies[2]["overdue"] == 1 and via_tallies[2]["hazards"] == 3
    # a new hazard, its state changes, a new deadline
    h = Hazard(enterprise_id=world.market.id, description="燃气报警器失灵", level="general", source="self",
               found_on=dt.date(2026, 3, 1), deadline=dt.date(2026, 3, 10), state="registered")
    session.add(h)
    session.flush()
    assert both(session)[0] == both(session)[1]
    assert both(session)[0][2]["overdue"] == 2
    # one due in February (the tallies' months) and one due in March before the 15th (the register)
    session.add(Hazard(enterprise_id=world.market.id, description="配电箱未接地", level="general", source="supervised",
                       supervision_doc_no="红安督〔2026〕2号", found_on=dt.date(2026, 1, 5),
                       deadline=dt.date(2026, 2, 10), state="rectifying"))
    session.flush()
    a, b = both(session)
    assert a == b and a[2]["overdue"] == 3 and a[2]["supervised_open"] == 2
    session.execute(text("UPDATE hazard SET deadline = '2026-04-30' WHERE id = :id"), {"id": h.id})
    session.execute(text("UPDATE hazard SET state = 'rectifying' WHERE id = :id"), {"id": world.h_general_open.id})
    a, b = both(session)
    assert a == b and a[2]["overdue"] == 2
    # a risk point re-graded and one added; an enterprise moved to the other county
    session.execute(text("UPDATE risk_point SET grade = 2 WHERE enterprise_id = :id"), {"id": world.school.id})
    session.add(RiskPoint(enterprise_id=world.shop.id, name="仓库", grade=3))
    session.flush()
    session.execute(text("UPDATE enterprise SET region_code = '532502' WHERE id = :id"), {"id": world.plant.id})
    a, b = both(session)
    assert a == b
    assert a[3]["hazards"] == 3 and a[3]["risk_points"] == 3  # the mill's 1 + the plant's 2 now in 开远
    # an enterprise with risk points and hazards deleted (its hazards' events first: append-only table
    # forbids it, so delete one without events instead)
    session.execute(text("DELETE FROM enterprise WHERE id = :id"), {"id": world.shop.id})
    session.execute(text("DELETE FROM hazard WHERE id = :id"), {"id": h.id})
    a, b = both(session)
    assert a == b and a[0]["enterprises"] == 4
    # the scoped view of a county agrees too
    county = Scope(region="532501")
    assert both(session, scope=county)[0] == both(session, scope=county)[1]
    maintained = tallies(session)
    session.execute(text("SELECT summary_agg_rebuild()"))
    assert tallies(session) == maintained


def test_register_path_when_hazards_postdate_as_of(session, world):
    # on 1 February the hazards found later do not count: the tallies cannot say so
    early = dt.date(2026, 2, 1)
    auto = summaries(session, REGIONS, scope=ALL, as_of=early)
    assert auto == summaries(session, REGIONS, scope=ALL, as_of=early, tallies=False)
    assert auto[0]["hazards"] == 2  # the plant's major (20 Jan) and the mill's (1 Feb)

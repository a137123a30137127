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
from sqlalchemy import event, text

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


def test_sibling_regions_alone_equal_the_register_and_the_wider_call(session, world):
    # 个旧市 and 开远市 share the prefix "53250": the tallies are read under it
    # (an index range), each county still counting only its own rows
    counties = REGIONS[2:]
    via_tallies = summaries(session, counties, scope=ALL, as_of=TODAY, tallies=True)
    assert via_tallies == summaries(session, counties, scope=ALL, as_of=TODAY, tallies=False)
    assert via_tallies == both(session)[0][2:]
    assert [s["enterprises"] for s in via_tallies] == [4, 1]  # the mill alone is east of 103.5 E
    # a region with nothing under it beside one with everything: no shared prefix beyond "5"
    mixed = [("530000", "云南省", "province"), ("510000", "四川省", "province")]
    a = summaries(session, mixed, scope=ALL, as_of=TODAY, tallies=True)
    assert a == summaries(session, mixed, scope=ALL, as_of=TODAY, tallies=False)
    assert [s["enterprises"] for s in a] == [5, 0]


def test_summary_statements_are_compiled_once(session, world):
    # every statement has a cache key, so a summary does not compile SQL on each request
    # (a VALUES list of literal rows had none); different regions reuse the same statements
    seen = []

    def note(conn, clauseelement, multiparams, params, execution_options):  # noqa: ARG001
        seen.append(clauseelement)

    conn = session.connection()
    event.listen(conn, "before_execute", note)
    try:
        summaries(session, REGIONS[:1], scope=ALL, as_of=TODAY)
        summaries(session, REGIONS[2:], scope=ALL, as_of=TODAY)
    finally:
        event.remove(conn, "before_execute", note)
    keys = [c._generate_cache_key() for c in seen]
    assert len(seen) == 8 and all(k is not None for k in keys)
    assert [k.key for k in keys[:4]] == [k.key for k in keys[4:]]


def test_a_region_with_its_children_in_one_pass_equals_the_two_calls(session, world):
    from geo_service.queries.summary import child_summaries, region_summary

    for code in ("530000", "532500", "532501"):
        for scope in (ALL, Scope(region="532501")):
            if scope.region and code == "530000":
                continue
            one = region_summary(session, code, scope=scope, as_of=TODAY, with_children=True)
            kids = one.pop("children")
            assert one == region_summary(session, code, scope=scope, as_of=TODAY)
            assert kids == child_summaries(session, code, scope=scope, as_of=TODAY)
    prefecture = region_summary(session, "532500", scope=ALL, as_of=TODAY, with_children=True)
    assert [c["code"] for c in prefecture["children"]] == ["532501", "532502"]
    assert prefecture["enterprises"] == sum(c["enterprises"] for c in prefecture["children"]) == 5

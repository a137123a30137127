"""Region summaries counted on the hand-made world (see tests/queries/world.py)."""

from __future__ import annotations

import pytest
from queries.world import TODAY, build_world

from geo_service.errors import NotFound
from geo_service.queries.scope import ALL, Scope
from geo_service.queries.summary import child_summaries, region_summary


def test_prefecture_summary_counts_every_enterprise_below_it(session):
    build_world(session)
    s = region_summary(session, "532500", scope=ALL, as_of=TODAY)
    # plant 红, mill 橙, market 黄, school 蓝, shop ungraded
    assert s["enterprises_by_grade"] == {"1": 1, "2": 1, "3": 1, "4": 1}
    assert s["enterprises"] == 5 and s["enterprises_ungraded"] == 1
    assert s["weighted_risk"] == 4 + 3 + 2 + 1
    assert s["major_risk_enterprises"] == 1
    # risk points: 液氯储罐区 红, 高炉 橙, 机修车间 + 燃气管线 黄, 食堂 蓝
    assert s["risk_points_by_grade"] == {"1": 1, "2": 1, "3": 2, "4": 1}
    assert s["hazards_by_level_state"]["major"] == {"registered": 0, "rectifying": 1, "rectified": 0, "closed": 0}
    assert s["hazards_by_level_state"]["general"] == {"registered": 2, "rectifying": 0, "rectified": 0, "closed": 1}
    # only the major hazard is past its deadline (1 March) while still being rectified
    assert s["overdue"] == s["overdue_hazards"] == 1
    assert s["supervised"] == 1 and s["open_major_hazards"] == 1
    # one of four hazards verified and closed
    assert s["rectification_rate"] == 25.0
    assert (s["code"], s["name"], s["level"]) == ("532500", "红河州", "prefecture")


def test_child_summaries_split_by_county(session):
    build_world(session)
    kids = {s["code"]: s for s in child_summaries(session, "532500", scope=ALL, as_of=TODAY)}
    assert list(kids) == ["532501", "532502"]
    assert kids["532501"]["enterprises"] == 4  # plant, school, market, shop lie west of 103.5 E
    assert kids["532502"]["enterprises_by_grade"] == {"1": 0, "2": 1, "3": 0, "4": 0}
    assert kids["532502"]["rectification_rate"] == 100.0
    assert kids["532501"]["overdue"] == 1 and kids["532502"]["overdue"] == 0


def test_summary_before_the_deadline_has_nothing_overdue(session):
    import datetime as dt

    build_world(session)
    s = region_summary(session, "532500", scope=ALL, as_of=dt.date(2026, 2, 28))
    assert s["overdue"] == 0
    # found by 28 Feb: the major (20 Jan), the mill's (1 Feb), the school's (10 Feb)
    assert s["hazards"] == 3


def test_summary_respects_scope(session):
    w = build_world(session)
    s = region_summary(session, "532500", scope=Scope(region="532502"), as_of=TODAY)
    assert s["enterprises"] == 1
    s = region_summary(session, "532500", scope=Scope(enterprise_id=w.plant.id), as_of=TODAY)
    assert s["enterprises_by_grade"]["1"] == 1 and s["enterprises"] == 1


def test_unknown_region_is_not_found(session):
    with pytest.raises(NotFound, match="999900"):
        region_summary(session, "999900", scope=ALL, as_of=TODAY)

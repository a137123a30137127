"""The monthly return's numbers, checked against a hand-built register.

The register (built by :func:`build_register`; the return is for 2026-10):

Regions: 红河州 532500 = box 103–104 E, 23–24 N, split at 103.5 E into
个旧市 532501 (west) and 开远市 532502 (east).

=====  ==========  ================  =======  ==================================================
 key    region      industry          grade    risk points (grade, assessed, controls)
=====  ==========  ================  =======  ==================================================
 A      532501      hazchem           红       液氯储罐区 (红, 2026-03-01, yes); 装卸区 (红, 2026-10-15, no);
                                               机修车间 (黄, 2025-06-01 — last year)
 B      532502      coal              红       采掘工作面 (红, 2025-12-10, yes — last year)
 C      532502      trade.metallurgy  红       高炉 (橙, 2026-02-01); 煤气柜 (红, 2026-11-05 — after October)
 D      532501      trade.commerce    —        none (the enterprise with no risk point)
 E      532501      crowded           蓝       食堂 (蓝, 2026-05-01)
 F      532502      mine              橙       尾矿库 (橙, no assessed_on: never counted)
=====  ==========  ================  =======  ==================================================

Hazards:

* h1 A major self, found 2025-12-20, verified 2026-01-10 — December find, January sign-off.
* h2 A major 挂牌督办, found 2026-03-05, rectifying, deadline 2026-09-30 (overdue from 1 Oct), 五落实.
* h3 B major inspection, found 2026-10-08, verified 2026-10-25.
* h4 B major self, found 2026-09-01, verified 2026-11-03 — after October's end.
* h5 C major self, found 2026-06-01, registered, 五落实 not yet filled.
* h6 D general self, found 2026-10-20, registered.
* h7 E general report, found 2026-11-02 — after October.
* h8 A general self, found 2026-02-01, verified 2026-02-10.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from helpers import box, credit_code
from sqlalchemy.orm import Session

from geo_service.errors import InvalidParameter, NotFound
from geo_service.models import Enterprise, Hazard, MapExport, Region, RiskPoint
from geo_service.queries import metrics
from geo_service.queries.scope import ALL, Scope
from geo_service.services.statistics import compute_return, parse_month

OCT = metrics.period(2026, 10)
FIVE = dict(resp_person="李四", measures="整改措施", funds_wan=10, emergency_plan="应急预案")

POINTS = {
    "A": (103.25, 23.50),
    "B": (103.70, 23.60),
    "C": (103.80, 23.40),
    "D": (103.26, 23.49),
    "E": (103.30, 23.70),
    "F": (103.60, 23.30),
}




@dataclass
class Register:
    ent: dict[str, Enterprise]
    haz: dict[str, Hazard]


def add_regions(session: Session) -> None:
    session.add(Region(code="532500", name="红河州", level="prefecture", parent_code=None,
                       geom=box(103, 23, 104, 24)))
    session.flush()
    session.add_all([
        Region(code="532501", name="个旧市", level="county", parent_code="532500", geom=box(103, 23, 103.5, 24)),
        Region(code="532502", name="开远市", level="county", parent_code="532500", geom=box(103.5, 23, 104, 24)),
    ])
    session.flush()


def build_register(session: Session) -> Register:
    """The register described in the module docstring (flushed, not committed)."""
    add_regions(session)
    industries = {"A": "hazchem", "B": "coal", "C": "trade.metallurgy", "D": "trade.commerce",
                  "E": "crowded", "F": "mine"}
    names = {"A": "红河化工", "B": "老厂煤矿", "C": "开远钢铁", "D": "五金店", "E": "百货商场", "F": "铜矿"}
    ent = {}
    for n, (key, industry) in enumerate(industries.items(), start=1):
        lng, lat = POINTS[key]
        ent[key] = Enterprise(credit_code=credit_code(n), name=names[key], industry_code=industry,
                              geom=f"SRID=4326;POINT({lng} {lat})")
    session.add_all(ent.values())
    session.flush()
    d = dt.date
    session.add_all([
        RiskPoint(enterprise_id=ent["A"].id, name="液氯储罐区", grade=1, assessed_on=d(2026, 3, 1),
                  controls_implemented=True),
        RiskPoint(enterprise_id=ent["A"].id, name="装卸区", grade=1, assessed_on=d(2026, 10, 15)),
        RiskPoint(enterprise_id=ent["A"].id, name="机修车间", grade=3, assessed_on=d(2025, 6, 1)),
        RiskPoint(enterprise_id=ent["B"].id, name="采掘工作面", grade=1, assessed_on=d(2025, 12, 10),
                  controls_implemented=True),
        RiskPoint(enterprise_id=ent["C"].id, name="高炉", grade=2, assessed_on=d(2026, 2, 1)),
        RiskPoint(enterprise_id=ent["C"].id, name="煤气柜", grade=1, assessed_on=d(2026, 11, 5)),
        RiskPoint(enterprise_id=ent["E"].id, name="食堂", grade=4, assessed_on=d(2026, 5, 1)),
        RiskPoint(enterprise_id=ent["F"].id, name="尾矿库", grade=2, assessed_on=None,
                  created_at=dt.datetime(2026, 4, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))),
    ])
    closed = dict(state="closed", verifier="州应急局")
    haz = {
        "h1": Hazard(enterprise_id=ent["A"].id, description="储罐区可燃气体报警失效", level="major",
                     source="self", found_on=d(2025, 12, 20), deadline=d(2026, 1, 15),
                     rectified_on=d(2026, 1, 8), verified_on=d(2026, 1, 10), **closed, **FIVE),
        "h2": Hazard(enterprise_id=ent["A"].id, description="液氯储罐未设紧急切断", level="major",
                     source="supervised", supervision_doc_no="红安督〔2026〕3号", found_on=d(2026, 3, 5),
                     deadline=d(2026, 9, 30), state="rectifying", **FIVE),
        "h3": Hazard(enterprise_id=ent["B"].id, description="瓦斯监控系统故障", level="major",
                     source="inspection", found_on=d(2026, 10, 8), deadline=d(2026, 10, 20),
                     rectified_on=d(2026, 10, 18), verified_on=d(2026, 10, 25), **closed, **FIVE),
        "h4": Hazard(enterprise_id=ent["B"].id, description="通风系统不完善", level="major", source="self",
                     found_on=d(2026, 9, 1), deadline=d(2026, 10, 30), rectified_on=d(2026, 10, 29),
                     verified_on=d(2026, 11, 3), **closed, **FIVE),
        "h5": Hazard(enterprise_id=ent["C"].id, description="煤气区域未设报警", level="major", source="self",
                     found_on=d(2026, 6, 1), state="registered"),
        "h6": Hazard(enterprise_id=ent["D"].id, description="灭火器过期", level="general", source="self",
                     found_on=d(2026, 10, 20), state="registered"),
        "h7": Hazard(enterprise_id=ent["E"].id, description="安全出口堵塞", level="general", source="report",
                     found_on=d(2026, 11, 2), state="registered"),
        "h8": Hazard(enterprise_id=ent["A"].id, description="劳保用品缺失", level="general", source="self",
                     found_on=d(2026, 2, 1), rectified_on=d(2026, 2, 5), verified_on=d(2026, 2, 10),
                     **closed),
    }
    session.add_all(haz.values())
    session.flush()
    for e in ent.values():
        session.refresh(e)
    return Register(ent, haz)


def region(numbers: dict[str, Any], code: str) -> dict[str, Any]:
    return next(r for r in numbers["regions"] if r["code"] == code)


def table_row(r: dict[str, Any], key: str) -> dict[str, Any]:
    return next(row["values"] for row in r["industry_table"] if row["key"] == key)


def group(item: dict[str, Any], key: str) -> dict[str, Any]:
    return next(g for g in item["groups"] if g["key"] == key)


def test_form000_item12_counts_this_years_risk_work_by_the_month_end(session):
    build_register(session)
    r = region(compute_return(session, "532500", OCT, scope=ALL), "532500")
    item12 = r["form000"]["item12"]
    # assessed 1 Jan – 31 Oct 2026: A (液氯储罐区, 装卸区), C (高炉), E (食堂).  Not B (采掘工作面 was
    # assessed in 2025: last year's work), not F (尾矿库 has no assessment date), not D (no risk point)
    assert item12["enterprises"] == 3 and item12["done"] is True
    # 红: 液氯储罐区, 装卸区; 采掘工作面 is last year's, 煤气柜 was assessed in November
    assert item12["major_risks"] == 2
    assert group(item12, "coal") == {"key": "coal", "name": "煤矿", "enterprises": 0, "major_risks": 0}
    assert group(item12, "mine")["enterprises"] == 0 and group(item12, "mine")["major_risks"] == 0
    assert group(item12, "hazchem")["enterprises"] == 1 and group(item12, "hazchem")["major_risks"] == 2
    # 工贸 rolls 冶金 up: C only (D has no risk point)
    assert group(item12, "other:trade") == {"key": "other:trade", "name": "工贸", "enterprises": 1,
                                            "major_risks": 0}
    assert group(item12, "other:crowded")["enterprises"] == 1
    assert sum(g["enterprises"] for g in item12["groups"]) == item12["enterprises"]


def test_form000_item13_counts_hazards_found_this_year_and_rectified_by_the_month_end(session):
    build_register(session)
    r = region(compute_return(session, "532500", OCT, scope=ALL), "532500")
    item13 = r["form000"]["item13"]
    # enterprises with any hazard found 1 Jan – 31 Oct: A (h2, h8), B (h3, h4), C (h5), D (h6)
    assert item13["enterprises"] == 4
    # major found in 2026 up to October: h2, h3, h4, h5 (h1 was found in December 2025)
    assert item13["major_found"] == 4
    # rectified: only h3; h4 was verified on 3 November, h1 was not found this year
    assert item13["major_rectified"] == 1
    assert group(item13, "coal") == {"key": "coal", "name": "煤矿", "enterprises": 1, "major_found": 2,
                                     "major_rectified": 1}
    assert group(item13, "hazchem")["major_found"] == 1 and group(item13, "hazchem")["major_rectified"] == 0
    # 工贸: C (h5) and D (h6, general) investigated, one major found
    assert group(item13, "other:trade") == {"key": "other:trade", "name": "工贸", "enterprises": 2,
                                            "major_found": 1, "major_rectified": 0}
    # E's only hazard is from November
    assert group(item13, "other:crowded")["enterprises"] == 0


def test_dispatch_block_splits_major_hazards_by_source_since_the_campaign_start(session):
    build_register(session)
    numbers = compute_return(session, "532500", OCT, scope=ALL)
    assert (numbers["campaign_start"], numbers["dispatch_start"]) == ("2026-05-01", "2026-05-01")
    r = region(numbers, "532500")
    assert r["dispatch"] == {
        "self_found": 2, "self_rectified": 0,  # h4 (found 1 Sep, verified in November), h5 (1 June)
        "inspection_found": 1, "inspection_rectified": 1,  # h3
        "supervised_found": 0, "supervised_rectified": 0,  # h2 (挂牌督办) was found on 5 March, before 1 May
    }
    # before May the block is blank, not zero
    april = region(compute_return(session, "532500", metrics.period(2026, 4), scope=ALL), "532500")
    assert set(april["dispatch"].values()) == {None} and set(april["dispatch_month"].values()) == {None}
    # a deployment whose campaign began on 1 March counts h2
    march = region(compute_return(session, "532500", metrics.period(2026, 10, "03-01"), scope=ALL), "532500")
    assert (march["dispatch"]["supervised_found"], march["dispatch"]["self_found"]) == (1, 2)


def test_industry_table_cumulative_month_and_industry_rows(session):
    build_register(session)
    r = region(compute_return(session, "532500", OCT, scope=ALL), "532500")
    total = table_row(r, "cumulative")
    # this year's 红 risk points: 液氯储罐区 (controls in place) and 装卸区 → 50 %
    assert (total["major_risks"], total["risks_controlled"], total["control_rate"]) == (2, 1, 50.0)
    # h2, h3, h4 have their 五落实 filled; h5 (registered) has not; of those, h2 is 挂牌督办
    assert (total["major_found"], total["five_measures"], total["supervised"], total["rectified"],
            total["rectify_rate"]) == (4, 3, 1, 1, 25.0)
    month = table_row(r, "month")
    # October's part: 装卸区 (no controls) and h3 (found 8 Oct, verified 25 Oct)
    assert (month["major_risks"], month["risks_controlled"], month["control_rate"]) == (1, 0, 0.0)
    assert (month["major_found"], month["five_measures"], month["supervised"], month["rectified"],
            month["rectify_rate"]) == (1, 1, 0, 1, 100.0)
    assert table_row(r, "hazchem")["control_rate"] == 50.0
    assert table_row(r, "coal")["rectify_rate"] == 50.0
    assert table_row(r, "trade")["major_found"] == 1 and table_row(r, "trade")["rectify_rate"] == 0.0
    # 消防 (人员密集场所): an enterprise but nothing to divide by → no rate
    assert table_row(r, "fire")["major_risks"] == 0 and table_row(r, "fire")["control_rate"] is None
    # rows the register cannot answer stay blank, and so do the columns it cannot answer
    assert set(table_row(r, "road_facilities").values()) == {None}
    assert total["penalties"] is None and total["fines"] is None
    # the industry rows add up to the total
    mapped = ("transport", "construction", "coal", "mine", "gas", "hazchem", "fire", "trade", "other")
    assert sum(table_row(r, k)["major_found"] for k in mapped) == total["major_found"]


def test_child_regions_each_get_their_own_numbers(session):
    build_register(session)
    numbers = compute_return(session, "532500", OCT, scope=ALL)
    assert [x["code"] for x in numbers["regions"]] == ["532500", "532501", "532502"]
    west, east = region(numbers, "532501"), region(numbers, "532502")
    # west: A, D, E (A and E assessed this year); east: B, C, F (only C assessed this year, 高炉 橙)
    assert west["form000"]["item12"]["enterprises"] == 2 and west["form000"]["item12"]["major_risks"] == 2
    assert east["form000"]["item12"]["enterprises"] == 1 and east["form000"]["item12"]["major_risks"] == 0
    assert west["form000"]["item13"]["major_found"] == 1 and east["form000"]["item13"]["major_found"] == 3
    assert east["form000"]["item13"]["major_rectified"] == 1
    assert numbers["period"] == "2026-10" and numbers["period_label"] == "2026年10月"


def test_december_hazard_rectified_in_january_is_not_a_found_or_rectified_hazard_of_the_new_year(session):
    build_register(session)
    jan = compute_return(session, "532500", metrics.period(2026, 1), scope=ALL)
    r = region(jan, "532500")
    # h1 was found in 2025 and is in no 2026 count of found or rectified …
    assert r["form000"]["item13"]["major_found"] == 0
    assert r["form000"]["item13"]["major_rectified"] == 0
    # … but the month-over-month view shows its sign-off in January
    assert r["changes"]["closed"] == 1
    dec = region(compute_return(session, "532500", metrics.period(2025, 12), scope=ALL), "532500")
    # in December 2025 it was found and not yet rectified
    assert dec["form000"]["item13"]["major_found"] == 1 and dec["form000"]["item13"]["major_rectified"] == 0


def test_rectification_verified_after_the_month_counts_in_the_month_it_was_verified(session):
    build_register(session)
    nov = region(compute_return(session, "532500", metrics.period(2026, 11), scope=ALL), "532500")
    # h4 verified 3 November: now rectified alongside h3
    assert nov["form000"]["item13"]["major_rectified"] == 2
    assert nov["dispatch"]["self_rectified"] == 1
    # 煤气柜 (红, 5 November) joins this year's risk work
    assert nov["form000"]["item12"]["major_risks"] == 3


def test_month_over_month_changes(session):
    build_register(session)
    r = region(compute_return(session, "532500", OCT, scope=ALL), "532500")
    # 装卸区 new 红; h3 + h6 found in October (h3 major); h3 signed off in October;
    # h2 (deadline 30 Sep, still rectifying) overdue from 1 October
    assert r["changes"] == {"new_major_risks": 1, "opened": 2, "opened_major": 1, "closed": 1,
                            "went_overdue": 1}
    west = region(compute_return(session, "532500", OCT, scope=ALL), "532501")
    assert west["changes"] == {"new_major_risks": 1, "opened": 1, "opened_major": 0, "closed": 0,
                               "went_overdue": 1}


def test_item14_counts_the_regions_the_service_can_draw_and_not_the_exports(session):
    reg = build_register(session)
    before = compute_return(session, "532500", OCT, scope=ALL)
    # 红河州 is a prefecture-level unit, 个旧市 and 开远市 county-level ones; all three have boundaries.
    # No enterprise of this register has drawn its own 四色图 (no risk zone): 0, a known count
    assert region(before, "532500")["form000"]["item14"] == {
        "done": True, "prefecture_units": 1, "county_units": 2, "enterprises": 0}
    assert region(before, "532502")["form000"]["item14"] == {
        "done": True, "prefecture_units": 0, "county_units": 1, "enterprises": 0}
    # the log of exported maps does not move the figure (who pressed a button is not a statistic)
    session.add_all([
        MapExport(region_code="532500", period=dt.date(2026, 10, 1), kind="risk", fmt="png"),
        MapExport(enterprise_id=reg.ent["A"].id, period=dt.date(2026, 10, 1), kind="risk", fmt="png"),
    ])
    session.flush()
    after = compute_return(session, "532500", OCT, scope=ALL)
    assert [r["form000"]["item14"] for r in after["regions"]] == [r["form000"]["item14"] for r in before["regions"]]
    # a county account counts only its own county
    county = region(compute_return(session, "532500", OCT, scope=Scope(region="532501")), "532500")
    assert county["form000"]["item14"]["prefecture_units"] == 0 and county["form000"]["item14"]["county_units"] == 1


def test_scope_restricts_every_count(session):
    build_register(session)
    r = region(compute_return(session, "532500", OCT, scope=Scope(region="532501")), "532500")
    # only A, D, E are visible (A and E assessed this year)
    assert r["form000"]["item12"]["enterprises"] == 2
    assert r["form000"]["item13"]["major_found"] == 1
    assert r["dispatch"]["inspection_found"] == 0


def test_rates_round_half_up(session):
    add_regions(session)
    e = Enterprise(credit_code=credit_code(99), name="危化仓储", industry_code="hazchem",
                   geom="SRID=4326;POINT(103.2 23.2)")
    session.add(e)
    session.flush()
    # 1 of 16 红 risk points controlled = 6.25 % → 6.3 (banker's rounding would give 6.2)
    session.add_all([RiskPoint(enterprise_id=e.id, name=f"储罐{i}", grade=1, assessed_on=dt.date(2026, 1, 5),
                               controls_implemented=(i == 0)) for i in range(16)])
    session.flush()
    r = region(compute_return(session, "532500", OCT, scope=ALL), "532500")
    assert table_row(r, "cumulative")["control_rate"] == 6.3


def test_unknown_region_and_bad_month():
    with pytest.raises(InvalidParameter, match="月份"):
        parse_month("2026-13")
    with pytest.raises(InvalidParameter, match="月份"):
        parse_month("202610")
    assert parse_month("2026-02").end == dt.date(2026, 2, 28)


def test_unknown_region_is_not_found(session):
    with pytest.raises(NotFound, match="999999"):
        compute_return(session, "999999", OCT, scope=ALL)


def test_campaign_start_setting_is_checked_at_start_up(monkeypatch, tmp_path):
    from geo_service.config import Config

    monkeypatch.setenv("CAMPAIGN_START", "2026-05-15")
    assert Config(var_dir=tmp_path).CAMPAIGN_START == "2026-05-15"
    assert metrics.period(2026, 5, "2026-05-15").campaign == metrics.Span(
        dt.date(2026, 5, 15), dt.date(2026, 5, 15), dt.date(2026, 5, 31))
    monkeypatch.setenv("CAMPAIGN_START", "5月1日")
    with pytest.raises(ValueError, match="CAMPAIGN_START"):
        Config(var_dir=tmp_path)

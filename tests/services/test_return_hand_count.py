"""The return of October 2026 on a register of 30 enterprises, every cell counted by hand.

The register below (``ENTERPRISES``) has every hazard source (S 企业自查, I 部门检查,
V 挂牌督办, R 举报), every industry of the statistics split, and dates on both
sides of the year boundary (2025-12-31 / 2026-01-01), of the campaign's start
(2026-04-30 / 2026-05-01), and of the month's boundaries (09-30 / 10-01 and
10-31 / 11-01).  Odd-numbered enterprises lie in 个旧市 532501 (west), even ones
in 开远市 532502 (east), both in 红河州 532500 (regions of ``test_statistics``).

The expected figures were worked out by hand from the table, one reading of
the forms at a time (``docs/STATISTICS.md``):

* A — risk work counts when assessed 1 Jan – 31 Oct 2026; no date: never;
* B — the 调度表 counts major hazards found from 1 May (CAMPAIGN_START 05-01);
* C — 其中：挂牌督办治理 = the 挂牌督办 hazards among 落实治理措施 (五落实 in place);
* D — 本月 = October's part of 累计; 已完成治理 本月 = this year's hazards signed off in October;
* F — 已整改 / 已完成治理 = 已验收销号 with the 验收日期 by the month's end
  ("已整改待验收" does not count).

Each expected number carries a comment naming the records that make it.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import credit_code
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from geo_service.models import Enterprise, Hazard, RiskPoint, RiskZone
from geo_service.queries import metrics
from geo_service.queries.scope import ALL
from geo_service.services.statistics import TABLE_COLUMNS, TABLE_ROWS, compute_return
from geo_service.services.workbook import FORM000_CONTENT, build_workbook
from services.test_statistics import add_regions, group, region, table_row

# grade: 1 红 2 橙 3 黄 4 蓝.  Risk point: (grade, assessed_on, controls in place).
# Hazard: (name, level M/G, source S/I/V/R, found_on, state, verified_on, 五落实 filled).
# state: reg = 已登记, ing = 整改中, wait = 已整改待验收, closed = 已验收销号 (on verified_on).
ENTERPRISES: dict[str, tuple[str, list[tuple[int, str | None, bool]], list[tuple[Any, ...]]]] = {
    "E01": ("coal", [(1, "2026-01-01", True), (1, "2025-12-31", True)],
            [("H01a", "M", "S", "2025-12-31", "closed", "2026-01-05", True),
             ("H01b", "M", "S", "2026-01-01", "closed", "2026-10-01", True)]),
    "E02": ("coal", [(2, "2026-10-01", False)],
            [("H02a", "M", "I", "2026-10-31", "reg", None, False),
             ("H02b", "G", "S", "2026-11-01", "reg", None, False)]),
    "E03": ("mine", [(1, "2026-10-31", False), (1, "2026-11-01", True)],
            [("H03", "M", "V", "2026-04-30", "ing", None, True)]),
    "E04": ("mine", [(4, None, True)],
            [("H04", "M", "V", "2026-05-01", "closed", "2026-09-30", True)]),
    "E05": ("hazchem", [(1, "2026-09-30", True), (1, "2026-10-01", True), (3, "2026-03-15", False)],
            [("H05", "M", "S", "2026-09-30", "closed", "2026-10-01", True)]),
    "E06": ("hazchem", [(1, "2026-05-01", False)],
            [("H06a", "M", "V", "2026-06-10", "wait", None, True),
             ("H06b", "M", "I", "2026-10-01", "closed", "2026-10-31", True)]),
    "E07": ("hazchem", [],
            [("H07", "M", "S", "2026-03-01", "closed", "2026-04-30", True)]),
    "E08": ("fireworks", [(2, "2026-02-02", True)],
            [("H08", "M", "R", "2026-07-07", "closed", "2026-08-08", True)]),
    "E09": ("fireworks", [(1, "2025-06-01", True)],
            [("H09", "G", "R", "2026-10-15", "reg", None, False)]),
    "E10": ("trade.metallurgy", [(1, "2026-04-30", True)],
            [("H10", "M", "S", "2026-05-01", "ing", None, True)]),
    "E11": ("trade.textile", [(3, "2026-10-10", False)],
            [("H11", "M", "I", "2026-04-30", "closed", "2026-05-01", True)]),
    "E12": ("trade.commerce", [],
            [("H12", "G", "S", "2026-10-01", "closed", "2026-10-05", False)]),
    "E13": ("trade", [(1, "2026-08-01", False)],
            [("H13", "M", "V", "2026-08-15", "reg", None, True)]),
    "E14": ("construction", [(1, "2026-06-01", True)],
            [("H14", "M", "I", "2026-09-01", "closed", "2026-11-01", True)]),
    "E15": ("construction", [(2, None, False)],
            [("H15", "M", "S", "2026-10-20", "reg", None, False)]),
    "E16": ("transport", [(4, "2026-01-15", True)],
            [("H16", "M", "R", "2026-10-09", "ing", None, True)]),
    "E17": ("transport", [], []),
    "E18": ("gas", [(1, "2026-10-31", True)],
            [("H18", "M", "V", "2026-10-10", "closed", "2026-10-30", True)]),
    "E19": ("gas", [(2, "2025-12-31", True)],
            [("H19", "M", "S", "2025-12-15", "ing", None, True)]),
    "E20": ("crowded", [(3, "2026-05-05", False)],
            [("H20", "G", "I", "2026-09-30", "closed", "2026-10-02", False)]),
    "E21": ("crowded", [(1, "2026-02-28", False)],
            [("H21", "M", "I", "2026-01-01", "closed", "2026-01-31", True)]),
    "E22": ("other", [(1, "2026-07-01", True)],
            [("H22", "M", "V", "2026-09-15", "ing", None, True)]),
    "E23": ("other", [(4, "2026-12-01", True)],
            [("H23", "M", "S", "2026-11-02", "reg", None, False)]),
    "E24": ("coal", [(1, "2026-03-03", True)],
            [("H24a", "M", "S", "2026-06-06", "closed", "2026-09-09", True),
             ("H24b", "M", "S", "2026-10-10", "reg", None, False)]),
    "E25": ("mine", [(2, "2026-09-01", True)],
            [("H25", "G", "V", "2026-05-20", "closed", "2026-06-20", False)]),
    "E26": ("hazchem", [(1, "2026-01-10", False), (1, "2026-10-15", False)],
            [("H26", "M", "R", "2026-10-01", "closed", "2026-10-31", True)]),
    "E27": ("trade.machinery", [(4, "2026-05-01", True)], []),
    "E28": ("construction", [],
            [("H28", "M", "V", "2026-10-31", "reg", None, True)]),
    "E29": ("other", [(1, "2026-09-30", False)],
            [("H29", "M", "I", "2025-12-31", "closed", "2026-02-01", True)]),
    "E30": ("gas", [(2, "2026-11-01", False)],
            [("H30", "M", "I", "2026-01-01", "ing", None, True)]),
}

# Enterprises that drew their own 四色图: the moment (Beijing time) of their first risk zone.
DRAWN = {
    "E05": "2026-10-31T23:30:00+08:00",  # the last half hour of October: counts in October (个旧市)
    "E10": "2026-11-01T00:10:00+08:00",  # ten minutes into November (16:10 UTC on 31 October): not yet
    "E20": "2026-03-15T09:00:00+08:00",  # in March: counts from then on (开远市)
}

OCT = metrics.period(2026, 10)
_LEVEL = {"M": "major", "G": "general"}
_SOURCE = {"S": "self", "I": "inspection", "V": "supervised", "R": "report"}
_STATE = {"reg": "registered", "ing": "rectifying", "wait": "rectified", "closed": "closed"}


def _d(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def build(session: Session) -> dict[str, Enterprise]:
    """The register of the table (flushed, not committed)."""
    add_regions(session)
    ents = {}
    for n, (key, (industry, _, _)) in enumerate(ENTERPRISES.items(), start=1):
        west = n % 2 == 1
        lng = (103.05 if west else 103.55) + n * 0.01
        ents[key] = Enterprise(credit_code=credit_code(500 + n), name=f"企业{key}", industry_code=industry,
                               geom=f"SRID=4326;POINT({lng} {23.1 + n * 0.02})")
    session.add_all(ents.values())
    session.flush()
    for key, (_, points, hazards) in ENTERPRISES.items():
        eid = ents[key].id
        for i, (grade, assessed, controlled) in enumerate(points):
            session.add(RiskPoint(enterprise_id=eid, name=f"{key}风险点{i + 1}", grade=grade,
                                  assessed_on=_d(assessed), controls_implemented=controlled))
        for name, level, source, found, state, verified, five in hazards:
            found_on = _d(found)
            h = Hazard(enterprise_id=eid, description=f"{name}隐患", level=_LEVEL[level], source=_SOURCE[source],
                       found_on=found_on, state=_STATE[state])
            if source == "V":
                h.supervision_doc_no = f"红安督〔2026〕{name}号"
            if five:
                h.resp_person, h.measures, h.funds_wan, h.emergency_plan = "责任人", "治理措施", 5, "应急预案"
                h.deadline = found_on + dt.timedelta(days=365)
            if state in ("wait", "closed"):
                h.rectified_on = _d(verified) or found_on
            if state == "closed":
                h.verified_on, h.verifier = _d(verified), "县应急管理局"
            session.add(h)
    for key, moment in DRAWN.items():
        lng, lat = session.execute(sa.select(sa.func.ST_X(Enterprise.geom), sa.func.ST_Y(Enterprise.geom))
                                   .where(Enterprise.id == ents[key].id)).one()
        session.add(RiskZone(enterprise_id=ents[key].id, name="罐区", created_at=dt.datetime.fromisoformat(moment),
                             geom=f"SRID=4326;MULTIPOLYGON((({lng} {lat},{lng + 0.001} {lat},{lng + 0.001} {lat + 0.001},"
                                  f"{lng} {lat + 0.001},{lng} {lat})))"))
    session.flush()
    return ents


@pytest.fixture
def numbers(session: Session) -> dict[str, Any]:
    build(session)
    return compute_return(session, "532500", OCT, scope=ALL)


def test_item12_this_years_risk_work(numbers):
    r = region(numbers, "532500")
    item12 = r["form000"]["item12"]
    # E01 E02 E03 E05 E06 E08 E10 E11 E13 E14 E16 E18 E20 E21 E22 E24 E25 E26 E27 E29: at least one risk point
    # assessed 1 Jan – 31 Oct.  Not E04/E15 (no date), E09/E19 (2025), E23/E30 (after October), E07/E12/E17/E28
    # (no risk point)
    assert item12["enterprises"] == 20 and item12["done"] is True
    # 红 assessed this year by 31 Oct: E01 (1 Jan), E03 (31 Oct), E05 ×2 (30 Sep, 1 Oct), E06, E10 (30 Apr),
    # E13, E14, E18 (31 Oct), E21, E22, E24, E26 ×2, E29 — not E01's 2025-12-31 nor E03's 1 November one
    assert item12["major_risks"] == 15
    assert group(item12, "coal") == {"key": "coal", "name": "煤矿", "enterprises": 3,  # E01 E02 E24
                                     "major_risks": 2}  # E01 (1 Jan), E24
    assert (group(item12, "mine")["enterprises"], group(item12, "mine")["major_risks"]) == (2, 1)  # E03 E25; E03
    assert (group(item12, "hazchem")["enterprises"],  # E05 E06 E26 (E07 has none)
            group(item12, "hazchem")["major_risks"]) == (3, 5)  # E05 ×2, E06, E26 ×2
    assert (group(item12, "other:fireworks")["enterprises"],  # E08 (E09's is from 2025)
            group(item12, "other:fireworks")["major_risks"]) == (1, 0)
    assert (group(item12, "other:trade")["enterprises"],  # E10 E11 E13 E27 (工贸 sub-industries roll up)
            group(item12, "other:trade")["major_risks"]) == (4, 2)  # E10, E13
    assert (group(item12, "other:construction")["enterprises"],  # E14 (E15 undated, E28 none)
            group(item12, "other:construction")["major_risks"]) == (1, 1)
    assert (group(item12, "other:transport")["enterprises"],  # E16 (蓝)
            group(item12, "other:transport")["major_risks"]) == (1, 0)
    assert (group(item12, "other:gas")["enterprises"],  # E18 (E19 2025, E30 November)
            group(item12, "other:gas")["major_risks"]) == (1, 1)
    assert (group(item12, "other:crowded")["enterprises"],  # E20 E21
            group(item12, "other:crowded")["major_risks"]) == (2, 1)  # E21
    assert (group(item12, "other:other")["enterprises"],  # E22 E29 (E23 December)
            group(item12, "other:other")["major_risks"]) == (2, 2)
    # west (odd): E01 E03 E05 E11 E13 E21 E25 E27 E29; east (even): E02 E06 E08 E10 E14 E16 E18 E20 E22 E24 E26
    assert region(numbers, "532501")["form000"]["item12"]["enterprises"] == 9
    assert region(numbers, "532502")["form000"]["item12"]["enterprises"] == 11


def test_item13_this_years_hazards_and_their_sign_off(numbers):
    item13 = region(numbers, "532500")["form000"]["item13"]
    # every enterprise with a hazard found 1 Jan – 31 Oct: all but E17 (none), E19 (2025), E23 (November),
    # E27 (none), E29 (2025)
    assert item13["enterprises"] == 25
    # major found 2026-01-01 … 10-31: H01b H02a H03 H04 H05 H06a H06b H07 H08 H10 H11 H13 H14 H15 H16 H18 H21
    # H22 H24a H24b H26 H28 H30 (not H01a/H29 of 31 Dec 2025, H19, H23 of November)
    assert item13["major_found"] == 23
    # signed off by 31 Oct: H01b (1 Oct) H04 (30 Sep) H05 (1 Oct) H06b (31 Oct) H07 H08 H11 H18 H21 H24a H26;
    # not H14 (1 November), not H06a (已整改待验收)
    assert item13["major_rectified"] == 11
    expected = {  # group: (enterprises, major found, rectified)
        "coal": (3, 4, 2),  # E01 E02 E24; H01b H02a H24a H24b; H01b H24a
        "mine": (3, 2, 1),  # E03 E04 E25 (H25 general); H03 H04; H04
        "hazchem": (4, 5, 4),  # E05 E06 E07 E26; H05 H06a H06b H07 H26; all but H06a
        "other:fireworks": (2, 1, 1),  # E08 E09 (H09 general); H08; H08
        "other:trade": (4, 3, 1),  # E10 E11 E12 (general) E13; H10 H11 H13; H11
        "other:construction": (3, 3, 0),  # E14 E15 E28; H14 H15 H28; H14 signed off 1 November
        "other:transport": (1, 1, 0),  # E16; H16
        "other:gas": (2, 2, 1),  # E18 E30; H18 H30; H18
        "other:crowded": (2, 1, 1),  # E20 (H20 general) E21; H21; H21
        "other:other": (1, 1, 0),  # E22 (E23 November, E29 2025); H22
    }
    for key, counts in expected.items():
        g = group(item13, key)
        assert (g["enterprises"], g["major_found"], g["major_rectified"]) == counts, key


def test_dispatch_counts_from_the_campaign_start(numbers):
    r = region(numbers, "532500")
    assert numbers["dispatch_start"] == "2026-05-01"
    assert r["dispatch"] == {
        # 企业自查 majors found 1 May – 31 Oct: H05 (30 Sep) H10 (1 May) H15 H24a H24b; not H01b (1 Jan), H07 (1 Mar)
        "self_found": 5,
        "self_rectified": 2,  # H05 (1 Oct), H24a (9 Sep)
        # 部门检查: H02a (31 Oct) H06b (1 Oct) H14; not H11 (30 Apr: before the start, though closed 1 May), H21, H30
        "inspection_found": 3,
        "inspection_rectified": 1,  # H06b (31 Oct); H14 on 1 November
        # 挂牌督办: H04 (1 May) H06a H13 H18 H22 H28 (31 Oct); not H03 (30 Apr), not H25 (general)
        "supervised_found": 6,
        "supervised_rectified": 2,  # H04, H18
    }
    assert r["dispatch_month"] == {
        "self_found": 2, "self_rectified": 1,  # H15 H24b; H05 (found 30 Sep, signed off 1 Oct)
        "inspection_found": 2, "inspection_rectified": 1,  # H02a H06b; H06b
        "supervised_found": 2, "supervised_rectified": 1,  # H18 H28; H18
    }
    # 举报 (H08 H16 H26) has no row.  West (odd): H05 H15 self; H13 supervised
    west = region(numbers, "532501")["dispatch"]
    assert (west["self_found"], west["self_rectified"], west["inspection_found"], west["supervised_found"],
            west["supervised_rectified"]) == (2, 1, 0, 1, 0)


def test_dispatch_at_the_campaign_boundary_and_before_it(session):
    build(session)
    may = region(compute_return(session, "532500", metrics.period(2026, 5), scope=ALL), "532500")
    # found on 1 May: H10 (self), H04 (supervised); H11 (found 30 Apr, closed 1 May) and H03 (30 Apr) are out
    assert may["dispatch"] == {"self_found": 1, "self_rectified": 0, "inspection_found": 0,
                               "inspection_rectified": 0, "supervised_found": 1, "supervised_rectified": 0}
    assert may["dispatch_month"] == may["dispatch"]  # the campaign's first month: 累计 is 本月
    april = region(compute_return(session, "532500", metrics.period(2026, 4), scope=ALL), "532500")
    assert set(april["dispatch"].values()) == {None}  # before the start: blank, never 0
    sep = region(compute_return(session, "532500", metrics.period(2026, 9), scope=ALL), "532500")
    # H05 H10 H24a by 30 Sep (H05 found that day); signed off by 30 Sep: H24a (H05 on 1 Oct)
    assert (sep["dispatch"]["self_found"], sep["dispatch"]["self_rectified"]) == (3, 1)


def test_industry_table_cumulative_and_month(numbers):
    r = region(numbers, "532500")
    total = table_row(r, "cumulative")
    # 15 红 this year (see item 12); controls in place: E01 E05 ×2 E10 E14 E18 E22 E24 → 8; 8/15 = 53.3 %
    assert (total["major_risks"], total["risks_controlled"], total["control_rate"]) == (15, 8, 53.3)
    # 23 major found; 落实治理措施 (五落实): all but H02a H15 H24b → 20; 其中挂牌督办: H03 H04 H06a H13 H18 H22 H28
    # → 7; 已完成治理 11 (item 13); 11/23 = 47.8 %
    assert (total["major_found"], total["five_measures"], total["supervised"], total["rectified"],
            total["rectify_rate"]) == (23, 20, 7, 11, 47.8)
    month = table_row(r, "month")
    # October's 红: E03 (31 Oct, no) E05 (1 Oct, yes) E18 (31 Oct, yes) E26 (15 Oct, no)
    assert (month["major_risks"], month["risks_controlled"], month["control_rate"]) == (4, 2, 50.0)
    # found in October: H02a H06b H15 H16 H18 H24b H26 H28 (not H05, 30 Sep); in hand: H06b H16 H18 H26 H28;
    # of those 挂牌督办: H18 H28; signed off in October: H01b (found 1 Jan) H05 (found 30 Sep) H06b H18 H26
    assert (month["major_found"], month["five_measures"], month["supervised"], month["rectified"],
            month["rectify_rate"]) == (8, 5, 2, 5, 62.5)
    rows = {  # (红, controlled, rate, found, in hand, 其中挂牌督办, signed off, rate)
        "coal": (2, 2, 100.0, 4, 2, 0, 2, 50.0),  # E01 E24; H01b H02a H24a H24b; H01b H24a in hand and closed
        "mine": (1, 0, 0.0, 2, 2, 2, 1, 50.0),  # E03; H03 H04 (both 挂牌督办); H04
        "hazchem": (5, 2, 40.0, 5, 5, 1, 4, 80.0),  # E05 ×2 (controlled) E06 E26 ×2; H06a the 挂牌督办 one
        "other": (2, 1, 50.0, 2, 2, 1, 1, 50.0),  # 烟花爆竹 + 其他: E22 E29; H08 (R, closed) H22 (V)
        "trade": (2, 1, 50.0, 3, 3, 1, 1, 33.3),  # E10 E13; H10 H11 H13 (V); H11
        "construction": (1, 1, 100.0, 3, 2, 1, 0, 0.0),  # E14; H14 H15 H28; H14 H28 in hand; H28 (V)
        "transport": (0, 0, None, 1, 1, 0, 0, 0.0),  # no 红; H16 (举报)
        "gas": (1, 1, 100.0, 2, 2, 1, 1, 50.0),  # E18; H18 (V, closed) H30
        "fire": (1, 0, 0.0, 1, 1, 0, 1, 100.0),  # 人员密集场所: E21; H21
    }
    keys = ("major_risks", "risks_controlled", "control_rate", "major_found", "five_measures", "supervised",
            "rectified", "rectify_rate")
    for row, expected in rows.items():
        assert tuple(table_row(r, row)[k] for k in keys) == expected, row


def test_month_over_month_changes(numbers):
    changes = region(numbers, "532500")["changes"]
    # October's 红 (E03 E05 E18 E26); found in October: H02a H06b H09 H12 H15 H16 H18 H24b H26 H28 (8 major);
    # signed off in October whenever found: H01b H05 H06b H12 H18 H20 H26
    assert (changes["new_major_risks"], changes["opened"], changes["opened_major"], changes["closed"]) == (4, 10, 8, 7)


def test_year_boundary_in_january(session):
    build(session)
    jan = region(compute_return(session, "532500", metrics.period(2026, 1), scope=ALL), "532500")
    # 红 assessed in January: E01 (1 Jan; not its 31 Dec one), E26 (10 Jan); enterprises also E16 (蓝, 15 Jan)
    assert (jan["form000"]["item12"]["enterprises"], jan["form000"]["item12"]["major_risks"]) == (3, 2)
    # found 1 Jan: H01b H21 H30 (H01a and H29 were found on 31 Dec 2025); signed off by 31 Jan: H21
    # (H01a was signed off on 5 Jan, but it is last year's hazard)
    assert (jan["form000"]["item13"]["major_found"], jan["form000"]["item13"]["major_rectified"]) == (3, 1)
    assert jan["changes"]["closed"] == 2  # H01a (5 Jan) and H21 (31 Jan) were signed off in January


def test_cumulative_is_last_month_plus_this_month_on_the_hand_register(session):
    build(session)
    check_invariants(session, "532500", 2026)


# --- shared with the demo register's test ----------------------------------------------------------

TABLE_CUMULATIVE = ("major_risks", "risks_controlled", "major_found", "five_measures", "supervised", "rectified")


def check_invariants(session: Session, code: str, year: int, campaign: str = metrics.DEFAULT_CAMPAIGN_START) -> int:
    """累计(m) = 累计(m−1) + 本月(m) for every cumulative column of the 调度表 and 附件2 (D), and
    其中 ≤ its column (C), for every region of the return and every month of ``year``.
    Returns how many (region, month, column) triples were checked."""
    checked = 0
    previous: dict[str, dict[str, Any]] = {}
    for month in range(1, 13):
        numbers = compute_return(session, code, metrics.period(year, month, campaign), scope=ALL)
        for r in numbers["regions"]:
            cum, part = table_row(r, "cumulative"), table_row(r, "month")
            before = previous.get(r["code"])
            for k in TABLE_CUMULATIVE:
                prior = table_row(before, "cumulative")[k] if before else 0  # January starts the year afresh
                assert cum[k] == prior + part[k], (r["code"], month, "附件2", k)
                checked += 1
            if numbers["dispatch_start"] is None:
                assert set(r["dispatch"].values()) == {None}
            else:
                started = before is not None and before["dispatch"]["self_found"] is not None
                for k, v in r["dispatch"].items():
                    prior = before["dispatch"][k] if started else 0  # the campaign's first month
                    assert v == prior + r["dispatch_month"][k], (r["code"], month, "调度表", k)
                    checked += 1
                    if k.endswith("_rectified"):  # 已完成整改 is among the found (…发现重大事故隐患中已完成整改的)
                        assert v <= r["dispatch"][k.replace("_rectified", "_found")]
            for row in r["industry_table"]:
                values = row["values"]
                if values["supervised"] is not None:  # C: 其中 never exceeds the column it stands under
                    assert values["supervised"] <= values["five_measures"] <= values["major_found"], (row["key"],
                                                                                                     month)
                    assert values["rectified"] <= values["major_found"] or row["key"] == "month"
            previous[r["code"]] = r
    return checked


# --- reading E: every cell the register cannot know, listed -------------------------------------

# 003 附件2 columns the register holds nothing for (解决突出问题, 督导检查, 执法处罚, 约谈, 惩戒, 行刑衔接)
UNKNOWN_COLUMNS = ("issues", "issues_root", "issues_fixed", "issues_rate", "teams", "experts", "inspected",
                   "penalties", "suspended", "licences", "closed_down", "fines", "prosecuted", "warned",
                   "sanctioned", "criminal")
# 003 附件2 rows no industry of the register maps onto (建设项目's sub-rows: the register does not know them)
UNKNOWN_ROWS = ("road_facilities", "construction.housing", "construction.road", "construction.rail",
                "construction.water", "construction.power", "parks", "self_built", "special_equipment",
                "tourism", "hydro", "hydro.large", "hydro.small", "flood", "old_plant", "high_risk_plant",
                "accident_prone")
# The 调度表's blocks after 总体情况 (对企业自查自改进行抽查检查情况, 部门精准严格执法情况, 党委政府组织领导情况)
UNKNOWN_DISPATCH = (
    "部门抽查检查的企业总数（家）", "企业主要负责人未按要求亲自研究排查整治工作（家）", "企业主要负责人未带队检查（家）",
    "企业未制定分管负责人职责清单（家）", "企业未依法建立安全管理机构和配足安全管理人员（家）",
    "电焊等特种作业岗位人员无证上岗作业（家）", "外包外租安全管理混乱（家）", "未按规定开展应急演练、员工不熟悉逃生出口（家）",
    "帮扶指导重点市、县（个次）", "帮扶指导重点企业（家次）", "行政处罚（次，万元）", "企业和企业主要负责人“一案双罚”（次）",
    "移送司法机关（人）", "责令停产整顿（家）", "曝光、约谈、联合惩戒企业（家）", "公布典型执法案例（个），其中危险作业罪案例（个）",
    "责任倒查追责问责（人）", "约谈通报有关地区及部门（次）", "党委政府分别组织专题学习安全生产十五条硬措施（次）",
    "党委政府主要负责同志分别专题研究（次）", "政府负责同志分别现场督导检查（次）", "安委会成员单位负责同志分别到企业宣讲（次）",
    "举报奖励（万元），其中匿名举报查实奖励（万元）", "是否在省级主流媒体播放安全生产专题栏目", "配备专兼职技术检查员数量（人）",
    "组织开展考核巡查督导检查（次）",
)


def _cells(ws) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {c.value: c for row in ws.iter_rows() for c in row if isinstance(c.value, str)}


def test_every_cell_the_register_cannot_know_is_blank(session):
    build(session)
    numbers = compute_return(session, "532500", OCT, scope=ALL)
    april = compute_return(session, "532500", metrics.period(2026, 4), scope=ALL)
    r = region(numbers, "532500")
    # the numbers: the unknown columns in every row; every column of the unknown rows;
    # the whole 调度表 before the campaign's start (item 14's 企业已绘制 is known: see below)
    for key, _ in TABLE_ROWS:
        values = table_row(r, key)
        assert all(values[c] is None for c in UNKNOWN_COLUMNS), key
        if key in UNKNOWN_ROWS:
            assert all(v is None for v in values.values()), key
        else:  # and the register's eight columns of the mapped rows are numbers (possibly 0), rates aside
            assert all(isinstance(values[c.key], int) for c in TABLE_COLUMNS if c.answerable and c.unit != "%")
    assert len(UNKNOWN_COLUMNS) + 8 == len(TABLE_COLUMNS)
    assert all(v is None for v in region(april, "532500")["dispatch"].values())

    # the workbook: the same cells are empty, never 0
    wb = load_workbook(io.BytesIO(build_workbook(numbers)))
    form = wb["防范遏制统计表"]
    labels = _cells(form)
    drawn = labels["企业已绘制（个）"]
    assert form.cell(drawn.row, drawn.column + 1).value == 2  # E05 and E20, counted below
    # items 1–8 and 10–18 of the form: the 进展情况 of each is left for the unit
    for _, content in FORM000_CONTENT:
        if not content.startswith("9."):
            assert form.cell(labels[content].row, 3).value is None, content
    table = wb["工作情况统计表"]
    row_of = {label: 6 + i for i, (_, label) in enumerate(TABLE_ROWS)}
    col_of = {c.key: 2 + i for i, c in enumerate(TABLE_COLUMNS)}
    for key, label in TABLE_ROWS:
        for c in UNKNOWN_COLUMNS:
            assert table.cell(row_of[label], col_of[c]).value is None, (label, c)
        if key in UNKNOWN_ROWS:
            assert all(table.cell(row_of[label], col).value is None for col in col_of.values()), label
    dispatch = wb["进展情况调度表"]
    dcells = _cells(dispatch)
    for label in UNKNOWN_DISPATCH:
        assert dispatch.cell(dcells[label].row, dcells[label].column + 1).value is None, label
    regions = wb["分地区汇总"]
    col = next(c.column for c in regions[3] if c.value == "企业（个）")
    assert [regions.cell(row, col).value for row in (4, 5, 6)] == [2, 1, 1]  # item 14's 企业已绘制: DRAWN
    # before the campaign's start: the 总体情况 is empty, and the note says why
    before = load_workbook(io.BytesIO(build_workbook(april)))["进展情况调度表"]
    bcells = _cells(before)
    for label in ("企业自查发现的重大事故隐患（个）", "挂牌督办重大事故隐患中已完成整改的（个）"):
        assert before.cell(bcells[label].row, bcells[label].column + 1).value is None
    assert any("早于专项行动开始日期（2026年5月1日）" in text for text in bcells)
    assert "（2026年4月，专项行动自2026年5月1日开始）" in before["A1"].value
    assert wb["进展情况调度表"]["A1"].value.endswith("（2026年5月1日至2026年10月31日累计）")


def test_item14_counts_the_enterprises_that_drew_their_own_map(numbers):
    """Form 000 item 14 "个企业已绘制": enterprises with a risk zone by the end of the month (DRAWN)."""
    assert region(numbers, "532500")["form000"]["item14"]["enterprises"] == 2  # E05 (31 Oct 23:30) and E20 (March)
    assert region(numbers, "532501")["form000"]["item14"]["enterprises"] == 1  # E05
    assert region(numbers, "532502")["form000"]["item14"]["enterprises"] == 1  # E20; E10 drew on 1 November


def test_item14_in_september_counts_only_the_march_map(session):
    build(session)
    sept = compute_return(session, "532500", metrics.period(2026, 9), scope=ALL)
    assert region(sept, "532500")["form000"]["item14"]["enterprises"] == 1  # E20 only

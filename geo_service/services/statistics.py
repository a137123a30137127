"""The numbers of the monthly statistics return.

For a region and a month, :func:`compute_return` answers, for the region and
each of its direct child regions:

* form 000 (防范遏制重特大事故工作统计表) items 12–14;
* the 总体情况 block of the 调度表 (001/002/003 appendices);
* the per-industry table of 003 附件2 (全州重大事故隐患专项排查整治2023行动工作情况统计表),
  in the columns the register can answer; the others stay ``None`` (blank);
* what changed during the month (new 重大风险, hazards opened, closed, gone overdue).

Every count comes from one definition of :mod:`geo_service.queries.metrics`
(readings A–F of the forms: this year's risk work, the 调度表 from the
campaign's start, 其中 as a subset, 本月 as the month's part of 累计, blank for
unknown, 已整改 as signed off); ``docs/STATISTICS.md`` states them for users.
Form 000 and 附件2 are cumulative from 1 January to the month's end; the
调度表 from the campaign's start (``None`` everywhere before it).  A cell the
register cannot know is ``None`` (blank), never 0.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from ..domain import INDUSTRIES, STAT_GROUPS
from ..errors import InvalidParameter, NotFound
from ..models import Region
from ..queries import metrics
from ..queries import returns as q
from ..queries.scope import Scope

__all__ = [
    "parse_month",
    "TableColumn",
    "TABLE_COLUMNS",
    "TABLE_ROWS",
    "INDUSTRY_TABLE_ROW",
    "OTHER_INDUSTRIES",
    "DISPATCH_ITEMS",
    "CHANGE_ITEMS",
    "compute_return",
    "enterprises_with_own_map",
]

SCHEMA_VERSION = 2


def parse_month(text: str, campaign: str = metrics.DEFAULT_CAMPAIGN_START) -> metrics.Period:
    """The period of ``YYYY-MM`` (raises :class:`InvalidParameter` naming ``month``);
    ``campaign`` is the ``CAMPAIGN_START`` setting.

    >>> parse_month("2026-10").end
    datetime.date(2026, 10, 31)
    """
    m = re.fullmatch(r"(\d{4})-(\d{2})", text or "")
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
        raise InvalidParameter("month", "月份格式应为 YYYY-MM，例如 2026-10")
    return metrics.period(int(m.group(1)), int(m.group(2)), campaign)


def enterprises_with_own_map(session: Session, codes: list[str], *, scope: Scope,
                             period: metrics.Period) -> dict[str, int | None]:
    """Form 000 item 14 "个企业已绘制", per region of ``codes``: the enterprises
    of each region (within ``scope``) whose own 四色图 has at least one risk
    zone at the end of ``period``'s month (:func:`queries.zones.enterprises_with_drawn_map`)."""
    from ..queries.zones import enterprises_with_drawn_map

    return {r.code: int(r.enterprises)
            for r in session.execute(enterprises_with_drawn_map(codes, scope, period))}


class TableColumn(NamedTuple):
    """A data column of 003 附件2: its key, group heading, heading and unit."""

    key: str
    group: str
    title: str
    unit: str
    answerable: bool


# The 24 data columns of 003 附件2, in the form's order.  Only the first eight
# are in the register; the others stay blank (never invented).
TABLE_COLUMNS: tuple[TableColumn, ...] = (
    TableColumn("major_risks", "排查重大风险", "排查重大风险", "项", True),
    TableColumn("risks_controlled", "排查重大风险", "已落实“4个清单”管控措施", "项", True),
    TableColumn("control_rate", "排查重大风险", "管控率", "%", True),
    TableColumn("major_found", "治理重大隐患", "发现重大隐患", "项", True),
    TableColumn("five_measures", "治理重大隐患", "落实治理措施", "项", True),
    TableColumn("supervised", "治理重大隐患", "其中：挂牌督办治理", "项", True),
    TableColumn("rectified", "治理重大隐患", "已完成治理", "项", True),
    TableColumn("rectify_rate", "治理重大隐患", "治理率", "%", True),
    TableColumn("issues", "解决突出问题", "梳理突出问题", "项", False),
    TableColumn("issues_root", "解决突出问题", "其中：落实治本措施", "项", False),
    TableColumn("issues_fixed", "解决突出问题", "已整改", "项", False),
    TableColumn("issues_rate", "解决突出问题", "整改率", "%", False),
    TableColumn("teams", "开展督导检查", "派出督导组", "个", False),
    TableColumn("experts", "开展督导检查", "组织专家技术服务", "人", False),
    TableColumn("inspected", "开展督导检查", "检查服务企业单位", "家", False),
    TableColumn("penalties", "执法处罚", "行政处罚", "次", False),
    TableColumn("suspended", "执法处罚", "责令停产整顿企业", "家", False),
    TableColumn("licences", "执法处罚", "暂扣吊销证照企业", "家", False),
    TableColumn("closed_down", "执法处罚", "关闭取缔企业", "家", False),
    TableColumn("fines", "执法处罚", "罚款", "万", False),
    TableColumn("prosecuted", "执法处罚", "移送司法机关", "人", False),
    TableColumn("warned", "约谈警示", "约谈警示", "家", False),
    TableColumn("sanctioned", "联合惩戒", "联合惩戒", "家", False),
    TableColumn("criminal", "行刑衔接", "行刑衔接", "件", False),
)
ANSWERABLE = tuple(c.key for c in TABLE_COLUMNS if c.answerable)

# The rows of 003 附件2 in the form's order: (key, label).
TABLE_ROWS: tuple[tuple[str, str], ...] = (
    ("cumulative", "累计总计"),
    ("month", "本月总计"),
    ("transport", "交通运输"),
    ("road_facilities", "公路设施"),
    ("construction", "建设项目"),
    ("construction.housing", "其中：房屋市政"),
    ("construction.road", "公路"),
    ("construction.rail", "铁路"),
    ("construction.water", "水利"),
    ("construction.power", "电力"),
    ("parks", "各类园区"),
    ("coal", "煤矿"),
    ("mine", "非煤矿山"),
    ("self_built", "自建房"),
    ("gas", "燃气设施"),
    ("special_equipment", "特种设备"),
    ("hazchem", "化工和危化品"),
    ("tourism", "旅游"),
    ("fire", "消防"),
    ("trade", "工贸"),
    ("hydro", "水电站"),
    ("hydro.large", "其中：5万（含）以上"),
    ("hydro.small", "5万以下"),
    ("flood", "防汛减灾"),
    ("old_plant", "老旧装置"),
    ("high_risk_plant", "高危装置"),
    ("accident_prone", "事故易发多发企业"),
    ("other", "其他"),
)

# Our top-level industries onto the rows of 003 附件2 — the one mapping.
# 建筑施工 goes to 建设项目 as a whole (the register does not know whether a
# site is 房屋市政, 公路, 铁路 …, so those sub-rows stay blank); 人员密集场所
# is supervised under 消防; 烟花爆竹 has no row of its own and goes to 其他.
# An industry missing here (added later) is counted under 其他.
INDUSTRY_TABLE_ROW: dict[str, str] = {
    "coal": "coal",
    "mine": "mine",
    "hazchem": "hazchem",
    "fireworks": "other",
    "trade": "trade",
    "construction": "construction",
    "transport": "transport",
    "gas": "gas",
    "crowded": "fire",
    "other": "other",
}
MAPPED_ROWS = frozenset(INDUSTRY_TABLE_ROW.values())

# Form 000 items 12–13: 煤矿 / 非煤矿山 / 危险化学品, then each other top-level industry.
OTHER_INDUSTRIES: tuple[tuple[str, str], ...] = tuple(
    (i.code, i.name) for i in INDUSTRIES if i.parent is None and i.stat_group == "other"
)

# The 总体情况 block of the 调度表: (number, key, label).
DISPATCH_ITEMS: tuple[tuple[int, str, str], ...] = (
    (1, "self_found", "企业自查发现的重大事故隐患（个）"),
    (2, "self_rectified", "企业自查发现重大事故隐患中已完成整改的（个）"),
    (3, "inspection_found", "部门检查发现的重大事故隐患（个）"),
    (4, "inspection_rectified", "部门检查发现重大事故隐患中已完成整改的（个）"),
    (5, "supervised_found", "政府挂牌督办的重大事故隐患（个）"),
    (6, "supervised_rectified", "挂牌督办重大事故隐患中已完成整改的（个）"),
)

# The month-over-month view: (key, label).
CHANGE_ITEMS: tuple[tuple[str, str], ...] = (
    ("new_major_risks", "新增重大风险（处）"),
    ("opened", "新发现隐患（项）"),
    ("opened_major", "其中重大隐患（项）"),
    ("closed", "验收销号（项）"),
    ("went_overdue", "新增逾期（项）"),
)

_RISK_FIELDS = ("enterprises", "major", "major_controlled", "major_month", "major_controlled_month")
_YEAR_FIELDS = ("enterprises", "major_found", "major_rectified", "major_in_hand", "supervised_in_hand")
_HAZARD_FIELDS = _YEAR_FIELDS + tuple(f + "_month" for f in _YEAR_FIELDS)
_DISPATCH_FIELDS = tuple(f"{src}_{what}" for src in metrics.DISPATCH_SOURCES for what in ("found", "rectified"))
_DISPATCH_ALL = _DISPATCH_FIELDS + tuple(f + "_month" for f in _DISPATCH_FIELDS)


def _group_of(industry: str, stat_group: str) -> str:
    """Form-000 split key: ``coal``/``mine``/``hazchem`` or ``other:<top-level industry>``."""
    return stat_group if stat_group != "other" else f"other:{industry}"


def _table_row_of(industry: str) -> str:
    return INDUSTRY_TABLE_ROW.get(industry, "other")


def _blank_values() -> dict[str, int | float | None]:
    return {c.key: None for c in TABLE_COLUMNS}


def _table_values(major: int, controlled: int, found: int, in_hand: int, supervised: int,
                  rectified: int) -> dict[str, int | float | None]:
    values = _blank_values()
    values.update(
        major_risks=major, risks_controlled=controlled, control_rate=metrics.rate(controlled, major),
        major_found=found, five_measures=in_hand, supervised=supervised, rectified=rectified,
        rectify_rate=metrics.rate(rectified, found),
    )
    return values


def _region_numbers(code: str, name: str, level: str,
                    risk: Mapping[tuple[str, str], Mapping[str, int]],
                    hazard: Mapping[tuple[str, str], Mapping[str, int]],
                    units: Mapping[str, int | None], changes: Mapping[str, int],
                    campaign_open: bool) -> dict[str, Any]:
    """Assemble one region's numbers from the grouped counts keyed by (industry, stat_group)."""

    def total(rows: Mapping[tuple[str, str], Mapping[str, int]], field: str,
              keep: Any = lambda key: True) -> int:
        return sum(int(r[field]) for key, r in rows.items() if keep(key))

    groups = [(k, v) for k, v in STAT_GROUPS.items() if k != "other"]
    groups += [(f"other:{code_}", name_) for code_, name_ in OTHER_INDUSTRIES]
    known = {k for k, _ in groups}

    def in_group(g: str) -> Any:
        # an industry added after this table was written falls under 其他
        return lambda key: (_group_of(*key) if _group_of(*key) in known else "other:other") == g

    item12 = {
        "done": total(risk, "enterprises") > 0,
        "enterprises": total(risk, "enterprises"),
        "major_risks": total(risk, "major"),
        "groups": [
            {"key": g, "name": n, "enterprises": total(risk, "enterprises", in_group(g)),
             "major_risks": total(risk, "major", in_group(g))}
            for g, n in groups
        ],
    }
    item13 = {
        "done": total(hazard, "enterprises") > 0,
        "enterprises": total(hazard, "enterprises"),
        "major_found": total(hazard, "major_found"),
        "major_rectified": total(hazard, "major_rectified"),
        "groups": [
            {"key": g, "name": n, "enterprises": total(hazard, "enterprises", in_group(g)),
             "major_found": total(hazard, "major_found", in_group(g)),
             "major_rectified": total(hazard, "major_rectified", in_group(g))}
            for g, n in groups
        ],
    }
    item14 = {
        "done": any(units[k] for k in ("prefecture_units", "county_units", "enterprises")),
        "prefecture_units": units["prefecture_units"],
        "county_units": units["county_units"],
        "enterprises": units["enterprises"],  # None: the register cannot know (reading E)
    }
    # before the campaign's start the block stays blank (reading B)
    dispatch = {key: total(hazard, key) if campaign_open else None for _, key, _ in DISPATCH_ITEMS}
    dispatch_month = {key: total(hazard, key + "_month") if campaign_open else None
                      for _, key, _ in DISPATCH_ITEMS}

    def row_values(row: str | None, month: bool) -> dict[str, int | float | None]:
        keep = (lambda key: True) if row is None else (lambda key: _table_row_of(key[0]) == row)
        sfx = "_month" if month else ""
        return _table_values(
            total(risk, f"major{sfx}", keep), total(risk, f"major_controlled{sfx}", keep),
            total(hazard, f"major_found{sfx}", keep), total(hazard, f"major_in_hand{sfx}", keep),
            total(hazard, f"supervised_in_hand{sfx}", keep), total(hazard, f"major_rectified{sfx}", keep),
        )

    table = []
    for key, label in TABLE_ROWS:
        if key == "cumulative":
            values = row_values(None, False)
        elif key == "month":
            values = row_values(None, True)
        elif key in MAPPED_ROWS:
            values = row_values(key, False)
        else:
            values = _blank_values()
        table.append({"key": key, "label": label, "values": values})

    return {
        "code": code,
        "name": name,
        "level": level,
        "form000": {"item12": item12, "item13": item13, "item14": item14},
        "dispatch": dispatch,
        "dispatch_month": dispatch_month,
        "industry_table": table,
        "changes": {key: int(changes.get(key, 0)) for key, _ in CHANGE_ITEMS},
    }


def _merged(*parts: Iterable[Any], fields: tuple[str, ...]) -> dict[str, dict[tuple[str, str], dict[str, int]]]:
    """Rows of several statements keyed by (code, industry, stat_group), merged; a field no
    statement gave for a key is 0 (no row: nothing counted)."""
    out: dict[str, dict[tuple[str, str], dict[str, int]]] = defaultdict(dict)
    for rows in parts:
        for r in rows:
            m = r._mapping
            row = out[m["code"]].setdefault((m["industry"], m["stat_group"]), dict.fromkeys(fields, 0))
            row.update({f: int(m[f]) for f in fields if f in m})
    return out


def _counts(session: Session, codes: list[str], scope: Scope, period: metrics.Period, tallies: bool) -> tuple[
        dict[str, dict[tuple[str, str], dict[str, int]]], dict[str, dict[tuple[str, str], dict[str, int]]],
        dict[str, dict[str, int]]]:
    """Risk counts, hazard counts and the month's changes, per region (see :func:`compute_return`)."""
    hazard_fields = _HAZARD_FIELDS + _DISPATCH_ALL
    changes: dict[str, dict[str, int]] = defaultdict(dict)
    if not tallies or scope.enterprise_id is not None:
        # the register itself (also the reference the tallied path is tested against)
        risk = _merged(session.execute(q.risk_counts(codes, scope=scope, period=period)), fields=_RISK_FIELDS)
        hazard = _merged(session.execute(q.hazard_counts(codes, scope=scope, period=period)), fields=hazard_fields)
        risk_changes = q.risk_changes(codes, scope=scope, period=period)
        hazard_changes = q.hazard_changes(codes, scope=scope, period=period)
    else:
        # enterprises from activity_tally, the 重大 columns from the 重大 hazards and red
        # risk points only, the changes from the date indexes (migration 0020)
        risk = _merged(session.execute(q.activity_counts(codes, scope=scope, period=period, kind="risk")),
                       session.execute(q.risk_major_counts(codes, scope=scope, period=period)),
                       fields=_RISK_FIELDS)
        hazard = _merged(session.execute(q.activity_counts(codes, scope=scope, period=period, kind="hazard")),
                         session.execute(q.hazard_major_counts(codes, scope=scope, period=period)),
                         fields=hazard_fields)
        risk_changes = q.risk_changes_red(codes, scope=scope, period=period)
        hazard_changes = q.hazard_changes_indexed(codes, scope=scope, period=period)
    for r in session.execute(risk_changes):
        changes[r.code]["new_major_risks"] = int(r.new_major_risks)
    for r in session.execute(hazard_changes):
        changes[r.code].update({k: int(v) for k, v in r._mapping.items() if k != "code"})
    return risk, hazard, changes


def compute_return(session: Session, code: str, period: metrics.Period, *, scope: Scope,
                   unit: str = "", filled_on: dt.date | None = None, tallies: bool = True) -> dict[str, Any]:
    """The return's numbers for region ``code`` and each direct child region (JSON-ready).

    Parameters
    ----------
    code
        GB/T 2260 region code; :class:`NotFound` when unknown.
    period
        From :func:`geo_service.queries.metrics.period` (1 January → month end).
    scope
        The caller's jurisdiction, ANDed into every count.
    unit, filled_on
        填报单位 and 填报时间 written on the forms.
    tallies
        Count from the tallies and partial indexes of migration 0020 (the default; the
        same numbers, tested against the register); False reads the register itself.  A
        single enterprise's scope always reads the register.  A past month needs no
        fallback: both paths read the hazards and risk points as they are now (the tally
        by their found / assessed months), and a risk point re-graded since the month's
        end is judged by the grade history on both.

    Returns
    -------
    dict
        ``region``, ``period`` (``YYYY-MM``), ``period_label``, ``period_start``,
        ``month_start``, ``period_end``, ``campaign_start`` and ``dispatch_start``
        (None before the campaign's start), ``data_as_of`` (ISO timestamp),
        ``unit``, ``filled_on``, and ``regions``: the region first, then its
        children by code.
    """
    # the names only: session.get would load the region's outline (megabytes for a province)
    region = session.query(Region.code, Region.name, Region.level).filter(Region.code == code).one_or_none()
    if region is None:
        raise NotFound(f"行政区划 {code} 不存在")
    kids = session.query(Region.code, Region.name, Region.level).filter(
        Region.parent_code == code).order_by(Region.code).all()
    regions = [(region.code, region.name, region.level)] + [(k.code, k.name, k.level) for k in kids]
    codes = [c for c, _, _ in regions]

    as_of = session.execute(q.data_as_of()).scalar_one()
    risk, hazard, changes = _counts(session, codes, scope, period, tallies)
    own_maps = enterprises_with_own_map(session, codes, scope=scope, period=period)
    units: dict[str, dict[str, int | None]] = {
        r.code: {"prefecture_units": int(r.prefecture_units), "county_units": int(r.county_units),
                 "enterprises": own_maps[r.code]}
        for r in session.execute(q.drawable_units(codes, scope=scope))}
    campaign = period.campaign

    return {
        "schema": SCHEMA_VERSION,
        "region": {"code": region.code, "name": region.name, "level": region.level},
        "period": f"{period.end.year:04d}-{period.end.month:02d}",
        "period_label": period.label,
        "period_start": period.start.isoformat(),
        "month_start": period.month_start.isoformat(),
        "period_end": period.end.isoformat(),
        "campaign_start": period.campaign_start.isoformat(),
        "dispatch_start": campaign.first.isoformat() if campaign else None,
        "data_as_of": as_of.isoformat(),
        "unit": unit,
        "filled_on": (filled_on or as_of.date()).isoformat(),
        "regions": [
            _region_numbers(c, n, lv, risk.get(c, {}), hazard.get(c, {}), units[c], changes.get(c, {}),
                            campaign is not None)
            for c, n, lv in regions
        ],
    }

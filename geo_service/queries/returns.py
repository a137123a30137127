"""The SQL of the monthly statistics return.

Every statement counts with the definitions of :mod:`geo_service.queries.metrics`
(the period and its spans, found, signed off, in hand, risk assessed, overdue) and ANDs
the caller's :func:`~geo_service.queries.scope.enterprise_scope`.  Each statement
counts once per enterprise ``region_code`` (one pass over the enterprises of
the requested regions) and then rolls those counts up to the regions, given
as a VALUES list of ``(code, prefix)``, by code prefix — so one statement
answers the region and all its children.  Counts of distinct enterprises roll
up by summing because every enterprise has exactly one ``region_code``.

Region outlines for the printed maps are transformed in PostGIS to a local
transverse Mercator (metres) centred on the region and simplified there with
a tolerance in metres; points are returned in EPSG:4326 and projected by the
renderer with pyproj (PostGIS rebuilds a PROJ-string transformation per row).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from ..models import Enterprise, Hazard, Industry, Region, RiskPoint
from . import metrics
from .dual_prevention import grade_at, month_end, risk_point_grade_at, risk_points_regraded_after
from .filters import hazard_location
from .scope import Scope, enterprise_scope, region_clause, region_prefix

__all__ = [
    "regions_values",
    "industry_key",
    "risk_counts",
    "hazard_counts",
    "activity_counts",
    "risk_major_counts",
    "hazard_major_counts",
    "risk_changes_red",
    "hazard_changes_indexed",
    "drawable_units",
    "risk_changes",
    "hazard_changes",
    "local_crs",
    "region_centre",
    "region_envelope",
    "change_points",
    "region_outlines",
    "enterprise_points",
    "major_hazard_points",
    "data_as_of",
]


def regions_values(codes: Sequence[str]) -> sa.Values:
    """A VALUES list ``v(code, prefix)`` of the regions to count for."""
    return sa.values(sa.column("code", sa.String), sa.column("prefix", sa.String), name="v").data(
        [(code, region_prefix(code)) for code in codes]
    )


def industry_key() -> ColumnElement[str]:
    """The top-level industry of an enterprise (工贸/冶金 → 工贸's code ``trade``)."""
    return sa.func.coalesce(Industry.parent_code, Industry.code)


def _count_if(clause: ColumnElement[bool]) -> ColumnElement[int]:
    return sa.func.count().filter(clause)


def _distinct_enterprises_if(clause: ColumnElement[bool]) -> ColumnElement[int]:
    return sa.func.count(sa.distinct(Enterprise.id)).filter(clause)


def _within(codes: Sequence[str], column: Any = None) -> ColumnElement[bool]:
    """Enterprises in any of the regions ``codes`` (prefixes covered by a shorter one are dropped);
    ``column``: another column holding an enterprise's region code (default ``enterprise.region_code``)."""
    prefixes = sorted({region_prefix(c) for c in codes})
    outer = [p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)]
    col = Enterprise.region_code if column is None else column
    return sa.or_(sa.false(), *(col.like(p + "%") for p in outer))


def _per_county(codes: Sequence[str], scope: Scope, *keys: ColumnElement[Any]) -> Select[Any]:
    """Enterprises of the requested regions and scope, grouped by their own ``region_code`` and ``keys``."""
    return (
        sa.select(Enterprise.region_code, *keys)
        .select_from(Enterprise)
        .where(_within(codes), enterprise_scope(scope))
        .group_by(Enterprise.region_code, *keys)
    )


def _base(codes: Sequence[str], scope: Scope) -> Select[Any]:
    return _per_county(codes, scope, industry_key().label("industry"), Industry.stat_group).join(
        Industry, Industry.code == Enterprise.industry_code)


def _roll_up(codes: Sequence[str], per_county: Select[Any], keys: Sequence[str] = ()) -> Select[Any]:
    """Sum the per-``region_code`` counts of ``per_county`` into each region of ``codes`` (by prefix).

    Columns: ``code``, then ``keys``, then every other column of ``per_county`` summed.
    """
    v = regions_values(codes)
    sub = per_county.subquery()
    key_cols = [sub.c[k] for k in keys]
    sums = [sa.cast(sa.func.sum(c), sa.BigInteger).label(c.name) for c in sub.c
            if c.name != "region_code" and c.name not in keys]
    return (
        sa.select(v.c.code, *key_cols, *sums)
        .select_from(v)
        .join(sub, sub.c.region_code.like(v.c.prefix + "%"))
        .group_by(v.c.code, *key_cols)
    )


def _major_then(period: metrics.Period) -> ColumnElement[bool]:
    """重大风险 as graded at the end of ``period``'s month (so a later re-grade does not
    rewrite a past month's return)."""
    return metrics.major_risk(risk_point_grade_at(month_end(period.month_start)))


def _risk_major_columns(period: metrics.Period) -> list[Any]:
    """``major``, ``major_controlled``, ``major_month``, ``major_controlled_month``: the 重大风险
    columns of the return over risk points joined to their enterprises (red at the month's end)."""
    red = _major_then(period)
    controlled = metrics.controls_in_place()
    this_month = metrics.risk_assessed(period.year, True)
    return [
        _count_if(red).label("major"),
        _count_if(sa.and_(red, controlled)).label("major_controlled"),
        _count_if(sa.and_(red, this_month)).label("major_month"),
        _count_if(sa.and_(red, controlled, this_month)).label("major_controlled_month"),
    ]


def risk_counts(codes: Sequence[str], *, scope: Scope, period: metrics.Period) -> Select[Any]:
    """Risk identification this year (reading A) per region and top-level industry.

    Columns: ``code, industry, stat_group, enterprises`` (with any risk point
    assessed between 1 January and the month's end), ``major`` (重大风险 so
    assessed, graded 红 at the month's end), ``major_controlled`` (of those, controls in place),
    ``major_month`` and ``major_controlled_month`` (the month's part).
    Risk points without an assessment date are not counted.
    """
    span = period.year
    per_county = (
        _base(codes, scope)
        .join(RiskPoint, RiskPoint.enterprise_id == Enterprise.id)
        .where(metrics.risk_assessed(span))
        .add_columns(
            _distinct_enterprises_if(metrics.risk_assessed(span)).label("enterprises"),
            *_risk_major_columns(period),
        )
    )
    return _roll_up(codes, per_county, ("industry", "stat_group"))


def _hazard_measures(span: metrics.Span, month: bool, enterprises: bool = True) -> list[ColumnElement[int]]:
    """Form 000 item 13 and 003 附件2 over ``span`` (cumulative or its 本月 part, suffix ``_month``);
    ``enterprises=False``: only the 重大 columns."""
    sfx = "_month" if month else ""
    major = metrics.is_major()
    return [
        *([_distinct_enterprises_if(metrics.found(span, month)).label(f"enterprises{sfx}")] if enterprises else []),
        _count_if(sa.and_(major, metrics.found(span, month))).label(f"major_found{sfx}"),
        _count_if(sa.and_(major, metrics.signed_off(span, month))).label(f"major_rectified{sfx}"),
        _count_if(sa.and_(major, metrics.in_hand(span, month))).label(f"major_in_hand{sfx}"),
        _count_if(sa.and_(major, metrics.supervised_in_hand(span, month))).label(f"supervised_in_hand{sfx}"),
    ]


def _dispatch_measures(span: metrics.Span, month: bool) -> list[ColumnElement[int]]:
    """The 调度表's 总体情况 over the campaign ``span``: per source, major found and signed off."""
    sfx = "_month" if month else ""
    major = metrics.is_major()
    cols = []
    for src in metrics.DISPATCH_SOURCES:
        source = metrics.from_source(src)
        cols.append(_count_if(sa.and_(major, source, metrics.found(span, month))).label(f"{src}_found{sfx}"))
        cols.append(_count_if(sa.and_(major, source, metrics.signed_off(span, month)))
                    .label(f"{src}_rectified{sfx}"))
    return cols


def hazard_counts(codes: Sequence[str], *, scope: Scope, period: metrics.Period) -> Select[Any]:
    """Hazard investigation per region and top-level industry.

    This year's hazards (1 January → month end, reading A): ``enterprises``
    (with any hazard found), ``major_found``, ``major_rectified`` (signed off
    by the month's end), ``major_in_hand`` (落实治理措施), ``supervised_in_hand``
    (其中：挂牌督办治理, reading C), each also with suffix ``_month`` (the
    month's part, reading D).  When the campaign has begun (reading B), per
    source of :data:`~geo_service.queries.metrics.DISPATCH_SOURCES`:
    ``<source>_found`` and ``<source>_rectified`` since the campaign's start,
    and their ``_month`` parts.
    """
    year, campaign = period.year, period.campaign
    first = year.first if campaign is None else min(year.first, campaign.first)
    cols = _hazard_measures(year, False) + _hazard_measures(year, True)
    if campaign is not None:
        cols += _dispatch_measures(campaign, False) + _dispatch_measures(campaign, True)
    per_county = (
        _base(codes, scope)
        .join(Hazard, Hazard.enterprise_id == Enterprise.id)
        .where(metrics.found_in(first, period.end))
        .add_columns(*cols)
    )
    return _roll_up(codes, per_county, ("industry", "stat_group"))


# --- the same counts from the tallies and partial indexes (migration 0020) -------------------
# Each statement below answers exactly what the register statement above it answers, for a
# scope without a single enterprise (compute_return keeps the register path for that one):
# tests/queries/test_return_tallies.py compares them after every kind of change.

ACTIVITY_KINDS = ("hazard", "risk")


def activity_counts(codes: Sequence[str], *, scope: Scope, period: metrics.Period, kind: str) -> Select[Any]:
    """Enterprises with a hazard found (``kind="hazard"``) or a risk point assessed (``"risk"``)
    this year, per region and top-level industry, from ``activity_tally``.

    Columns: ``code, industry, stat_group, enterprises`` (1 January → month end) and
    ``enterprises_month`` (the month).  The same numbers as the ``count(DISTINCT)`` of
    :func:`hazard_counts` / :func:`risk_counts`: the tally keeps, per enterprise and year, the
    months in which it had one (a bit mask), and counts enterprises per mask.
    """
    if kind not in ACTIVITY_KINDS:
        raise ValueError(f"unknown activity kind {kind!r}")
    if scope.enterprise_id is not None:
        raise ValueError("activity_tally counts regions, not one enterprise")
    t = sa.table("activity_tally", sa.column("kind"), sa.column("year", sa.SmallInteger),
                 sa.column("region_code", sa.String), sa.column("industry_code", sa.String),
                 sa.column("months", sa.Integer), sa.column("n", sa.Integer))
    # a span always lies within one calendar year (Period.year: 1 January → month end)
    span = period.year
    up_to = (1 << span.end.month) - 1
    this_month = 1 << (span.end.month - 1)
    per_county = (
        sa.select(t.c.region_code, industry_key().label("industry"), Industry.stat_group,
                  sa.func.coalesce(sa.func.sum(t.c.n).filter(t.c.months.op("&")(up_to) != 0), 0)
                  .label("enterprises"),
                  sa.func.coalesce(sa.func.sum(t.c.n).filter(t.c.months.op("&")(this_month) != 0), 0)
                  .label("enterprises_month"))
        .select_from(t)
        .join(Industry, Industry.code == t.c.industry_code)
        .where(t.c.kind == kind, t.c.year == span.end.year, _within(codes, t.c.region_code),
               region_clause(t.c.region_code, scope.region))
        .group_by(t.c.region_code, industry_key(), Industry.stat_group)
    )
    return _roll_up(codes, per_county, ("industry", "stat_group"))


def _maybe_red_then(period: metrics.Period) -> ColumnElement[bool]:
    """The risk points that may have been red at the month's end: red now (partial index
    ``ix_risk_point_red_assessed``) or re-graded since (their ids as one array, so the primary
    key serves it: a unit not re-graded since had then the grade it has now).  A superset of
    :func:`_major_then`, which still decides; together one bitmap OR of two index scans."""
    g = risk_points_regraded_after(month_end(period.month_start)).subquery()
    since = sa.select(sa.func.array_agg(g.c.risk_point_id)).scalar_subquery()
    # the cast makes it one array value (ANY over a bare subquery would compare row by row)
    return sa.or_(metrics.major_risk(), RiskPoint.id == sa.any_(sa.cast(since, ARRAY(sa.Integer))))


def risk_major_counts(codes: Sequence[str], *, scope: Scope, period: metrics.Period) -> Select[Any]:
    """The 重大风险 columns of :func:`risk_counts` (``major``, ``major_controlled`` and their
    ``_month`` parts) read from the risk points that may have been red then only."""
    per_county = (
        _base(codes, scope)
        .join(RiskPoint, RiskPoint.enterprise_id == Enterprise.id)
        .where(metrics.risk_assessed(period.year), _maybe_red_then(period))
        .add_columns(*_risk_major_columns(period))
    )
    return _roll_up(codes, per_county, ("industry", "stat_group"))


def hazard_major_counts(codes: Sequence[str], *, scope: Scope, period: metrics.Period) -> Select[Any]:
    """Every column of :func:`hazard_counts` but the enterprises (see :func:`activity_counts`):
    all of them count 重大 hazards, read through ``ix_hazard_major_found``, by
    ``hazard.ent_region`` (its enterprise's ``region_code``, kept by triggers) and the
    enterprise's industry looked up per hazard (not a pass over every enterprise)."""
    if scope.enterprise_id is not None:
        raise ValueError("hazard_major_counts counts regions, not one enterprise")
    year, campaign = period.year, period.campaign
    first = year.first if campaign is None else min(year.first, campaign.first)
    cols = _hazard_measures(year, False, False) + _hazard_measures(year, True, False)
    if campaign is not None:
        cols += _dispatch_measures(campaign, False) + _dispatch_measures(campaign, True)
    industry = sa.select(Enterprise.industry_code).where(Enterprise.id == Hazard.enterprise_id).scalar_subquery()
    per_hazard_group = (
        sa.select(Hazard.ent_region.label("region_code"), industry.label("industry_code"), *cols)
        .where(metrics.is_major(), metrics.found_in(first, period.end), _within(codes, Hazard.ent_region),
               region_clause(Hazard.ent_region, scope.region))
        .group_by(Hazard.ent_region, industry)
        .subquery()
    )
    per_county = (
        sa.select(per_hazard_group.c.region_code, industry_key().label("industry"), Industry.stat_group,
                  *(sa.func.sum(per_hazard_group.c[c.name]).label(c.name) for c in cols))
        .select_from(per_hazard_group)
        .join(Industry, Industry.code == per_hazard_group.c.industry_code)
        .group_by(per_hazard_group.c.region_code, industry_key(), Industry.stat_group)
    )
    return _roll_up(codes, per_county, ("industry", "stat_group"))


def risk_changes_red(codes: Sequence[str], *, scope: Scope, period: metrics.Period) -> Select[Any]:
    """:func:`risk_changes` read from the risk points that may have been red then only."""
    return _roll_up(
        codes,
        _per_county(codes, scope)
        .join(RiskPoint, RiskPoint.enterprise_id == Enterprise.id)
        .where(metrics.risk_assessed(period.year, True), _maybe_red_then(period), _major_then(period))
        .add_columns(sa.func.count(RiskPoint.id).label("new_major_risks")),
    )


def hazard_changes_indexed(codes: Sequence[str], *, scope: Scope, period: metrics.Period) -> Select[Any]:
    """:func:`hazard_changes` by ``hazard.ent_region`` (its enterprise's ``region_code``, kept by
    triggers), each count an index-only scan of the index on its date (migration 0020)."""
    if scope.enterprise_id is not None:
        raise ValueError("hazard_changes_indexed counts regions, not one enterprise")
    opened = metrics.found_in(period.month_start, period.end)
    closed = metrics.signed_off_in(period.month_start, period.end)
    went_overdue = metrics.became_overdue_in(period.month_start, period.end)
    where = sa.and_(Hazard.found_on <= period.end, _within(codes, Hazard.ent_region),
                    region_clause(Hazard.ent_region, scope.region))
    zero = sa.literal(0, sa.BigInteger)

    def part(clause: ColumnElement[bool], opened_: Any, major_: Any, closed_: Any, overdue_: Any) -> Select[Any]:
        return (sa.select(Hazard.ent_region.label("region_code"), opened_.label("opened"),
                          major_.label("opened_major"), closed_.label("closed"), overdue_.label("went_overdue"))
                .where(where, clause).group_by(Hazard.ent_region))

    n = sa.func.count()
    parts = sa.union_all(
        part(opened, n, _count_if(metrics.is_major()), zero, zero),
        part(closed, zero, zero, n, zero),
        part(went_overdue, zero, zero, zero, n),
    ).subquery()
    per_county = sa.select(parts.c.region_code, sa.func.sum(parts.c.opened).label("opened"),
                           sa.func.sum(parts.c.opened_major).label("opened_major"),
                           sa.func.sum(parts.c.closed).label("closed"),
                           sa.func.sum(parts.c.went_overdue).label("went_overdue")).group_by(parts.c.region_code)
    return _roll_up(codes, per_county)


def drawable_units(codes: Sequence[str], *, scope: Scope) -> Select[Any]:
    """Form 000 item 14's 市级 and 县级 units (reading E): per region of ``codes``,
    the prefecture- and county-level regions at or below it, within the
    caller's jurisdiction, whose boundary the register holds — the service
    draws each one's risk and hazard map on demand.

    Columns: ``code, prefecture_units, county_units``.
    """
    v = regions_values(codes)
    unit = sa.and_(Region.geom.is_not(None), sa.not_(sa.func.ST_IsEmpty(Region.geom)),
                   region_clause(Region.code, scope.region),
                   sa.true() if scope.enterprise_id is None else sa.false())
    return (
        sa.select(
            v.c.code,
            sa.func.count(Region.code).filter(Region.level == "prefecture", unit).label("prefecture_units"),
            sa.func.count(Region.code).filter(Region.level == "county", unit).label("county_units"),
        )
        .select_from(v)
        .outerjoin(Region, sa.and_(Region.code.like(v.c.prefix + "%"),
                                   Region.level.in_(("prefecture", "county"))))
        .group_by(v.c.code)
    )


def risk_changes(codes: Sequence[str], *, scope: Scope, period: metrics.Period) -> Select[Any]:
    """New 重大风险 of the month per region (graded 红 at the month's end): ``code, new_major_risks``."""
    return _roll_up(
        codes,
        _per_county(codes, scope)
        .join(RiskPoint, RiskPoint.enterprise_id == Enterprise.id)
        .where(_major_then(period), metrics.risk_assessed(period.year, True))
        .add_columns(sa.func.count(RiskPoint.id).label("new_major_risks")),
    )


def hazard_changes(codes: Sequence[str], *, scope: Scope, period: metrics.Period) -> Select[Any]:
    """What moved during the month per region.

    Columns: ``code, opened`` (found in the month), ``opened_major``,
    ``closed`` (verified and closed in the month, whenever found),
    ``went_overdue`` (became overdue in the month).
    """
    opened = metrics.found_in(period.month_start, period.end)
    closed = metrics.signed_off_in(period.month_start, period.end)
    went_overdue = metrics.became_overdue_in(period.month_start, period.end)
    return _roll_up(
        codes,
        _per_county(codes, scope)
        .join(Hazard, Hazard.enterprise_id == Enterprise.id)
        # only the hazards one of the counts takes (each through its index: found_on,
        # verified_on, the open hazards' deadline), not every hazard ever found
        .where(Hazard.found_on <= period.end, sa.or_(opened, closed, went_overdue))
        .add_columns(
            _count_if(opened).label("opened"),
            _count_if(sa.and_(opened, metrics.is_major())).label("opened_major"),
            _count_if(closed).label("closed"),
            _count_if(went_overdue).label("went_overdue"),
        ),
    )


# --- geometry for the printed maps ------------------------------------------------------------

def local_crs(lng0: float, lat0: float) -> str:
    """PROJ string of a transverse Mercator centred on ``lng0, lat0`` (metres, CGCS2000/GRS80).

    North is up along the central meridian and the scale error stays below
    0.1 % within ±280 km of it, so a scale bar drawn in these units is true.

    >>> local_crs(103.5, 23.5)
    '+proj=tmerc +lat_0=23.5 +lon_0=103.5 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs'
    """
    return f"+proj=tmerc +lat_0={lat0:.6g} +lon_0={lng0:.6g} +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"


def region_centre(code: str) -> Select[Any]:
    """``lng, lat`` of the centre of region ``code``'s bounding box (EPSG:4326)."""
    env = sa.func.ST_Envelope(Region.geom)
    centre = sa.func.ST_Centroid(env)
    return sa.select(sa.func.ST_X(centre).label("lng"), sa.func.ST_Y(centre).label("lat")).where(
        Region.code == code
    )


def region_envelope(code: str) -> Select[Any]:
    """``xmin, ymin, xmax, ymax`` of region ``code`` in EPSG:4326 degrees."""
    g = Region.geom
    return sa.select(sa.func.ST_XMin(g).label("xmin"), sa.func.ST_YMin(g).label("ymin"),
                     sa.func.ST_XMax(g).label("xmax"), sa.func.ST_YMax(g).label("ymax")).where(
        Region.code == code)


def _projected(geom: ColumnElement[Any], crs: str) -> ColumnElement[Any]:
    return sa.func.ST_Transform(geom, crs)


def region_outlines(code: str, *, crs: str, tolerance_m: float) -> Select[Any]:
    """The region and its direct children in ``crs`` (WKB), simplified to ``tolerance_m`` metres.

    Columns: ``code, name, level, is_parent, wkb, label_x, label_y`` (a point
    inside each polygon for its name).
    """
    geom = sa.func.ST_SimplifyPreserveTopology(_projected(Region.geom, crs), tolerance_m)
    inside = sa.func.ST_PointOnSurface(_projected(Region.geom, crs))
    return (
        sa.select(
            Region.code, Region.name, Region.level,
            (Region.code == code).label("is_parent"),
            sa.func.ST_AsBinary(geom).label("wkb"),
            sa.func.ST_X(inside).label("label_x"), sa.func.ST_Y(inside).label("label_y"),
        )
        .where(sa.or_(Region.code == code, Region.parent_code == code))
        .order_by(Region.code)
    )


def enterprise_points(code: str, *, scope: Scope, grades_at: dt.datetime | None = None) -> Select[Any]:
    """Enterprises in region ``code``: ``id, name, grade, lng, lat`` (EPSG:4326).

    ``grades_at``: the map "as of" that instant — each enterprise's grade then, from the
    grade history (:func:`~geo_service.queries.dual_prevention.grade_at`), and only the
    enterprises registered by then; None: the grades of now.

    Points are projected by the renderer (pyproj): PostGIS would rebuild the
    transformation of a PROJ string for every row.
    """
    pt = Enterprise.geom
    grade = Enterprise.grade if grades_at is None else grade_at(grades_at)
    stmt = (
        sa.select(Enterprise.id, Enterprise.name, grade.label("grade"),
                  sa.func.ST_X(pt).label("lng"), sa.func.ST_Y(pt).label("lat"))
        .where(region_clause(Enterprise.region_code, code), enterprise_scope(scope))
        .order_by(Enterprise.id)
    )
    if grades_at is not None:
        stmt = stmt.where(Enterprise.created_at <= grades_at)
    return stmt


def major_hazard_points(code: str, *, scope: Scope, period: metrics.Period) -> Select[Any]:
    """重大隐患 known at the period's end in region ``code`` (EPSG:4326).

    Columns: ``id, lng, lat, rectified`` (verified and closed by the end),
    ``found_in_month``, ``overdue`` (on the day after the end), ``supervised``.
    Hazards found after the period's end are left out.
    """
    pt = hazard_location()
    return (
        sa.select(
            Hazard.id, sa.func.ST_X(pt).label("lng"), sa.func.ST_Y(pt).label("lat"),
            metrics.rectified_by(period.end).label("rectified"),
            metrics.found_in(period.month_start, period.end).label("found_in_month"),
            metrics.overdue_on(period.end + dt.timedelta(days=1)).label("overdue"),
            metrics.is_supervised().label("supervised"),
        )
        .select_from(Hazard)
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        # hazard.ent_region is its enterprise's region_code (kept by triggers, indexed)
        .where(region_clause(Hazard.ent_region, code), enterprise_scope(scope),
               metrics.is_major(), Hazard.found_on <= period.end,
               # closed before this year: no longer part of this year's picture
               sa.or_(metrics.open_clause(), Hazard.verified_on >= period.start))
        .order_by(Hazard.id)
    )


def change_points(code: str, *, scope: Scope, period: metrics.Period) -> sa.CompoundSelect:
    """What moved during the month in region ``code``, as points (EPSG:4326).

    Columns ``what, lng, lat``; ``what`` is ``new_major_risk`` (the enterprise of a
    红 risk point assessed in the month), ``opened``, ``closed`` or
    ``went_overdue`` (hazards, at their own point or their enterprise's), with
    the same definitions as :func:`risk_changes` and :func:`hazard_changes`.
    """
    in_region = sa.and_(region_clause(Enterprise.region_code, code), enterprise_scope(scope))
    ent_pt = Enterprise.geom
    hz_pt = hazard_location()

    def hazards(what: str, clause: ColumnElement[bool]) -> Select[Any]:
        # hazard.ent_region is its enterprise's region_code (kept by triggers), indexed
        # with each date: the region's hazards of the month without reading its enterprises
        return (sa.select(sa.literal(what).label("what"), sa.func.ST_X(hz_pt).label("lng"),
                          sa.func.ST_Y(hz_pt).label("lat"))
                .select_from(Hazard)
                .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
                .where(region_clause(Hazard.ent_region, code), enterprise_scope(scope),
                       Hazard.found_on <= period.end, clause))

    risks = (sa.select(sa.literal("new_major_risk").label("what"), sa.func.ST_X(ent_pt).label("lng"),
                       sa.func.ST_Y(ent_pt).label("lat"))
             .select_from(RiskPoint)
             .join(Enterprise, Enterprise.id == RiskPoint.enterprise_id)
             .where(in_region, _major_then(period), metrics.risk_assessed(period.year, True)))
    return sa.union_all(
        risks,
        hazards("opened", metrics.found_in(period.month_start, period.end)),
        hazards("closed", metrics.signed_off_in(period.month_start, period.end)),
        hazards("went_overdue", metrics.became_overdue_in(period.month_start, period.end)),
    )


def data_as_of() -> Select[Any]:
    """The database's clock (start of the current transaction): the register's as-of time."""
    return sa.select(sa.func.now())

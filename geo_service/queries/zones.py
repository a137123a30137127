"""Statements of the enterprise's own 四色图: risk zones, the plant layout and
the count of enterprises that have drawn theirs (form 000 item 14).

Geometries are EPSG:4326; distances and areas are computed on ``geography``
(metres, square metres).  Every statement that reads the register takes the
caller's :class:`~geo_service.queries.scope.Scope` and ANDs it into SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql import ColumnElement, Select

from ..models import Enterprise, EnterpriseLayout, RiskPoint, RiskZone
from . import metrics
from .dual_prevention import risk_point_grade_at, zone_grade_at
from .returns import _per_county, _roll_up, regions_values
from .scope import Scope, enterprise_scope

__all__ = [
    "ZONES_FROM_ZOOM",
    "geometry_check",
    "distance_to_enterprise_m",
    "overlapping_zones",
    "zones_select",
    "zone_points_select",
    "zones_in_bbox",
    "zones_local",
    "layout_local",
    "public_notice_points",
    "enterprises_with_drawn_map",
]

# From this zoom the regional map draws an enterprise's zones instead of its point.
ZONES_FROM_ZOOM = 16


def geometry_check(geom_ewkt: str) -> Select[Any]:
    """Validity of a polygon (EWKT, WGS84) and its repair by ``ST_MakeValid``.

    Columns: ``geom_type``, ``valid`` (bool), ``reason`` (``ST_IsValidReason``),
    ``repaired`` (GeoJSON of the polygonal part of ``ST_MakeValid`` as a
    MultiPolygon; NULL when nothing polygonal is left), ``area_m2`` (of the
    repaired geometry, on the spheroid).
    """
    g = sa.func.ST_GeomFromEWKT(geom_ewkt)
    repaired = sa.func.ST_Multi(sa.func.ST_CollectionExtract(sa.func.ST_MakeValid(g), 3))
    return sa.select(
        sa.func.GeometryType(g).label("geom_type"),
        sa.func.ST_IsValid(g).label("valid"),
        sa.func.ST_IsValidReason(g).label("reason"),
        sa.case((sa.func.ST_IsEmpty(repaired), None), else_=sa.func.ST_AsGeoJSON(repaired, 7)).label("repaired"),
        sa.func.ST_Area(sa.func.geography(repaired)).label("area_m2"),
    )


def distance_to_enterprise_m(enterprise_id: int, geom_ewkt: str) -> Select[Any]:
    """Metres (spheroid) from the enterprise's point to the nearest part of ``geom_ewkt``."""
    return sa.select(
        sa.func.ST_Distance(sa.func.geography(Enterprise.geom),
                            sa.func.geography(sa.func.ST_GeomFromEWKT(geom_ewkt)))
    ).where(Enterprise.id == enterprise_id)


def overlapping_zones(enterprise_id: int, geom_ewkt: str, *, exclude_id: int | None = None,
                      floor: str | None = None) -> Select[Any]:
    """The enterprise's other zones that overlap ``geom_ewkt`` by more than a square metre.

    Zones on another floor never overlap (both floors given and different).
    Columns: ``id``, ``name``, ``floor``, ``overlap_m2``.
    """
    g = sa.func.ST_GeomFromEWKT(geom_ewkt)
    overlap = sa.func.ST_Area(sa.func.geography(sa.func.ST_Intersection(RiskZone.geom, g)))
    same_floor = sa.or_(RiskZone.floor.is_(None), sa.literal(floor, sa.String).is_(None),
                        RiskZone.floor == floor)
    stmt = (
        sa.select(RiskZone.id, RiskZone.name, RiskZone.floor, overlap.label("overlap_m2"))
        .where(RiskZone.enterprise_id == enterprise_id, RiskZone.geom.op("&&")(g),
               sa.func.ST_Intersects(RiskZone.geom, g), same_floor)
        .order_by(RiskZone.id)
    )
    if exclude_id is not None:
        stmt = stmt.where(RiskZone.id != exclude_id)
    sub = stmt.subquery()
    return sa.select(sub).where(sub.c.overlap_m2 > 1.0)


def zone_points_select(enterprise_id: int, *, scope: Scope) -> Select[Any]:
    """An enterprise's risk points with their zone (``zone_id`` NULL when in none), in the caller's scope."""
    return (
        sa.select(RiskPoint.id, RiskPoint.enterprise_id, RiskPoint.zone_id, RiskPoint.name,
                  RiskPoint.grade, RiskPoint.location_desc, RiskPoint.accident_type,
                  RiskPoint.control_measures, RiskPoint.responsible_person)
        .join(Enterprise, Enterprise.id == RiskPoint.enterprise_id)
        .where(RiskPoint.enterprise_id == enterprise_id, enterprise_scope(scope))
        .order_by(RiskPoint.grade, RiskPoint.name)
    )


def zones_select(*, scope: Scope, enterprise_id: int | None = None, zone_id: int | None = None) -> Select[Any]:
    """Zones with their geometry (GeoJSON text), area and risk points.

    Columns: every zone column but ``geom``, ``geometry`` (GeoJSON), ``area_m2``,
    ``enterprise_name``, ``risk_points`` (JSON list of ``id, name, grade``).
    """
    points = (
        sa.select(sa.func.coalesce(sa.func.json_agg(sa.func.json_build_object(
            "id", RiskPoint.id, "name", RiskPoint.name, "grade", RiskPoint.grade,
            "accident_type", RiskPoint.accident_type)).filter(RiskPoint.id.is_not(None)), sa.text("'[]'::json")))
        .where(RiskPoint.zone_id == RiskZone.id)
        .scalar_subquery()
    )
    cols = [c for c in RiskZone.__table__.c if c.name != "geom"]
    stmt = (
        sa.select(*cols, sa.func.ST_AsGeoJSON(RiskZone.geom, 7).label("geometry"),
                  sa.func.ST_Area(sa.func.geography(RiskZone.geom)).label("area_m2"),
                  Enterprise.name.label("enterprise_name"), points.label("risk_points"))
        .join(Enterprise, Enterprise.id == RiskZone.enterprise_id)
        .where(enterprise_scope(scope))
        .order_by(RiskZone.grade.asc().nulls_last(), RiskZone.name)
    )
    if enterprise_id is not None:
        stmt = stmt.where(RiskZone.enterprise_id == enterprise_id)
    if zone_id is not None:
        stmt = stmt.where(RiskZone.id == zone_id)
    return stmt


def zones_in_bbox(bbox: tuple[float, float, float, float], *, scope: Scope,
                  enterprises: ColumnElement[bool] | None = None, tolerance_deg: float = 0.0,
                  grades_at: dt.datetime | None = None) -> Select[Any]:
    """Zones intersecting ``bbox`` (west, south, east, north; WGS84) for the regional map,
    of the enterprises matching ``enterprises`` (a clause on :class:`Enterprise`) in the scope.

    Columns: ``id``, ``enterprise_id``, ``enterprise_name``, ``name``, ``floor``,
    ``grade``, ``risk_points`` (JSON list of ``name, grade``), ``geometry``
    (GeoJSON, simplified by ``tolerance_deg``).  The 红 zones come last (drawn on top).

    ``grades_at``: the map "as of" that instant — only the zones drawn by then (of
    enterprises registered by then), each
    with its grade then (:func:`~geo_service.queries.dual_prevention.zone_grade_at`),
    and their risk points recorded by then with their grades then; None: now.
    """
    env = sa.func.ST_MakeEnvelope(*bbox, 4326)
    zone_grade = RiskZone.grade if grades_at is None else zone_grade_at(grades_at)
    point_grade = RiskPoint.grade if grades_at is None else risk_point_grade_at(grades_at)
    points = (
        sa.select(sa.func.coalesce(sa.func.json_agg(aggregate_order_by(
            sa.func.json_build_object("name", RiskPoint.name, "grade", point_grade), point_grade)),
            sa.text("'[]'::json")))
        .where(RiskPoint.zone_id == RiskZone.id,
               sa.true() if grades_at is None else RiskPoint.created_at <= grades_at)
        .scalar_subquery()
    )
    geom = sa.func.ST_SimplifyPreserveTopology(RiskZone.geom, tolerance_deg) if tolerance_deg else RiskZone.geom
    stmt = (
        sa.select(RiskZone.id, RiskZone.enterprise_id, Enterprise.name.label("enterprise_name"), RiskZone.name,
                  RiskZone.floor, zone_grade.label("grade"), points.label("risk_points"),
                  sa.func.ST_AsGeoJSON(geom, 7).label("geometry"))
        .join(Enterprise, Enterprise.id == RiskZone.enterprise_id)
        .where(RiskZone.geom.op("&&")(env), sa.func.ST_Intersects(RiskZone.geom, env), enterprise_scope(scope),
               enterprises if enterprises is not None else sa.true())
    )
    if grades_at is not None:
        stmt = stmt.where(RiskZone.created_at <= grades_at, Enterprise.created_at <= grades_at)
    sub = stmt.subquery()
    return sa.select(sub).order_by(sub.c.grade.desc().nulls_first(), sub.c.id)


def zones_local(enterprise_id: int, crs: str, *, scope: Scope) -> Select[Any]:
    """An enterprise's zones projected to ``crs`` (metres) for printing.

    Columns: ``id``, ``name``, ``floor``, ``grade``, ``wkb``, ``label_x``, ``label_y``
    (a point inside the zone).
    """
    local = sa.func.ST_Transform(RiskZone.geom, crs)
    label = sa.func.ST_PointOnSurface(local)
    return (
        sa.select(RiskZone.id, RiskZone.name, RiskZone.floor, RiskZone.grade,
                  sa.func.ST_AsBinary(local).label("wkb"),
                  sa.func.ST_X(label).label("label_x"), sa.func.ST_Y(label).label("label_y"))
        .join(Enterprise, Enterprise.id == RiskZone.enterprise_id)
        .where(RiskZone.enterprise_id == enterprise_id, enterprise_scope(scope))
        .order_by(RiskZone.grade.desc().nulls_first(), RiskZone.id)
    )


def layout_local(enterprise_id: int, crs: str, *, scope: Scope) -> Select[Any]:
    """The enterprise's point in ``crs`` (``x``, ``y``, metres) and its layout
    footprint's extent there (``xmin``, ``ymin``, ``xmax``, ``ymax``; NULL without a layout)."""
    fp = sa.func.ST_Transform(EnterpriseLayout.footprint, crs)
    pt = sa.func.ST_Transform(Enterprise.geom, crs)
    return (
        sa.select(sa.func.ST_X(pt).label("x"), sa.func.ST_Y(pt).label("y"),
                  sa.func.ST_XMin(fp).label("xmin"), sa.func.ST_YMin(fp).label("ymin"),
                  sa.func.ST_XMax(fp).label("xmax"), sa.func.ST_YMax(fp).label("ymax"))
        .select_from(Enterprise)
        .outerjoin(EnterpriseLayout, EnterpriseLayout.enterprise_id == Enterprise.id)
        .where(Enterprise.id == enterprise_id, enterprise_scope(scope))
    )


def public_notice_points(enterprise_id: int, max_grade: int = 2) -> Select[Any]:
    """What an enterprise must publish: its risk points of 较大 and above.

    Only the public columns: ``name``, ``location`` (the zone's name, else the
    point's own 部位), ``grade``, ``accident_type``, ``responsible_person``.
    Deliberately unscoped: the notice is public (``PUBLIC_NOTICE``).
    """
    return (
        sa.select(RiskPoint.name, sa.func.coalesce(RiskZone.name, RiskPoint.location_desc).label("location"),
                  RiskPoint.grade, RiskPoint.accident_type, RiskPoint.responsible_person)
        .outerjoin(RiskZone, RiskZone.id == RiskPoint.zone_id)
        .where(RiskPoint.enterprise_id == enterprise_id, RiskPoint.grade <= max_grade)
        .order_by(RiskPoint.grade, RiskPoint.name)
    )


def enterprises_with_drawn_map(codes: Sequence[str], scope: Scope, period: metrics.Period) -> Select[Any]:
    """Form 000 item 14 "个企业已绘制": per region of ``codes``, the enterprises in
    it (and below) with at least one risk zone at the end of ``period``'s month.

    A zone counts from its ``created_at`` (Beijing time) on; a deleted zone no
    longer counts.  Columns: ``code``, ``enterprises`` (0 when none).
    """
    end = sa.func.make_timestamptz(period.end.year, period.end.month, period.end.day, 23, 59, 59.999999,
                                   "Asia/Shanghai")
    drawn = sa.exists().where(RiskZone.enterprise_id == Enterprise.id, RiskZone.created_at <= end)
    per_county = _per_county(codes, scope).where(drawn).add_columns(
        sa.func.count(Enterprise.id).label("enterprises"))
    sub = _roll_up(codes, per_county).subquery()
    v = regions_values(codes)
    return (
        sa.select(v.c.code, sa.func.coalesce(sub.c.enterprises, 0).label("enterprises"))
        .select_from(v)
        .outerjoin(sub, sub.c.code == v.c.code)
    )

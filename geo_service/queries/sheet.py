"""What the map sheet of the web map's view draws (``/map/sheet.png``), as statements.

The sheet prints the view's bbox with the map's own filters
(:mod:`geo_service.queries.filters`) and the caller's scope.  Points are
grouped into a grid of cells over the bbox so that a province at low zoom is
a few thousand marks, never a million rows: ``cell`` is the cell's size in
degrees (``lng, lat``); a cell with one enterprise is that enterprise.
Coordinates are WGS84 (EPSG:4326) degrees; regions come back projected to the
sheet's local ``crs`` (metres, :func:`geo_service.queries.returns.local_crs`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select

from ..models import Enterprise, Hazard, Region
from .filters import Filters, bbox_envelope, enterprise_clause, enterprise_grade, hazard_clause
from .hazards import overdue_flag
from .scope import Scope, enterprise_scope

__all__ = ["enterprise_marks", "hazard_marks", "region_parts"]


def _cell_keys(lng: Any, lat: Any, bbox: tuple[float, float, float, float],
               cell: tuple[float, float]) -> tuple[Any, Any]:
    return sa.func.floor((lng - bbox[0]) / cell[0]), sa.func.floor((lat - bbox[1]) / cell[1])


def enterprise_marks(f: Filters, *, scope: Scope, as_of: dt.date, grades: Sequence[int],
                     cell: tuple[float, float]) -> Select[Any]:
    """Enterprises of ``f`` (its ``bbox`` required) in ``grades``, per grid cell and grade:
    ``grade, n, lng, lat`` (the cell's mean point).

    ``f.grades_at`` (the map "as of" a month): grades then, and only the enterprises
    registered by then, as the map's tiles draw them.
    """
    if f.bbox is None:
        raise ValueError("the sheet needs a bbox")
    where = [enterprise_clause(_only_grades(f, grades), as_of), enterprise_scope(scope)]
    if f.grades_at is not None:
        where.append(Enterprise.created_at <= f.grades_at)
    pts = (
        sa.select(enterprise_grade(f).label("grade"), sa.func.ST_X(Enterprise.geom).label("lng"),
                  sa.func.ST_Y(Enterprise.geom).label("lat"))
        .where(*where)
        .cte("pts")
    )
    cx, cy = _cell_keys(pts.c.lng, pts.c.lat, f.bbox, cell)
    return (
        sa.select(pts.c.grade, sa.func.count().label("n"), sa.func.avg(pts.c.lng).label("lng"),
                  sa.func.avg(pts.c.lat).label("lat"))
        .where(pts.c.grade.is_not(None))
        .group_by(cx, cy, pts.c.grade)
        .order_by(pts.c.grade.desc())  # 红 last: drawn on top
    )


def _only_grades(f: Filters, grades: Sequence[int]) -> Filters:
    """``f`` limited to ``grades`` (the grades drawn); nothing when none is drawn."""
    return replace(f, grade=tuple(sorted(grades)) or (0,))


def hazard_marks(f: Filters, *, scope: Scope, as_of: dt.date, cell: tuple[float, float]) -> Select[Any]:
    """Hazards of ``f`` (its ``bbox`` required) drawn where the map draws them (their own
    point, else their enterprise's), per grid cell, level and overdue:
    ``level, overdue, n, lng, lat``."""
    if f.bbox is None:
        raise ValueError("the sheet needs a bbox")
    location = sa.func.coalesce(Hazard.geom, Enterprise.geom)
    pts = (
        sa.select(Hazard.level, overdue_flag(as_of).label("overdue"), sa.func.ST_X(location).label("lng"),
                  sa.func.ST_Y(location).label("lat"))
        .select_from(Hazard).join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(hazard_clause(f, as_of), enterprise_scope(scope))
        .cte("hpts")
    )
    cx, cy = _cell_keys(pts.c.lng, pts.c.lat, f.bbox, cell)
    return (
        sa.select(pts.c.level, pts.c.overdue, sa.func.count().label("n"), sa.func.avg(pts.c.lng).label("lng"),
                  sa.func.avg(pts.c.lat).label("lat"))
        .group_by(cx, cy, pts.c.level, pts.c.overdue)
        .order_by(pts.c.level == "major", pts.c.overdue)  # 重大 and overdue last: on top
    )


def region_parts(code: str, bbox: tuple[float, float, float, float], *, crs: str,
                 tolerance_m: float) -> Select[Any]:
    """Region ``code`` and its direct children clipped to ``bbox`` (padded by a quarter),
    in ``crs`` (WKB), simplified to ``tolerance_m`` metres.

    Columns: ``code, name, is_parent, wkb, label_x, label_y`` (a point inside the
    clipped part, so that a child's name stays on the sheet).  Parts outside the
    bbox are left out.  The caller checks that ``code`` is visible to it.
    """
    w, s, e, n = bbox
    dx, dy = (e - w) / 4, (n - s) / 4
    padded = bbox_envelope((w - dx, s - dy, e + dx, n + dy))
    clipped = sa.func.ST_ClipByBox2D(Region.geom, sa.func.Box2D(padded))
    projected = sa.func.ST_Transform(clipped, crs)
    inside = sa.func.ST_PointOnSurface(sa.func.ST_Transform(
        sa.func.ST_ClipByBox2D(Region.geom, sa.func.Box2D(bbox_envelope(bbox))), crs))
    return (
        sa.select(
            Region.code, Region.name, (Region.code == code).label("is_parent"),
            sa.func.ST_AsBinary(sa.func.ST_SimplifyPreserveTopology(projected, tolerance_m)).label("wkb"),
            sa.func.ST_X(inside).label("label_x"), sa.func.ST_Y(inside).label("label_y"),
        )
        .where(sa.or_(Region.code == code, Region.parent_code == code),
               Region.geom.op("&&")(padded))
        .order_by(Region.code)
    )

"""Queries of the map surface: weighted heat points in a bbox, region outlines
simplified for a zoom, region choices with their extents.

Geometries are stored in EPSG:4326.  Grid cells and simplification
tolerances are in EPSG:3857 units (metres at the equator), which is what one
screen pixel covers at a zoom level — the natural unit for work done per
screen.  The district numbers themselves come from
:func:`geo_service.queries.summary.child_summaries`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select

from ..models import SRID, Enterprise, Region
from . import metrics
from .filters import Filters, enterprise_clause, enterprise_grade
from .scope import Scope, enterprise_scope, region_clause

__all__ = [
    "WEB_MERCATOR",
    "metres_per_pixel",
    "heat_points",
    "region_shapes",
    "region_choices",
]

WEB_MERCATOR = 3857
# Half the equator in EPSG:3857 metres times two, over a 256-px tile.
_EQUATOR_M = 2 * 20037508.342789244


def metres_per_pixel(zoom: int) -> float:
    """EPSG:3857 metres one 256-px-tile pixel covers at ``zoom``.

    >>> round(metres_per_pixel(0), 2), round(metres_per_pixel(10), 3)
    (156543.03, 152.874)
    """
    return _EQUATOR_M / (256 * 2**zoom)


def heat_points(filters: Filters, *, scope: Scope, cell_m: float, as_of: dt.date,
                limit: int = 20000) -> Select[Any]:
    """Graded enterprises matching ``filters`` (its ``bbox`` included) summed per grid cell.

    Rows: ``lng``, ``lat`` (WGS84 mean position of the cell's enterprises),
    ``weight`` (sum of grade weights, 红=4 … 蓝=1, :func:`metrics.grade_weight`)
    and ``count``.  ``cell_m`` is the cell side in EPSG:3857 metres.  At most
    ``limit`` cells, the heaviest first.  With ``filters.grades_at`` (the map
    "as of" a month) the enterprises registered by then, weighted by their grade
    then, and hazard filters read the hazards as they stood on ``as_of``, as the
    enterprise tiles draw them.
    """
    cell = sa.func.ST_SnapToGrid(sa.func.ST_Transform(Enterprise.geom, WEB_MERCATOR), cell_m)
    grade = enterprise_grade(filters)
    weight = sa.func.sum(metrics.grade_weight(grade))
    stmt = (
        sa.select(
            sa.func.avg(sa.func.ST_X(Enterprise.geom)).label("lng"),
            sa.func.avg(sa.func.ST_Y(Enterprise.geom)).label("lat"),
            weight.label("weight"),
            sa.func.count().label("count"),
        )
        .where(enterprise_scope(scope), enterprise_clause(filters, as_of), grade.is_not(None))
        .group_by(cell)
        .order_by(weight.desc())
        .limit(limit)
    )
    if filters.grades_at is not None:
        stmt = stmt.where(Enterprise.created_at <= filters.grades_at)
    return stmt


def _simplified(tolerance_m: float) -> sa.ColumnElement[Any]:
    """The region boundary simplified by ``tolerance_m`` EPSG:3857 metres, back in EPSG:4326."""
    if tolerance_m <= 0:
        return Region.geom
    return sa.func.ST_Transform(
        sa.func.ST_SimplifyPreserveTopology(sa.func.ST_Transform(Region.geom, WEB_MERCATOR), tolerance_m),
        SRID,
    )


def region_shapes(codes: list[str] | None = None, *, parent: str | None = None, scope: Scope,
                  tolerance_m: float = 0.0, precision: int = 5) -> Select[Any]:
    """Regions (by ``codes`` and/or children of ``parent``) as simplified GeoJSON.

    Rows: ``code``, ``name``, ``level``, ``parent_code``, ``geometry`` (GeoJSON
    text of the outline, EPSG:4326, ``precision`` decimals) and ``label_lng``,
    ``label_lat`` (a point inside the region, for its name).  A scoped caller
    sees its own region and those below it.
    """
    stmt = sa.select(
        Region.code, Region.name, Region.level, Region.parent_code,
        sa.func.ST_AsGeoJSON(_simplified(tolerance_m), precision).label("geometry"),
        sa.func.ST_X(sa.func.ST_PointOnSurface(Region.geom)).label("label_lng"),
        sa.func.ST_Y(sa.func.ST_PointOnSurface(Region.geom)).label("label_lat"),
    ).order_by(Region.code)
    picks: list[sa.ColumnElement[bool]] = []
    if codes:
        picks.append(Region.code.in_(codes))
    if parent is not None:
        picks.append(Region.parent_code == parent)
    if picks:
        stmt = stmt.where(sa.or_(*picks))
    if scope.region is not None:
        stmt = stmt.where(region_clause(Region.code, scope.region))
    return stmt


def region_choices(*, scope: Scope, max_depth_code_len: int = 12) -> Select[Any]:
    """Regions for the region selector with their WGS84 extents.

    Rows: ``code``, ``name``, ``level``, ``parent_code``, ``west``, ``south``,
    ``east``, ``north``; ordered by code.  Codes longer than
    ``max_depth_code_len`` are left out (villages).
    """
    return (
        sa.select(
            Region.code, Region.name, Region.level, Region.parent_code,
            sa.func.ST_XMin(Region.geom).label("west"), sa.func.ST_YMin(Region.geom).label("south"),
            sa.func.ST_XMax(Region.geom).label("east"), sa.func.ST_YMax(Region.geom).label("north"),
        )
        .where(region_clause(Region.code, scope.region), sa.func.length(Region.code) <= max_depth_code_len)
        .order_by(Region.code)
    )

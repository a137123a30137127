"""Administrative regions: lookup by point, lists, children.

Region boundaries are EPSG:4326 multipolygons; codes are GB/T 2260 (6 digits)
or the statistics bureau's 9/12-digit township codes.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, defer
from sqlalchemy.sql import Select

from ..errors import InvalidParameter, NotFound
from ..models import SRID, Region
from .filters import bbox_envelope
from .scope import Scope, region_clause, region_visible

__all__ = [
    "LEVEL_DEPTH",
    "region_depth",
    "regions_select",
    "get_region",
    "scoped_region",
    "region_refused",
    "require_region",
    "children",
    "lookup",
    "region_geojson",
]

LEVEL_DEPTH = {"province": 1, "prefecture": 2, "county": 3, "township": 4}


def region_depth() -> sa.ColumnElement[int]:
    """Depth of a region's level (province 1 … township 4)."""
    return sa.case(LEVEL_DEPTH, value=Region.level, else_=0)


def region_geojson(precision: int = 6) -> sa.ColumnElement[str]:
    """A region's boundary as GeoJSON text (EPSG:4326, ``precision`` decimals)."""
    return sa.func.ST_AsGeoJSON(Region.geom, precision)


def regions_select(*, scope: Scope, parent: str | None = None, level: str | None = None,
                   bbox: tuple[float, float, float, float] | None = None,
                   with_geometry: bool = False) -> Select[Any]:
    """Regions, optionally the children of ``parent``, of one ``level`` or in a bbox.

    A scoped caller sees its own region and those below it.
    """
    columns: list[Any] = [Region.code, Region.name, Region.level, Region.parent_code]
    if with_geometry:
        columns.append(region_geojson().label("geometry"))
    stmt = sa.select(*columns).order_by(Region.code)
    if scope.region is not None:
        stmt = stmt.where(region_clause(Region.code, scope.region))
    if parent is not None:
        stmt = stmt.where(Region.parent_code == parent)
    if level is not None:
        stmt = stmt.where(Region.level == level)
    if bbox is not None:
        stmt = stmt.where(sa.func.ST_Intersects(Region.geom, bbox_envelope(bbox)))
    return stmt


def get_region(session: Session, code: str, *, scope: Scope) -> Region | None:
    """Region ``code`` if the caller may look at it (:func:`~.scope.region_visible`), else None."""
    # The boundary is loaded only if a caller touches it (a county's is large).
    stmt = (
        sa.select(Region)
        .options(defer(Region.geom))
        .where(Region.code == code, region_visible(scope, Region.code))
    )
    return session.execute(stmt).scalar_one_or_none()


def scoped_region(session: Session, code: str, *, scope: Scope) -> Region:
    """Region ``code`` within the caller's jurisdiction, or :class:`NotFound` (also
    for a region that exists outside it: another jurisdiction is not ours to show)."""
    region = get_region(session, code, scope=scope)
    if region is None:
        raise region_refused(code)
    return region


def region_refused(code: str) -> NotFound:
    """The refusal of a region the caller may not see: 无权查看, in the same words whether
    it exists in another jurisdiction or not at all (nothing is revealed)."""
    return NotFound(f"无权查看行政区划 {code}：不在本账号的管辖范围内，或不存在")


def require_region(session: Session, code: str, parameter: str = "region") -> Region:
    """The region ``code`` or :class:`InvalidParameter` naming ``parameter``."""
    region = session.get(Region, code)
    if region is None:
        raise InvalidParameter(parameter, f"未知行政区划代码 {code}")
    return region


def children(session: Session, code: str, *, scope: Scope) -> list[tuple[str, str, str]]:
    """``(code, name, level)`` of the direct children of region ``code``, by code."""
    scoped_region(session, code, scope=scope)
    rows = session.execute(
        sa.select(Region.code, Region.name, Region.level)
        .where(Region.parent_code == code, region_visible(scope, Region.code))
        .order_by(Region.code)
    ).all()
    return [(r.code, r.name, r.level) for r in rows]


def lookup(session: Session, lng: float, lat: float, *, scope: Scope) -> list[dict[str, str]]:
    """The regions the caller may look at that cover a WGS84 point, deepest
    first (empty when none).

    Boundary points count as inside (``ST_Covers``); the GiST index on
    ``region.geom`` finds the candidates.
    """
    point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(lng, lat), SRID)
    rows = session.execute(
        sa.select(Region.code, Region.name, Region.level, Region.parent_code)
        .where(sa.func.ST_Covers(Region.geom, point), region_visible(scope, Region.code))
        .order_by(sa.func.length(Region.code).desc(), region_depth().desc())
    ).all()
    return [dict(r._mapping) for r in rows]

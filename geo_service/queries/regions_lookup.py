"""Region look-ups used when validating input: does a region exist, does it
cover a point.

Regions are not scoped (every account may see the district outlines); the
point is ``(lng, lat)`` in WGS84 (EPSG:4326).
"""

from __future__ import annotations

import sqlalchemy as sa

from ..models import SRID, Region

__all__ = ["region_exists", "region_covers_point", "point"]


def point(lng: float, lat: float) -> sa.ColumnElement[object]:
    """A WGS84 point geometry built from bound parameters."""
    return sa.func.ST_SetSRID(sa.func.ST_MakePoint(sa.bindparam("lng", lng), sa.bindparam("lat", lat)),
                              SRID)


def region_exists(code: str) -> sa.Select[tuple[str]]:
    """The code of region ``code`` when it exists (no row otherwise)."""
    return sa.select(Region.code).where(Region.code == code)


def region_covers_point(code: str, lng: float, lat: float) -> sa.Select[tuple[bool]]:
    """Whether region ``code``'s boundary covers the WGS84 point ``(lng, lat)``.

    One row (``True``/``False``) when the region exists, no row otherwise.
    ``ST_Covers`` counts a point on the boundary as inside.
    """
    return sa.select(sa.func.ST_Covers(Region.geom, point(lng, lat))).where(Region.code == code)

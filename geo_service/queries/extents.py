"""Bounding boxes of the published collections (EPSG:4326 degrees)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select

from ..models import Enterprise, Hazard, Region, RiskPoint
from .filters import hazard_location
from .scope import Scope, enterprise_scope, region_clause

__all__ = ["extent_select"]


def _box(geom: Any) -> list[Any]:
    ext = sa.func.ST_Extent(geom)
    return [sa.func.ST_XMin(ext), sa.func.ST_YMin(ext), sa.func.ST_XMax(ext), sa.func.ST_YMax(ext)]


def extent_select(kind: str, *, scope: Scope) -> Select[Any]:
    """One row ``(west, south, east, north)`` of a collection in ``scope`` (NULLs when empty)."""
    if kind == "enterprises":
        return sa.select(*_box(Enterprise.geom)).where(enterprise_scope(scope))
    if kind == "risk-points":
        return (sa.select(*_box(Enterprise.geom)).select_from(RiskPoint)
                .join(Enterprise, Enterprise.id == RiskPoint.enterprise_id).where(enterprise_scope(scope)))
    if kind == "hazards":
        return (sa.select(*_box(hazard_location())).select_from(Hazard)
                .join(Enterprise, Enterprise.id == Hazard.enterprise_id).where(enterprise_scope(scope)))
    if kind == "regions":
        stmt = sa.select(*_box(Region.geom))
        return stmt.where(region_clause(Region.code, scope.region)) if scope.region else stmt
    raise ValueError(f"unknown collection {kind!r}")

"""Risk point lists: each risk point is drawn at its enterprise's point (EPSG:4326)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select

from ..models import Enterprise, RiskPoint
from .filters import Filters, risk_point_clause
from .scope import Scope, enterprise_scope

__all__ = ["risk_point_columns", "risk_points_select"]


def risk_point_columns() -> list[sa.ColumnElement[Any]]:
    """The columns of a risk point list row (``lng``/``lat``: the enterprise's point)."""
    return [
        RiskPoint.id, RiskPoint.enterprise_id, Enterprise.name.label("enterprise_name"),
        RiskPoint.name, RiskPoint.grade, RiskPoint.location_desc, RiskPoint.accident_type,
        RiskPoint.method, sa.cast(RiskPoint.score, sa.Float).label("score"),
        RiskPoint.control_measures, RiskPoint.controls_implemented, RiskPoint.responsible_person,
        RiskPoint.assessed_on, Enterprise.region_code, Enterprise.industry_code, RiskPoint.version,
        sa.func.ST_X(Enterprise.geom).label("lng"), sa.func.ST_Y(Enterprise.geom).label("lat"),
    ]


def risk_points_select(f: Filters, *, scope: Scope) -> Select[Any]:
    """Risk points matching ``f`` (``grade`` is the risk point's own) in ``scope``, by id."""
    return (
        sa.select(*risk_point_columns())
        .join(Enterprise, Enterprise.id == RiskPoint.enterprise_id)
        .where(risk_point_clause(f), enterprise_scope(scope))
        .order_by(RiskPoint.id)
    )

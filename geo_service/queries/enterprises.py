"""Enterprise lists and look-ups: filters, radius, k nearest, around an enterprise.

Points are EPSG:4326; distances are metres on the WGS84 spheroid
(``geography``), never degrees.  Radius searches prefilter on the GiST index
of ``enterprise.geom`` with the envelope of a geography buffer, then keep what
``ST_DWithin`` on geography accepts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from .. import domain
from ..errors import NotFound
from ..models import SRID, Enterprise, Hazard, Industry, RiskPoint
from . import metrics
from .filters import Filters, enterprise_clause
from .scope import Scope, enterprise_scope

__all__ = [
    "enterprise_columns",
    "enterprises_select",
    "within_radius",
    "nearest",
    "around_enterprise",
    "enterprise_detail",
    "point_geometry",
    "count_of",
    "suggest",
    "SUGGEST_MIN_CHARS",
]

# Fewer characters than this have no trigram to look up in the index (migration 0012).
SUGGEST_MIN_CHARS = 2


def point_geometry(lng: float, lat: float) -> sa.ColumnElement[Any]:
    """A WGS84 point from bound parameters."""
    return sa.func.ST_SetSRID(sa.func.ST_MakePoint(lng, lat), SRID)


def _geog(expr: Any) -> sa.ColumnElement[Any]:
    return sa.cast(expr, Geography(srid=SRID))


def enterprise_columns() -> list[sa.ColumnElement[Any]]:
    """The columns of an enterprise list row (``lng``/``lat`` in WGS84 degrees)."""
    return [
        Enterprise.id, Enterprise.name, Enterprise.credit_code, Enterprise.industry_code,
        Industry.name.label("industry_name"), Enterprise.grade, Enterprise.grade_auto,
        Enterprise.grade_override, Enterprise.region_code, Enterprise.address, Enterprise.legal_rep,
        Enterprise.contact_phone, Enterprise.supervising_dept, Enterprise.version,
        sa.func.ST_X(Enterprise.geom).label("lng"), sa.func.ST_Y(Enterprise.geom).label("lat"),
    ]


def enterprises_select(f: Filters, *, scope: Scope, as_of: dt.date) -> Select[Any]:
    """Enterprises matching ``f`` in ``scope``, ordered by id."""
    return (
        sa.select(*enterprise_columns())
        # industry_code is NOT NULL and references industry: an outer join gives the same
        # rows, and PostgreSQL drops it from a count that reads no industry column
        .outerjoin(Industry, Industry.code == Enterprise.industry_code)
        .where(enterprise_clause(f, as_of), enterprise_scope(scope))
        .order_by(Enterprise.id)
    )


def count_of(stmt: Select[Any]) -> Select[Any]:
    """``SELECT count(*)`` over ``stmt`` without its ORDER BY."""
    return sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())


def _buffer_box(center: sa.ColumnElement[Any], radius_m: float) -> sa.ColumnElement[Any]:
    """A geometry box that surely contains every point within ``radius_m`` of ``center``.

    The buffer's polygon is inscribed in the circle, hence the 2 % margin.
    """
    return sa.func.ST_Envelope(sa.func.geometry(sa.func.ST_Buffer(_geog(center), radius_m * 1.02 + 1.0)))


def within_radius(f: Filters, center: sa.ColumnElement[Any], radius_m: float, *, scope: Scope,
                  as_of: dt.date) -> Select[Any]:
    """Enterprises within ``radius_m`` metres of ``center``, nearest first, with ``distance_m``."""
    distance = sa.func.ST_Distance(_geog(Enterprise.geom), _geog(center)).label("distance_m")
    return (
        sa.select(*enterprise_columns(), distance)
        .join(Industry, Industry.code == Enterprise.industry_code)
        .where(
            Enterprise.geom.op("&&")(_buffer_box(center, radius_m)),
            sa.func.ST_DWithin(_geog(Enterprise.geom), _geog(center), radius_m),
            enterprise_clause(f, as_of), enterprise_scope(scope),
        )
        .order_by(distance, Enterprise.id)
    )


def nearest(f: Filters, lng: float, lat: float, k: int, *, scope: Scope, as_of: dt.date) -> Select[Any]:
    """The ``k`` enterprises nearest to a point, with ``distance_m``.

    The GiST index answers ``ORDER BY geom <-> point`` (planar degrees) for a
    candidate set four times larger than ``k``; those are re-ranked by the
    exact geography distance in metres.  A degree east is shorter than a
    degree north away from the equator (by cos φ, 0.92 at 23° N), so the
    candidate margin keeps the metric order exact in practice.
    """
    center = point_geometry(lng, lat)
    candidates = (
        sa.select(Enterprise.id)
        .where(enterprise_clause(f, as_of), enterprise_scope(scope))
        .order_by(Enterprise.geom.op("<->")(center))
        .limit(k * 4 + 10)
        .subquery()
    )
    distance = sa.func.ST_Distance(_geog(Enterprise.geom), _geog(center)).label("distance_m")
    return (
        sa.select(*enterprise_columns(), distance)
        .join(Industry, Industry.code == Enterprise.industry_code)
        .where(Enterprise.id.in_(sa.select(candidates.c.id)))
        .order_by(distance, Enterprise.id)
        .limit(k)
    )


def around_enterprise(session: Session, enterprise_id: int, f: Filters, radius_m: float, *,
                      scope: Scope, as_of: dt.date) -> Select[Any]:
    """Other enterprises within ``radius_m`` of enterprise ``enterprise_id`` (e.g. 外部安全距离).

    Raises :class:`NotFound` when the enterprise is not in the scope.
    """
    exists = session.execute(
        sa.select(Enterprise.id).where(Enterprise.id == enterprise_id, enterprise_scope(scope))
    ).first()
    if exists is None:
        raise NotFound(f"企业 {enterprise_id} 不存在")
    center = sa.select(Enterprise.geom).where(Enterprise.id == enterprise_id).scalar_subquery()
    return within_radius(f, center, radius_m, scope=scope, as_of=as_of).where(Enterprise.id != enterprise_id)


def enterprise_detail(session: Session, enterprise_id: int, *, scope: Scope, as_of: dt.date) -> dict[str, Any]:
    """Everything the map popup and the enterprise page show about one enterprise.

    Raises :class:`NotFound` when it does not exist or lies outside ``scope``.
    """
    row = session.execute(
        sa.select(*enterprise_columns(), Enterprise.complaint_phone, Enterprise.grade_override_note,
                  Enterprise.updated_at)
        .join(Industry, Industry.code == Enterprise.industry_code)
        .where(Enterprise.id == enterprise_id, enterprise_scope(scope))
    ).first()
    if row is None:
        raise NotFound(f"企业 {enterprise_id} 不存在")
    out = dict(row._mapping)
    grade = domain.GRADE_BY_VALUE.get(out["grade"]) if out["grade"] else None
    out["grade_name"] = grade.name if grade else None
    out["grade_colour"] = grade.colour_name if grade else None
    rps = session.execute(
        sa.select(RiskPoint.id, RiskPoint.name, RiskPoint.grade, RiskPoint.location_desc,
                  RiskPoint.accident_type, RiskPoint.method, RiskPoint.score, RiskPoint.control_measures,
                  RiskPoint.controls_implemented, RiskPoint.responsible_person, RiskPoint.assessed_on,
                  RiskPoint.version)
        .where(RiskPoint.enterprise_id == enterprise_id).order_by(RiskPoint.grade, RiskPoint.id)
    ).all()
    out["risk_points"] = [
        {**dict(r._mapping), "grade_name": domain.GRADE_BY_VALUE[r.grade].name,
         "score": float(r.score) if r.score is not None else None}
        for r in rps
    ]
    from .hazards import overdue_days as days_overdue

    overdue_days = days_overdue(as_of).label("overdue_days")
    hzs = session.execute(
        sa.select(Hazard.id, Hazard.level, Hazard.description, Hazard.deadline, Hazard.state,
                  Hazard.source, Hazard.found_on, Hazard.version, overdue_days)
        .where(Hazard.enterprise_id == enterprise_id, metrics.open_clause())
        .order_by(Hazard.level.desc(), Hazard.deadline.nulls_last(), Hazard.id)
    ).all()
    out["open_hazards"] = [
        {**dict(h._mapping), "state_name": domain.HAZARD_STATES[h.state],
         "level_name": domain.HAZARD_LEVELS[h.level], "overdue": h.overdue_days > 0}
        for h in hzs
    ]
    return out


def suggest(term: str, *, scope: Scope, limit: int = 10) -> Select[Any]:
    """Enterprises in ``scope`` whose name or credit code contains ``term``, for a search box.

    Both ``ILIKE`` clauses are served by the trigram GIN indexes of migration
    0008.  Exact credit codes come first, then names starting with the term,
    then shorter names.  ``lng``/``lat`` are WGS84 degrees.
    """
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{escaped}%"
    starts = f"{escaped}%"
    return (
        sa.select(Enterprise.id, Enterprise.name, Enterprise.credit_code, Enterprise.grade,
                  Enterprise.region_code, sa.func.ST_X(Enterprise.geom).label("lng"),
                  sa.func.ST_Y(Enterprise.geom).label("lat"))
        .where(sa.or_(Enterprise.name.ilike(like, escape="\\"),
                      Enterprise.credit_code.ilike(like, escape="\\")),
               enterprise_scope(scope))
        .order_by(sa.desc(Enterprise.credit_code == term.upper()),
                  sa.desc(Enterprise.name.ilike(starts, escape="\\")),
                  sa.func.length(Enterprise.name), Enterprise.name, Enterprise.id)
        .limit(limit)
    )

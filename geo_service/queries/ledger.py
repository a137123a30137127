"""Queries behind the ledger pages and exports: the hazard ledger, the
overdue/due-soon list, one enterprise's page and one hazard's page.

Every function takes the caller's ``scope`` and ANDs
:func:`~geo_service.queries.scope.enterprise_scope` into its WHERE clause.
Filters come from :mod:`geo_service.queries.filters` (one definition for the
API, the map and the ledger); "overdue" is :func:`metrics.overdue_on`.
Coordinates are WGS84 (EPSG:4326) degrees; distances are metres on the
spheroid (``geography``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from .. import domain
from ..models import (
    AuditLog,
    Enterprise,
    Hazard,
    HazardEvent,
    HazardEvidence,
    Industry,
    Region,
    RiskPoint,
    User,
)
from . import metrics
from .filters import Filters, hazard_clause, hazard_location
from .scope import Scope, enterprise_scope, region_clause

__all__ = [
    "SORT_KEYS",
    "hazard_rows",
    "hazard_counts",
    "deadline_watch",
    "enterprise_detail",
    "enterprise_risk_points",
    "enterprise_hazards",
    "enterprise_history",
    "enterprise_surroundings",
    "county_outline",
    "hazard_detail",
    "hazard_events",
    "hazard_evidence",
    "industry_choices",
    "region_choices",
    "enterprise_search",
    "region_outline",
]

_ParentIndustry = aliased(Industry)


def _industry_label() -> ColumnElement[str]:
    """"工贸/冶金" for a sub-sector, "煤矿" for a top-level industry."""
    return sa.case(
        (_ParentIndustry.name.is_not(None), _ParentIndustry.name + "/" + Industry.name),
        else_=Industry.name,
    )


def _county_code() -> ColumnElement[str]:
    """The 6-digit GB/T 2260 code an enterprise's region lies in (townships fold up)."""
    return sa.func.substr(Enterprise.region_code, 1, 6)


_County = aliased(Region)


def _days_left(as_of: dt.date) -> ColumnElement[int]:
    """Days from ``as_of`` to the deadline (negative when past; NULL without a deadline)."""
    return Hazard.deadline - sa.cast(sa.literal(as_of), sa.Date)


def _overdue(as_of: dt.date) -> ColumnElement[bool]:
    return sa.func.coalesce(metrics.overdue_on(as_of), False)


def _hazard_select(as_of: dt.date) -> Select[Any]:
    """Hazard rows with their enterprise, county and industry, for lists and exports."""
    return (
        sa.select(
            Hazard.id,
            Hazard.enterprise_id,
            Hazard.description,
            Hazard.level,
            Hazard.category,
            Hazard.criterion,
            Hazard.source,
            Hazard.found_on,
            Hazard.found_by,
            Hazard.deadline,
            Hazard.state,
            Hazard.resp_person,
            Hazard.measures,
            Hazard.funds_wan,
            Hazard.emergency_plan,
            Hazard.supervision_doc_no,
            Hazard.rectified_on,
            Hazard.verified_on,
            Hazard.verifier,
            Hazard.verification_note,
            Hazard.version,
            Enterprise.name.label("enterprise_name"),
            Enterprise.legal_rep.label("enterprise_legal_rep"),
            Enterprise.region_code,
            _County.code.label("county_code"),
            _County.name.label("county_name"),
            _industry_label().label("industry_name"),
            _days_left(as_of).label("days_left"),
            _overdue(as_of).label("overdue"),
        )
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .join(Industry, Industry.code == Enterprise.industry_code)
        .outerjoin(_ParentIndustry, _ParentIndustry.code == Industry.parent_code)
        .outerjoin(_County, _County.code == _county_code())
    )


# Ledger sort keys (URL ``sort``) → column; ties broken by hazard id.
SORT_KEYS: dict[str, Any] = {
    "found_on": Hazard.found_on,
    "deadline": Hazard.deadline,
    "enterprise": Enterprise.name,
    "level": Hazard.level,
    "state": Hazard.state,
    "source": Hazard.source,
    "region": Enterprise.region_code,
    "id": Hazard.id,
}


def hazard_rows(f: Filters, *, scope: Scope, as_of: dt.date, sort: str = "found_on",
                descending: bool = True, level: str | None = None) -> Select[Any]:
    """The hazards matching ``f`` in ``scope``, sorted by ``sort`` (a key of :data:`SORT_KEYS`).

    ``level`` forces a hazard level on top of the filters (附件4 lists 重大隐患 only).
    ``days_left`` is the deadline minus ``as_of`` in days; ``overdue`` follows
    :func:`metrics.overdue_on`.  The caller pages with ``limit``/``offset``.
    """
    column = SORT_KEYS.get(sort, Hazard.found_on)
    order = column.desc().nulls_last() if descending else column.asc().nulls_last()
    tie = Hazard.id.desc() if descending else Hazard.id.asc()
    stmt = _hazard_select(as_of).where(hazard_clause(f, as_of), enterprise_scope(scope))
    if level is not None:
        stmt = stmt.where(Hazard.level == level)
    return stmt.order_by(order, tie)


def hazard_counts(f: Filters, *, scope: Scope, as_of: dt.date) -> Select[Any]:
    """One row of counts over the hazards matching ``f``: total, open, overdue, major, closed,
    supervised (挂牌督办)."""
    count = sa.func.count(Hazard.id)
    return (
        sa.select(
            count.label("total"),
            count.filter(metrics.open_clause()).label("open"),
            count.filter(metrics.overdue_on(as_of)).label("overdue"),
            count.filter(metrics.is_major()).label("major"),
            count.filter(metrics.is_closed()).label("closed"),
            count.filter(metrics.is_supervised()).label("supervised"),
        )
        .select_from(Hazard)
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(hazard_clause(f, as_of), enterprise_scope(scope))
    )


def deadline_watch(f: Filters, *, scope: Scope, as_of: dt.date, due_soon_days: int) -> Select[Any]:
    """Hazards still being worked on that are overdue on ``as_of`` or due within
    ``due_soon_days`` days (deadline in ``[as_of, as_of + due_soon_days]``),
    ordered by county, then most overdue first.

    "Overdue" is :func:`metrics.overdue_on`; a hazard already reported
    rectified is waiting for verification and is on neither list.
    """
    horizon = as_of + dt.timedelta(days=due_soon_days)
    return (
        _hazard_select(as_of)
        .where(
            hazard_clause(f, as_of),
            enterprise_scope(scope),
            Hazard.state.in_(domain.OVERDUE_STATES),
            Hazard.deadline.is_not(None),
            Hazard.deadline <= horizon,
        )
        .order_by(_County.code.asc().nulls_last(), Hazard.deadline.asc(), Hazard.id.asc())
    )


def enterprise_detail(enterprise_id: int, *, scope: Scope) -> Select[Any]:
    """One enterprise with its industry, region names and WGS84 ``lng``/``lat``."""
    region = aliased(Region)
    return (
        sa.select(
            Enterprise,
            _industry_label().label("industry_name"),
            region.name.label("region_name"),
            _County.name.label("county_name"),
            sa.func.ST_X(Enterprise.geom).label("lng"),
            sa.func.ST_Y(Enterprise.geom).label("lat"),
        )
        .join(Industry, Industry.code == Enterprise.industry_code)
        .outerjoin(_ParentIndustry, _ParentIndustry.code == Industry.parent_code)
        .outerjoin(region, region.code == Enterprise.region_code)
        .outerjoin(_County, _County.code == _county_code())
        .where(Enterprise.id == enterprise_id, enterprise_scope(scope))
    )


def enterprise_risk_points(enterprise_id: int, *, scope: Scope, max_grade: int | None = None) -> Select[Any]:
    """The risk points of an enterprise, highest grade first.

    ``max_grade=2`` gives the public notice (较大 and above: grades 1–2).
    """
    stmt = (
        sa.select(RiskPoint)
        .join(Enterprise, Enterprise.id == RiskPoint.enterprise_id)
        .where(RiskPoint.enterprise_id == enterprise_id, enterprise_scope(scope))
        .order_by(RiskPoint.grade, RiskPoint.name)
    )
    if max_grade is not None:
        stmt = stmt.where(RiskPoint.grade <= max_grade)
    return stmt


def enterprise_hazards(enterprise_id: int, *, scope: Scope, as_of: dt.date) -> Select[Any]:
    """The hazards of an enterprise: open ones first (nearest deadline first), then closed."""
    return (
        _hazard_select(as_of)
        .where(Hazard.enterprise_id == enterprise_id, enterprise_scope(scope))
        .order_by((Hazard.state == domain.CLOSED_STATE).asc(), Hazard.deadline.asc().nulls_last(),
                  Hazard.found_on.desc(), Hazard.id.desc())
    )


def enterprise_history(enterprise_id: int, *, scope: Scope, limit: int = 200) -> Select[Any]:
    """The enterprise's history, newest first: the state changes of its hazards and the
    audit rows on the enterprise, its risk points, its hazards, its risk zones and its layout.

    Rows: ``at``, ``actor``, ``kind`` ('event'|'audit'), ``object_type``,
    ``object_id``, ``action``, ``from_state``, ``to_state``, ``note``.
    """
    visible = sa.select(Enterprise.id).where(Enterprise.id == enterprise_id, enterprise_scope(scope))
    hazard_ids = sa.select(Hazard.id).where(Hazard.enterprise_id.in_(visible))
    point_ids = sa.select(RiskPoint.id).where(RiskPoint.enterprise_id.in_(visible))
    events = (
        sa.select(
            HazardEvent.at, HazardEvent.actor, sa.literal("event").label("kind"),
            sa.literal("hazard").label("object_type"),
            sa.cast(HazardEvent.hazard_id, sa.String).label("object_id"),
            sa.literal(None, sa.String).label("action"),
            HazardEvent.from_state, HazardEvent.to_state, HazardEvent.note, HazardEvent.id.label("seq"),
        ).where(HazardEvent.hazard_id.in_(hazard_ids))
    )

    def ids_text(sub: Select[Any]) -> Select[Any]:
        return sa.select(sa.cast(sub.subquery().c[0], sa.String))

    audits = (
        sa.select(
            AuditLog.at, AuditLog.actor, sa.literal("audit").label("kind"),
            AuditLog.object_type, AuditLog.object_id, AuditLog.action,
            sa.literal(None, sa.String).label("from_state"),
            sa.literal(None, sa.String).label("to_state"),
            sa.literal(None, sa.String).label("note"), AuditLog.id.label("seq"),
        ).where(sa.or_(
            sa.and_(AuditLog.object_type == "enterprise", AuditLog.object_id.in_(ids_text(visible))),
            sa.and_(AuditLog.object_type == "risk_point", AuditLog.object_id.in_(ids_text(point_ids))),
            sa.and_(AuditLog.object_type == "hazard", AuditLog.object_id.in_(ids_text(hazard_ids))),
            # its 四色图 (zones and layout, deleted ones too): the row names the enterprise
            sa.and_(AuditLog.object_type.in_(("risk_zone", "enterprise_layout")),
                    sa.func.coalesce(AuditLog.after["enterprise_id"].astext,
                                     AuditLog.before["enterprise_id"].astext).in_(ids_text(visible))),
        ))
    )
    union = sa.union_all(events, audits).subquery()
    # Rows written in one transaction share ``at``: their ids keep them in order.
    return sa.select(union).order_by(union.c.at.desc(), union.c.seq.desc()).limit(limit)


def enterprise_surroundings(enterprise_id: int, *, scope: Scope, radius_m: float) -> Select[Any]:
    """Other enterprises in ``scope`` within ``radius_m`` metres (geography) of one
    enterprise, nearest first: ``id``, ``name``, ``grade``, ``lng``, ``lat``, ``distance_m``."""
    centre = aliased(Enterprise)
    distance = sa.func.ST_Distance(sa.cast(Enterprise.geom, Geography),
                                   sa.cast(centre.geom, Geography))
    return (
        sa.select(Enterprise.id, Enterprise.name, Enterprise.grade,
                  sa.func.ST_X(Enterprise.geom).label("lng"), sa.func.ST_Y(Enterprise.geom).label("lat"),
                  distance.label("distance_m"))
        .join(centre, centre.id == enterprise_id)
        .where(
            Enterprise.id != centre.id,
            sa.func.ST_DWithin(sa.cast(Enterprise.geom, Geography),
                               sa.cast(centre.geom, Geography), radius_m),
            enterprise_scope(scope),
        )
        .order_by(distance)
        .limit(200)
    )


def county_outline(enterprise_id: int, *, scope: Scope, tolerance_deg: float = 0.001) -> Select[Any]:
    """The boundary of the county (6-digit region) the enterprise lies in, as GeoJSON
    text (EPSG:4326, simplified by ``tolerance_deg`` degrees for display only)."""
    return (
        sa.select(_County.name, sa.func.ST_AsGeoJSON(
            sa.func.ST_SimplifyPreserveTopology(_County.geom, tolerance_deg), 5).label("geojson"))
        .select_from(Enterprise)
        .join(_County, _County.code == _county_code())
        .where(Enterprise.id == enterprise_id, enterprise_scope(scope))
    )


_Verifier = aliased(User, name="verifier_user")
_Rectifier = aliased(User, name="rectifier_user")


def hazard_detail(hazard_id: int, *, scope: Scope, as_of: dt.date) -> Select[Any]:
    """One hazard with its enterprise and where it is drawn (own point, else the
    enterprise's): ``lng``/``lat`` WGS84, ``own_location`` whether it has its own."""
    location = hazard_location()
    return (
        _hazard_select(as_of)
        .add_columns(
            sa.func.ST_X(location).label("lng"),
            sa.func.ST_Y(location).label("lat"),
            Hazard.geom.is_not(None).label("own_location"),
            Enterprise.address.label("enterprise_address"),
            Enterprise.contact_phone.label("enterprise_phone"),
            Enterprise.supervising_dept.label("enterprise_dept"),
            Hazard.created_at,
            Hazard.updated_at,
            Hazard.origin,
            Hazard.created_by_id,
            Hazard.rectification_note,
            Hazard.rectified_by_id,
            Hazard.verifier_id,
            # the signing account's name; old rows and imports keep their free-text 验收人
            sa.func.coalesce(_Verifier.display_name, Hazard.verifier).label("verifier_name"),
            _Verifier.username.label("verifier_username"),
            _Rectifier.display_name.label("rectifier_name"),
        )
        .outerjoin(_Verifier, _Verifier.id == Hazard.verifier_id)
        .outerjoin(_Rectifier, _Rectifier.id == Hazard.rectified_by_id)
        .where(Hazard.id == hazard_id, enterprise_scope(scope))
    )


def hazard_events(hazard_id: int, *, scope: Scope) -> Select[Any]:
    """The hazard's state changes, oldest first (the timeline)."""
    return (
        sa.select(HazardEvent)
        .join(Hazard, Hazard.id == HazardEvent.hazard_id)
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(HazardEvent.hazard_id == hazard_id, enterprise_scope(scope))
        .order_by(HazardEvent.at, HazardEvent.id)
    )


def hazard_evidence(hazard_id: int, *, scope: Scope) -> Select[Any]:
    """The hazard's evidence files, in upload order."""
    return (
        sa.select(HazardEvidence)
        .join(Hazard, Hazard.id == HazardEvidence.hazard_id)
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(HazardEvidence.hazard_id == hazard_id, enterprise_scope(scope))
        .order_by(HazardEvidence.uploaded_at, HazardEvidence.id)
    )


def industry_choices() -> Select[Any]:
    """``code``, ``label`` of every industry in display order (not scoped: a vocabulary)."""
    return (
        sa.select(Industry.code, _industry_label().label("label"))
        .outerjoin(_ParentIndustry, _ParentIndustry.code == Industry.parent_code)
        .order_by(Industry.sort, Industry.code)
    )


def region_choices(*, scope: Scope, max_depth_digits: int = 6, holding_only: bool = True) -> Select[Any]:
    """Regions a filter or form may pick (codes of at most ``max_depth_digits`` digits), by code.

    ``holding_only``: only those holding enterprises in ``scope`` (filters);
    otherwise the regions within the scope's own region (forms).
    """
    stmt = (
        sa.select(Region.code, Region.name, Region.level)
        .where(sa.func.length(Region.code) <= max_depth_digits)
        .order_by(Region.code)
    )
    if not holding_only:
        return stmt.where(region_clause(Region.code, scope.region))
    # The SQL twin of scope.region_prefix for 6-digit codes.
    prefix = sa.case(
        (Region.code.like("%0000"), sa.func.substr(Region.code, 1, 2)),
        (Region.code.like("%00"), sa.func.substr(Region.code, 1, 4)),
        else_=Region.code,
    )
    holding = (
        sa.select(sa.literal(1)).select_from(Enterprise)
        .where(Enterprise.region_code.like(prefix + "%"), enterprise_scope(scope))
        .exists()
    )
    return stmt.where(holding)


def enterprise_search(q: str, *, scope: Scope, limit: int = 20) -> Select[Any]:
    """Enterprises in ``scope`` whose name or credit code contains ``q``, by name."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{escaped}%"
    return (
        sa.select(Enterprise.id, Enterprise.name, Enterprise.credit_code, Enterprise.address)
        .where(sa.or_(Enterprise.name.ilike(like, escape="\\"),
                      Enterprise.credit_code.ilike(like, escape="\\")),
               enterprise_scope(scope))
        .order_by(Enterprise.name, Enterprise.id)
        .limit(limit)
    )


def region_outline(code: str, *, scope: Scope, tolerance_deg: float = 0.002) -> Select[Any]:
    """A region's boundary as GeoJSON text (EPSG:4326, simplified for display), when the
    region lies within the scope's region (outlines carry no enterprise data)."""
    return (
        sa.select(Region.name, sa.func.ST_AsGeoJSON(
            sa.func.ST_SimplifyPreserveTopology(Region.geom, tolerance_deg), 5).label("geojson"))
        .where(Region.code == code, region_clause(Region.code, scope.region))
    )

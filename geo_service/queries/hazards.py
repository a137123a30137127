"""Hazard lists and the hazard record: where it is, whether it is overdue.

A hazard is drawn at its own point when it has one, else at its enterprise's
(EPSG:4326).  "Overdue" and the days overdue are
:func:`~geo_service.queries.metrics.overdue_on` at ``as_of``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Select

from .. import domain
from ..errors import NotFound
from ..models import Enterprise, Hazard, HazardEvent, HazardEvidence, User
from . import metrics
from .filters import Filters, hazard_clause, hazard_location
from .scope import Scope, enterprise_scope

__all__ = ["overdue_flag", "overdue_days", "hazard_columns", "hazards_select", "hazard_detail"]


def overdue_flag(as_of: dt.date) -> sa.ColumnElement[bool]:
    """Whether the hazard is overdue on ``as_of`` (never NULL)."""
    return sa.func.coalesce(metrics.overdue_on(as_of), False)


def overdue_days(as_of: dt.date) -> sa.ColumnElement[int]:
    """Days past the deadline on ``as_of`` (0 when not overdue)."""
    return sa.case((metrics.overdue_on(as_of), sa.literal(as_of, sa.Date) - Hazard.deadline), else_=0)


def hazard_columns(as_of: dt.date) -> list[sa.ColumnElement[Any]]:
    """The columns of a hazard list row (``lng``/``lat``: :func:`hazard_location`)."""
    where = hazard_location()
    return [
        Hazard.id, Hazard.enterprise_id, Enterprise.name.label("enterprise_name"), Hazard.description,
        Hazard.level, Hazard.state, Hazard.source, Hazard.category, Hazard.criterion, Hazard.found_on,
        Hazard.found_by, Hazard.deadline, overdue_flag(as_of).label("overdue"),
        overdue_days(as_of).label("overdue_days"), Hazard.resp_person, Hazard.measures,
        sa.cast(Hazard.funds_wan, sa.Float).label("funds_wan"), Hazard.emergency_plan,
        Hazard.supervision_doc_no, Hazard.rectified_on, Hazard.verified_on, Hazard.verifier,
        Hazard.verification_note, Enterprise.region_code, Enterprise.industry_code, Hazard.version,
        sa.func.ST_X(where).label("lng"), sa.func.ST_Y(where).label("lat"),
    ]


def hazards_select(f: Filters, *, scope: Scope, as_of: dt.date) -> Select[Any]:
    """Hazards matching ``f`` in ``scope``, by id."""
    return (
        sa.select(*hazard_columns(as_of))
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(hazard_clause(f, as_of), enterprise_scope(scope))
        .order_by(Hazard.id)
    )


def hazard_detail(session: Session, hazard_id: int, *, scope: Scope, as_of: dt.date) -> dict[str, Any]:
    """One hazard with its events (oldest first) and its evidence files.

    Raises :class:`NotFound` when it does not exist or lies outside ``scope``.
    """
    verifier = aliased(User, name="verifier_user")
    row = session.execute(
        sa.select(*hazard_columns(as_of), Hazard.verification_note, Hazard.rectification_note,
                  Hazard.origin, Hazard.created_by_id, Hazard.rectified_by_id, Hazard.verifier_id,
                  # the signing account's name; old rows and imports keep their free-text 验收人
                  sa.func.coalesce(verifier.display_name, Hazard.verifier).label("verifier_name"),
                  Hazard.created_at, Hazard.updated_at)
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .outerjoin(verifier, verifier.id == Hazard.verifier_id)
        .where(Hazard.id == hazard_id, enterprise_scope(scope))
    ).first()
    if row is None:
        raise NotFound(f"隐患 {hazard_id} 不存在")
    out = dict(row._mapping)
    out["state_name"] = domain.HAZARD_STATES[out["state"]]
    out["level_name"] = domain.HAZARD_LEVELS[out["level"]]
    out["source_name"] = domain.HAZARD_SOURCES[out["source"]]
    out["criterion_name"] = domain.MAJOR_CRITERIA.get(out["criterion"] or "")
    out["origin_name"] = domain.HAZARD_ORIGINS[out["origin"]]
    out["next_states"] = [
        {"to_state": b, "name": domain.HAZARD_STATES[b], "action": label}
        for (a, b), label in domain.TRANSITIONS.items() if a == out["state"]
    ]
    events = session.execute(
        sa.select(HazardEvent.id, HazardEvent.at, HazardEvent.actor, HazardEvent.user_id, HazardEvent.from_state,
                  HazardEvent.to_state, HazardEvent.note)
        .where(HazardEvent.hazard_id == hazard_id).order_by(HazardEvent.id)
    ).all()
    out["events"] = [dict(e._mapping) for e in events]
    evidence = session.execute(
        sa.select(HazardEvidence.id, HazardEvidence.kind, HazardEvidence.filename,
                  HazardEvidence.content_type, HazardEvidence.size_bytes, HazardEvidence.sha256,
                  HazardEvidence.uploaded_by, HazardEvidence.uploaded_at)
        .where(HazardEvidence.hazard_id == hazard_id).order_by(HazardEvidence.id)
    ).all()
    out["evidence"] = [dict(e._mapping) for e in evidence]
    return out

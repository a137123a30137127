"""Per-region summaries: enterprises and risk points by grade, hazards by level
and state, overdue, 挂牌督办, rectification rate, weighted risk.

Every count uses the definitions of :mod:`geo_service.queries.metrics` and
the caller's :class:`~geo_service.queries.scope.Scope`.  A region counts the
enterprises whose ``region_code`` lies in it or below it (code prefix,
:func:`~geo_service.queries.scope.region_prefix`).  Hazards counted are those
found on or before ``as_of``; "overdue" and "rectified" are as of ``as_of``.
The district heat layer and the monthly return read :func:`child_summaries`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import GRADES, HAZARD_LEVELS, HAZARD_STATES
from ..errors import NotFound
from ..models import Enterprise, Hazard, Region, RiskPoint
from . import metrics
from .scope import Scope, enterprise_scope, region_prefix

__all__ = ["region_summary", "child_summaries", "summaries"]


def _empty(code: str, name: str, level: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "level": level,
        "enterprises": 0,
        "enterprises_by_grade": {str(g.value): 0 for g in GRADES},
        "enterprises_ungraded": 0,
        "risk_points": 0,
        "risk_points_by_grade": {str(g.value): 0 for g in GRADES},
        "hazards": 0,
        "hazards_by_level_state": {lv: {st: 0 for st in HAZARD_STATES} for lv in HAZARD_LEVELS},
        "hazards_rectified": 0,
        "overdue": 0,
        "supervised": 0,
        "supervised_open": 0,
        "rectification_rate": None,
        "weighted_risk": 0,
        "major_risk_enterprises": 0,
        "open_major_hazards": 0,
        "overdue_hazards": 0,
    }


def summaries(session: Session, regions: list[tuple[str, str, str]], *, scope: Scope,
              as_of: dt.date) -> list[dict[str, Any]]:
    """One summary per ``(code, name, level)`` in ``regions``, in the same order.

    Three grouped queries in all (enterprises, risk points, hazards), whatever
    the number of regions: each region is a row of a VALUES list joined to
    the enterprises on the code prefix.
    """
    if not regions:
        return []
    out = {code: _empty(code, name, level) for code, name, level in regions}
    v = sa.values(sa.column("code", sa.String), sa.column("prefix", sa.String), name="v").data(
        [(code, region_prefix(code)) for code, _, _ in regions]
    )
    in_region = Enterprise.region_code.like(v.c.prefix + "%")
    scoped = enterprise_scope(scope)

    ent_rows = session.execute(
        sa.select(v.c.code, Enterprise.grade, sa.func.count(), sa.func.sum(metrics.grade_weight()))
        .select_from(v).join(Enterprise, in_region).where(scoped)
        .group_by(v.c.code, Enterprise.grade)
    ).all()
    for code, grade, n, weight in ent_rows:
        s = out[code]
        s["enterprises"] += n
        s["weighted_risk"] += int(weight or 0)
        if grade is None:
            s["enterprises_ungraded"] += n
        else:
            s["enterprises_by_grade"][str(grade)] += n
    for s in out.values():
        s["major_risk_enterprises"] = s["enterprises_by_grade"]["1"]

    rp_rows = session.execute(
        sa.select(v.c.code, RiskPoint.grade, sa.func.count())
        .select_from(v).join(Enterprise, in_region)
        .join(RiskPoint, RiskPoint.enterprise_id == Enterprise.id).where(scoped)
        .group_by(v.c.code, RiskPoint.grade)
    ).all()
    for code, grade, n in rp_rows:
        out[code]["risk_points"] += n
        out[code]["risk_points_by_grade"][str(grade)] += n

    def count_if(clause: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.count().filter(clause)

    hz_rows = session.execute(
        sa.select(
            v.c.code, Hazard.level, Hazard.state, sa.func.count(),
            count_if(metrics.overdue_on(as_of)),
            count_if(Hazard.source == "supervised"),
            count_if(sa.and_(Hazard.source == "supervised", metrics.open_clause())),
            count_if(metrics.rectified_by(as_of)),
        )
        .select_from(v).join(Enterprise, in_region)
        .join(Hazard, Hazard.enterprise_id == Enterprise.id)
        .where(scoped, Hazard.found_on <= as_of)
        .group_by(v.c.code, Hazard.level, Hazard.state)
    ).all()
    for code, level, state, n, overdue, supervised, supervised_open, rectified in hz_rows:
        s = out[code]
        s["hazards"] += n
        s["hazards_by_level_state"][level][state] += n
        s["overdue"] += overdue
        s["supervised"] += supervised
        s["supervised_open"] += supervised_open
        s["hazards_rectified"] += rectified
        if level == "major" and state != "closed":
            s["open_major_hazards"] += n
    for s in out.values():
        s["overdue_hazards"] = s["overdue"]
        s["rectification_rate"] = metrics.rate(s["hazards_rectified"], s["hazards"])
    return [out[code] for code, _, _ in regions]


def region_summary(session: Session, code: str, *, scope: Scope, as_of: dt.date) -> dict[str, Any]:
    """The summary of region ``code`` (itself and everything below it).

    Raises :class:`NotFound` for an unknown code or one outside the caller's jurisdiction.
    """
    from .regions import scoped_region

    region = scoped_region(session, code, scope=scope)
    return summaries(session, [(region.code, region.name, region.level)], scope=scope, as_of=as_of)[0]


def child_summaries(session: Session, code: str, *, scope: Scope, as_of: dt.date) -> list[dict[str, Any]]:
    """One summary per direct child region of ``code``, ordered by code."""
    from .regions import children

    return summaries(session, children(session, code, scope=scope), scope=scope, as_of=as_of)

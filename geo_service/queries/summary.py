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
import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..domain import CLOSED_STATE, GRADES, HAZARD_LEVELS, HAZARD_STATES, MAJOR_LEVEL
from ..models import Enterprise, Hazard, RiskPoint
from . import metrics
from .scope import Scope, enterprise_scope, region_clause, region_prefix

__all__ = ["child_summaries", "region_summary", "summaries"]


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


def _tallies_answer(session: Session, scope: Scope, as_of: dt.date) -> bool:
    """Whether the maintained tallies give the exact answer: they hold every
    hazard whatever its dates, so they do when no hazard was found or verified
    after ``as_of`` (two index look-ups), and they know regions, not single
    enterprises."""
    if scope.enterprise_id is not None:
        return False
    latest = session.execute(sa.select(sa.func.max(Hazard.found_on), sa.func.max(Hazard.verified_on))).one()
    return all(d is None or d <= as_of for d in latest)


def _regions_table(codes: list[str], prefixes: list[str]) -> Any:
    """The requested regions as rows ``(code, prefix)``: ``unnest`` of two bound arrays,
    so each statement compiles once and is cached whatever the regions (a VALUES
    list of literal rows gets no cache key and was compiled on every call)."""
    return sa.func.unnest(sa.bindparam("codes", codes, type_=ARRAY(sa.String)),
                          sa.bindparam("prefixes", prefixes, type_=ARRAY(sa.String))
                          ).table_valued(sa.column("code", sa.String), sa.column("prefix", sa.String)).render_derived(name="v")


def _register_rows(session: Session, v: Any, common: str, scope: Scope,
                   as_of: dt.date) -> tuple[Any, Any, Any]:
    """The three grouped queries over the register itself (any ``as_of``, any scope)."""
    in_region = Enterprise.region_code.like(v.c.prefix + "%")
    scoped = sa.and_(enterprise_scope(scope), _under(Enterprise.region_code, common))
    ent_rows = session.execute(
        sa.select(v.c.code, Enterprise.grade, sa.func.count(), sa.func.sum(metrics.grade_weight()))
        .select_from(v).join(Enterprise, in_region).where(scoped)
        .group_by(v.c.code, Enterprise.grade)
    ).all()
    rp_rows = session.execute(
        sa.select(v.c.code, RiskPoint.grade, sa.func.count())
        .select_from(v).join(Enterprise, in_region)
        .join(RiskPoint, RiskPoint.enterprise_id == Enterprise.id).where(scoped)
        .group_by(v.c.code, RiskPoint.grade)
    ).all()

    def count_if(clause: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.count().filter(clause)

    hz_rows = session.execute(
        sa.select(
            v.c.code, Hazard.level, Hazard.state, sa.func.count(),
            count_if(metrics.overdue_on(as_of)),
            count_if(metrics.is_supervised()),
            count_if(sa.and_(metrics.is_supervised(), metrics.open_clause())),
            count_if(metrics.rectified_by(as_of)),
        )
        .select_from(v).join(Enterprise, in_region)
        .join(Hazard, Hazard.enterprise_id == Enterprise.id)
        .where(scoped, Hazard.found_on <= as_of)
        .group_by(v.c.code, Hazard.level, Hazard.state)
    ).all()
    return ent_rows, rp_rows, hz_rows


# The maintained aggregates of migration 0003 (kept by triggers in the same transaction).
_cell = sa.table("enterprise_cell", sa.column("z"), sa.column("region_code", sa.String),
                 sa.column("grade", sa.SmallInteger), sa.column("n", sa.Integer))
_risk = sa.table("risk_tally", sa.column("region_code", sa.String), sa.column("grade", sa.SmallInteger),
                 sa.column("n", sa.Integer))
_hazard = sa.table("hazard_tally", *(sa.column(c, sa.String) for c in ("region_code", "level", "state")),
                   sa.column("supervised", sa.Boolean), sa.column("deadline", sa.Date), sa.column("n", sa.Integer))


def _isum(column: Any) -> sa.ColumnElement[int]:
    return sa.cast(sa.func.sum(column), sa.BigInteger)


def _under(column: Any, common: str) -> sa.ColumnElement[bool]:
    """``column`` starts with ``common``, the prefix every requested region shares: a
    constant pattern the ``varchar_pattern_ops`` indexes serve (the join's own
    ``LIKE v.prefix || '%'`` is not one), ``sa.true()`` when they share none."""
    return column.like(common + "%") if common else sa.true()


def _tally_rows(session: Session, v: Any, common: str, scope: Scope,
                as_of: dt.date) -> tuple[Any, Any, Any]:
    """The same three row sets from the tallies, with the same definitions as
    :mod:`~geo_service.queries.metrics` (valid when :func:`_tallies_answer`):
    overdue = an overdue state and a deadline before ``as_of``; rectified =
    closed (every verification is on or before ``as_of``)."""
    weight = metrics.grade_weight(_cell.c.grade)
    ent = (sa.select(_cell.c.region_code, _cell.c.grade, sa.func.sum(_cell.c.n).label("n"),
                     sa.func.sum(_cell.c.n * weight).label("w"))
           .where(_cell.c.z == 0, region_clause(_cell.c.region_code, scope.region),
                  _under(_cell.c.region_code, common))
           .group_by(_cell.c.region_code, _cell.c.grade).subquery())
    ent_rows = session.execute(
        sa.select(v.c.code, sa.func.nullif(ent.c.grade, 0), _isum(ent.c.n), _isum(ent.c.w))
        .select_from(v).join(ent, ent.c.region_code.like(v.c.prefix + "%"))
        .group_by(v.c.code, ent.c.grade)
    ).all()
    rp = (sa.select(_risk.c.region_code, _risk.c.grade, sa.func.sum(_risk.c.n).label("n"))
          .where(region_clause(_risk.c.region_code, scope.region), _under(_risk.c.region_code, common))
          .group_by(_risk.c.region_code, _risk.c.grade).subquery())
    rp_rows = session.execute(
        sa.select(v.c.code, rp.c.grade, _isum(rp.c.n))
        .select_from(v).join(rp, rp.c.region_code.like(v.c.prefix + "%"))
        .group_by(v.c.code, rp.c.grade)
    ).all()
    h = _hazard.c
    supervised = h.supervised

    def n_if(clause: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(h.n).filter(clause), 0)

    hz = (sa.select(
        h.region_code, h.level, h.state, sa.func.sum(h.n).label("n"),
        n_if(metrics.overdue_on(as_of, state=h.state, deadline=h.deadline)).label("overdue"),
        n_if(supervised).label("supervised"),
        n_if(sa.and_(supervised, metrics.open_clause(h.state))).label("supervised_open"),
        n_if(metrics.is_closed(h.state)).label("rectified"),
    ).where(region_clause(h.region_code, scope.region), _under(h.region_code, common))
        .group_by(h.region_code, h.level, h.state).subquery())
    hz_rows = session.execute(
        sa.select(v.c.code, hz.c.level, hz.c.state, _isum(hz.c.n), _isum(hz.c.overdue),
                  _isum(hz.c.supervised), _isum(hz.c.supervised_open), _isum(hz.c.rectified))
        .select_from(v).join(hz, hz.c.region_code.like(v.c.prefix + "%"))
        .group_by(v.c.code, hz.c.level, hz.c.state)
    ).all()
    return ent_rows, rp_rows, hz_rows


def summaries(session: Session, regions: list[tuple[str, str, str]], *, scope: Scope,
              as_of: dt.date, tallies: bool | None = None) -> list[dict[str, Any]]:
    """One summary per ``(code, name, level)`` in ``regions``, in the same order.

    Three grouped queries in all (enterprises, risk points, hazards), whatever
    the number of regions: each region is a row of a VALUES list joined on the
    code prefix, to the maintained tallies of migration 0003 (a few thousand
    rows for a whole province) when they answer exactly, else to the
    enterprises of the register.  ``tallies`` forces one way (tests).
    """
    if not regions:
        return []
    out = {code: _empty(code, name, level) for code, name, level in regions}
    prefixes = [region_prefix(code) for code, _, _ in regions]
    if tallies is None:
        tallies = _tallies_answer(session, scope, as_of)
    rows = _tally_rows if tallies else _register_rows
    v = _regions_table([code for code, _, _ in regions], prefixes)
    ent_rows, rp_rows, hz_rows = rows(session, v, os.path.commonprefix(prefixes), scope, as_of)
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

    for code, grade, n in rp_rows:
        out[code]["risk_points"] += n
        out[code]["risk_points_by_grade"][str(grade)] += n

    for code, level, state, n, overdue, supervised, supervised_open, rectified in hz_rows:
        s = out[code]
        s["hazards"] += n
        s["hazards_by_level_state"][level][state] += n
        s["overdue"] += overdue
        s["supervised"] += supervised
        s["supervised_open"] += supervised_open
        s["hazards_rectified"] += rectified
        if level == MAJOR_LEVEL and state != CLOSED_STATE:
            s["open_major_hazards"] += n
    for s in out.values():
        s["overdue_hazards"] = s["overdue"]
        s["rectification_rate"] = metrics.rate(s["hazards_rectified"], s["hazards"])
    return [out[code] for code, _, _ in regions]


def region_summary(session: Session, code: str, *, scope: Scope, as_of: dt.date,
                   with_children: bool = False) -> dict[str, Any]:
    """The summary of region ``code`` (itself and everything below it); with
    ``with_children``, its direct children's under ``children`` (as
    :func:`child_summaries`), counted in the same three statements: a province's
    tallies are read once, not once for it and again for its prefectures.

    Raises :class:`NotFound` for an unknown code or one outside the caller's jurisdiction.
    """
    from .regions import children, scoped_region

    region = scoped_region(session, code, scope=scope)
    kids = children(session, code, scope=scope) if with_children else []
    body, *rest = summaries(session, [(region.code, region.name, region.level), *kids], scope=scope, as_of=as_of)
    if with_children:
        body["children"] = rest
    return body


def child_summaries(session: Session, code: str, *, scope: Scope, as_of: dt.date) -> list[dict[str, Any]]:
    """One summary per direct child region of ``code``, ordered by code."""
    from .regions import children

    return summaries(session, children(session, code, scope=scope), scope=scope, as_of=as_of)

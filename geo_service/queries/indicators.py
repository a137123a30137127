"""The map's indicator strip: a few counts for the current region and filters.

One statement per table, both reading the filters through
:func:`~geo_service.queries.filters.open_unless_stated` (the map's one
reading of its filters) and the definitions of
:mod:`~geo_service.queries.metrics`; nothing here decides what "overdue" or
"rectified" mean.

The first view asks for a region and nothing else.  Then the counts come from
the maintained aggregates instead of the register (:func:`tallies_answer`):
the enterprises by grade from ``enterprise_cell`` at zoom 0, open 重大隐患 and
overdue hazards from ``hazard_tally`` (migration 0003), and this year's
整改率 from ``hazard`` through ``ix_hazard_region_found`` (its enterprise's
region and the day found, covering the state and the day verified: an
index-only count, migration 0019), without joining the enterprises.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select

from ..domain import GRADES
from ..models import Enterprise, Hazard
from . import metrics
from .filters import Filters, enterprise_clause, enterprise_grade, hazard_clause, open_unless_stated
from .scope import Scope, enterprise_scope, region_clause

__all__ = ["enterprise_counts", "hazard_counts", "tallies_answer"]

# The maintained aggregates of migration 0003 (kept by triggers in the writer's transaction).
_cell = sa.table("enterprise_cell", sa.column("z", sa.SmallInteger), sa.column("region_code", sa.String),
                 sa.column("grade", sa.SmallInteger), sa.column("n", sa.Integer))
_hazard = sa.table("hazard_tally", *(sa.column(c, sa.String) for c in ("region_code", "level", "state")),
                   sa.column("deadline", sa.Date), sa.column("n", sa.Integer))


def tallies_answer(f: Filters, scope: Scope) -> bool:
    """Whether the maintained aggregates give the strip's exact counts: no filter
    but the region (the map's first view), and a scope of regions, not of one
    enterprise.  The aggregates hold every enterprise and hazard as they stand,
    which is what the register path counts then, whatever the day."""
    return scope.enterprise_id is None and f == Filters(region=f.region)


def _in_regions(column: Any, f: Filters, scope: Scope) -> sa.ColumnElement[bool]:
    return sa.and_(region_clause(column, scope.region), region_clause(column, f.region))


def _isum(column: Any, *where: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """``sum(column)`` over the rows meeting ``where``, 0 for none."""
    total = sa.func.sum(column).filter(sa.and_(*where)) if where else sa.func.sum(column)
    return sa.cast(sa.func.coalesce(total, 0), sa.BigInteger)


def enterprise_counts(f: Filters, *, scope: Scope, as_of: dt.date, tallies: bool | None = None) -> Select[Any]:
    """One row: ``total``, ``ungraded`` and ``grade_1`` … ``grade_4``, the enterprises the
    map's enterprise layers draw for ``f`` in ``scope`` (with ``f.grades_at``: the
    enterprises registered by then, by their grade then, as the tiles draw them).

    From ``enterprise_cell`` when :func:`tallies_answer` (``tallies`` forces one way: tests)."""
    if tallies if tallies is not None else tallies_answer(f, scope):
        c = _cell.c
        return sa.select(_isum(c.n).label("total"), _isum(c.n, c.grade == 0).label("ungraded"),
                         *(_isum(c.n, c.grade == g.value).label(f"grade_{g.value}") for g in GRADES)
                         ).where(c.z == 0, _in_regions(c.region_code, f, scope))
    n = sa.func.count()
    grade = enterprise_grade(f)
    stmt = (
        sa.select(n.label("total"), n.filter(grade.is_(None)).label("ungraded"),
                  *(n.filter(grade == g.value).label(f"grade_{g.value}") for g in GRADES))
        .where(enterprise_clause(open_unless_stated(f), as_of), enterprise_scope(scope))
    )
    if f.grades_at is not None:
        stmt = stmt.where(Enterprise.created_at <= f.grades_at)
    return stmt


def hazard_counts(f: Filters, *, scope: Scope, as_of: dt.date, tallies: bool | None = None) -> Select[Any]:
    """One row for the hazards of ``f`` in ``scope`` at ``as_of``.

    ``open_major`` — open 重大隐患 (:func:`metrics.open_clause`); ``overdue`` —
    :func:`metrics.overdue_on`; both among the hazards the filters select, so a
    state filter of 已验收销号 leaves none.  ``found_this_year`` and
    ``rectified_this_year`` — hazards found from 1 January of ``as_of``'s year to
    the end of its month (:func:`metrics.period`), and of those the ones
    :func:`metrics.rectified_by` the period's end: the numerator and the
    denominator of this year's 整改率 (:func:`metrics.rate`).  The rate reads
    every filter but state and overdue (a rate over open hazards only would
    be 0 by construction).

    When :func:`tallies_answer` (``tallies`` forces one way: tests), the first
    two from ``hazard_tally`` and the rate's two from ``hazard`` by its
    enterprise's region (``ent_region``) and the day found.
    """
    p = metrics.period(as_of.year, as_of.month)
    if tallies if tallies is not None else tallies_answer(f, scope):
        h = _hazard.c
        tally = sa.select(
            _isum(h.n, metrics.is_major(h.level), metrics.open_clause(h.state)).label("open_major"),
            _isum(h.n, metrics.overdue_on(as_of, state=h.state, deadline=h.deadline)).label("overdue"),
        ).where(_in_regions(h.region_code, f, scope)).subquery()
        found = sa.select(
            sa.func.count().label("found_this_year"),
            sa.func.count().filter(metrics.rectified_by(p.end)).label("rectified_this_year"),
        ).where(_in_regions(Hazard.ent_region, f, scope), metrics.found_in(p.start, p.end)).subquery()
        return sa.select(tally.c.open_major, tally.c.overdue, found.c.found_this_year,
                         found.c.rectified_this_year).select_from(tally.join(found, sa.true()))
    n = sa.func.count()
    f = open_unless_stated(f)
    selected = hazard_clause(f, as_of)
    year = metrics.found_in(p.start, p.end)
    for_rate = hazard_clause(replace(f, hazard_state=(), overdue=None), as_of)
    return (
        sa.select(
            n.filter(selected, Hazard.level == "major", metrics.open_clause()).label("open_major"),
            n.filter(selected, metrics.overdue_on(as_of)).label("overdue"),
            n.filter(for_rate, year).label("found_this_year"),
            n.filter(for_rate, year, metrics.rectified_by(p.end)).label("rectified_this_year"),
        )
        .select_from(Hazard).join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(enterprise_scope(scope), sa.or_(selected, for_rate))
    )

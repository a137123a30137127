"""The map's indicator strip: a few counts for the current region and filters.

One statement per table, both reading the filters through
:func:`~geo_service.queries.filters.open_unless_stated` (the map's one
reading of its filters) and the definitions of
:mod:`~geo_service.queries.metrics`; nothing here decides what "overdue" or
"rectified" mean.
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
from .scope import Scope, enterprise_scope

__all__ = ["enterprise_counts", "hazard_counts"]


def enterprise_counts(f: Filters, *, scope: Scope, as_of: dt.date) -> Select[Any]:
    """One row: ``total``, ``ungraded`` and ``grade_1`` … ``grade_4``, the enterprises the
    map's enterprise layers draw for ``f`` in ``scope`` (with ``f.grades_at``: the
    enterprises registered by then, by their grade then, as the tiles draw them)."""
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


def hazard_counts(f: Filters, *, scope: Scope, as_of: dt.date) -> Select[Any]:
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
    """
    p = metrics.period(as_of.year, as_of.month)
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

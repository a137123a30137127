"""The caller's jurisdiction, applied in SQL to every query.

A :class:`Scope` is what the current account may see: everything (admin), a
region and everything below it (regulator, read-only), or one enterprise
(enterprise user).  Every query function in ``queries/`` takes a ``scope`` and
ANDs :func:`enterprise_scope` into its WHERE clause, so a query written
without it is visibly wrong in review and fails the scoping tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ..models import Enterprise

__all__ = [
    "Scope",
    "ALL",
    "region_prefix",
    "region_prefix_sql",
    "ancestor_codes",
    "region_clause",
    "region_visible",
    "enterprise_scope",
]


@dataclass(frozen=True)
class Scope:
    """What the caller may see. Both None: everything."""

    region: str | None = None
    enterprise_id: int | None = None

    @property
    def unrestricted(self) -> bool:
        return self.region is None and self.enterprise_id is None


ALL = Scope()


def region_prefix(code: str) -> str:
    """The code prefix shared by a region and everything below it (GB/T 2260).

    >>> region_prefix("530000"), region_prefix("532500"), region_prefix("532501")
    ('53', '5325', '532501')
    >>> region_prefix("532501001000"), region_prefix("532501001")
    ('532501001', '532501001')
    """
    if len(code) == 6:
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
        return code
    if code.endswith("000") and len(code) == 12:
        return code[:9]
    return code


def region_prefix_sql(code: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """:func:`region_prefix` in SQL, for a code column."""
    return sa.case(
        (sa.and_(sa.func.length(code) == 6, code.like("%0000")), sa.func.left(code, 2)),
        (sa.and_(sa.func.length(code) == 6, code.like("%00")), sa.func.left(code, 4)),
        (sa.and_(sa.func.length(code) == 12, code.like("%000")), sa.func.left(code, 9)),
        else_=code,
    )


def ancestor_codes(code: str) -> list[str]:
    """The codes of the regions above ``code``, nearest first.

    >>> ancestor_codes("532501001000"), ancestor_codes("532501"), ancestor_codes("530000")
    (['532501', '532500', '530000'], ['532500', '530000'], [])
    """
    out: list[str] = []
    if len(code) > 6:
        out.append(code[:6])
    county = code[:6]
    if not county.endswith("00"):
        out.append(county[:4] + "00")
    if not county.endswith("0000"):
        out.append(county[:2] + "0000")
    return [c for c in out if c != code]


def region_clause(column: sa.ColumnElement[str] | sa.orm.InstrumentedAttribute[str | None],
                  code: str | None) -> ColumnElement[bool]:
    """``column`` lies in region ``code`` or below it (``sa.true()`` for None)."""
    if code is None:
        return sa.true()
    return column.like(region_prefix(code) + "%")


def region_visible(scope: Scope, code: sa.ColumnElement[str]) -> ColumnElement[bool]:
    """Regions a caller may look at by code: its own region, everything below
    it and the regions above it (whose figures are still counted only over
    its own enterprises); an enterprise account, its enterprise's region and
    those above.  Another branch of the tree is not visible."""
    if scope.region is not None:
        return sa.or_(region_clause(code, scope.region), code.in_(ancestor_codes(scope.region)))
    if scope.enterprise_id is not None:
        own = (
            sa.select(Enterprise.region_code)
            .where(Enterprise.id == scope.enterprise_id)
            .scalar_subquery()
        )
        return own.like(region_prefix_sql(code) + "%")
    return sa.true()


def enterprise_scope(scope: Scope) -> ColumnElement[bool]:
    """The WHERE clause on :class:`Enterprise` for ``scope``."""
    clauses: list[ColumnElement[bool]] = []
    if scope.region is not None:
        clauses.append(region_clause(Enterprise.region_code, scope.region))
    if scope.enterprise_id is not None:
        clauses.append(Enterprise.id == scope.enterprise_id)
    return sa.and_(sa.true(), *clauses)

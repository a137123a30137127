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

__all__ = ["Scope", "ALL", "region_prefix", "region_clause", "enterprise_scope"]


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


def region_clause(column: sa.ColumnElement[str] | sa.orm.InstrumentedAttribute[str | None],
                  code: str | None) -> ColumnElement[bool]:
    """``column`` lies in region ``code`` or below it (``sa.true()`` for None)."""
    if code is None:
        return sa.true()
    return column.like(region_prefix(code) + "%")


def enterprise_scope(scope: Scope) -> ColumnElement[bool]:
    """The WHERE clause on :class:`Enterprise` for ``scope``."""
    clauses: list[ColumnElement[bool]] = []
    if scope.region is not None:
        clauses.append(region_clause(Enterprise.region_code, scope.region))
    if scope.enterprise_id is not None:
        clauses.append(Enterprise.id == scope.enterprise_id)
    return sa.and_(sa.true(), *clauses)

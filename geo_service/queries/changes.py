"""The per-county change tokens of migration 0014 (``region_change``) and the
county boxes a tile is keyed by.

A *key* is a county's 6-digit code, ``''`` (rows outside their county's box,
or without a region) or ``'*'`` (boundaries, and everything at once); its
token is ``sum(weight)`` of its rows, the number of committed statements
that changed it.  A key never changed has no row (token 0).  What a response
covers is a :data:`Selection`: a tuple of keys, a region prefix, or ``None``
for everything.  See :mod:`geo_service.tokens` for how the web workers use them.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import Select

__all__ = [
    "EVERYTHING",
    "STRAY",
    "Selection",
    "boxes_select",
    "prefix_keys",
    "tokens_column",
    "tokens_select",
    "with_tokens_of_keys",
    "TOKEN_KEYS",
]

EVERYTHING = "*"  # the key of the region table and of TRUNCATE: in every selection
STRAY = ""  # rows outside their county's box or without a region: in every box selection

# A tuple of keys; a region prefix (str: the keys under it and '*'); None: every key.
Selection = tuple[str, ...] | str | None

_change = sa.table("region_change", sa.column("code", sa.String), sa.column("weight", sa.BigInteger))
_region = sa.table("region", sa.column("code", sa.String), sa.column("geom"))


def prefix_keys(prefix: str) -> str | tuple[str, ...]:
    """The selection of a region prefix: a county or below is one key (with
    ``'*'``), a province or prefecture prefix stays a prefix.

    >>> prefix_keys("5325"), prefix_keys("532501"), prefix_keys("532501001")
    ('5325', ('532501', '*'), ('532501', '*'))
    """
    if len(prefix) >= 6:
        return (prefix[:6], EVERYTHING)
    return prefix


def _where(selection: Selection) -> sa.ColumnElement[bool]:
    code = _change.c.code
    if selection is None:
        return sa.true()
    if isinstance(selection, str):
        return sa.or_(code.like(selection + "%"), code == EVERYTHING)
    return code.in_(list(selection))


def _tokens_rows(where: sa.ColumnElement[bool]) -> Select[Any]:
    return (sa.select(_change.c.code, sa.func.sum(_change.c.weight).label("token"))
            .where(where).group_by(_change.c.code))


def _tokens_object(where: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    rows = _tokens_rows(where).subquery("tok")
    return sa.select(sa.func.coalesce(sa.func.jsonb_object_agg(rows.c.code, rows.c.token),
                                      sa.cast(sa.literal("{}"), JSONB))).scalar_subquery()


def tokens_select(selection: Selection) -> Select[Any]:
    """``(key, token)`` of every key of ``selection`` that has changed at least once."""
    return _tokens_rows(_where(selection))


def tokens_column(selection: Selection) -> sa.ScalarSelect[Any]:
    """The tokens of ``selection`` as one JSON object ``{key: token}``: a column
    to add to the statement that builds a response, so both are read in the
    same snapshot."""
    return _tokens_object(_where(selection))


# The parameter of :func:`with_tokens_of_keys`: the list of keys whose tokens are read.
TOKEN_KEYS = "token_keys"


@functools.lru_cache(maxsize=64)
def with_tokens_of_keys(stmt: Select[Any]) -> Select[Any]:
    """``stmt`` with the tokens column of the keys given as the parameter
    ``TOKEN_KEYS`` at execution (a list): for a statement built once and
    executed for many responses (:func:`geo_service.queries.tiles.tile_statement`),
    so the pair is built once too."""
    return stmt.add_columns(_tokens_object(_change.c.code.in_(sa.bindparam(TOKEN_KEYS, expanding=True))))


def boxes_select() -> Select[Any]:
    """``(star, code, west, south, east, north)``: the bounding box (PostGIS's
    stored single-precision box, the one the triggers compare with, rounded
    outward) of every region with a 6-digit code, and the token of ``'*'`` in the
    same statement, so the boxes are known to be those of that token."""
    star = (sa.select(sa.func.coalesce(sa.func.sum(_change.c.weight), 0).label("star"))
            .where(_change.c.code == EVERYTHING).subquery("star"))
    box = sa.func.Box2D(_region.c.geom)
    # from the star token, so that an empty region table still answers its token (code NULL)
    return (sa.select(star.c.star, _region.c.code, sa.func.ST_XMin(box), sa.func.ST_YMin(box),
                      sa.func.ST_XMax(box), sa.func.ST_YMax(box))
            .select_from(star)
            .outerjoin(_region, sa.func.length(_region.c.code) == 6))

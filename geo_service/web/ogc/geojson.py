"""GeoJSON features of a list statement, serialised by PostgreSQL.

A page of 1,000 features built row by row in Python (row objects, dicts, the
Chinese names added, ``json.dumps``) costs several times what the database
needs to build the same text with ``json_build_object``/``json_agg``; so the
OGC ``items`` of the point collections are built here in SQL, with the same
members as :func:`geo_service.web.api.common.feature` and
:func:`~geo_service.web.api.common.decorate` give: ``id``, a Point from the
row's ``lng``/``lat`` (WGS84), and every other column as a property, plus
``grade_name``/``grade_colour``, ``industry_name`` and the hazard
``state_name``/``level_name``/``source_name``.  Every name and value is a
bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql import Select

from ... import registry

__all__ = ["count_capped", "features_page"]


def _key(name: str) -> sa.ColumnElement[str]:
    return sa.cast(sa.literal(name), sa.Text)


def _names(column: sa.ColumnElement[Any], table: Mapping[Any, str]) -> sa.ColumnElement[str]:
    return sa.case({k: sa.cast(sa.literal(v), sa.Text) for k, v in table.items()}, value=column)


def _decorations(kind: str, c: Any) -> list[tuple[str, sa.ColumnElement[Any]]]:
    """What :func:`~geo_service.web.api.common.decorate` adds, in its order."""
    out: list[tuple[str, sa.ColumnElement[Any]]] = []
    keys = set(c.keys())
    for d in registry.get(kind).decorations:
        if d.source not in keys or (d.unless_present and d.name in keys):
            continue
        out.append((d.name, _names(c[d.source], d.table)))
    return out


def features_page(stmt: Select[Any], kind: str, *, limit: int, offset: int, count_cap: int) -> Select[Any]:
    """``(matched, returned, features)`` for one page of ``stmt`` in one round trip:
    the rows matched counted up to ``count_cap`` (:func:`count_capped`), the
    number returned, and the JSON text of the page's features array.

    ``stmt`` is a list statement ordered by ``id`` with ``lng``/``lat`` columns.
    """
    page = stmt.limit(limit).offset(offset).subquery("page")
    c = page.c
    props: list[Any] = []
    for col in c:
        if col.key not in ("lng", "lat"):
            props += [_key(col.key), col]
    for name, expr in _decorations(kind, c):
        props += [_key(name), expr]
    point = sa.case(
        (c.lng.is_(None), sa.null()),
        else_=sa.func.json_build_object(_key("type"), _key("Point"), _key("coordinates"),
                                        sa.func.json_build_array(c.lng, c.lat)),
    )
    feature = sa.func.json_build_object(
        _key("type"), _key("Feature"), _key("id"), c.id, _key("geometry"), point,
        _key("properties"), sa.func.json_build_object(*props),
    )
    return sa.select(
        count_capped(stmt, count_cap).scalar_subquery(),
        sa.func.count(),
        sa.func.coalesce(sa.cast(sa.func.json_agg(aggregate_order_by(feature, c.id)), sa.Text), "[]"),
    ).select_from(page)


def count_capped(stmt: Select[Any], cap: int) -> Select[Any]:
    """``count(*)`` of ``stmt``, but counting at most ``cap`` rows (a dense bbox
    must not make every page count a hundred thousand rows); the rows' columns
    are not computed for counting."""
    rows = stmt.with_only_columns(sa.literal_column("1"), maintain_column_froms=True).order_by(None).limit(cap)
    return sa.select(sa.func.count()).select_from(rows.subquery())

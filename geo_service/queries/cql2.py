"""OGC API – Features Part 3 filters: CQL2 text or JSON, compiled to a SQLAlchemy clause.

:mod:`pygeofilter` parses the filter into its AST; :class:`_ToClause` walks
that AST over the collection's *queryables* (name → SQL expression of the
list statement) and builds a clause whose every literal is a bound parameter:
nothing is ever pasted into SQL text.  What it does not know (an unknown
property, an operator or function it does not implement) raises
:class:`~geo_service.errors.InvalidParameter` naming ``filter``: a filter is
never ignored.

Geometries are CRS84 / EPSG:4326 (lng, lat); a spatial predicate compares the
collection's point (or boundary) with the literal in PostGIS.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pygeofilter import ast, values
from pygeofilter.backends.evaluator import Evaluator, handle
from sqlalchemy.sql import Select

from ..errors import InvalidParameter

__all__ = ["LANGS", "CRS84_URIS", "Queryable", "queryables", "filter_clause"]

#: filter-lang values: the CQL2 names, and "cql-text", the draft's name that GDAL ≤ 3.7 sends
LANGS = ("cql2-text", "cql2-json", "cql-text")
CRS84_URIS = ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "http://www.opengis.net/def/crs/EPSG/0/4326")


@dataclass(frozen=True)
class Queryable:
    """A property a filter may name: its SQL expression and its JSON Schema type."""

    name: str
    expr: Any
    schema: Mapping[str, Any]


def _schema_of(column: Any) -> dict[str, Any]:
    try:
        py = column.type.python_type
    except NotImplementedError:
        return {"type": "string"}
    if py is bool:
        return {"type": "boolean"}
    if py is int:
        return {"type": "integer"}
    if py in (float,) or py.__name__ == "Decimal":
        return {"type": "number"}
    if py is dt.date:
        return {"type": "string", "format": "date"}
    if py is dt.datetime:
        return {"type": "string", "format": "date-time"}
    return {"type": "string"}


def queryables(stmt: Select[Any], geometry: Any, *, skip: tuple[str, ...] = ("lng", "lat", "geometry")
               ) -> dict[str, Queryable]:
    """The queryables of a list statement: each selected column (by its label) and
    ``geometry`` (the collection's geometry column or expression, EPSG:4326)."""
    out: dict[str, Queryable] = {}
    for col in stmt.selected_columns:
        if col.key in skip:
            continue
        expr = col.element if isinstance(col, sa.Label) else col
        out[col.key] = Queryable(col.key, expr, _schema_of(col))
    out["geometry"] = Queryable("geometry", geometry, {"format": "geometry-any"})
    return out


def _geometry_literal(geojson: Mapping[str, Any]) -> Any:
    return sa.func.ST_SetSRID(sa.func.ST_GeomFromGeoJSON(sa.bindparam(None, json.dumps(geojson), sa.Text)), 4326)


_COMPARISONS = {"=": "__eq__", "<>": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}
_SPATIAL = {"INTERSECTS": "ST_Intersects", "DISJOINT": "ST_Disjoint", "CONTAINS": "ST_Contains",
            "WITHIN": "ST_Within", "TOUCHES": "ST_Touches", "CROSSES": "ST_Crosses",
            "OVERLAPS": "ST_Overlaps", "EQUALS": "ST_Equals"}


class _Unsupported(Exception):
    pass


class _ToClause(Evaluator):  # type: ignore[misc]
    """pygeofilter AST → SQLAlchemy clause over the queryables (bound parameters only)."""

    def __init__(self, fields: Mapping[str, Queryable]):
        self.fields = fields

    @handle(ast.Not)
    def not_(self, node: Any, sub: Any) -> Any:
        return sa.not_(sub)

    @handle(ast.And)
    def and_(self, node: Any, lhs: Any, rhs: Any) -> Any:
        return sa.and_(lhs, rhs)

    @handle(ast.Or)
    def or_(self, node: Any, lhs: Any, rhs: Any) -> Any:
        return sa.or_(lhs, rhs)

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node: Any, lhs: Any, rhs: Any) -> Any:
        return getattr(lhs, _COMPARISONS[node.op.value])(rhs)

    @handle(ast.Between)
    def between(self, node: Any, lhs: Any, low: Any, high: Any) -> Any:
        clause = lhs.between(low, high)
        return sa.not_(clause) if node.not_ else clause

    @handle(ast.Like)
    def like(self, node: Any, lhs: Any) -> Any:
        pattern = node.pattern
        if not isinstance(pattern, str):
            raise _Unsupported("LIKE 的模式应为文字")
        # CQL2 wildcards: % and _ as in SQL; the escape character is "\\"
        clause = lhs.ilike(pattern, escape="\\") if node.nocase else lhs.like(pattern, escape="\\")
        return sa.not_(clause) if node.not_ else clause

    @handle(ast.In)
    def in_(self, node: Any, lhs: Any, *options: Any) -> Any:
        clause = lhs.in_(list(options))
        return sa.not_(clause) if node.not_ else clause

    @handle(ast.IsNull)
    def null(self, node: Any, lhs: Any) -> Any:
        return lhs.is_not(None) if node.not_ else lhs.is_(None)

    @handle(ast.SpatialComparisonPredicate, subclasses=True)
    def spatial(self, node: Any, lhs: Any, rhs: Any) -> Any:
        name = _SPATIAL.get(node.op.name)
        if name is None:
            raise _Unsupported(f"不支持的空间谓词 {node.op.name}")
        return getattr(sa.func, name)(lhs, rhs)

    @handle(ast.BBox)
    def bbox(self, node: Any, lhs: Any) -> Any:
        if node.crs not in (None, *CRS84_URIS, "EPSG:4326"):
            raise _Unsupported("BBOX 只支持 CRS84（经纬度）")
        return sa.func.ST_Intersects(lhs, sa.func.ST_MakeEnvelope(node.minx, node.miny, node.maxx, node.maxy, 4326))

    @handle(ast.Attribute)
    def attribute(self, node: Any) -> Any:
        q = self.fields.get(node.name)
        if q is None:
            raise _Unsupported(f"未知属性 {node.name}（可查询：{'、'.join(self.fields)}）")
        return q.expr

    @handle(values.Geometry)
    def geometry(self, node: Any) -> Any:
        return _geometry_literal(node.geometry)

    @handle(values.Envelope)
    def envelope(self, node: Any) -> Any:
        return sa.func.ST_MakeEnvelope(node.x1, node.y1, node.x2, node.y2, 4326)

    @handle(str, int, float, bool, dt.date, dt.datetime)
    def literal(self, node: Any) -> Any:
        return sa.literal(node)

    def adopt_result(self, result: Any) -> Any:
        return result


def _parse(text: str, lang: str) -> Any:
    from pygeofilter.parsers.cql2_json import parse as parse_json
    from pygeofilter.parsers.cql2_text import parse as parse_text

    if lang == "cql2-json":
        try:
            doc = json.loads(text)
        except ValueError as err:
            raise InvalidParameter("filter", f"CQL2 JSON 无法解析：{err}") from err
        return parse_json(doc)
    return parse_text(text)


def filter_clause(text: str, lang: str | None, crs: str | None, fields: Mapping[str, Queryable]) -> Any:
    """The clause of a ``filter`` (``filter-lang`` cql2-text by default, ``filter-crs`` CRS84).

    Raises
    ------
    InvalidParameter
        An unknown language or CRS, a filter that does not parse, or one that names
        an unknown property or uses what is not implemented (400, naming the parameter).
    """
    lang = (lang or "cql2-text").strip().lower()
    if lang not in LANGS:
        raise InvalidParameter("filter-lang", f"可选：{', '.join(LANGS)}")
    if crs not in (None, "", *CRS84_URIS):
        raise InvalidParameter("filter-crs", "只支持 CRS84（http://www.opengis.net/def/crs/OGC/1.3/CRS84）")
    if not text.strip():
        raise InvalidParameter("filter", "过滤条件为空")
    try:
        tree = _parse(text, lang)
    except InvalidParameter:
        raise
    except Exception as err:  # noqa: BLE001 - lark and pygeofilter raise many kinds for a bad filter
        raise InvalidParameter("filter", f"无法解析的 {lang} 过滤条件：{str(err).splitlines()[0][:200]}") from err
    try:
        clause = _ToClause(fields).evaluate(tree)
    except _Unsupported as err:
        raise InvalidParameter("filter", str(err)) from err
    except NotImplementedError as err:
        raise InvalidParameter("filter", f"不支持的过滤条件：{type(tree).__name__}") from err
    except (AttributeError, TypeError, KeyError) as err:
        raise InvalidParameter("filter", "不支持的过滤条件写法") from err
    if not isinstance(clause, sa.ColumnElement):
        raise InvalidParameter("filter", "过滤条件应为谓词（比较、空间关系等）")
    return clause

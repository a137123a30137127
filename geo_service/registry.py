"""The collections, each declared once (in the manner of pygeoapi's resources).

A :class:`Collection` says everything the surfaces need to know about one
kind of record:

- its id (``enterprises`` …), Chinese title and description (OGC API);
- its statement: the scoped, filtered list query of :mod:`geo_service.queries`
  that the API lists, OGC ``items``, downloads and queryables all run;
- its model and id column (one item, queryables);
- its fields: list column → Chinese label → Shapefile name (≤ 10 ASCII), and
  the import field each one comes back in as (so a download re-imports);
- its import columns (:data:`geo_service.services.validation.COLUMNS`) and
  the aliases a file header may use for them: the field name, the Chinese
  header, and every export name, label and Shapefile name that
  :attr:`Field.imports_as` maps to it;
- its decorations: the Chinese names a list row gains (grade, state …), built
  by :func:`geo_service.web.api.common.decorate` in Python and by
  :mod:`geo_service.web.ogc.geojson` in SQL from the same table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.sql import Select

from . import domain
from .models import Enterprise, Hazard, Region, RiskPoint
from .queries.filters import Filters
from .queries.scope import Scope

__all__ = ["Field", "Decoration", "Collection", "COLLECTIONS", "get", "import_aliases", "shapefile_names",
           "queryables", "decorate"]


@dataclass(frozen=True)
class Field:
    """One column of a list row as it is downloaded.

    ``key`` is the list statement's column (the GeoJSON property, the GPKG
    field), ``label`` the CSV/XLSX header, ``shp`` the dBASE field name, and
    ``imports_as`` the import field it fills when the file comes back (None:
    computed, not imported).
    """

    key: str
    label: str
    shp: str
    imports_as: str | None = None

    def __post_init__(self) -> None:
        if len(self.shp) > 10 or not self.shp.isascii():
            raise ValueError(f"Shapefile name {self.shp!r} of {self.key!r}: at most 10 ASCII characters")


@dataclass(frozen=True)
class Decoration:
    """A Chinese name added to a row: ``table[row[source]]`` under ``name``."""

    name: str
    source: str
    table: Mapping[Any, str]
    #: only when the statement does not already give ``name`` (industry_name)
    unless_present: bool = False


Statement = Callable[[Filters, Scope, dt.date, Mapping[str, str]], Select[Any]]


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    model: type
    id_column: str
    statement: Statement
    fields: tuple[Field, ...] = ()
    decorations: tuple[Decoration, ...] = ()
    #: the import kind (validation.COLUMNS key); None: not imported row by row
    importable: bool = False
    #: further header → import field aliases (English names of other surfaces)
    extra_aliases: Mapping[str, str] = field(default_factory=dict)
    #: the geometry a spatial filter compares (EPSG:4326): a column or an expression
    geometry: Callable[[], Any] = lambda: None
    geometry_type: str = "point"
    #: the natural key an import upserts on (model columns), and the import field a duplicate is blamed on
    import_key: tuple[str, ...] = ()
    key_field: str | None = None

    def field_keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)


# --------------------------------------------------------------------------- statements


def _enterprises(f: Filters, scope: Scope, as_of: dt.date, args: Mapping[str, str]) -> Select[Any]:
    from .queries import enterprises as eq

    return eq.enterprises_select(f, scope=scope, as_of=as_of)


def _risk_points(f: Filters, scope: Scope, as_of: dt.date, args: Mapping[str, str]) -> Select[Any]:
    from .queries import risk_points as rpq

    return rpq.risk_points_select(f, scope=scope)


def _hazards(f: Filters, scope: Scope, as_of: dt.date, args: Mapping[str, str]) -> Select[Any]:
    from .queries import hazards as hq

    return hq.hazards_select(f, scope=scope, as_of=as_of)


def _regions(f: Filters, scope: Scope, as_of: dt.date, args: Mapping[str, str]) -> Select[Any]:
    from .queries import regions as rq
    from .queries.scope import region_clause

    stmt = rq.regions_select(scope=scope, bbox=f.bbox, level=args.get("level"), with_geometry=True)
    return stmt.where(region_clause(rq.Region.code, f.region))


def _hazard_point() -> Any:
    from .queries.hazards import hazard_location

    return hazard_location()


# --------------------------------------------------------------------------- decorations

_GRADE_NAMES = {g.value: g.name for g in domain.GRADES}
_GRADE_COLOURS = {g.value: g.colour_name for g in domain.GRADES}
_GRADED = (Decoration("grade_name", "grade", _GRADE_NAMES), Decoration("grade_colour", "grade", _GRADE_COLOURS))
_INDUSTRY = Decoration("industry_name", "industry_code", {i.code: i.name for i in domain.INDUSTRIES},
                       unless_present=True)

_POINT = (Field("lng", "经度", "lng", "lng"), Field("lat", "纬度", "lat", "lat"))
_AT_ENTERPRISE = (Field("lng", "经度", "lng"), Field("lat", "纬度", "lat"))  # shown, not imported

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection(
        "enterprises", "企业", "监管的生产经营单位，按风险等级（红橙黄蓝）", Enterprise, "id", _enterprises,
        fields=(
            Field("id", "编号", "id"),
            Field("name", "企业名称", "name", "name"),
            Field("credit_code", "统一社会信用代码", "credit", "credit_code"),
            Field("industry_name", "行业领域", "industry", "industry"),
            Field("grade_name", "风险等级", "grade_nm"),
            Field("grade", "风险等级代码", "grade"),
            Field("region_code", "行政区划代码", "region", "region_code"),
            Field("address", "地址", "address", "address"),
            Field("legal_rep", "法定代表人", "legal_rep", "legal_rep"),
            Field("contact_phone", "联系电话", "phone", "contact_phone"),
            Field("supervising_dept", "监管部门", "dept", "supervising_dept"),
            Field("distance_m", "距离（米）", "dist_m"),
        ) + _POINT,
        decorations=_GRADED + (_INDUSTRY,),
        importable=True,
        extra_aliases={"industry_code": "industry"},
        geometry=lambda: Enterprise.geom,
        import_key=("credit_code",), key_field="credit_code",
    ),
    Collection(
        "risk-points", "风险点", "企业的安全风险点及其等级（位于企业位置）", RiskPoint, "id", _risk_points,
        fields=(
            Field("id", "编号", "id"),
            Field("enterprise_id", "企业编号", "ent_id", "enterprise_id"),
            Field("enterprise_name", "企业名称", "ent_name"),
            Field("name", "风险点名称", "name", "name"),
            Field("grade_name", "风险等级", "grade_nm", "grade"),
            Field("grade", "风险等级代码", "grade", "grade"),
            Field("location_desc", "所在部位", "location", "location_desc"),
            Field("accident_type", "可能导致的事故类型", "accident", "accident_type"),
            Field("method", "评估方法", "method", "method"),
            Field("score", "风险值", "score", "score"),
            Field("control_measures", "管控措施", "controls", "control_measures"),
            Field("controls_implemented", "管控措施是否落实", "ctrl_done", "controls_implemented"),
            Field("responsible_person", "管控责任人", "resp_pers", "responsible_person"),
            Field("assessed_on", "评估日期", "assessed", "assessed_on"),
        ) + _AT_ENTERPRISE,
        decorations=_GRADED,
        importable=True,
        geometry=lambda: Enterprise.geom,  # a risk point is drawn at its enterprise
        import_key=("enterprise_id", "name"), key_field="name",
    ),
    Collection(
        "hazards", "事故隐患", "事故隐患及其整改状态、是否逾期", Hazard, "id", _hazards,
        fields=(
            Field("id", "编号", "id"),
            Field("enterprise_id", "企业编号", "ent_id", "enterprise_id"),
            Field("enterprise_name", "企业名称", "ent_name"),
            Field("description", "隐患描述", "descr", "description"),
            Field("level_name", "隐患级别", "level_nm", "level"),
            Field("criterion_name", "重大隐患判定标准", "criterion", "criterion"),
            Field("state_name", "整改状态", "state_nm", "state"),
            Field("source_name", "隐患来源", "source_nm", "source"),
            Field("category", "隐患类别", "category", "category"),
            Field("found_on", "发现日期", "found_on", "found_on"),
            Field("found_by", "检查人员", "found_by", "found_by"),
            Field("deadline", "整改期限", "deadline", "deadline"),
            Field("overdue", "是否逾期", "overdue"),
            Field("overdue_days", "逾期天数", "overdue_d"),
            Field("resp_person", "整改责任人", "resp_pers", "resp_person"),
            Field("measures", "整改措施", "measures", "measures"),
            Field("funds_wan", "整改资金（万元）", "funds_wan", "funds_wan"),
            Field("emergency_plan", "应急预案", "emerg_plan", "emergency_plan"),
            Field("supervision_doc_no", "挂牌督办文号", "sup_doc", "supervision_doc_no"),
            Field("rectified_on", "整改完成日期", "rectified", "rectified_on"),
            Field("verified_on", "验收日期", "verified", "verified_on"),
            Field("verifier", "验收人", "verifier", "verifier"),
            Field("verification_note", "复查情况", "verif_note", "verification_note"),
        ) + _POINT,
        decorations=(
            Decoration("state_name", "state", domain.HAZARD_STATES),
            Decoration("level_name", "level", domain.HAZARD_LEVELS),
            Decoration("source_name", "source", domain.HAZARD_SOURCES),
            Decoration("criterion_name", "criterion", domain.MAJOR_CRITERIA),
        ),
        importable=True,
        geometry=_hazard_point,
        import_key=("enterprise_id", "found_on", "description"), key_field="description",
    ),
    Collection("regions", "行政区划", "行政区划边界", Region, "code", _regions, geometry=lambda: Region.geom,
               geometry_type="multipolygon", import_key=("code",)),
)}


def get(cid: str) -> Collection:
    """The collection ``cid`` (KeyError for an unknown one)."""
    return COLLECTIONS[cid]


def import_aliases(cid: str) -> dict[str, str]:
    """Header → import field for the names a download of ``cid`` uses.

    >>> a = import_aliases("enterprises")
    >>> a["credit"], a["industry_name"], a["industry_code"], a["行业领域"]
    ('credit_code', 'industry', 'industry', 'industry')
    >>> import_aliases("hazards")["level_nm"], import_aliases("hazards")["企业编号"]
    ('level', 'enterprise_id')
    """
    c = COLLECTIONS[cid]
    out: dict[str, str] = dict(c.extra_aliases)
    for f in c.fields:
        if f.imports_as is not None:
            for name in (f.key, f.label, f.shp):
                out.setdefault(name, f.imports_as)
    return out


def shapefile_names(cid: str, keys: list[str] | tuple[str, ...]) -> dict[str, str]:
    """key → dBASE field name (≤ 10 ASCII characters, unique) for the columns ``keys``.

    >>> shapefile_names("risk-points", ["enterprise_name", "controls_implemented", "id"])
    {'enterprise_name': 'ent_name', 'controls_implemented': 'ctrl_done', 'id': 'id'}
    """
    declared = {f.key: f.shp for f in COLLECTIONS[cid].fields}
    out: dict[str, str] = {}
    used: set[str] = set()
    for key in keys:
        name = declared.get(key, key)[:10]
        base, n = name, 1
        while name in used:
            n += 1
            name = f"{base[:8]}_{n}"
        used.add(name)
        out[key] = name
    return out


def queryables(cid: str) -> dict[str, Any]:
    """name → :class:`~geo_service.queries.cql2.Queryable` of ``cid``: the columns of its
    list statement and ``geometry``."""
    from .queries import cql2
    from .queries.scope import ALL

    c = COLLECTIONS[cid]
    return cql2.queryables(c.statement(Filters(), ALL, dt.date.today(), {}), c.geometry())


def decorate(kind: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A list row with its Chinese names added (the collection's decorations)."""
    out = dict(row)
    for d in get(kind).decorations:
        if d.source not in out or (d.unless_present and d.name in out):
            continue
        value = out[d.source]
        out[d.name] = d.table.get(value) if value is not None else None
    return out

"""The common filters of every list, tile and download, parsed once.

One :class:`Filters` value is parsed from the query string by
:func:`parse_filters` (which raises :class:`~geo_service.errors.InvalidParameter`
naming the parameter) and turned into SQL by :func:`enterprise_clause`,
:func:`risk_point_clause` and :func:`hazard_clause`.  The same clauses serve
the API, the OGC collections, the vector tiles, the downloads and the map.

Coordinates are WGS84 (EPSG:4326) degrees, ``lng, lat`` in that order; a
bbox is ``west, south, east, north``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from .. import domain
from ..errors import InvalidBBox, InvalidParameter
from ..models import SRID, Enterprise, Hazard, RiskPoint
from . import metrics
from .dual_prevention import grade_at
from .scope import region_clause

__all__ = [
    "Filters",
    "enterprise_grade",
    "Page",
    "parse_filters",
    "parse_page",
    "parse_page_number",
    "MAX_OFFSET",
    "MAX_INTEGER",
    "parse_point",
    "parse_radius",
    "parse_bbox",
    "parse_int",
    "parse_polygon",
    "enterprise_clause",
    "risk_point_clause",
    "hazard_clause",
    "hazard_filters_set",
    "open_unless_stated",
    "hazard_location",
    "bbox_envelope",
    "in_bbox",
    "polygon_geometry",
    "FILTER_PARAMETERS",
]

# Query-string names understood by parse_filters (documented in the OpenAPI description).
FILTER_PARAMETERS = (
    "region", "industry", "grade", "hazard_level", "hazard_state", "hazard_source",
    "overdue", "month", "found_from", "found_to", "bbox", "q", "enterprise_id",
)

# Rows a list may skip.  Nobody pages ten million rows deep, by hand or by
# script (a download is the way to everything), and it keeps OFFSET far from
# bigint's end.
MAX_OFFSET = 10_000_000
# Any other integer parameter (an id, a version): PostgreSQL's integer.
MAX_INTEGER = 2**31 - 1

_REGION_RE = re.compile(r"^[0-9]{6}([0-9]{3}([0-9]{3})?)?$")
_TRUE = {"1", "true", "yes", "y", "是", "on"}
_FALSE = {"0", "false", "no", "n", "否", "off"}


@dataclass(frozen=True)
class Filters:
    """The common filters; a field left at its default does not filter."""

    region: str | None = None  # region code; includes all sub-regions (scope.region_clause)
    industry: str | None = None  # industry code; 'trade' includes 'trade.*'
    grade: tuple[int, ...] = ()  # 1..4
    hazard_level: str | None = None  # general|major
    hazard_state: tuple[str, ...] = ()
    hazard_source: str | None = None
    overdue: bool | None = None
    month: dt.date | None = None  # first day of the month; hazards found in that month
    found_from: dt.date | None = None
    found_to: dt.date | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north (EPSG:4326)
    q: str | None = None  # free text on enterprise name / hazard description
    polygon: str | None = None  # WKT (EPSG:4326) of a posted, validated (Multi)Polygon
    enterprise_id: int | None = None  # one enterprise (its risk points, its hazards)
    # the map "as of" a month: enterprise grades from the grade history at this instant
    # (set by the tile endpoint from ``as_of=YYYY-MM``; None: the grades of now)
    grades_at: dt.datetime | None = None

    def without_grade(self) -> Filters:
        return replace(self, grade=())


class Page(NamedTuple):
    limit: int
    offset: int


def _split(value: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,，]", value) if p.strip()]


def _enum(parameter: str, value: str, table: Mapping[str, str]) -> str:
    """A key of ``table`` from its key or its Chinese name."""
    v = value.strip()
    if v in table:
        return v
    for key, name in table.items():
        if v in (name, name.removesuffix("隐患")):
            return key
    raise InvalidParameter(parameter, f"未知取值 {value!r}，可选：{', '.join(table)}")


def _date(parameter: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as err:
        raise InvalidParameter(parameter, "日期格式应为 YYYY-MM-DD") from err


def _float(parameter: str, value: str | None) -> float:
    if value is None or not str(value).strip():
        raise InvalidParameter(parameter, "缺少该参数")
    try:
        number = float(value)
    except ValueError as err:
        raise InvalidParameter(parameter, f"不是数字：{value!r}") from err
    if not math.isfinite(number):
        raise InvalidParameter(parameter, "不是有限数值")
    return number


def parse_int(args: Mapping[str, str], parameter: str, default: int, *,
              minimum: int = 0, maximum: int | None = MAX_INTEGER) -> int:
    """An integer query or form parameter within ``[minimum, maximum]``
    (``maximum`` None: no upper bound, for a value the caller lowers itself).

    >>> parse_int({"page": "3"}, "page", 1), parse_int({}, "page", 1)
    (3, 1)
    >>> parse_int({"page": "9" * 30}, "page", 1)
    Traceback (most recent call last):
    ...
    geo_service.errors.InvalidParameter: 参数 page 无效：不能大于 2147483647
    """
    raw = args.get(parameter)
    if raw is None or raw == "":
        return default
    text = str(raw).strip()
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise InvalidParameter(parameter, f"不是整数：{text[:40]!r}")
    # Thirty digits are beyond any bound; longer ones are not even converted.
    value = int(text) if len(text) <= 30 else (-1 if text.startswith("-") else 1) * 10**30
    if value < minimum:
        raise InvalidParameter(parameter, f"不能小于 {minimum}")
    if maximum is not None and value > maximum:
        raise InvalidParameter(parameter, f"不能大于 {maximum}")
    return value


def parse_bbox(value: str, *, max_area_deg2: float) -> tuple[float, float, float, float]:
    """``west,south,east,north`` in degrees, checked for range, order and size.

    >>> parse_bbox("103.3,23.3,103.4,23.4", max_area_deg2=1)
    (103.3, 23.3, 103.4, 23.4)
    """
    parts = _split(value)
    if len(parts) != 4:
        raise InvalidBBox("应为 west,south,east,north 四个数")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError as err:
        raise InvalidBBox("含有非数字") from err
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise InvalidBBox("含有非有限数值")
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise InvalidBBox("经度应在 -180 到 180 之间")
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise InvalidBBox("纬度应在 -90 到 90 之间")
    if west >= east or south >= north:
        raise InvalidBBox("范围颠倒或为空（应 west < east 且 south < north）")
    if (east - west) * (north - south) > max_area_deg2:
        raise InvalidBBox(f"范围过大（超过 {max_area_deg2:g} 平方度）")
    return west, south, east, north


def parse_point(args: Mapping[str, str], lng_name: str = "lon", lat_name: str = "lat") -> tuple[float, float]:
    """``(lng, lat)`` from two query parameters, checked for range."""
    lng = _float(lng_name, args.get(lng_name))
    lat = _float(lat_name, args.get(lat_name))
    if not -180 <= lng <= 180:
        raise InvalidParameter(lng_name, "经度应在 -180 到 180 之间")
    if not -90 <= lat <= 90:
        raise InvalidParameter(lat_name, "纬度应在 -90 到 90 之间")
    return lng, lat


def parse_radius(args: Mapping[str, str], *, max_radius_m: float, default: float | None = None,
                 parameter: str = "radius_m") -> float:
    """A radius in metres, ``0 < r ≤ max_radius_m``."""
    raw = args.get(parameter)
    if (raw is None or raw == "") and default is not None:
        return default
    radius = _float(parameter, raw)
    if radius <= 0:
        raise InvalidParameter(parameter, "半径必须大于 0 米")
    if radius > max_radius_m:
        raise InvalidParameter(parameter, f"半径不能超过 {max_radius_m:g} 米")
    return radius


def parse_page(args: Mapping[str, str], *, max_page_size: int, default_limit: int = 100,
               lower_limit: bool = False) -> Page:
    """``limit`` (1 … max_page_size) and ``offset`` (0 … :data:`MAX_OFFSET`).

    Every paged list (the API, the OGC items) reads its page here.  With
    ``lower_limit`` a limit above ``max_page_size`` is lowered to it (as OGC
    API – Features asks) instead of refused.
    """
    default = min(default_limit, max_page_size)
    if lower_limit:
        limit = min(parse_int(args, "limit", default, minimum=1, maximum=None), max_page_size)
    else:
        limit = parse_int(args, "limit", default, minimum=1, maximum=max_page_size)
    offset = parse_int(args, "offset", 0, minimum=0, maximum=MAX_OFFSET)
    return Page(limit, offset)


def parse_page_number(args: Mapping[str, str], *, per_page: int) -> int:
    """``page`` (1, 2, …) of a list shown ``per_page`` rows at a time, its first
    row at most :data:`MAX_OFFSET` deep (the ledgers, the audit log).

    >>> parse_page_number({"page": "2"}, per_page=50)
    2
    """
    return parse_int(args, "page", 1, minimum=1, maximum=MAX_OFFSET // per_page + 1)


def parse_filters(args: Mapping[str, str], *, max_bbox_area_deg2: float) -> Filters:
    """The common filters from a query string.

    Unknown parameters are ignored (paging and format live elsewhere); a known
    one with a bad value raises :class:`InvalidParameter` naming it.

    >>> f = parse_filters({"grade": "红,2", "industry": "工贸", "overdue": "true"}, max_bbox_area_deg2=1)
    >>> f.grade, f.industry, f.overdue
    ((1, 2), 'trade', True)
    """
    def get(name: str) -> str | None:
        value = args.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    kwargs: dict[str, object] = {}
    if (region := get("region")) is not None:
        if not _REGION_RE.match(region):
            raise InvalidParameter("region", "行政区划代码应为 6、9 或 12 位数字")
        kwargs["region"] = region
    if (industry := get("industry")) is not None:
        code = domain.parse_industry(industry)
        if code is None:
            raise InvalidParameter("industry", f"未知行业领域 {industry!r}")
        kwargs["industry"] = code
    if (grade := get("grade")) is not None:
        values = []
        for part in _split(grade):
            value = domain.parse_grade(part)
            if value is None:
                raise InvalidParameter("grade", f"未知风险等级 {part!r}（1–4、red/orange/yellow/blue 或 红/橙/黄/蓝）")
            values.append(value)
        kwargs["grade"] = tuple(sorted(set(values)))
    if (level := get("hazard_level")) is not None:
        kwargs["hazard_level"] = _enum("hazard_level", level, domain.HAZARD_LEVELS)
    if (state := get("hazard_state")) is not None:
        kwargs["hazard_state"] = tuple(
            sorted({_enum("hazard_state", s, domain.HAZARD_STATES) for s in _split(state)})
        )
    if (source := get("hazard_source")) is not None:
        kwargs["hazard_source"] = _enum("hazard_source", source, domain.HAZARD_SOURCES)
    if (overdue := get("overdue")) is not None:
        if overdue.lower() in _TRUE:
            kwargs["overdue"] = True
        elif overdue.lower() in _FALSE:
            kwargs["overdue"] = False
        else:
            raise InvalidParameter("overdue", "应为 true 或 false")
    if (month := get("month")) is not None:
        m = re.fullmatch(r"(\d{4})-(\d{1,2})", month)
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise InvalidParameter("month", "月份格式应为 YYYY-MM")
        kwargs["month"] = dt.date(int(m.group(1)), int(m.group(2)), 1)
    if (found_from := get("found_from")) is not None:
        kwargs["found_from"] = _date("found_from", found_from)
    if (found_to := get("found_to")) is not None:
        kwargs["found_to"] = _date("found_to", found_to)
        if "found_from" in kwargs and kwargs["found_from"] > kwargs["found_to"]:  # type: ignore[operator]
            raise InvalidParameter("found_to", "结束日期早于开始日期")
    if (bbox := get("bbox")) is not None:
        kwargs["bbox"] = parse_bbox(bbox, max_area_deg2=max_bbox_area_deg2)
    if (q := get("q")) is not None:
        if len(q) > 100:
            raise InvalidParameter("q", "检索词过长（最多 100 字）")
        kwargs["q"] = q
    if (enterprise_id := get("enterprise_id")) is not None:
        if not re.fullmatch(r"[0-9]{1,10}", enterprise_id) or int(enterprise_id) > MAX_INTEGER:
            raise InvalidParameter("enterprise_id", "应为正整数")
        kwargs["enterprise_id"] = int(enterprise_id)
    return Filters(**kwargs)  # type: ignore[arg-type]


def parse_polygon(obj: object, *, max_area_deg2: float, parameter: str = "polygon") -> str:
    """WKT of a GeoJSON Polygon/MultiPolygon (a geometry or a Feature), checked.

    Rejects what is not GeoJSON, other geometry types, coordinates outside
    lng −180…180 / lat −90…90, invalid rings (self-intersections: the reason
    from GEOS is given) and shapes whose bounding box exceeds ``max_area_deg2``.

    >>> parse_polygon({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}, max_area_deg2=4)
    'POLYGON ((0 0, 1 0, 1 1, 0 0))'
    """
    import shapely
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    if isinstance(obj, Mapping) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if isinstance(obj, Mapping) and obj.get("type") == "FeatureCollection":
        features = obj.get("features") or []
        if len(features) != 1:
            raise InvalidParameter(parameter, "FeatureCollection 须恰含一个面要素")
        obj = features[0].get("geometry") if isinstance(features[0], Mapping) else None
    if not isinstance(obj, Mapping) or obj.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidParameter(parameter, "应为 GeoJSON Polygon 或 MultiPolygon")
    try:
        geom = shape(obj)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError,
            shapely.errors.GEOSException) as err:
        raise InvalidParameter(parameter, f"GeoJSON 无法解析：{err}") from err
    if geom.is_empty:
        raise InvalidParameter(parameter, "面为空")
    west, south, east, north = geom.bounds
    if not all(math.isfinite(v) for v in geom.bounds):
        raise InvalidParameter(parameter, "坐标含非有限数值")
    if west < -180 or east > 180 or south < -90 or north > 90:
        raise InvalidParameter(parameter, "坐标超出经纬度范围（应为 WGS84 经度、纬度）")
    if not geom.is_valid:
        raise InvalidParameter(parameter, f"面无效（如自相交）：{explain_validity(geom)}")
    if (east - west) * (north - south) > max_area_deg2:
        raise InvalidParameter(parameter, f"范围过大（外接矩形超过 {max_area_deg2:g} 平方度）")
    return geom.wkt


def polygon_geometry(wkt: str) -> ColumnElement[object]:
    """The posted polygon as a PostGIS geometry (EPSG:4326, bound parameter)."""
    return sa.func.ST_GeomFromText(wkt, SRID)


def bbox_envelope(bbox: tuple[float, float, float, float]) -> ColumnElement[object]:
    """``ST_MakeEnvelope`` of a WGS84 bbox (bound parameters)."""
    west, south, east, north = bbox
    return sa.func.ST_MakeEnvelope(west, south, east, north, SRID)


def in_bbox(geom: ColumnElement[Any], bbox: tuple[float, float, float, float]) -> ColumnElement[bool]:
    """``geom && box AND ST_Intersects(geom, box)``: the same rows as ``ST_Intersects``
    alone (which contains the ``&&``), written out as in the benchmark's reference
    SQL.  PostgreSQL multiplies the two selectivities, so a map-sized box of a few
    thousand points is planned as a plain GiST index scan rather than a parallel
    bitmap scan, whose workers cost more than they save under concurrent
    requests (OGC page statement, 4 clients on 2 cores: 28 → 44 statements/s)."""
    env = bbox_envelope(bbox)
    return sa.and_(geom.op("&&")(env), sa.func.ST_Intersects(geom, env))


def hazard_location() -> ColumnElement[object]:
    """Where a hazard is drawn: its own point, else its enterprise's (EPSG:4326).

    The column ``hazard.loc``, kept by triggers (migration 0015) and indexed (GiST,
    and a partial GiST on the open hazards)."""
    return Hazard.loc


def _like_text(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _industry_clause(code: str) -> ColumnElement[bool]:
    return sa.or_(Enterprise.industry_code == code, Enterprise.industry_code.like(code + ".%"))


def enterprise_grade(f: Filters) -> Any:
    """The enterprise's grade the filters read: now, or from the grade history at ``f.grades_at``."""
    if f.grades_at is None:
        return Enterprise.grade
    return grade_at(f.grades_at)


def _enterprise_only(f: Filters, *, with_bbox: bool = True, with_q: bool = True) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if f.enterprise_id is not None:
        clauses.append(Enterprise.id == f.enterprise_id)
    if f.region is not None:
        clauses.append(region_clause(Enterprise.region_code, f.region))
    if f.industry is not None:
        clauses.append(_industry_clause(f.industry))
    if f.grade:
        clauses.append(enterprise_grade(f).in_(f.grade))
    if with_bbox and f.bbox is not None:
        clauses.append(in_bbox(Enterprise.geom, f.bbox))
    if with_q and f.q is not None:
        clauses.append(Enterprise.name.ilike(_like_text(f.q), escape="\\"))
    if with_bbox and f.polygon is not None:
        clauses.append(sa.func.ST_Intersects(Enterprise.geom, polygon_geometry(f.polygon)))
    return clauses


def hazard_filters_set(f: Filters) -> bool:
    """Whether any filter on hazards (level, state, source, overdue, dates) is set."""
    return bool(f.hazard_level or f.hazard_state or f.hazard_source or f.overdue is not None
                or f.month or f.found_from or f.found_to)


def open_unless_stated(f: Filters) -> Filters:
    """The map's reading of the filters: 隐患状态 left unset is 全部未销号.

    Whenever another hazard filter is set (level, overdue, source, dates) and
    no state is chosen, only open hazards count, so "重大隐患" on the map means
    an open 重大隐患, as its state box says.  With no hazard filter at all the
    enterprises are not filtered by their hazards.  The map's enterprise
    tiles, heat, side panel and indicator counts read their filters through
    this one function.

    >>> open_unless_stated(Filters(hazard_level="major")).hazard_state
    ('rectified', 'rectifying', 'registered')
    >>> open_unless_stated(Filters(grade=(1,))).hazard_state
    ()
    """
    if f.hazard_state or not hazard_filters_set(f):
        return f
    return replace(f, hazard_state=tuple(sorted(domain.OPEN_STATES)))


def _hazard_only(f: Filters, as_of: dt.date) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if f.hazard_level is not None:
        clauses.append(Hazard.level == f.hazard_level)
    if f.grades_at is not None:
        # the map as of a past month: the hazards as they stood on ``as_of`` (found by then;
        # "open" is not yet signed off then — the register keeps no older state than that)
        clauses.append(Hazard.found_on <= as_of)
    if f.grades_at is not None and set(f.hazard_state) == set(domain.OPEN_STATES):
        clauses.append(metrics.open_on(as_of))
    elif f.hazard_state:
        clauses.append(Hazard.state.in_(f.hazard_state))
    if f.hazard_source is not None:
        clauses.append(Hazard.source == f.hazard_source)
    if f.overdue is True:
        clauses.append(metrics.overdue_on(as_of))
    elif f.overdue is False:
        clauses.append(sa.not_(sa.func.coalesce(metrics.overdue_on(as_of), False)))
    if f.month is not None:
        nxt = (f.month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        clauses.append(metrics.found_in(f.month, nxt - dt.timedelta(days=1)))
    if f.found_from is not None:
        clauses.append(Hazard.found_on >= f.found_from)
    if f.found_to is not None:
        clauses.append(Hazard.found_on <= f.found_to)
    return clauses


def enterprise_clause(f: Filters, as_of: dt.date | None = None) -> ColumnElement[bool]:
    """The WHERE clause on :class:`Enterprise` for ``f``.

    Hazard filters (level, state, overdue, month…) keep the enterprises that
    have at least one matching hazard; ``as_of`` (default today) dates "overdue".
    """
    clauses = _enterprise_only(f)
    if hazard_filters_set(f):
        clauses.append(
            sa.exists().where(Hazard.enterprise_id == Enterprise.id,
                              *_hazard_only(f, as_of or dt.date.today())).correlate(Enterprise)
        )
    return sa.and_(sa.true(), *clauses)


def risk_point_clause(f: Filters) -> ColumnElement[bool]:
    """The WHERE clause on :class:`RiskPoint` joined to :class:`Enterprise`.

    ``grade`` filters the risk point's own grade; the other enterprise filters
    apply to its enterprise; ``q`` matches the risk point or enterprise name.
    """
    clauses = _enterprise_only(f.without_grade(), with_q=False)
    if f.grade:
        clauses.append(RiskPoint.grade.in_(f.grade))
    if f.q is not None:
        like = _like_text(f.q)
        clauses.append(sa.or_(RiskPoint.name.ilike(like, escape="\\"),
                              Enterprise.name.ilike(like, escape="\\")))
    return sa.and_(sa.true(), *clauses)


def hazard_clause(f: Filters, as_of: dt.date) -> ColumnElement[bool]:
    """The WHERE clause on :class:`Hazard` joined to :class:`Enterprise`.

    Enterprise filters (region, industry, grade) apply to the hazard's
    enterprise; ``bbox`` to where the hazard is drawn (:func:`hazard_location`);
    ``q`` matches the description or the enterprise name; ``overdue`` is
    :func:`metrics.overdue_on` at ``as_of``.
    """
    clauses = _enterprise_only(f, with_bbox=False, with_q=False)
    if f.bbox is not None:
        clauses.append(in_bbox(hazard_location(), f.bbox))
    if f.polygon is not None:
        clauses.append(sa.func.ST_Intersects(hazard_location(), polygon_geometry(f.polygon)))
    if f.q is not None:
        like = _like_text(f.q)
        clauses.append(sa.or_(Hazard.description.ilike(like, escape="\\"),
                              Enterprise.name.ilike(like, escape="\\")))
    clauses.extend(_hazard_only(f, as_of))
    return sa.and_(sa.true(), *clauses)

"""The enterprise's own 四色图: risk zones drawn on the plant and the plant layout image.

Every write here is like the register's (:mod:`.register`): the actor needs the
``draw_map`` permission (enterprise users, regulators, administrators; never
read-only accounts); the enterprise must lie in the caller's scope (404 when
hidden, 403 when it exists outside it); updates and deletions are
optimistic-locked on ``version`` (409 on a stale one); every write appends an
``audit_log`` row; nothing is committed here.  A write to ``risk_zone`` or
``enterprise_layout`` bumps the change token of the enterprise's county
(statement triggers on ``region_change``, migration 0014), so its tiles are rebuilt.

Bad input is refused with a Chinese reason and nothing written:

* a polygon that is not valid (self-intersecting …) is repaired with
  ``ST_MakeValid`` and sent back for confirmation (:class:`GeometryNeedsRepair`,
  422, carrying the repaired geometry) unless the caller confirmed it
  (``confirm_repair``); a polygon that cannot be repaired is refused (400);
* a zone (or a layout image) farther than ``max_distance_m`` from the
  enterprise's point (on the spheroid) is refused (400);
* a layout file that is not a PNG, JPEG or PDF by its bytes, or larger than
  the limit (413), or an image of too many pixels, is refused;
* zones that overlap another zone of the enterprise on the same floor are
  written, with a warning for each overlap.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import shape
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from .. import domain
from ..domain import Actor
from ..errors import Forbidden, GeoServiceError, InvalidParameter, NotFound, VersionConflict
from ..models import Enterprise, EnterpriseLayout, RiskPoint, RiskZone
from ..queries import zones as q
from ..queries.scope import Scope, enterprise_scope
from .evidence import FileTooLarge, evidence_path, read_limited, sniff, store_content
from .register import _check_version, _load, _versioned_update, audit, load_enterprise, note_actor, snapshot
from .validation import FieldError, RecordInvalid

__all__ = [
    "ZONE_FIELDS",
    "GeometryNeedsRepair",
    "LayoutRejected",
    "ZoneWrite",
    "create_zone",
    "update_zone",
    "delete_zone",
    "load_zone",
    "zone_dict",
    "upload_layout",
    "place_layout",
    "delete_layout",
    "load_layout",
    "layout_dict",
    "affine_fit",
    "layout_corners",
    "import_zones",
    "ZoneImportResult",
    "FileTooLarge",
]

LOGGER = logging.getLogger(__name__)

# field → Chinese label (error messages, import headers)
ZONE_FIELDS: dict[str, str] = {
    "name": "区域名称",
    "floor": "楼层/标高",
    "grade": "风险等级",
    "grade_inherent": "固有风险等级",
    "grade_residual": "管控后风险等级",
    "accident_types": "可能导致的事故类型",
    "control_measures": "管控措施",
    "emergency_measures": "应急处置措施",
    "responsible_person": "责任人",
    "geometry": "区域范围",
    "risk_point_ids": "所含风险点",
    "confirm_repair": "确认修复",
}
_LENGTHS = {"name": 100, "floor": 40, "accident_types": 200, "responsible_person": 60}
_TEXTS = ("control_measures", "emergency_measures")
_GRADES = ("grade", "grade_inherent", "grade_residual")
# A layout image larger than this many pixels is refused (a decompression bomb guard).
LAYOUT_MAX_PIXELS = 80_000_000
# PDF pages are rasterised at this resolution, the longer side at most LAYOUT_PDF_MAX_PX.
LAYOUT_PDF_DPI = 200
LAYOUT_PDF_MAX_PX = 6000
# A new layout is first placed centred on the enterprise, this wide (metres).
LAYOUT_DEFAULT_WIDTH_M = 300.0
_M_PER_DEG = 111_319.49


class GeometryNeedsRepair(GeoServiceError):
    """An invalid polygon, repaired by ``ST_MakeValid``: confirm the repaired shape (422)."""

    http_status = 422
    code = "geometry_needs_repair"
    user_msg = "多边形无效，已自动修复，请确认修复后的形状"


class LayoutRejected(GeoServiceError):
    """A layout file refused for what it is (400)."""

    http_status = 400
    code = "layout_rejected"
    user_msg = "平面图文件不能使用"


@dataclass
class ZoneWrite:
    """A written zone and the warnings about it (overlaps)."""

    zone: RiskZone
    warnings: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers


def _require(actor: Actor) -> None:
    if not actor.may("draw_map"):
        raise Forbidden("只读账号不能绘制风险分布图", detail=f"{actor.name} ({actor.role}) lacks draw_map")


def load_zone(session: Session, zone_id: int, *, scope: Scope, write: bool = False) -> RiskZone:
    """The zone whose enterprise is in the caller's scope (404 / 403 like the register)."""
    return _load(session, RiskZone, zone_id, "风险区域", scope=scope, write=write)


def _err(name: str, reason: str, row: int | None = None) -> FieldError:
    return FieldError(row, ZONE_FIELDS.get(name, name), reason)


def _clean(raw: Mapping[str, Any], *, creating: bool, row: int | None = None) -> tuple[dict[str, Any], list[FieldError]]:
    """The zone's column values from ``raw`` (only the keys present) and the field errors."""
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    for key in raw:
        if key not in ZONE_FIELDS:
            raise InvalidParameter(key, f"不是风险区域的字段（可提交：{', '.join(ZONE_FIELDS)}）")
    for key, limit in _LENGTHS.items():
        if key in raw:
            value = raw[key]
            text = "" if value is None else str(value).strip()
            if len(text) > limit:
                errors.append(_err(key, f"不能超过{limit}个字", row))
            out[key] = text or None
    for key in _TEXTS:
        if key in raw:
            text = "" if raw[key] is None else str(raw[key]).strip()
            out[key] = text or None
    for key in _GRADES:
        if key in raw:
            value = raw[key]
            if value in (None, ""):
                out[key] = None
                continue
            grade = domain.parse_grade(value)
            if grade is None:
                errors.append(_err(key, f"“{value}”不是风险等级（可填 1–4、红/橙/黄/蓝或重大/较大/一般/低风险）", row))
            out[key] = grade
    if creating and not out.get("name"):
        errors.append(_err("name", "必填项为空", row))
    if "name" in raw and not creating and not out.get("name"):
        errors.append(_err("name", "不能为空", row))
    if "grade" in out:
        out["grade_override"] = out.pop("grade")
    return out, errors


def _geometry_ewkt(session: Session, geometry: Any, *, confirm_repair: bool, row: int | None = None) -> str:
    """The zone's geometry as EWKT (a valid WGS84 MultiPolygon) or a refusal.

    Raises :class:`RecordInvalid` (unparsable, not a polygon, beyond lng/lat,
    not repairable) and :class:`GeometryNeedsRepair` (invalid, not confirmed).
    """
    if isinstance(geometry, Mapping) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if isinstance(geometry, shapely.Geometry):
        geom = geometry
    else:
        if not isinstance(geometry, Mapping):
            raise RecordInvalid([_err("geometry", "缺少区域范围（GeoJSON 面）", row)])
        if geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise RecordInvalid([_err("geometry", f"几何类型应为面（Polygon 或 MultiPolygon），实为 {geometry.get('type')}",
                                      row)])
        try:
            geom = shape(geometry)
        except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as err:
            raise RecordInvalid([_err("geometry", f"GeoJSON 面无法解析：{err}", row)]) from err
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise RecordInvalid([_err("geometry", f"几何类型应为面，实为 {geom.geom_type}", row)])
    west, south, east, north = geom.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise RecordInvalid([_err("geometry", "坐标超出经纬度范围（应为 WGS84 经度、纬度）", row)])
    ewkt = "SRID=4326;" + geom.wkt
    check = session.execute(q.geometry_check(ewkt)).one()
    if not check.valid:
        reason = _reason_cn(check.reason)
        if check.repaired is None or not check.area_m2:
            raise RecordInvalid([_err("geometry", f"多边形无效且无法修复（{reason}）", row)])
        if not confirm_repair:
            raise GeometryNeedsRepair(
                f"多边形无效（{reason}），已用 ST_MakeValid 修复为 {json.loads(check.repaired)['type']}，"
                "请确认修复后的形状后再保存（confirm_repair=true）",
                reason=reason, repaired=json.loads(check.repaired))
        ewkt = "SRID=4326;" + shapely.from_geojson(check.repaired).wkt
    elif check.area_m2 is not None and check.area_m2 < 1.0:
        raise RecordInvalid([_err("geometry", "区域面积不足 1 平方米", row)])
    return ewkt


def _reason_cn(reason: str | None) -> str:
    """``ST_IsValidReason`` in Chinese (its location kept).

    >>> _reason_cn("Self-intersection[103.1 23.3]")
    '边界自相交，位置 [103.1 23.3]'
    """
    text = reason or ""
    for en, cn in (("Self-intersection", "边界自相交"), ("Ring Self-intersection", "环自相交"),
                   ("Too few points", "顶点过少"), ("Hole lies outside shell", "内环位于外环之外"),
                   ("Interior is disconnected", "内部不连通"), ("Nested shells", "外环嵌套")):
        if text.startswith(en):
            return cn + ("，位置 " + text[len(en):] if text[len(en):] else "")
    return text or "几何无效"


def _check_distance(session: Session, enterprise_id: int, ewkt: str, max_distance_m: float, what: str,
                    row: int | None = None, column: str = "geometry") -> None:
    distance = session.execute(q.distance_to_enterprise_m(enterprise_id, ewkt)).scalar_one()
    if distance > max_distance_m:
        raise RecordInvalid([_err(column, f"{what}距企业位置 {distance:,.0f} 米，超过允许的 {max_distance_m:,.0f} 米"
                                          "（ZONE_MAX_DISTANCE_M），请检查位置或坐标系", row)])


def _overlaps(session: Session, zone: RiskZone) -> list[dict[str, Any]]:
    ewkt = session.execute(sa.select(sa.func.ST_AsEWKT(RiskZone.geom)).where(RiskZone.id == zone.id)).scalar_one()
    rows = session.execute(q.overlapping_zones(zone.enterprise_id, ewkt, exclude_id=zone.id, floor=zone.floor)).all()
    return [{"code": "overlap", "zone_id": r.id, "name": r.name, "overlap_m2": round(float(r.overlap_m2), 1),
             "message": f"与区域“{r.name}”重叠约 {float(r.overlap_m2):,.0f} 平方米（已保存，请确认是否有意重叠）"}
            for r in rows]


def _point_ids(value: Any) -> list[int]:
    if not isinstance(value, list | tuple):
        raise RecordInvalid([_err("risk_point_ids", "应为风险点编号的列表")])
    try:
        return sorted({int(v) for v in value})
    except (TypeError, ValueError) as err:
        raise RecordInvalid([_err("risk_point_ids", "风险点编号应为整数")]) from err


def _assign_points(session: Session, zone: RiskZone, ids: Sequence[int], actor: Actor) -> None:
    """Make ``ids`` exactly the zone's risk points (each changed point's version is bumped)."""
    own = set(session.scalars(sa.select(RiskPoint.id).where(RiskPoint.enterprise_id == zone.enterprise_id,
                                                            RiskPoint.id.in_(ids))).all())
    foreign = [i for i in ids if i not in own]
    if foreign:
        raise RecordInvalid([_err("risk_point_ids", f"风险点 {'、'.join(map(str, foreign))} 不属于该企业")])
    changed = sa.or_(
        sa.and_(RiskPoint.id.in_(ids), RiskPoint.zone_id.is_distinct_from(zone.id)),
        sa.and_(RiskPoint.zone_id == zone.id, RiskPoint.id.not_in(ids) if ids else sa.true()),
    )
    rows = session.execute(
        sa.update(RiskPoint).where(RiskPoint.enterprise_id == zone.enterprise_id, changed)
        .values(zone_id=sa.case((RiskPoint.id.in_(ids), zone.id), else_=None) if ids else None,
                version=RiskPoint.version + 1)
        .returning(RiskPoint.id, RiskPoint.zone_id)
        .execution_options(synchronize_session=False)
    ).all()
    for r in rows:
        audit(session, actor, "assign_zone", "risk_point", r.id, None, {"zone_id": r.zone_id})


def _zone_points(session: Session, zone_id: int) -> list[int]:
    return list(session.scalars(sa.select(RiskPoint.id).where(RiskPoint.zone_id == zone_id).order_by(RiskPoint.id)))


def _zone_snapshot(session: Session, zone: RiskZone) -> dict[str, Any]:
    return snapshot(zone) | {"risk_point_ids": _zone_points(session, zone.id)}


@contextlib.contextmanager
def _name_clash_as_field_error(row: int | None = None) -> Iterator[None]:
    try:
        yield
    except IntegrityError as err:
        name = getattr(getattr(err.orig, "diag", None), "constraint_name", None)
        if name == "uq_risk_zone_enterprise_name":
            raise RecordInvalid([_err("name", "该企业已有同名风险区域", row)]) from err
        raise


# --------------------------------------------------------------------------- zones


def create_zone(session: Session, enterprise_id: int, raw: Mapping[str, Any], actor: Actor, *, scope: Scope,
                max_distance_m: float) -> ZoneWrite:
    """Draw a new risk zone on an enterprise's plant (see the module docstring for the refusals)."""
    _require(actor)
    note_actor(session, actor)  # the zone grade history names who (migration 0017)
    ent = load_enterprise(session, enterprise_id, scope=scope, write=True)
    values, errors = _clean(raw, creating=True)
    if errors:
        raise RecordInvalid(errors)
    ewkt = _geometry_ewkt(session, raw.get("geometry"), confirm_repair=bool(raw.get("confirm_repair")))
    _check_distance(session, ent.id, ewkt, max_distance_m, "区域")
    zone = RiskZone(enterprise_id=ent.id, geom=sa.func.ST_Multi(sa.func.ST_GeomFromEWKT(ewkt)), **values)
    session.add(zone)
    with _name_clash_as_field_error(), session.begin_nested():
        session.flush()
    if "risk_point_ids" in raw:
        _assign_points(session, zone, _point_ids(raw["risk_point_ids"]), actor)
    session.refresh(zone)
    audit(session, actor, "create", "risk_zone", zone.id, None, _zone_snapshot(session, zone))
    return ZoneWrite(zone, _overlaps(session, zone))


def update_zone(session: Session, zone_id: int, raw: Mapping[str, Any], actor: Actor, *, scope: Scope,
                expected_version: int, max_distance_m: float) -> ZoneWrite:
    """Change a zone (a PATCH: absent keys keep their value); a stale version is 409."""
    _require(actor)
    note_actor(session, actor)  # the zone grade history names who (migration 0017)
    zone = load_zone(session, zone_id, scope=scope, write=True)
    _check_version(zone, expected_version)
    before = _zone_snapshot(session, zone)
    values, errors = _clean(raw, creating=False)
    if errors:
        raise RecordInvalid(errors)
    if "geometry" in raw:
        ewkt = _geometry_ewkt(session, raw.get("geometry"), confirm_repair=bool(raw.get("confirm_repair")))
        _check_distance(session, zone.enterprise_id, ewkt, max_distance_m, "区域")
        values["geom"] = sa.func.ST_Multi(sa.func.ST_GeomFromEWKT(ewkt))
    with _name_clash_as_field_error():
        _versioned_update(session, RiskZone, zone.id, expected_version, values)
    session.refresh(zone)
    if "risk_point_ids" in raw:
        _assign_points(session, zone, _point_ids(raw["risk_point_ids"]), actor)
        session.refresh(zone)
    audit(session, actor, "update", "risk_zone", zone.id, before, _zone_snapshot(session, zone))
    return ZoneWrite(zone, _overlaps(session, zone))


def delete_zone(session: Session, zone_id: int, actor: Actor, *, scope: Scope, expected_version: int) -> None:
    """Delete a zone (its risk points stay, outside any zone); a stale version is 409."""
    _require(actor)
    note_actor(session, actor)  # the zone grade history names who (migration 0017)
    zone = load_zone(session, zone_id, scope=scope, write=True)
    _check_version(zone, expected_version)
    before = _zone_snapshot(session, zone)
    result = session.execute(sa.delete(RiskZone).where(RiskZone.id == zone.id,
                                                      RiskZone.version == expected_version))
    if result.rowcount != 1:
        raise VersionConflict(detail=f"RiskZone {zone.id}: version {expected_version} is stale")
    session.expunge(zone)
    audit(session, actor, "delete", "risk_zone", zone_id, before, None)


def zone_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of :func:`~geo_service.queries.zones.zones_select` as a GeoJSON Feature."""
    props = {k: v for k, v in row.items() if k != "geometry"}
    grade = domain.GRADE_BY_VALUE.get(props.get("grade"))  # type: ignore[arg-type]
    props["grade_name"] = grade.name if grade else None
    props["grade_colour"] = grade.colour_name if grade else None
    props["area_m2"] = round(float(props["area_m2"]), 1) if props.get("area_m2") is not None else None
    return {"type": "Feature", "id": row["id"], "geometry": json.loads(row["geometry"]), "properties": props}


# --------------------------------------------------------------------------- layout image


def affine_fit(px: Sequence[Sequence[float]], world: Sequence[Sequence[float]]) -> np.ndarray:
    """The 2 × 3 affine matrix taking image pixels to world coordinates (least squares).

    >>> m = affine_fit([(0, 0), (100, 0), (0, 50)], [(10, 20), (12, 20), (10, 19)])
    >>> [round(float(v), 6) for v in m.ravel()]
    [0.02, 0.0, 10.0, 0.0, -0.02, 20.0]
    """
    a = np.array([[x, y, 1.0] for x, y in px])
    b = np.array(world, dtype=float)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    return np.asarray(sol.T)


def layout_corners(method: str, control_points: Sequence[Mapping[str, Any]], width: int,
                   height: int) -> list[tuple[float, float]]:
    """The image's corners TL, TR, BR, BL in lng/lat from its georeference.

    >>> layout_corners("points3", [{"px": [0, 0], "lnglat": [10, 20]}, {"px": [100, 0], "lnglat": [12, 20]},
    ...                            {"px": [0, 50], "lnglat": [10, 19]}], 100, 50)
    [(10.0, 20.0), (12.0, 20.0), (12.0, 19.0), (10.0, 19.0)]
    """
    if method == "corners4":
        return [(float(p["lnglat"][0]), float(p["lnglat"][1])) for p in control_points]
    m = affine_fit([p["px"] for p in control_points], [p["lnglat"] for p in control_points])
    out = []
    for x, y in ((0, 0), (width, 0), (width, height), (0, height)):
        lng, lat = m @ np.array([x, y, 1.0])
        out.append((round(float(lng), 9), round(float(lat), 9)))
    return out


def _footprint_ewkt(corners: Sequence[tuple[float, float]]) -> str:
    ring = list(corners) + [corners[0]]
    return "SRID=4326;POLYGON((" + ",".join(f"{x!r} {y!r}" for x, y in ring) + "))"


def _default_placement(lng: float, lat: float, width: int, height: int) -> list[dict[str, Any]]:
    """Three control points placing the image centred on (lng, lat), LAYOUT_DEFAULT_WIDTH_M wide."""
    half_w = LAYOUT_DEFAULT_WIDTH_M / 2 / (_M_PER_DEG * math.cos(math.radians(lat)))
    half_h = LAYOUT_DEFAULT_WIDTH_M * height / width / 2 / _M_PER_DEG
    return [{"px": [0, 0], "lnglat": [lng - half_w, lat + half_h]},
            {"px": [width, 0], "lnglat": [lng + half_w, lat + half_h]},
            {"px": [0, height], "lnglat": [lng - half_w, lat - half_h]}]


def _number_pair(value: Any, what: str) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InvalidParameter(what, "应为 [x, y] 两个数")
    try:
        out = [float(value[0]), float(value[1])]
    except (TypeError, ValueError) as err:
        raise InvalidParameter(what, "应为数字") from err
    if not all(math.isfinite(v) for v in out):
        raise InvalidParameter(what, "应为有限的数字")
    return out


def _parse_georef(raw: Mapping[str, Any], width: int, height: int) -> tuple[str, list[dict[str, Any]]]:
    """(method, control points) from ``corners`` (3: TL, TR, BL; 4: TL, TR, BR, BL) or
    ``control_points`` (3 × {px, lnglat})."""
    if "corners" in raw:
        corners = raw["corners"]
        if not isinstance(corners, list) or len(corners) not in (3, 4):
            raise InvalidParameter("corners", "应为 3 个（左上、右上、左下）或 4 个（左上、右上、右下、左下）经纬度点")
        pts = [_number_pair(c, "corners") for c in corners]
        if len(pts) == 3:
            px = [[0, 0], [width, 0], [0, height]]
            return "points3", [{"px": p, "lnglat": c} for p, c in zip(px, pts, strict=True)]
        px = [[0, 0], [width, 0], [width, height], [0, height]]
        return "corners4", [{"px": p, "lnglat": c} for p, c in zip(px, pts, strict=True)]
    if "control_points" in raw:
        cps = raw["control_points"]
        if not isinstance(cps, list) or len(cps) != 3 or not all(isinstance(c, Mapping) for c in cps):
            raise InvalidParameter("control_points", "应为 3 个控制点，每个为 {px: [x, y], lnglat: [经度, 纬度]}")
        return "points3", [{"px": _number_pair(c.get("px"), "control_points.px"),
                            "lnglat": _number_pair(c.get("lnglat"), "control_points.lnglat")} for c in cps]
    raise InvalidParameter("corners", "缺少配准：corners（3 或 4 个角点）或 control_points（3 个控制点）")


def _check_georef(session: Session, enterprise_id: int, method: str, cps: list[dict[str, Any]], width: int,
                  height: int, max_distance_m: float) -> str:
    for c in cps:
        lng, lat = c["lnglat"]
        if not (-180 <= lng <= 180 and -90 <= lat <= 90):
            raise InvalidParameter("corners", "坐标超出经纬度范围（应为 WGS84 经度、纬度）")
    pxs = np.array([c["px"] + [1.0] for c in cps])
    if method == "points3" and abs(np.linalg.det(pxs)) < 1e-9:
        raise InvalidParameter("control_points", "三个控制点在图上共线，无法配准")
    corners = layout_corners(method, cps, width, height)
    footprint = shapely.Polygon(corners)
    if not footprint.is_valid or footprint.area <= 0:
        raise InvalidParameter("corners", "角点顺序错乱或重合（应为左上、右上、右下、左下），平面图无法放置")
    ewkt = _footprint_ewkt(corners)
    _check_distance(session, enterprise_id, ewkt, max_distance_m, "平面图", column="corners")
    return ewkt


def _read_layout(stream: BinaryIO, max_bytes: int) -> tuple[bytes, str, str, int, int]:
    """(stored bytes, source type, stored type, width, height) of an uploaded layout file.

    PNG and JPEG are kept as uploaded; page 1 of a PDF becomes a PNG.
    """
    from PIL import Image, ImageFile

    data = read_limited(stream, max_bytes)
    if not data:
        raise LayoutRejected("文件为空")
    source = sniff(data)
    if source not in ("image/png", "image/jpeg", "application/pdf"):
        raise LayoutRejected("平面图只接受 PNG、JPEG 图片或 PDF 文件（按文件内容判断，与扩展名无关）")
    if source == "application/pdf":
        data = _rasterise_pdf(data)
        stored = "image/png"
    else:
        stored = source
    # WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES on import;
    # a layout must be read whole, so the check runs with it off.
    truncated_ok, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > LAYOUT_MAX_PIXELS:
                    raise LayoutRejected(f"图片像素过多（{width}×{height}），上限 {LAYOUT_MAX_PIXELS // 1_000_000} 百万像素")
                img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise LayoutRejected("图片像素过多，疑似恶意文件，已拒绝") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise LayoutRejected("图片文件已损坏或不完整，无法读取") from err
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated_ok
    return data, source, stored, width, height


def _rasterise_pdf(data: bytes) -> bytes:
    """Page 1 of a PDF as a PNG (LAYOUT_PDF_DPI, the longer side at most LAYOUT_PDF_MAX_PX)."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        raise LayoutRejected("PDF 文件无法读取（已损坏或已加密）") from err
    try:
        if len(pdf) < 1:
            raise LayoutRejected("PDF 文件没有页面")
        page = pdf[0]
        w_pt, h_pt = page.get_size()
        scale = min(LAYOUT_PDF_DPI / 72.0, LAYOUT_PDF_MAX_PX / max(w_pt, h_pt, 1.0))
        image = page.render(scale=scale).to_pil()
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG", optimize=False, compress_level=6)
        return out.getvalue()
    finally:
        pdf.close()


def _get_layout(session: Session, enterprise_id: int) -> EnterpriseLayout | None:
    return session.scalars(sa.select(EnterpriseLayout).where(EnterpriseLayout.enterprise_id == enterprise_id)).first()


def upload_layout(session: Session, enterprise_id: int, stream: BinaryIO, filename: str, actor: Actor, *,
                  scope: Scope, upload_dir: Path, max_bytes: int, max_distance_m: float,
                  expected_version: int | None = None) -> EnterpriseLayout:
    """Store an enterprise's plant layout (PNG, JPEG, or a PDF's first page rasterised).

    A first upload is placed centred on the enterprise's point; replacing an
    existing one needs its ``expected_version`` and keeps its placement
    (the control points' pixels scaled to the new image).
    """
    _require(actor)
    ent = load_enterprise(session, enterprise_id, scope=scope, write=True)
    existing = _get_layout(session, ent.id)
    if existing is not None:
        if expected_version is None:
            raise InvalidParameter("version", "已有平面图：替换时须给出其版本号 version")
        _check_version(existing, expected_version)
    data, source, stored, width, height = _read_layout(stream, max_bytes)
    digest = store_content(upload_dir, data)
    name = Path(filename or "").name[:255] or "平面图"
    values: dict[str, Any] = {
        "filename": name, "source_type": source, "content_type": stored, "size_bytes": len(data),
        "sha256": digest, "stored_path": str(Path(digest[:2]) / digest), "width_px": width, "height_px": height,
        "uploaded_by": actor.name,
    }
    if existing is None:
        lng, lat = session.execute(sa.select(sa.func.ST_X(Enterprise.geom), sa.func.ST_Y(Enterprise.geom))
                                   .where(Enterprise.id == ent.id)).one()
        cps = _default_placement(lng, lat, width, height)
        ewkt = _footprint_ewkt(layout_corners("points3", cps, width, height))
        row = EnterpriseLayout(enterprise_id=ent.id, georef_method="points3", control_points=cps,
                               footprint=sa.func.ST_GeomFromEWKT(ewkt), **values)
        session.add(row)
        session.flush()
        session.refresh(row)
        audit(session, actor, "create", "enterprise_layout", row.id, None, snapshot(row))
        return row
    before = snapshot(existing)
    sx, sy = width / existing.width_px, height / existing.height_px
    cps = [{"px": [c["px"][0] * sx, c["px"][1] * sy], "lnglat": c["lnglat"]} for c in existing.control_points]
    _versioned_update(session, EnterpriseLayout, existing.id, expected_version or 0,
                      values | {"control_points": cps})
    session.refresh(existing)
    audit(session, actor, "update", "enterprise_layout", existing.id, before, snapshot(existing))
    return existing


def place_layout(session: Session, enterprise_id: int, raw: Mapping[str, Any], actor: Actor, *, scope: Scope,
                 expected_version: int, max_distance_m: float) -> EnterpriseLayout:
    """Georeference the layout: ``corners`` (3: TL, TR, BL, or 4: TL, TR, BR, BL) or 3 ``control_points``."""
    _require(actor)
    ent = load_enterprise(session, enterprise_id, scope=scope, write=True)
    row = _get_layout(session, ent.id)
    if row is None:
        raise NotFound("该企业还没有上传平面图")
    _check_version(row, expected_version)
    for key in raw:
        if key not in ("corners", "control_points"):
            raise InvalidParameter(key, "可提交：corners、control_points、version")
    method, cps = _parse_georef(raw, row.width_px, row.height_px)
    ewkt = _check_georef(session, ent.id, method, cps, row.width_px, row.height_px, max_distance_m)
    before = snapshot(row)
    _versioned_update(session, EnterpriseLayout, row.id, expected_version,
                      {"georef_method": method, "control_points": cps, "footprint": sa.func.ST_GeomFromEWKT(ewkt)})
    session.refresh(row)
    audit(session, actor, "place", "enterprise_layout", row.id, before, snapshot(row))
    return row


def delete_layout(session: Session, enterprise_id: int, actor: Actor, *, scope: Scope, expected_version: int) -> None:
    """Remove the layout image (the stored file stays: another row may share its content)."""
    _require(actor)
    ent = load_enterprise(session, enterprise_id, scope=scope, write=True)
    row = _get_layout(session, ent.id)
    if row is None:
        raise NotFound("该企业还没有上传平面图")
    _check_version(row, expected_version)
    before = snapshot(row)
    result = session.execute(sa.delete(EnterpriseLayout).where(EnterpriseLayout.id == row.id,
                                                              EnterpriseLayout.version == expected_version))
    if result.rowcount != 1:
        raise VersionConflict(detail=f"EnterpriseLayout {row.id}: version {expected_version} is stale")
    session.expunge(row)
    audit(session, actor, "delete", "enterprise_layout", before["id"], before, None)


def load_layout(session: Session, enterprise_id: int, *, scope: Scope,
                upload_dir: Path | None = None) -> tuple[EnterpriseLayout, Path | None]:
    """The enterprise's layout (in the caller's scope) and its stored file (None: not asked or missing)."""
    row = session.scalars(
        sa.select(EnterpriseLayout).join(Enterprise, Enterprise.id == EnterpriseLayout.enterprise_id)
        .where(EnterpriseLayout.enterprise_id == enterprise_id, enterprise_scope(scope))
    ).first()
    if row is None:
        load_enterprise(session, enterprise_id, scope=scope)  # 404 for an enterprise out of sight
        raise NotFound("该企业还没有上传平面图")
    path = None
    if upload_dir is not None:
        candidate = evidence_path(upload_dir, row.sha256)
        path = candidate if candidate.is_file() else None
    return row, path


def layout_dict(row: EnterpriseLayout) -> dict[str, Any]:
    """The layout's metadata and its corners (TL, TR, BR, BL lng/lat) for the browser."""
    return {
        "id": row.id, "enterprise_id": row.enterprise_id, "filename": row.filename,
        "source_type": row.source_type, "content_type": row.content_type, "size_bytes": row.size_bytes,
        "sha256": row.sha256, "width": row.width_px, "height": row.height_px,
        "georef_method": row.georef_method, "control_points": row.control_points,
        "corners": [list(c) for c in layout_corners(row.georef_method, row.control_points, row.width_px,
                                                     row.height_px)],
        "version": row.version, "uploaded_by": row.uploaded_by, "updated_at": row.updated_at,
    }


# --------------------------------------------------------------------------- import

# The columns of an import file that name a zone's fields (first match wins).
_IMPORT_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "Name", "NAME", "区域名称", "名称", "区域"),
    "floor": ("floor", "楼层", "楼层/标高", "标高"),
    "grade": ("grade", "风险等级", "等级"),
    "grade_inherent": ("grade_inherent", "固有风险等级"),
    "grade_residual": ("grade_residual", "管控后风险等级", "剩余风险等级"),
    "accident_types": ("accident_types", "事故类型", "可能导致的事故类型"),
    "control_measures": ("control_measures", "管控措施"),
    "emergency_measures": ("emergency_measures", "应急处置措施", "应急措施"),
    "responsible_person": ("responsible_person", "责任人"),
}
IMPORT_EXTENSIONS: dict[str, str] = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GeoPackage",
                                     ".zip": "Shapefile（ZIP 压缩包）", ".shp": "Shapefile", ".kml": "KML"}


@dataclass
class ZoneImportResult:
    """What a zone import did; ``errors`` are per feature (``row`` = the feature's number)."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    written: bool = False
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "inserted": self.inserted, "updated": self.updated, "rejected": self.rejected,
                "written": self.written, "dry_run": self.dry_run, "warnings": self.warnings,
                "errors": [e.as_dict() for e in self.errors]}


def _check_zone_file(path: Path) -> str:
    """The format of a zone file by its extension, checked against its bytes."""
    ext = path.suffix.lower()
    if ext not in IMPORT_EXTENSIONS:
        raise LayoutRejected(f"不支持的文件类型 {ext or '（无扩展名）'}：应为 GeoJSON、GeoPackage、Shapefile（.zip）或 KML")
    head = path.read_bytes()[:512]
    ok = {
        ".geojson": head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{"),
        ".json": head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{"),
        ".gpkg": head.startswith(b"SQLite format 3\x00"),
        ".zip": head.startswith(b"PK\x03\x04"),
        ".shp": head.startswith(b"\x00\x00\x27\x0a"),
        ".kml": b"<kml" in head or head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"<?xml"),
    }[ext]
    if not ok:
        raise LayoutRejected(f"文件扩展名为 {ext}，但内容不是{IMPORT_EXTENSIONS[ext]}")
    return ext


def _read_features(path: Path) -> list[tuple[dict[str, Any], Any]]:
    import geopandas as gpd
    from pyogrio.errors import DataLayerError, DataSourceError

    target: str | Path = path
    if path.suffix.lower() == ".zip":
        target = f"/vsizip/{path}"
    try:
        frame = gpd.read_file(target, engine="pyogrio")
    except (DataSourceError, DataLayerError, OSError, ValueError) as err:
        raise LayoutRejected(f"无法读取该文件：{err}") from err
    if frame.crs is None:
        frame = frame.set_crs(4326)
    frame = frame.to_crs(4326)
    geoms = list(frame.geometry)
    props = frame.drop(columns=frame.geometry.name).to_dict("records")
    return list(zip(props, geoms, strict=True))


def _feature_raw(props: Mapping[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for fld, names in _IMPORT_ALIASES.items():
        for n in names:
            value = props.get(n)
            if value is not None and not (isinstance(value, float) and math.isnan(value)) and str(value).strip():
                raw[fld] = value
                break
    return raw


def import_zones(session: Session, enterprise_id: int, path: Path | str, actor: Actor, *, scope: Scope,
                 max_distance_m: float, skip_bad: bool = False, dry_run: bool = False) -> ZoneImportResult:
    """Import an enterprise's zones from GeoJSON, GeoPackage, Shapefile (.zip) or KML (pyogrio).

    Each feature is a zone named by its ``name``/``区域名称`` column; a zone of
    that name is updated (geometry and the given fields), otherwise created.
    A feature that is not a valid polygon, is too far from the enterprise or
    has a bad grade is an error of that feature (``row`` = its number from
    1); by default nothing is written when any feature is bad, with
    ``skip_bad`` the good ones are.  ``dry_run`` rolls everything back.
    """
    _require(actor)
    note_actor(session, actor)  # the zone grade history names who (migration 0017)
    ent = load_enterprise(session, enterprise_id, scope=scope, write=True)
    path = Path(path)
    _check_zone_file(path)
    features = _read_features(path)
    result = ZoneImportResult(rows=len(features), dry_run=dry_run)
    nested = session.begin_nested()
    try:
        for i, (props, geom) in enumerate(features, start=1):
            raw = _feature_raw(props)
            try:
                with session.begin_nested():
                    if geom is None or geom.is_empty:
                        raise RecordInvalid([_err("geometry", "没有几何", i)])
                    values, errors = _clean(raw, creating=True, row=i)
                    if errors:
                        raise RecordInvalid(errors)
                    ewkt = _geometry_ewkt(session, shapely.force_2d(geom), confirm_repair=False, row=i)
                    _check_distance(session, ent.id, ewkt, max_distance_m, "区域", row=i)
                    existing = session.scalars(sa.select(RiskZone).where(
                        RiskZone.enterprise_id == ent.id, RiskZone.name == values["name"])).first()
                    geom_sql = sa.func.ST_Multi(sa.func.ST_GeomFromEWKT(ewkt))
                    if existing is None:
                        zone = RiskZone(enterprise_id=ent.id, geom=geom_sql, **values)
                        session.add(zone)
                        session.flush()
                        session.refresh(zone)
                        audit(session, actor, "import", "risk_zone", zone.id, None, snapshot(zone))
                        result.inserted += 1
                    else:
                        before = snapshot(existing)
                        _versioned_update(session, RiskZone, existing.id, existing.version, values | {"geom": geom_sql})
                        session.refresh(existing)
                        zone = existing
                        audit(session, actor, "import", "risk_zone", zone.id, before, snapshot(zone))
                        result.updated += 1
                    result.warnings += [w | {"row": i} for w in _overlaps(session, zone)]
            except GeometryNeedsRepair as err:
                result.errors.append(_err("geometry", f"多边形无效（{err.extra.get('reason')}），请修复后重新导入", i))
                result.rejected += 1
            except RecordInvalid as err:
                result.errors += err.errors
                result.rejected += 1
            except DBAPIError as err:
                LOGGER.warning("zone import feature %s refused: %s", i, err.orig)
                result.errors.append(_err("geometry", "该要素无法写入（几何或字段不符合要求）", i))
                result.rejected += 1
        if (result.errors and not skip_bad) or dry_run:
            nested.rollback()
            if result.errors and not skip_bad:
                result.inserted = result.updated = 0
        else:
            nested.commit()
            result.written = True
    except BaseException:
        if nested.is_active:
            nested.rollback()
        raise
    return result

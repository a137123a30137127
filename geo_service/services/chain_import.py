"""Import an enterprise's 双重预防 chain from one XLSX (or CSV) sheet: one row per
隐患排查任务, carrying its 风险分析对象, 风险分析单元, 风险事件 and 管控措施 —
the flat list the enterprises' 双重预防 systems export.

Every row is checked first and its problems reported as
:class:`~geo_service.services.validation.FieldError` (row number as the user
sees it, Chinese column header, reason).  By default nothing is written when
any row is bad; with ``skip_bad`` the good rows are.  Writes are upserts on
natural keys (enterprise + object name; enterprise + unit name; unit + event
name; event + measure; measure + task content), so importing the same file
again adds nothing.  A unit (risk point) that does not exist yet is created
when the row gives its grade.  Rows about an enterprise outside the caller's
scope are refused row by row.  The caller commits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from .. import domain
from ..domain import Actor
from ..errors import Forbidden
from ..models import ControlMeasure, Enterprise, InspectionTask, RiskEvent, RiskObject, RiskPoint
from ..queries.scope import Scope, enterprise_scope
from .accounts import audit
from .importers import OUT_OF_SCOPE, ImportFailed
from .uploads import UploadLimits, UploadRejected, check_import_file
from .validation import Column, FieldError, parse_date

__all__ = ["CHAIN_COLUMNS", "ChainImportResult", "import_chain", "write_chain_template", "KIND"]

KIND = "chain"


def _names(d: Mapping[str, str]) -> str:
    return "、".join(d.values())


CHAIN_COLUMNS: tuple[Column, ...] = (
    Column("credit_code", "统一社会信用代码", True, "企业须已登记"),
    Column("object", "风险分析对象", False, "重大危险源、设备设施或作业场所的名称（可空）"),
    Column("object_kind", "对象类型", False, "填写风险分析对象时必填：" + _names(domain.RISK_OBJECT_KINDS)),
    Column("unit", "风险分析单元", True, "即风险点名称；不存在时按“单元风险等级”新建"),
    Column("unit_grade", "单元风险等级", False, "新建风险分析单元时必填：红/橙/黄/蓝"),
    Column("event", "风险事件", True, ""),
    Column("accident_type", "事故类型", True, "如 火灾、爆炸、中毒和窒息"),
    Column("consequence", "事件后果", False, ""),
    Column("event_grade", "事件风险等级", True, "红/橙/黄/蓝"),
    Column("measure", "管控措施", True, ""),
    Column("measure_kind", "措施类型", True, _names(domain.MEASURE_KINDS)),
    Column("measure_level", "管控层级", True, _names(domain.MEASURE_LEVELS)),
    Column("content", "排查内容", True, ""),
    Column("cycle_n", "排查周期", True, "正整数，如 1、8"),
    Column("cycle_unit", "周期单位", True, _names(domain.CYCLE_UNITS)),
    Column("resp_post", "责任岗位", False, ""),
    Column("starts_on", "开始日期", False, "YYYY-MM-DD，默认导入当天"),
)
_BY_HEADER = {c.header: c for c in CHAIN_COLUMNS} | {c.field: c for c in CHAIN_COLUMNS}


@dataclass
class ChainImportResult:
    """What a chain import did (or would do)."""

    rows: int = 0
    created: dict[str, int] = field(default_factory=lambda: {k: 0 for k in _LEVELS})
    rejected: int = 0
    errors: list[FieldError] = field(default_factory=list)
    written: bool = False
    dry_run: bool = False

    def summary(self) -> str:
        if self.errors and not self.written:
            return f"共{self.rows}行，{len({e.row for e in self.errors})}行有错误，未写入任何数据"
        made = "，".join(f"新增{_LEVELS[k]}{n}" for k, n in self.created.items())
        return f"共{self.rows}行：{made}，拒绝{self.rejected}" + ("（试运行，已回滚）" if self.dry_run else "")


_LEVELS = {"object": "风险分析对象", "unit": "风险分析单元", "event": "风险事件", "measure": "管控措施",
           "task": "排查任务"}


def _read(path: Path, limits: UploadLimits | None) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fmt = check_import_file(path, limits)
    except UploadRejected as err:
        raise ImportFailed(err.user_msg) from err
    if fmt == "xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as err:  # openpyxl raises many kinds for a broken file
            raise ImportFailed(f"无法读取 Excel 文件：{err}") from err
        try:
            rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()
    elif fmt == "csv":
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
        rows = [list(r) for r in csv.reader(io.StringIO(text, newline=""))]
    else:
        raise ImportFailed("排查任务清单应为 XLSX 或 CSV 文件")
    if not rows:
        raise ImportFailed("文件为空")
    headers = ["" if h is None else str(h).strip() for h in rows[0]]
    unknown = [h for h in headers if h and h not in _BY_HEADER]
    if unknown:
        raise ImportFailed(f"未知的列：{'、'.join(unknown)}（请使用模板的列名）")
    fields = [_BY_HEADER[h].field if h else None for h in headers]
    missing = [c.header for c in CHAIN_COLUMNS if c.required and c.field not in fields]
    if missing:
        raise ImportFailed(f"缺少必填列：{'、'.join(missing)}")
    for number, row in enumerate(rows[1:], start=2):
        raw = {f: v for f, v in zip(fields, row, strict=False) if f is not None}
        if all(v is None or str(v).strip() == "" for v in raw.values()):
            continue
        yield number, raw


def _text(v: Any) -> str:
    return "" if v is None else str(v).strip()


def _check(row: int, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """The row's values by field, or its errors."""
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    header = {c.field: c.header for c in CHAIN_COLUMNS}

    def err(f: str, reason: str) -> None:
        errors.append(FieldError(row, header[f], reason))

    for c in CHAIN_COLUMNS:
        value = _text(raw.get(c.field))
        if c.required and not value:
            err(c.field, "必填")
        out[c.field] = value or None
    for f, limit in (("object", 200), ("unit", 200), ("event", 200), ("accident_type", 100), ("resp_post", 60)):
        if out[f] and len(out[f]) > limit:
            err(f, f"不能超过 {limit} 个字")
    for f, vocabulary in (("object_kind", domain.RISK_OBJECT_KINDS), ("measure_kind", domain.MEASURE_KINDS),
                          ("measure_level", domain.MEASURE_LEVELS), ("cycle_unit", domain.CYCLE_UNITS)):
        if out[f]:
            key = domain.parse_key(vocabulary, out[f])
            if key is None:
                err(f, f"应为：{_names(vocabulary)}")
            out[f] = key
    if out["object"] and not out["object_kind"] and not any(e.column == header["object_kind"] for e in errors):
        err("object_kind", "填写风险分析对象时必填")
    for f in ("unit_grade", "event_grade"):
        if out[f]:
            grade = domain.parse_grade(out[f])
            if grade is None:
                err(f, "应为 红/橙/黄/蓝 或 1–4")
            out[f] = grade
    if out["cycle_n"]:
        try:
            n = float(out["cycle_n"])
            if n != int(n) or not 1 <= n <= 1000:
                raise ValueError
            out["cycle_n"] = int(n)
        except ValueError:
            err("cycle_n", "应为 1–1000 的整数")
    if out["starts_on"]:
        try:
            out["starts_on"] = parse_date(raw.get("starts_on"))
        except ValueError:
            err("starts_on", "日期格式应为 YYYY-MM-DD")
    return out, errors


def _id(session: Session, insert: Any, select: Any) -> tuple[int, bool]:
    """Insert ON CONFLICT DO NOTHING; (id, created)."""
    new = session.execute(insert.on_conflict_do_nothing().returning(sa.literal_column("id"))).scalar_one_or_none()
    if new is not None:
        return new, True
    return session.execute(select).scalar_one(), False


def _write(session: Session, r: Mapping[str, Any], ent_id: int, result: ChainImportResult, row: int) -> None:
    object_id = None
    if r["object"]:
        object_id, made = _id(session,
                              pg_insert(RiskObject).values(enterprise_id=ent_id, name=r["object"],
                                                           kind=r["object_kind"]),
                              sa.select(RiskObject.id).where(RiskObject.enterprise_id == ent_id,
                                                             RiskObject.name == r["object"]))
        result.created["object"] += made
    unit = session.execute(sa.select(RiskPoint.id, RiskPoint.object_id)
                           .where(RiskPoint.enterprise_id == ent_id, RiskPoint.name == r["unit"])).first()
    if unit is None:
        if r["unit_grade"] is None:
            raise _RowError(FieldError(row, "单元风险等级", "该风险分析单元尚未登记，新建时必填"))
        unit_id = session.execute(sa.insert(RiskPoint).values(
            enterprise_id=ent_id, name=r["unit"], grade=r["unit_grade"], object_id=object_id,
            accident_type=r["accident_type"]).returning(RiskPoint.id)).scalar_one()
        result.created["unit"] += 1
    else:
        unit_id = unit.id
        if object_id is not None and unit.object_id is None:
            session.execute(sa.update(RiskPoint).where(RiskPoint.id == unit_id).values(object_id=object_id))
    event_id, made = _id(session,
                         pg_insert(RiskEvent).values(enterprise_id=ent_id, risk_point_id=unit_id, name=r["event"],
                                                     accident_type=r["accident_type"],
                                                     consequence=r["consequence"], grade=r["event_grade"]),
                         sa.select(RiskEvent.id).where(RiskEvent.risk_point_id == unit_id,
                                                       RiskEvent.name == r["event"]))
    result.created["event"] += made
    measure_id, made = _id(session,
                           pg_insert(ControlMeasure).values(enterprise_id=ent_id, event_id=event_id,
                                                            description=r["measure"], kind=r["measure_kind"],
                                                            level=r["measure_level"]),
                           sa.select(ControlMeasure.id).where(ControlMeasure.event_id == event_id,
                                                              ControlMeasure.description == r["measure"]))
    result.created["measure"] += made
    values: dict[str, Any] = {"enterprise_id": ent_id, "measure_id": measure_id, "content": r["content"],
                              "cycle_n": r["cycle_n"], "cycle_unit": r["cycle_unit"], "resp_post": r["resp_post"]}
    if r["starts_on"]:
        values["starts_on"] = r["starts_on"]
    _task_id, made = _id(session, pg_insert(InspectionTask).values(**values),
                         sa.select(InspectionTask.id).where(InspectionTask.measure_id == measure_id,
                                                            InspectionTask.content == r["content"]))
    result.created["task"] += made


class _RowError(Exception):
    def __init__(self, error: FieldError):
        super().__init__(str(error))
        self.error = error


def import_chain(session: Session, path: Path | str, actor: Actor, *, scope: Scope, skip_bad: bool = False,
                 dry_run: bool = False, limits: UploadLimits | None = None) -> ChainImportResult:
    """Import the 排查任务清单 at ``path`` (see :data:`CHAIN_COLUMNS`).

    Raises
    ------
    ImportFailed
        The file (not a row) cannot be read: type, headers, size.
    """
    if not actor.may("edit_register"):
        raise Forbidden("无权导入排查任务")
    result = ChainImportResult(dry_run=dry_run)
    checked: list[tuple[int, dict[str, Any], int]] = []
    credit_codes: dict[str, int | None] = {}
    for row, raw in _read(Path(path), limits):
        result.rows += 1
        record, errors = _check(row, raw)
        code = record["credit_code"]
        if code and code not in credit_codes:
            credit_codes[code] = session.execute(
                sa.select(Enterprise.id).where(Enterprise.credit_code == code, enterprise_scope(scope))
            ).scalar_one_or_none()
            if credit_codes[code] is None and session.execute(
                    sa.select(Enterprise.id).where(Enterprise.credit_code == code)).first() is not None:
                credit_codes[code] = -1
        if code and credit_codes.get(code) is None:
            errors.append(FieldError(row, "统一社会信用代码", "企业未登记"))
        elif code and credit_codes[code] == -1:
            errors.append(FieldError(row, "统一社会信用代码", OUT_OF_SCOPE))
        if errors:
            result.errors += errors
            result.rejected += 1
            continue
        checked.append((row, record, credit_codes[code] or 0))
    if result.errors and not skip_bad:
        return result
    nested = session.begin_nested()
    try:
        for row, record, ent_id in checked:
            row_savepoint = session.begin_nested()
            try:
                _write(session, record, ent_id, result, row)
            except _RowError as err:
                row_savepoint.rollback()
                result.errors.append(err.error)
                result.rejected += 1
                if not skip_bad:
                    raise
            else:
                row_savepoint.commit()
    except _RowError:
        nested.rollback()
        return result
    except BaseException:
        nested.rollback()
        raise
    if dry_run:
        nested.rollback()
    else:
        audit(session, actor, "import", "inspection_task", None, None,
              {"file": Path(path).name, **result.created})
        nested.commit()
        result.written = True
    return result


def write_chain_template(path: Path | str) -> Path:
    """The blank 排查任务清单 template: sheet 数据 (headers, required in red) and 填写说明."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    path = Path(path)
    wb = Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append([c.header for c in CHAIN_COLUMNS])
    for i, c in enumerate(CHAIN_COLUMNS, start=1):
        ws.cell(row=1, column=i).font = Font(bold=True, color="C00000" if c.required else "000000")
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = max(12, len(c.header) * 2 + 2)
    for r in range(2, 1002):
        ws.cell(row=r, column=1).number_format = "@"
    ws.freeze_panes = "A2"
    notes = wb.create_sheet("填写说明")
    notes.append(["列名", "是否必填", "说明与可选值"])
    for c in CHAIN_COLUMNS:
        notes.append([c.header, "必填" if c.required else "", c.note])
    notes.append([])
    notes.append(["每行", "", "一项隐患排查任务及其所属的风险分析对象、单元、风险事件和管控措施；同名的上级只登记一次"])
    wb.save(path)
    return path

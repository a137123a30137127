"""双重预防 as it runs: the chain (风险分析对象 → 风险分析单元 → 风险事件 →
管控措施 → 隐患排查任务) and the 排查记录 that enterprises make on a phone.

An 异常 record opens a hazard in the same step (:func:`record_inspection`):
企业自查, found today, described from the task and its measure, placed at the
phone's position (else the enterprise's), linked by ``hazard.record_id``,
and carrying the record's photo as its 整改前照片.

Writes check the role (:meth:`Actor.may`) and the :class:`Scope`, append an
audit row, flush and never commit.  Records are append-only (a trigger and
the grants refuse UPDATE/DELETE); the tallies follow them by trigger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import domain
from ..domain import Actor
from ..errors import Forbidden, InvalidParameter, NotFound
from ..models import (
    ControlMeasure,
    Enterprise,
    Hazard,
    HazardEvidence,
    InspectionRecord,
    InspectionTask,
    RiskEvent,
    RiskObject,
    RiskPoint,
    User,
)
from ..queries.scope import Scope, enterprise_scope
from .evidence import FileTooLarge, evidence_path, sniff, store_content
from .register import audit, create_hazard, load_enterprise, load_risk_point, snapshot

__all__ = [
    "create_object",
    "create_event",
    "create_measure",
    "create_task",
    "set_task_active",
    "load_task",
    "record_inspection",
    "IMAGE_TYPES",
]

IMAGE_TYPES = ("image/jpeg", "image/png")


def _require(actor: Actor, permission: str) -> None:
    if not actor.may(permission):
        raise Forbidden(detail=f"{actor.name} ({actor.role}) lacks {permission}")


def _text(raw: Mapping[str, Any], key: str, label: str, *, required: bool = True, limit: int = 200) -> str | None:
    value = raw.get(key)
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise InvalidParameter(key, f"{label}不能为空")
        return None
    if len(text) > limit:
        raise InvalidParameter(key, f"{label}不能超过 {limit} 个字")
    return text


def _key(raw: Mapping[str, Any], key: str, vocabulary: dict[str, str], label: str) -> str:
    found = domain.parse_key(vocabulary, raw.get(key))
    if found is None:
        raise InvalidParameter(key, f"{label}应为：{'、'.join(vocabulary.values())}")
    return found


def _scoped(session: Session, model: Any, obj_id: int, label: str, scope: Scope, *, write: bool) -> Any:
    """A chain row whose enterprise is in ``scope``: 404 when absent or outside it, alike on reads
    and writes (another jurisdiction's ids are not an oracle; ``write`` is kept for the callers)."""
    obj = session.execute(
        sa.select(model).join(Enterprise, Enterprise.id == model.enterprise_id)
        .where(model.id == obj_id, enterprise_scope(scope))
    ).scalar_one_or_none()
    if obj is None:
        raise NotFound(f"{label} {obj_id} 不存在")
    return obj


# --------------------------------------------------------------------------- the chain


def create_object(session: Session, enterprise_id: int, raw: Mapping[str, Any], actor: Actor, *,
                  scope: Scope) -> RiskObject:
    """Add a 风险分析对象 (``name``, ``kind`` 重大危险源/设备设施/作业场所, ``note``)."""
    _require(actor, "edit_register")
    ent = load_enterprise(session, enterprise_id, scope=scope, write=True)
    obj = RiskObject(enterprise_id=ent.id, name=_text(raw, "name", "对象名称"),
                     kind=_key(raw, "kind", domain.RISK_OBJECT_KINDS, "对象类型"),
                     note=_text(raw, "note", "说明", required=False, limit=2000))
    session.add(obj)
    session.flush()
    audit(session, actor, "create", "risk_object", obj.id, None, snapshot(obj))
    return obj


def create_event(session: Session, risk_point_id: int, raw: Mapping[str, Any], actor: Actor, *,
                 scope: Scope) -> RiskEvent:
    """Add a 风险事件 to a unit (``name``, ``accident_type``, ``consequence``, ``grade``)."""
    _require(actor, "edit_register")
    unit = load_risk_point(session, risk_point_id, scope=scope, write=True)
    grade = domain.parse_grade(raw.get("grade"))
    if grade is None:
        raise InvalidParameter("grade", "风险等级应为 红/橙/黄/蓝 或 1–4")
    event = RiskEvent(enterprise_id=unit.enterprise_id, risk_point_id=unit.id,
                      name=_text(raw, "name", "风险事件"),
                      accident_type=_text(raw, "accident_type", "事故类型", limit=100),
                      consequence=_text(raw, "consequence", "后果", required=False, limit=2000),
                      grade=grade)
    session.add(event)
    session.flush()
    audit(session, actor, "create", "risk_event", event.id, None, snapshot(event))
    return event


def create_measure(session: Session, event_id: int, raw: Mapping[str, Any], actor: Actor, *,
                   scope: Scope) -> ControlMeasure:
    """Add a 管控措施 to an event (``description``, ``kind``, ``level``)."""
    _require(actor, "edit_register")
    event = _scoped(session, RiskEvent, event_id, "风险事件", scope, write=True)
    measure = ControlMeasure(enterprise_id=event.enterprise_id, event_id=event.id,
                             description=_text(raw, "description", "管控措施", limit=2000),
                             kind=_key(raw, "kind", domain.MEASURE_KINDS, "措施类型"),
                             level=_key(raw, "level", domain.MEASURE_LEVELS, "管控层级"))
    session.add(measure)
    session.flush()
    audit(session, actor, "create", "control_measure", measure.id, None, snapshot(measure))
    return measure


def create_task(session: Session, measure_id: int, raw: Mapping[str, Any], actor: Actor, *,
                scope: Scope) -> InspectionTask:
    """Add a 隐患排查任务 to a measure.

    ``raw``: ``content``; ``cycle_n`` (a whole number ≥ 1) and ``cycle_unit``
    (小时/天/周/月); ``resp_post`` and/or ``resp_user_id``; ``starts_on``
    (default today): the first cycle window owed starts on or after it.
    """
    _require(actor, "edit_register")
    measure = _scoped(session, ControlMeasure, measure_id, "管控措施", scope, write=True)
    try:
        cycle_n = int(str(raw.get("cycle_n", "")).strip())
    except ValueError as err:
        raise InvalidParameter("cycle_n", "排查周期应为正整数") from err
    if not 1 <= cycle_n <= 1000:
        raise InvalidParameter("cycle_n", "排查周期应为 1–1000 的整数")
    resp_user = raw.get("resp_user_id") or None
    if resp_user is not None:
        user = session.get(User, int(resp_user))
        if user is None or user.enterprise_id != measure.enterprise_id:
            raise InvalidParameter("resp_user_id", "责任人应为该企业的账号")
    values: dict[str, Any] = {
        "enterprise_id": measure.enterprise_id, "measure_id": measure.id,
        "content": _text(raw, "content", "排查内容", limit=2000), "cycle_n": cycle_n,
        "cycle_unit": _key(raw, "cycle_unit", domain.CYCLE_UNITS, "周期单位"),
        "resp_post": _text(raw, "resp_post", "责任岗位", required=False, limit=60),
        "resp_user_id": resp_user,
    }
    if raw.get("starts_on"):
        starts = raw["starts_on"]
        values["starts_on"] = starts if isinstance(starts, dt.date) else dt.date.fromisoformat(str(starts))
    task = InspectionTask(**values)
    session.add(task)
    session.flush()
    session.refresh(task)
    audit(session, actor, "create", "inspection_task", task.id, None, snapshot(task))
    return task


def load_task(session: Session, task_id: int, *, scope: Scope, write: bool = False) -> InspectionTask:
    """The task whose enterprise is in ``scope``."""
    return _scoped(session, InspectionTask, task_id, "排查任务", scope, write=write)


def set_task_active(session: Session, task_id: int, active: bool, actor: Actor, *, scope: Scope) -> InspectionTask:
    """Stop or restart a task (a trigger sets ``ended_on`` / a fresh ``starts_on``)."""
    _require(actor, "edit_register")
    task = load_task(session, task_id, scope=scope, write=True)
    before = snapshot(task)
    session.execute(sa.update(InspectionTask).where(InspectionTask.id == task.id).values(active=active))
    session.refresh(task)
    audit(session, actor, "update", "inspection_task", task.id, before, snapshot(task))
    return task


# --------------------------------------------------------------------------- records


def _store_photo(stream: BinaryIO, upload_dir: Path, max_bytes: int) -> tuple[str, str, int]:
    """Store an image by its content; (sha256, content type, size)."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLarge(f"照片过大（上限 {max_bytes // (1024 * 1024)} MB）")
    if not data:
        raise InvalidParameter("photo", "照片为空")
    content_type = sniff(data)
    if content_type not in IMAGE_TYPES:
        raise InvalidParameter("photo", "照片只接受 JPEG 或 PNG（按文件内容判断）")
    return store_content(upload_dir, data), content_type, len(data)


def _position(lng: float | None, lat: float | None) -> str | None:
    if lng is None and lat is None:
        return None
    if lng is None or lat is None or not (-180 <= lng <= 180 and -90 <= lat <= 90):
        raise InvalidParameter("position", "位置应为 WGS84 经纬度")
    return f"SRID=4326;POINT({lng} {lat})"


def record_inspection(session: Session, task_id: int, result: str, actor: Actor, *, scope: Scope,
                      note: str | None = None, lng: float | None = None, lat: float | None = None,
                      photo: BinaryIO | None = None, photo_name: str | None = None,
                      upload_dir: Path | None = None, max_bytes: int = 20 * 1024 * 1024,
                      at: dt.datetime | None = None) -> tuple[InspectionRecord, int | None]:
    """Record one 排查记录 on a task; an 异常 opens a hazard. Returns (record, hazard id or None).

    Parameters
    ----------
    result
        ``normal``/``abnormal`` or 正常/异常.
    lng, lat
        The phone's position, WGS84 degrees (the browser's geolocation), optional.
    photo
        A JPEG/PNG stream, stored by its SHA-256 under ``upload_dir``; required for 异常.
    at
        The record's time (default: now); imports and the demo pass it.

    Raises
    ------
    InvalidParameter
        Unknown result, 异常 without a photo, an inactive task, a bad position.
    Forbidden, NotFound
        The actor may not report hazards; the task is not the caller's (as if it did not exist).
    """
    _require(actor, "report_hazard")
    key = domain.parse_key(domain.INSPECTION_RESULTS, result)
    if key is None:
        raise InvalidParameter("result", "排查结果应为 正常 或 异常")
    task = load_task(session, task_id, scope=scope, write=True)
    if not task.active:
        raise InvalidParameter("task", "该排查任务已停用")
    geom = _position(lng, lat)
    sha = ctype = None
    if photo is not None:
        if upload_dir is None:
            raise InvalidParameter("photo", "未配置照片存储目录")
        sha, ctype, _size = _store_photo(photo, Path(upload_dir), max_bytes)
    if key == "abnormal" and sha is None:
        raise InvalidParameter("photo", "排查异常须拍照")
    values: dict[str, Any] = {
        "task_id": task.id, "enterprise_id": task.enterprise_id, "user_id": actor.user_id,
        "person": actor.name, "result": key, "note": (note or "").strip() or None,
        "photo_sha256": sha, "photo_type": ctype,
        "photo_name": (Path(photo_name or "").name[:255] or None) if sha else None, "geom": geom,
    }
    if at is not None:
        values["recorded_at"] = at
    rid, rat = session.execute(
        sa.insert(InspectionRecord).values(**values).returning(InspectionRecord.id, InspectionRecord.recorded_at)
    ).one()
    record = session.get(InspectionRecord, (rid, rat))
    assert record is not None
    audit(session, actor, "create", "inspection_record", rid, None, snapshot(record))
    if key == "normal":
        return record, None
    return record, _open_hazard(session, task, record, actor, scope=scope, lng=lng, lat=lat,
                                upload_dir=upload_dir)


def _open_hazard(session: Session, task: InspectionTask, record: InspectionRecord, actor: Actor, *,
                 scope: Scope, lng: float | None, lat: float | None, upload_dir: Path | None) -> int:
    """The hazard an 异常 record opens, pre-filled from the chain, linked to the record."""
    chain = session.execute(
        sa.select(ControlMeasure.description, RiskEvent.name.label("event"), RiskPoint.name.label("unit"))
        .join(RiskEvent, RiskEvent.id == ControlMeasure.event_id)
        .join(RiskPoint, RiskPoint.id == RiskEvent.risk_point_id)
        .where(ControlMeasure.id == task.measure_id)
    ).one()
    found_on = record.recorded_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    description = f"{chain.unit}：{task.content}——排查异常"
    if record.note:
        description += f"（{record.note}）"
    raw: dict[str, Any] = {
        "description": description[:2000], "level": "general", "source": "self", "found_on": found_on,
        "found_by": actor.name, "measures": f"管控措施：{chain.description}"[:2000],
    }
    if lng is not None and lat is not None:
        raw["lng"], raw["lat"] = lng, lat
    hazard = create_hazard(session, task.enterprise_id, raw, actor, scope=scope)
    session.execute(sa.update(Hazard).where(Hazard.id == hazard.id)
                    .values(record_id=record.id, record_at=record.recorded_at))
    if record.photo_sha256:
        ext = "jpg" if record.photo_type == "image/jpeg" else "png"
        session.add(HazardEvidence(hazard_id=hazard.id, kind="before", filename=record.photo_name or f"photo.{ext}",
                                   content_type=record.photo_type or "image/jpeg",
                                   size_bytes=(evidence_path(upload_dir, record.photo_sha256).stat().st_size
                                               if upload_dir else 0),
                                   sha256=record.photo_sha256,
                                   stored_path=str(Path(record.photo_sha256[:2]) / record.photo_sha256),
                                   uploaded_by=actor.name))
    session.flush()
    audit(session, actor, "link", "hazard", hazard.id, None, {"record_id": record.id})
    return hazard.id

"""The closed loop: create and edit enterprises, risk points and hazards, and
move hazards along their lifecycle.

Every write here

* validates with :mod:`geo_service.services.validation` (the importers' rules),
  raising :class:`~geo_service.services.validation.RecordInvalid` (400);
* checks the actor's role (:meth:`Actor.may`) and the caller's
  :class:`~geo_service.queries.scope.Scope`: an object outside the scope is
  :class:`NotFound`, exactly as one that does not exist, on reads and writes
  alike (the answer never tells whether another jurisdiction's id exists);
* is optimistic-locked: ``UPDATE … WHERE id = :id AND version = :v`` bumps the
  version, and a stale ``expected_version`` raises :class:`VersionConflict`
  (409) with nothing written;
* appends one ``audit_log`` row (actor, action, object, before/after JSON)
  through :func:`audit`, and every hazard state change one ``hazard_event``.

The functions flush but never commit: the caller (a view, a CLI command)
commits its unit of work, and an exception leaves nothing behind once the
caller rolls back.  The enterprise's grade follows its risk points through the
database trigger ``risk_point_grade``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import WKBElement
from geoalchemy2.shape import to_shape
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import domain
from ..domain import Actor
from ..errors import Forbidden, IllegalTransition, InvalidParameter, NotFound, OutOfJurisdiction, VersionConflict
from ..models import Base, Enterprise, Hazard, HazardEvent, HazardEvidence, RiskPoint
from ..queries.scope import Scope, enterprise_scope
from .accounts import audit
from .validation import FieldError, RecordInvalid, header_of, validate_enterprise, validate_hazard, validate_risk_point

__all__ = [
    "create_enterprise",
    "update_enterprise",
    "create_risk_point",
    "update_risk_point",
    "create_hazard",
    "update_hazard",
    "transition_hazard",
    "audit",
    "snapshot",
    "load_enterprise",
    "load_hazard",
    "load_risk_point",
    "FIVE_IMPLEMENTATIONS",
    "refuse_fields",
    "hazard_writable_fields",
    "signoff_requirements",
    "evidence_count",
    "self_signoff",
    "note_actor",
]

# 五落实 of a 重大隐患 (defined in the domain vocabulary).
FIVE_IMPLEMENTATIONS: dict[str, str] = domain.FIVE_IMPLEMENTATIONS

_ENTERPRISE_FIELDS = (
    "credit_code", "name", "address", "industry", "region_code", "lng", "lat", "legal_rep",
    "contact_phone", "complaint_phone", "supervising_dept", "grade_override", "grade_override_note",
)
_RISK_POINT_FIELDS = (
    "name", "location_desc", "accident_type", "grade", "method", "score", "method_params",
    "control_measures", "controls_implemented", "responsible_person", "assessed_on",
)
_HAZARD_EDITABLE = (
    "description", "level", "category", "criterion", "source", "found_on", "found_by", "deadline",
    "resp_person", "measures", "funds_wan", "emergency_plan", "supervision_doc_no",
    "verification_note", "rectification_note", "lng", "lat",
)
_HAZARD_RECORD = _HAZARD_EDITABLE + ("state", "rectified_on", "verified_on", "verifier")
# What a transition may fill in on the way (the verifier is the signing account, never typed).
_TRANSITION_FIELDS = tuple(FIVE_IMPLEMENTATIONS) + (
    "rectified_on", "rectification_note", "verified_on", "verification_note")


# --------------------------------------------------------------------------- audit


def _json_value(value: Any) -> Any:
    if isinstance(value, WKBElement):
        return to_shape(value).wkt
    if isinstance(value, str) and value.startswith("SRID="):
        return value.split(";", 1)[1]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def snapshot(obj: Base) -> dict[str, Any]:
    """The object's columns as a JSON-ready dict (geometry as WKT, dates ISO)."""
    return {c.key: _json_value(getattr(obj, c.key)) for c in obj.__mapper__.column_attrs}


# --------------------------------------------------------------------------- loading within the scope


def note_actor(session: Session, actor: Actor) -> None:
    """Name the actor for this transaction's database triggers (``grade_event.actor``)."""
    session.execute(sa.select(sa.func.set_config("geo.actor", actor.name[:100], True)))


def _require(actor: Actor, permission: str) -> None:
    if not actor.may(permission):
        raise Forbidden(detail=f"{actor.name} ({actor.role}) lacks {permission}")


def _load(session: Session, model: type[Base], obj_id: int, label: str, *, scope: Scope, write: bool) -> Any:
    """``model`` row ``obj_id`` whose enterprise lies in ``scope``.

    Raises :class:`NotFound` when absent or outside the scope, with the same
    message either way, for a read and a write (``write`` is kept for the
    callers' clarity): another jurisdiction's ids are not an oracle.
    """
    pk = model.__table__.c.id  # type: ignore[attr-defined]
    stmt = sa.select(model).where(pk == obj_id, enterprise_scope(scope))
    if model is not Enterprise:
        stmt = stmt.join(Enterprise, model.enterprise_id == Enterprise.id)  # type: ignore[attr-defined]
    obj = session.execute(stmt).scalar_one_or_none()
    if obj is None:
        raise NotFound(f"{label} {obj_id} 不存在")
    return obj


def load_enterprise(session: Session, enterprise_id: int, *, scope: Scope, write: bool = False) -> Enterprise:
    """The enterprise in the caller's scope (see :func:`_load` for the errors)."""
    return _load(session, Enterprise, enterprise_id, "企业", scope=scope, write=write)


def load_risk_point(session: Session, risk_point_id: int, *, scope: Scope, write: bool = False) -> RiskPoint:
    """The risk point whose enterprise is in the caller's scope."""
    return _load(session, RiskPoint, risk_point_id, "风险点", scope=scope, write=write)


def load_hazard(session: Session, hazard_id: int, *, scope: Scope, write: bool = False) -> Hazard:
    """The hazard whose enterprise is in the caller's scope."""
    return _load(session, Hazard, hazard_id, "隐患", scope=scope, write=write)


# --------------------------------------------------------------------------- helpers


def _check_keys(kind: str, raw: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in raw:
        if key not in allowed:
            raise InvalidParameter(key, f"不是可提交的{kind}字段（可提交：{', '.join(allowed)}）")


def _lnglat(geom: Any) -> tuple[float, float] | None:
    if geom is None:
        return None
    if isinstance(geom, str):
        from shapely import wkt

        point = wkt.loads(geom.split(";", 1)[-1])
    else:
        point = to_shape(geom)
    return point.x, point.y


def _raise_invalid(errors: list[FieldError]) -> None:
    if errors:
        raise RecordInvalid(errors)


_UNIQUE_MESSAGES = {
    "enterprise_credit_code_key": ("enterprises", "credit_code", "该统一社会信用代码已登记"),
    "uq_risk_point_enterprise_name": ("risk-points", "name", "该企业已有同名风险点"),
    "uq_hazard_natural": ("hazards", "description", "该企业同日已登记相同描述的隐患"),
}


@contextlib.contextmanager
def _unique_as_field_error() -> Iterator[None]:
    """A uniqueness clash inside the block becomes a field error (400); other integrity errors pass."""
    try:
        yield
    except IntegrityError as err:
        name = getattr(getattr(err.orig, "diag", None), "constraint_name", None)
        if name in _UNIQUE_MESSAGES:
            kind, field, reason = _UNIQUE_MESSAGES[name]
            raise RecordInvalid([FieldError(None, header_of(kind, field), reason)]) from err
        raise


def _flush(session: Session) -> None:
    """Flush inside a savepoint; a uniqueness clash becomes a field error (400)."""
    with _unique_as_field_error(), session.begin_nested():
        session.flush()


def _versioned_update(session: Session, model: type[Base], obj_id: int, expected_version: int,
                      values: Mapping[str, Any], *, touch: bool = True) -> None:
    """``UPDATE … SET values, version = version + 1 WHERE id AND version`` or VersionConflict."""
    table = model.__table__  # type: ignore[attr-defined]
    extra: dict[str, Any] = {"version": table.c.version + 1}
    if touch and "updated_at" in table.c:
        extra["updated_at"] = sa.func.now()
    with _unique_as_field_error(), session.begin_nested():
        result = session.execute(
            sa.update(table)
            .where(table.c.id == obj_id, table.c.version == expected_version)
            .values(**dict(values), **extra)
        )
    if result.rowcount != 1:
        raise VersionConflict(detail=f"{model.__name__} {obj_id}: version {expected_version} is stale")


def _check_version(obj: Any, expected_version: int) -> None:
    if obj.version != expected_version:
        raise VersionConflict(detail=f"{type(obj).__name__} {obj.id}: at {obj.version}, "
                                     f"client had {expected_version}")


def _changes(obj: Any, record: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The validated values that differ from the object's (``geom`` is taken as given)."""
    out: dict[str, Any] = {}
    for key in fields:
        if key == "geom" or record.get(key) != getattr(obj, key):
            out[key] = record.get(key)
    return out


def _in_scope_after_write(session: Session, enterprise_id: int, scope: Scope) -> None:
    ok = session.execute(
        sa.select(Enterprise.id).where(Enterprise.id == enterprise_id, enterprise_scope(scope))
    ).first()
    if ok is None:
        raise OutOfJurisdiction(detail=f"enterprise {enterprise_id} would lie outside {scope}")


# --------------------------------------------------------------------------- enterprises


def _enterprise_raw(ent: Enterprise) -> dict[str, Any]:
    lnglat = _lnglat(ent.geom)
    return {
        "credit_code": ent.credit_code, "name": ent.name, "address": ent.address,
        "industry": ent.industry_code, "region_code": ent.region_code,
        "lng": lnglat[0] if lnglat else None, "lat": lnglat[1] if lnglat else None,
        "legal_rep": ent.legal_rep, "contact_phone": ent.contact_phone,
        "complaint_phone": ent.complaint_phone, "supervising_dept": ent.supervising_dept,
        "grade_override": ent.grade_override, "grade_override_note": ent.grade_override_note,
    }


def create_enterprise(session: Session, raw: Mapping[str, Any], actor: Actor, *, scope: Scope,
                      datum: str = "wgs84") -> Enterprise:
    """Register a new enterprise (coordinates in ``datum``, stored WGS84).

    Without ``region_code`` the database assigns the deepest region covering
    the point; the result must lie in the caller's scope (else 403).
    """
    _require(actor, "edit_register")
    if scope.enterprise_id is not None:
        raise Forbidden("企业用户不能登记新企业")
    _check_keys("企业", raw, _ENTERPRISE_FIELDS)
    record, errors = validate_enterprise(raw, session, datum=datum)
    _raise_invalid(errors)
    ent = Enterprise(**record)
    session.add(ent)
    _flush(session)
    session.refresh(ent)
    _in_scope_after_write(session, ent.id, scope)
    audit(session, actor, "create", "enterprise", ent.id, None, snapshot(ent))
    return ent


def update_enterprise(session: Session, enterprise_id: int, raw: Mapping[str, Any], actor: Actor, *,
                      scope: Scope, expected_version: int, datum: str = "wgs84") -> Enterprise:
    """Change some fields of an enterprise (a PATCH: absent keys keep their value).

    Moving the point without giving ``region_code`` lets the database place the
    enterprise in its new region again.
    """
    _require(actor, "edit_register")
    _check_keys("企业", raw, _ENTERPRISE_FIELDS)
    ent = load_enterprise(session, enterprise_id, scope=scope, write=True)
    _check_version(ent, expected_version)
    before = snapshot(ent)
    merged = _enterprise_raw(ent)
    moved = "lng" in raw or "lat" in raw
    if moved:
        merged["region_code"] = None
    else:
        datum = "wgs84"  # the stored point is WGS84 already
    merged.update(raw)
    record, errors = validate_enterprise(merged, session, datum=datum)
    _raise_invalid(errors)
    fields = tuple(k for k in record if k != "geom") + (("geom",) if moved else ())
    changes = _changes(ent, record, fields)
    if moved and "region_code" not in raw:
        changes["region_code"] = None  # the trigger assigns it again
    note_actor(session, actor)
    _versioned_update(session, Enterprise, ent.id, expected_version, changes)
    session.refresh(ent)
    _in_scope_after_write(session, ent.id, scope)
    audit(session, actor, "update", "enterprise", ent.id, before, snapshot(ent))
    return ent


# --------------------------------------------------------------------------- risk points


def _risk_point_raw(rp: RiskPoint) -> dict[str, Any]:
    return {k: getattr(rp, k) for k in _RISK_POINT_FIELDS} | {"enterprise_id": rp.enterprise_id}


def create_risk_point(session: Session, enterprise_id: int, raw: Mapping[str, Any], actor: Actor, *,
                      scope: Scope) -> RiskPoint:
    """Add a risk point to an enterprise; the enterprise's grade follows (trigger)."""
    _require(actor, "edit_register")
    _check_keys("风险点", raw, _RISK_POINT_FIELDS)
    ent = load_enterprise(session, enterprise_id, scope=scope, write=True)
    record, errors = validate_risk_point({**raw, "enterprise_id": ent.id}, session)
    _raise_invalid(errors)
    note_actor(session, actor)
    rp = RiskPoint(**record)
    session.add(rp)
    _flush(session)
    session.refresh(rp)
    session.refresh(ent)
    audit(session, actor, "create", "risk_point", rp.id, None, snapshot(rp))
    return rp


def update_risk_point(session: Session, risk_point_id: int, raw: Mapping[str, Any], actor: Actor, *,
                      scope: Scope, expected_version: int) -> RiskPoint:
    """Change some fields of a risk point (a PATCH); the enterprise's grade follows."""
    _require(actor, "edit_register")
    _check_keys("风险点", raw, _RISK_POINT_FIELDS)
    rp = load_risk_point(session, risk_point_id, scope=scope, write=True)
    _check_version(rp, expected_version)
    before = snapshot(rp)
    record, errors = validate_risk_point({**_risk_point_raw(rp), **raw}, session)
    _raise_invalid(errors)
    changes = _changes(rp, record, tuple(k for k in record if k != "enterprise_id"))
    note_actor(session, actor)
    _versioned_update(session, RiskPoint, rp.id, expected_version, changes, touch=False)
    session.refresh(rp)
    session.refresh(rp.enterprise)
    audit(session, actor, "update", "risk_point", rp.id, before, snapshot(rp))
    return rp


# --------------------------------------------------------------------------- hazards


def _hazard_raw(hz: Hazard) -> dict[str, Any]:
    out = {k: getattr(hz, k) for k in _HAZARD_RECORD if k not in ("lng", "lat")}
    lnglat = _lnglat(hz.geom)
    out["lng"], out["lat"] = lnglat if lnglat else (None, None)
    out["enterprise_id"] = hz.enterprise_id
    return out


def _event(session: Session, hz: Hazard, actor: Actor, from_state: str | None, to_state: str,
           note: str | None) -> None:
    session.add(HazardEvent(hazard_id=hz.id, actor=actor.name, user_id=actor.user_id,
                            from_state=from_state, to_state=to_state, note=note))
    session.flush()


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def refuse_fields(actor: Actor, origin: str | None, fields: Any) -> None:
    """Raise :class:`Forbidden` (403) naming, in Chinese, each of ``fields`` the
    actor's role may not write on a hazard of ``origin`` (None: registering a
    new one); see :data:`domain.HAZARD_FIELD_RULES`."""
    refused = domain.refused_hazard_fields(actor.role, origin, fields)
    if refused:
        names = "、".join(domain.HAZARD_FIELD_LABELS.get(f, f) for f in refused)
        message = f"无权修改字段：{names}"
        raise Forbidden(message, detail=f"{message}: {actor.name} ({actor.role}) may not write "
                        f"{refused} on a hazard of origin {origin}", fields=refused)


def hazard_writable_fields(actor: Actor, origin: str | None) -> frozenset[str]:
    """The hazard fields ``actor`` may write on a hazard of ``origin`` (None: a new one),
    for forms that show only what the caller may change."""
    if origin is None:
        return domain.HAZARD_CREATE_FIELDS.get(actor.role, frozenset())
    return domain.HAZARD_FIELD_RULES.get(actor.role, {}).get(origin, frozenset())


def create_hazard(session: Session, enterprise_id: int, raw: Mapping[str, Any], actor: Actor, *,
                  scope: Scope, datum: str = "wgs84") -> Hazard:
    """Register a hazard (state 已登记) and its first event (None → registered).

    The hazard's origin is the actor's (:func:`domain.hazard_origin`).  An
    enterprise account registers only 企业自查 hazards (the default source
    for it) and gives only the fields of :data:`domain.HAZARD_CREATE_FIELDS`;
    anything else is refused (403) before anything is written.
    """
    _require(actor, "report_hazard")
    _check_keys("隐患", raw, _HAZARD_EDITABLE + ("state",))
    raw = dict(raw)
    sources = domain.HAZARD_CREATE_SOURCES.get(actor.role)
    if sources is not None and _blank(raw.get("source")):
        raw["source"] = sources[0]
    refuse_fields(actor, None, [k for k, v in raw.items() if k != "state" and not _blank(v)])
    ent = load_enterprise(session, enterprise_id, scope=scope, write=True)
    state = raw.get("state")
    if state not in (None, "", "registered", domain.HAZARD_STATES["registered"]):
        raise RecordInvalid([FieldError(None, header_of("hazards", "state"),
                                        "新登记的隐患状态只能为“已登记”，之后按整改流程变更")])
    record, errors = validate_hazard({**raw, "state": "registered", "enterprise_id": ent.id}, session,
                                     datum=datum)
    _raise_invalid(errors)
    if sources is not None and record["source"] not in sources:
        raise Forbidden("企业用户只能登记企业自查发现的隐患", fields=["source"])
    hz = Hazard(**record, origin=domain.hazard_origin(actor.role), created_by_id=actor.user_id)
    session.add(hz)
    _flush(session)
    session.refresh(hz)
    _event(session, hz, actor, None, "registered", "登记")
    audit(session, actor, "create", "hazard", hz.id, None, snapshot(hz))
    return hz


def update_hazard(session: Session, hazard_id: int, raw: Mapping[str, Any], actor: Actor, *,
                  scope: Scope, expected_version: int, datum: str = "wgs84") -> Hazard:
    """Change a hazard's description, level, 五落实… (a PATCH); never its state.

    A field the actor's role may not write on a hazard of this origin
    (:data:`domain.HAZARD_FIELD_RULES`) is refused (403, the field named)
    with nothing written.  State, rectification and sign-off fields change
    through :func:`transition_hazard`.
    """
    _require(actor, "report_hazard")
    if "state" in raw:
        raise InvalidParameter("state", "状态须通过整改流程（transition）变更")
    _check_keys("隐患", raw, _HAZARD_EDITABLE)
    hz = load_hazard(session, hazard_id, scope=scope, write=True)
    refuse_fields(actor, hz.origin, raw)
    _check_version(hz, expected_version)
    before = snapshot(hz)
    merged = _hazard_raw(hz)
    moved = "lng" in raw or "lat" in raw
    if not moved:
        datum = "wgs84"
    merged.update(raw)
    record, errors = validate_hazard(merged, session, datum=datum)
    _raise_invalid(errors)
    fields = tuple(k for k in record if k not in ("geom", "enterprise_id", "state")) + (
        ("geom",) if moved else ())
    changes = _changes(hz, record, fields)
    _versioned_update(session, Hazard, hz.id, expected_version, changes)
    session.refresh(hz)
    audit(session, actor, "update", "hazard", hz.id, before, snapshot(hz))
    return hz


def _parse_state(value: str) -> str:
    v = (value or "").strip()
    if v in domain.HAZARD_STATES:
        return v
    for key, name in domain.HAZARD_STATES.items():
        if v == name:
            return key
    raise InvalidParameter("to_state", f"未知状态 {value!r}，可选：{', '.join(domain.HAZARD_STATES)}")


def signoff_requirements(level: str, *, evidence_for_general: bool = False) -> bool:
    """Whether signing off a hazard of ``level`` needs 整改后 evidence and a 验收意见
    (always for 重大隐患; for 一般隐患 when the setting asks for it)."""
    return level == "major" or evidence_for_general


def evidence_count(session: Session, hazard_id: int, kind: str = domain.SIGNOFF_EVIDENCE_KIND) -> int:
    """How many evidence files of ``kind`` the hazard has."""
    return session.execute(
        sa.select(sa.func.count()).select_from(HazardEvidence)
        .where(HazardEvidence.hazard_id == hazard_id, HazardEvidence.kind == kind)
    ).scalar_one()


def self_signoff(actor: Actor, rectified_by_id: int | None) -> bool:
    """Whether ``actor`` would sign off a rectification its own account recorded."""
    return actor.user_id is not None and actor.user_id == rectified_by_id


def _event_note(source: str, target: str, note: str | None, record: Mapping[str, Any]) -> str:
    """The timeline's text for a step: the user's note, and what the step recorded."""
    parts = [note or domain.TRANSITIONS[(source, target)]]
    if target == "rectified" and record.get("rectification_note"):
        parts.append(f"整改情况：{record['rectification_note']}")
    if target == "closed" and record.get("verification_note"):
        parts.append(f"复查情况：{record['verification_note']}")
    return "；".join(parts)


def transition_hazard(session: Session, hazard_id: int, to_state: str, actor: Actor, *, scope: Scope,
                      expected_version: int, note: str | None = None,
                      fields: Mapping[str, Any] | None = None,
                      evidence_for_general: bool = False) -> Hazard:
    """Move a hazard one step along its lifecycle and record the event.

    Only :data:`domain.TRANSITIONS` are legal (409 :class:`IllegalTransition`
    with the Chinese reason otherwise).  ``fields`` may fill in what the step
    needs, within the actor's field rules (403 otherwise): the 五落实 (a
    重大隐患 cannot leave 已登记 without all five), ``rectified_on`` (default
    today) and ``rectification_note`` on 整改完成, ``verified_on`` and the
    ``verification_note`` (验收意见) on 验收销号.

    Separation of duties: 整改完成 records its account (``rectified_by_id``);
    验收销号 records the signing account as the verifier (``verifier_id``,
    its name in ``verifier``) and is refused (403 :class:`Forbidden`) when
    that is the account that recorded 整改完成.  A 重大隐患 — and a
    一般隐患 when ``evidence_for_general`` (the ``SIGNOFF_EVIDENCE_GENERAL``
    setting) — needs at least one 整改后 evidence file and a 验收意见
    (409 otherwise).  Sending a rectified hazard back (验收不通过) needs a
    ``note`` and clears ``rectified_on``.
    """
    fields = dict(fields or {})
    target = _parse_state(to_state)
    if "verifier" in fields:
        raise InvalidParameter("verifier", "验收人即办理验收销号的当前账号，不能填写")
    _check_keys("整改流程", fields, _TRANSITION_FIELDS)
    hz = load_hazard(session, hazard_id, scope=scope, write=True)
    source = hz.state
    names = domain.HAZARD_STATES
    if (source, target) not in domain.TRANSITIONS:
        allowed = [names[b] for (a, b) in domain.TRANSITIONS if a == source]
        hint = f"当前状态“{names[source]}”只能变更为：{'、'.join(allowed)}" if allowed else f"“{names[source]}”是最终状态"
        raise IllegalTransition(f"不能从“{names[source]}”变更为“{names[target]}”。{hint}")
    _require(actor, domain.TRANSITION_PERMISSION[(source, target)])
    refuse_fields(actor, hz.origin, fields)
    _check_version(hz, expected_version)
    if target == "closed" and self_signoff(actor, hz.rectified_by_id):
        raise Forbidden("不能验收销号本人记录整改完成的隐患，须由其他账号验收（职责分离）")
    before = snapshot(hz)
    merged = _hazard_raw(hz)
    merged.update(fields)
    merged["state"] = target
    today = dt.date.today()
    extra: dict[str, Any] = {}

    if source == "registered" and hz.level == "major":
        missing = [label for key, label in FIVE_IMPLEMENTATIONS.items() if _blank(merged.get(key))]
        if missing:
            raise IllegalTransition("重大隐患须先落实“五落实”（责任、措施、资金、时限、预案）方可进入整改，"
                                    "尚缺：" + "、".join(missing))
    if target == "rectified":
        if _blank(merged.get("rectified_on")):
            merged["rectified_on"] = today
        extra["rectified_by_id"] = actor.user_id
    if target == "closed":
        if _blank(merged.get("verified_on")):
            raise IllegalTransition("验收销号须填写验收日期")
        merged["verifier"] = actor.name
        extra["verifier_id"] = actor.user_id
        if signoff_requirements(hz.level, evidence_for_general=evidence_for_general):
            level_name = domain.HAZARD_LEVELS[hz.level]
            missing = []
            if evidence_count(session, hz.id) == 0:
                missing.append("整改后佐证材料（至少一份）")
            if _blank(merged.get("verification_note")):
                missing.append("验收意见（复查情况）")
            if missing:
                raise IllegalTransition(f"{level_name}验收销号须有整改后佐证材料和验收意见，尚缺："
                                        + "、".join(missing))
    if (source, target) == ("rectified", "rectifying"):
        if _blank(note):
            raise IllegalTransition("退回整改须说明验收不通过的原因（note）")
        merged["rectified_on"] = None
        merged["verified_on"] = None
        merged["verification_note"] = note
        extra["rectified_by_id"] = None
    record, errors = validate_hazard(merged, session)
    _raise_invalid(errors)
    changes = _changes(hz, record, tuple(k for k in record if k not in ("geom", "enterprise_id")))
    _versioned_update(session, Hazard, hz.id, expected_version, {**changes, **extra})
    session.refresh(hz)
    _event(session, hz, actor, source, target, _event_note(source, target, note, record))
    audit(session, actor, "transition", "hazard", hz.id, before, snapshot(hz))
    return hz

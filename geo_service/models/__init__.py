"""SQLAlchemy 2 declarative models of the register.

Geometries are EPSG:4326 (WGS84; CGCS2000 input is accepted as equal).  The
schema itself is owned by the Alembic migrations in ``migrations/``; these
classes mirror it.  Constraints that encode the domain (grades, states,
levels) are CHECKs built from :mod:`geo_service.domain`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    FetchedValue,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .. import domain

__all__ = [
    "Base",
    "Industry",
    "Region",
    "Enterprise",
    "RiskPoint",
    "RiskZone",
    "EnterpriseLayout",
    "Hazard",
    "HazardEvent",
    "HazardEvidence",
    "User",
    "ApiToken",
    "AuditLog",
    "MapExport",
    "ReturnArchive",
    "BackgroundJob",
    "LoginAttempt",
    "SRID",
    "RiskObject",
    "RiskEvent",
    "ControlMeasure",
    "InspectionTask",
    "InspectionRecord",
    "TaskTally",
    "GradeEvent",
    "MajorAction",
]

SRID = 4326


def in_check(column: str, values: Any) -> str:
    """SQL ``column IN (...)`` text for a CHECK constraint over fixed keys."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    pass


class Industry(Base):
    """行业领域; ``stat_group`` is the form-000 split (coal/mine/hazchem/other)."""

    __tablename__ = "industry"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("industry.code"))
    stat_group: Mapped[str] = mapped_column(String(16))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (CheckConstraint(in_check("stat_group", domain.STAT_GROUPS), name="ck_industry_stat_group"),)


class Region(Base):
    """An administrative region (GB/T 2260 code; 9–12 digits for townships)."""

    __tablename__ = "region"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    level: Mapped[str] = mapped_column(String(12))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"), index=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    __table_args__ = (
        CheckConstraint(in_check("level", domain.REGION_LEVELS), name="ck_region_level"),
        CheckConstraint("code ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'", name="ck_region_code"),
    )


class Enterprise(Base):
    """A supervised enterprise (生产经营单位)."""

    __tablename__ = "enterprise"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    industry_code: Mapped[str] = mapped_column(ForeignKey("industry.code"), index=True)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    legal_rep: Mapped[str | None] = mapped_column(String(60))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    complaint_phone: Mapped[str | None] = mapped_column(String(40))
    supervising_dept: Mapped[str | None] = mapped_column(String(100))
    # Highest grade of the risk points, maintained by a trigger (NULL: none).
    grade_auto: Mapped[int | None] = mapped_column(SmallInteger)
    # A regulator's explicit grade (e.g. the hazchem 100-point diagnosis).
    grade_override: Mapped[int | None] = mapped_column(SmallInteger)
    grade_override_note: Mapped[str | None] = mapped_column(Text)
    grade: Mapped[int | None] = mapped_column(
        SmallInteger, Computed("COALESCE(grade_override, grade_auto)", persisted=True)
    )
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    risk_points: Mapped[list[RiskPoint]] = relationship(back_populates="enterprise")
    hazards: Mapped[list[Hazard]] = relationship(back_populates="enterprise")
    __table_args__ = (
        CheckConstraint("grade_auto BETWEEN 1 AND 4", name="ck_enterprise_grade_auto"),
        CheckConstraint("grade_override BETWEEN 1 AND 4", name="ck_enterprise_grade_override"),
        CheckConstraint("credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name="ck_enterprise_credit_code"),
    )


class RiskPoint(Base):
    """A 风险点 of an enterprise with its assessed grade."""

    __tablename__ = "risk_point"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    location_desc: Mapped[str | None] = mapped_column(String(200))  # 部位/区域
    accident_type: Mapped[str | None] = mapped_column(String(100))  # 可能导致的事故类型
    grade: Mapped[int] = mapped_column(SmallInteger)
    method: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    method_params: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    control_measures: Mapped[str | None] = mapped_column(Text)
    controls_implemented: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    responsible_person: Mapped[str | None] = mapped_column(String(60))
    assessed_on: Mapped[dt.date | None] = mapped_column(Date)
    # The risk zone it lies in (migration 0010: a zone of the same enterprise).
    zone_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # the 风险分析对象 this unit belongs to (migration 0011)
    object_id: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    enterprise: Mapped[Enterprise] = relationship(back_populates="risk_points")
    __table_args__ = (
        CheckConstraint("grade BETWEEN 1 AND 4", name="ck_risk_point_grade"),
        CheckConstraint(in_check("method", domain.RISK_METHODS), name="ck_risk_point_method"),
        UniqueConstraint("enterprise_id", "name", name="uq_risk_point_enterprise_name"),
    )


class RiskZone(Base):
    """A 风险区域 of the enterprise's own 四色图: a polygon on the plant with its grade.

    ``grade_auto`` is the highest grade among the zone's risk points (kept by
    the trigger ``risk_point_zone_grade``); ``grade_override`` an explicit one.
    """

    __tablename__ = "risk_zone"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    floor: Mapped[str | None] = mapped_column(String(40))  # 楼层/标高
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False))
    grade_auto: Mapped[int | None] = mapped_column(SmallInteger)
    grade_override: Mapped[int | None] = mapped_column(SmallInteger)
    grade: Mapped[int | None] = mapped_column(
        SmallInteger, Computed("COALESCE(grade_override, grade_auto)", persisted=True)
    )
    grade_inherent: Mapped[int | None] = mapped_column(SmallInteger)  # 固有风险等级
    grade_residual: Mapped[int | None] = mapped_column(SmallInteger)  # 管控后（剩余）风险等级
    accident_types: Mapped[str | None] = mapped_column(String(200))
    control_measures: Mapped[str | None] = mapped_column(Text)
    emergency_measures: Mapped[str | None] = mapped_column(Text)  # 应急处置
    responsible_person: Mapped[str | None] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (UniqueConstraint("enterprise_id", "name", name="uq_risk_zone_enterprise_name"),)


class EnterpriseLayout(Base):
    """The plant layout image (厂区平面图) of an enterprise and its georeference."""

    __tablename__ = "enterprise_layout"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    source_type: Mapped[str] = mapped_column(String(100))  # what was uploaded (PNG, JPEG or PDF)
    content_type: Mapped[str] = mapped_column(String(100))  # what is stored (PNG or JPEG)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_path: Mapped[str] = mapped_column(String(500))
    width_px: Mapped[int] = mapped_column(Integer)
    height_px: Mapped[int] = mapped_column(Integer)
    georef_method: Mapped[str] = mapped_column(String(12))  # points3 | corners4
    control_points: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    footprint: Mapped[WKBElement] = mapped_column(Geometry("POLYGON", srid=SRID, spatial_index=False))
    uploaded_by: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Hazard(Base):
    """An accident hazard (事故隐患) and its rectification."""

    __tablename__ = "hazard"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(8))
    category: Mapped[str | None] = mapped_column(String(60))  # 隐患类型
    criterion: Mapped[str | None] = mapped_column(String(16))  # 重大隐患判定标准 (domain.MAJOR_CRITERIA)
    source: Mapped[str] = mapped_column(String(12))
    found_on: Mapped[dt.date] = mapped_column(Date)
    found_by: Mapped[str | None] = mapped_column(String(100))  # 检查人员
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(12), default="registered", server_default="registered")
    # 五落实 of a 重大隐患 (时限 is ``deadline``).
    resp_person: Mapped[str | None] = mapped_column(String(60))
    measures: Mapped[str | None] = mapped_column(Text)
    funds_wan: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    emergency_plan: Mapped[str | None] = mapped_column(Text)
    supervision_doc_no: Mapped[str | None] = mapped_column(String(100))  # 挂牌督办文号
    rectified_on: Mapped[dt.date | None] = mapped_column(Date)
    verified_on: Mapped[dt.date | None] = mapped_column(Date)
    verifier: Mapped[str | None] = mapped_column(String(100))
    verification_note: Mapped[str | None] = mapped_column(Text)  # 复查情况（验收意见）
    # Who registered it (domain.HAZARD_ORIGINS); the field rules read it.
    origin: Mapped[str] = mapped_column(String(12), default="regulator", server_default="regulator")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    rectification_note: Mapped[str | None] = mapped_column(Text)  # 整改情况说明
    # The account that recorded 整改完成, and the one that signed off (``verifier``
    # keeps the name: free text on old rows and imports, the account's name since).
    rectified_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    verifier_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    geom: Mapped[WKBElement | None] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    # Kept by triggers (migration 0015), never written by the application: where the
    # hazard is drawn (its own point, else its enterprise's) and its enterprise's region.
    loc: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False), server_default=FetchedValue(),
        server_onupdate=FetchedValue())
    ent_region: Mapped[str | None] = mapped_column(String(12), server_default=FetchedValue(),
                                                   server_onupdate=FetchedValue())
    # the 异常 排查记录 that opened it (migration 0011; the record's key is (id, recorded_at))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    record_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    enterprise: Mapped[Enterprise] = relationship(back_populates="hazards")
    events: Mapped[list[HazardEvent]] = relationship(order_by="HazardEvent.id")
    __table_args__ = (
        CheckConstraint(in_check("level", domain.HAZARD_LEVELS), name="ck_hazard_level"),
        CheckConstraint(in_check("state", domain.HAZARD_STATES), name="ck_hazard_state"),
        CheckConstraint(in_check("source", domain.HAZARD_SOURCES), name="ck_hazard_source"),
        CheckConstraint(in_check("criterion", domain.MAJOR_CRITERIA), name="ck_hazard_criterion"),
        CheckConstraint(in_check("origin", domain.HAZARD_ORIGINS), name="ck_hazard_origin"),
        CheckConstraint("verifier_id IS NULL OR rectified_by_id IS NULL OR verifier_id <> rectified_by_id",
                        name="ck_hazard_verifier_not_rectifier"),
        CheckConstraint("funds_wan >= 0", name="ck_hazard_funds"),
        CheckConstraint(
            "source <> 'supervised' OR supervision_doc_no IS NOT NULL", name="ck_hazard_supervised_doc"
        ),
        CheckConstraint(
            "state <> 'closed' OR (verifier IS NOT NULL AND verified_on IS NOT NULL)",
            name="ck_hazard_closed_verified",
        ),
        CheckConstraint(
            "level <> 'major' OR state = 'registered' OR (resp_person IS NOT NULL AND measures IS NOT NULL"
            " AND funds_wan IS NOT NULL AND deadline IS NOT NULL AND emergency_plan IS NOT NULL)",
            name="ck_hazard_major_five",
        ),
        UniqueConstraint("enterprise_id", "found_on", "description", name="uq_hazard_natural"),
    )


class HazardEvent(Base):
    """Append-only record of a hazard's state changes (a trigger forbids UPDATE/DELETE)."""

    __tablename__ = "hazard_event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazard.id", ondelete="RESTRICT"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)


class HazardEvidence(Base):
    """A photo or document on a hazard, stored outside the database."""

    __tablename__ = "hazard_evidence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazard.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # before/after/plan/acceptance/other
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_path: Mapped[str] = mapped_column(String(500))
    uploaded_by: Mapped[str | None] = mapped_column(String(100))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint(in_check("kind", ("before", "after", "plan", "acceptance", "other")), name="ck_evidence_kind"),
    )


class User(Base):
    """An account with a role and a jurisdiction."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(12))  # admin/regulator/enterprise/readonly
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"))
    unit: Mapped[str | None] = mapped_column(String(100))  # 填报单位 of its returns
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Raised to end every earlier session of the account (logout, new password, disable/enable).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    __table_args__ = (
        CheckConstraint(in_check("role", ("admin", "regulator", "enterprise", "readonly")), name="ck_user_role"),
        CheckConstraint(
            "(role = 'admin') OR (role IN ('regulator', 'readonly') AND region_code IS NOT NULL)"
            " OR (role = 'enterprise' AND enterprise_id IS NOT NULL)",
            name="ck_user_jurisdiction",
        ),
    )


class ApiToken(Base):
    """A revocable API token for scripts (only its hash is stored)."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditLog(Base):
    """Append-only record of every write: who, when, what, before and after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(60))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class MapExport(Base):
    """Every produced risk/hazard map (form 000 item 14 counts these)."""

    __tablename__ = "map_export"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"), index=True)
    period: Mapped[dt.date] = mapped_column(Date)  # first day of the month
    kind: Mapped[str] = mapped_column(String(12))  # risk/hazard
    fmt: Mapped[str] = mapped_column(String(8))  # png/pdf
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint("region_code IS NOT NULL OR enterprise_id IS NOT NULL", name="ck_map_export_subject"),
        CheckConstraint(in_check("kind", ("risk", "hazard")), name="ck_map_export_kind"),
    )


class ReturnArchive(Base):
    """A submitted (frozen) monthly return: numbers, workbook and maps."""

    __tablename__ = "return_archive"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    period: Mapped[dt.date] = mapped_column(Date)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    submitted_by: Mapped[str] = mapped_column(String(100))
    data_as_of: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    numbers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    bundle_zip: Mapped[bytes] = mapped_column(LargeBinary)
    bundle_sha256: Mapped[str] = mapped_column(String(64))


class BackgroundJob(Base):
    """A long job a user waits for (a return's ZIP, an import): its progress and outcome.

    The queue itself is procrastinate's (``queue_job_id``); this row is what
    any web worker reads to answer the progress poll and serve the result."""

    __tablename__ = "background_job"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    queue_job_id: Mapped[int | None] = mapped_column(BigInteger)
    region_code: Mapped[str | None] = mapped_column(Text)
    month: Mapped[str | None] = mapped_column(Text)
    scope_region: Mapped[str | None] = mapped_column(Text)
    scope_enterprise: Mapped[int | None] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    upload: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    state: Mapped[str] = mapped_column(Text, default="running")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=1)
    message: Mapped[str] = mapped_column(Text, default="排队中")
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    filename: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    archive_id: Mapped[int | None] = mapped_column(ForeignKey("return_archive.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    """One login attempt, for throttling password guessing."""

    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    username: Mapped[str] = mapped_column(String(60))
    ip: Mapped[str | None] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)


# --------------------------------------------------------------------------- 双重预防 (migration 0011)
# The chain carries ``enterprise_id`` on every level (composite foreign keys keep
# it equal to the parent's), so every query scopes with one join to enterprise.


class RiskObject(Base):
    """A 风险分析对象: a 重大危险源, a device or a site holding risk points (units)."""

    __tablename__ = "risk_object"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RiskEvent(Base):
    """A 风险事件 of a unit: the accident type and its consequence, graded."""

    __tablename__ = "risk_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(Integer)
    risk_point_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    accident_type: Mapped[str] = mapped_column(String(100))
    consequence: Mapped[str | None] = mapped_column(Text)
    grade: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ControlMeasure(Base):
    """A 管控措施 of an event (type :data:`domain.MEASURE_KINDS`, owner level :data:`domain.MEASURE_LEVELS`)."""

    __tablename__ = "control_measure"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InspectionTask(Base):
    """A 隐患排查任务 on a measure: one record owed per cycle window."""

    __tablename__ = "inspection_task"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(Integer)
    measure_id: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    cycle_n: Mapped[int] = mapped_column(Integer)
    cycle_unit: Mapped[str] = mapped_column(String(8))
    resp_post: Mapped[str | None] = mapped_column(String(60))
    resp_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    starts_on: Mapped[dt.date] = mapped_column(Date, server_default=FetchedValue())  # default: today (CST)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    last_record_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InspectionRecord(Base):
    """An 排查记录 (append-only; partitioned by month of ``recorded_at``)."""

    __tablename__ = "inspection_record"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True,
                                                     server_default=func.now())
    task_id: Mapped[int] = mapped_column(ForeignKey("inspection_task.id"))
    enterprise_id: Mapped[int] = mapped_column(Integer)  # filled from the task by a trigger
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    person: Mapped[str] = mapped_column(String(100))
    result: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)
    photo_sha256: Mapped[str | None] = mapped_column(String(64))
    photo_type: Mapped[str | None] = mapped_column(String(100))
    photo_name: Mapped[str | None] = mapped_column(String(255))
    geom: Mapped[WKBElement | None] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))


class TaskTally(Base):
    """Per enterprise and month (the month a cycle window ends in): windows done, 异常 records."""

    __tablename__ = "task_tally"
    enterprise_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12))  # the enterprise's ('' when none), kept by a trigger
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    done: Mapped[int] = mapped_column(Integer)
    abnormal: Mapped[int] = mapped_column(Integer)


class GradeEvent(Base):
    """One grade change (risk point, enterprise computed / override / effective, risk zone), written by triggers."""

    __tablename__ = "grade_event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    enterprise_id: Mapped[int] = mapped_column(Integer)
    risk_point_id: Mapped[int | None] = mapped_column(Integer)
    zone_id: Mapped[int | None] = mapped_column(Integer)  # kind "zone" (migration 0017)
    kind: Mapped[str] = mapped_column(String(20))
    from_grade: Mapped[int | None] = mapped_column(SmallInteger)
    to_grade: Mapped[int | None] = mapped_column(SmallInteger)
    actor: Mapped[str] = mapped_column(String(100))


class MajorAction(Base):
    """An 一单四制 step on a 重大隐患 (交办, 挂牌督办, 延期申请, 摘牌); append-only."""

    __tablename__ = "major_action"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazard.id"))
    kind: Mapped[str] = mapped_column(String(12))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    assignee: Mapped[str | None] = mapped_column(String(100))
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    doc_no: Mapped[str | None] = mapped_column(String(100))
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    published_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)

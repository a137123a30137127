"""Validation of register records: one place for the import files and the write API.

A raw record is a mapping keyed by English field names (``credit_code``,
``lng`` …); the import files use the Chinese headers of :data:`COLUMNS`, which
the importers map to these names.  Each ``validate_*`` returns the record
ready to insert (keyed by model column names, the point as
``'SRID=4326;POINT(lng lat)'`` after datum conversion to WGS84) and the list
of :class:`FieldError`; it never raises for bad data and never writes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import domain, geo
from ..errors import GeoServiceError
from ..models import Enterprise, Hazard, RiskPoint
from ..queries import regions_lookup

__all__ = [
    "FieldError",
    "RecordInvalid",
    "Column",
    "COLUMNS",
    "ENTERPRISE_COLUMNS",
    "RISK_POINT_COLUMNS",
    "HAZARD_COLUMNS",
    "header_of",
    "field_of_header",
    "natural_key",
    "validate_enterprise",
    "validate_risk_point",
    "validate_hazard",
    "default_criterion",
    "parse_date",
]


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of one record.

    ``row`` is the 1-based row of the file (the header is row 1, the first
    data row is 2; in a GeoJSON file the n-th feature is row n), None for
    API input.  ``column`` is the Chinese column header.
    """

    row: int | None
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"第{self.row}行 " if self.row is not None else ""
        return f"{where}{self.column}：{self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


class RecordInvalid(GeoServiceError):
    """A record failed validation; ``errors`` says where and why (400)."""

    http_status = 400
    code = "invalid_record"
    user_msg = "提交的数据有误"

    def __init__(self, errors: Sequence[FieldError]):
        self.errors: list[FieldError] = list(errors)
        summary = "；".join(str(e) for e in self.errors[:5])
        if len(self.errors) > 5:
            summary += f"；等共{len(self.errors)}处"
        super().__init__(f"提交的数据有误：{summary}")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "errors": [e.as_dict() for e in self.errors]}


@dataclass(frozen=True)
class Column:
    """One column of an import file / template: field name ↔ Chinese header."""

    field: str
    header: str
    required: bool = False
    note: str = ""


def _values(d: Mapping[str, str]) -> str:
    return "、".join(d.values())


_INDUSTRY_NOTE = "、".join(
    (f"{i.parent and domain.INDUSTRY_BY_CODE[i.parent].name + '/'}{i.name}" if i.parent else i.name)
    for i in domain.INDUSTRIES
)
_GRADE_NOTE = "、".join(f"{g.colour_name}（{g.name}）" for g in domain.GRADES)
_DATE_NOTE = "日期，如 2026-03-15"

ENTERPRISE_COLUMNS: tuple[Column, ...] = (
    Column("credit_code", "统一社会信用代码", True, "18位，GB 32100-2015，含校验位"),
    Column("name", "企业名称", True),
    Column("address", "地址"),
    Column("industry", "行业领域", True, _INDUSTRY_NOTE),
    Column("region_code", "行政区划代码", False, "6位或9/12位区划代码；留空则按坐标自动落区"),
    Column("lng", "经度", True, "十进制度；坐标系由导入命令的 --crs 指定（默认 WGS84）"),
    Column("lat", "纬度", True, "十进制度"),
    Column("legal_rep", "法定代表人"),
    Column("contact_phone", "联系电话"),
    Column("complaint_phone", "举报投诉电话"),
    Column("supervising_dept", "监管部门"),
    Column("grade_override", "监管认定风险等级", False, "留空则取风险点最高等级；" + _GRADE_NOTE),
    Column("grade_override_note", "认定说明"),
)

RISK_POINT_COLUMNS: tuple[Column, ...] = (
    Column("enterprise_credit_code", "企业统一社会信用代码", True, "须为已登记企业"),
    Column("name", "风险点名称", True, "同一企业内不重复"),
    Column("location_desc", "所在部位"),
    Column("accident_type", "可能导致的事故类型"),
    Column("grade", "风险等级", True, _GRADE_NOTE + "；填写评估方法与风险值时可留空自动判定"),
    Column("method", "评估方法", False, "LEC、LS、HAZCHEM100、OTHER（或其中文名）"),
    Column("score", "风险值", False, "LEC 为 D=L×E×C，LS 为 R=L×S"),
    Column("method_params", "评估参数", False, 'JSON，如 {"L": 3, "E": 6, "C": 15}'),
    Column("control_measures", "管控措施"),
    Column("controls_implemented", "管控措施是否落实", False, "是/否"),
    Column("responsible_person", "管控责任人"),
    Column("assessed_on", "评估日期", False, _DATE_NOTE),
)

HAZARD_COLUMNS: tuple[Column, ...] = (
    Column("enterprise_credit_code", "企业统一社会信用代码", True, "须为已登记企业"),
    Column("description", "隐患描述", True),
    Column("level", "隐患级别", True, "一般、重大"),
    Column("category", "隐患类别"),
    Column("criterion", "重大隐患判定标准", False, "留空按企业行业确定；" + _values(domain.MAJOR_CRITERIA)),
    Column("source", "隐患来源", True, _values(domain.HAZARD_SOURCES)),
    Column("found_on", "发现日期", True, _DATE_NOTE),
    Column("found_by", "检查人员"),
    Column("deadline", "整改期限", False, _DATE_NOTE + "；重大隐患进入整改后必填（五落实之时限）"),
    Column("state", "整改状态", False, "留空为已登记；" + _values(domain.HAZARD_STATES)),
    Column("resp_person", "整改责任人", False, "重大隐患五落实之责任"),
    Column("measures", "整改措施", False, "重大隐患五落实之措施"),
    Column("funds_wan", "整改资金（万元）", False, "≥0；重大隐患五落实之资金"),
    Column("emergency_plan", "应急预案", False, "重大隐患五落实之预案"),
    Column("supervision_doc_no", "挂牌督办文号", False, "来源为挂牌督办时必填"),
    Column("rectified_on", "整改完成日期", False, "状态为已整改待验收、已验收销号时必填"),
    Column("rectification_note", "整改情况说明"),
    Column("verified_on", "验收日期", False, "状态为已验收销号时必填"),
    Column("verifier", "验收人", False, "状态为已验收销号时必填"),
    Column("verification_note", "复查情况"),
    Column("lng", "经度", False, "隐患自身位置（可选，留空取企业位置）"),
    Column("lat", "纬度", False),
)

#: kind → its columns; the kinds are the import command's arguments.
COLUMNS: dict[str, tuple[Column, ...]] = {
    "enterprises": ENTERPRISE_COLUMNS,
    "risk-points": RISK_POINT_COLUMNS,
    "hazards": HAZARD_COLUMNS,
}

_HEADERS: dict[str, dict[str, str]] = {k: {c.field: c.header for c in cols} for k, cols in COLUMNS.items()}
_FIELDS: dict[str, dict[str, str]] = {k: {c.header: c.field for c in cols} for k, cols in COLUMNS.items()}
# API input may name the enterprise by id instead of credit code.
for _kind in ("risk-points", "hazards"):
    _HEADERS[_kind]["enterprise_id"] = "企业"


def header_of(kind: str, field: str) -> str:
    """The Chinese header of ``field`` in ``kind`` (the field name if it has none)."""
    return _HEADERS[kind].get(field, field)


def field_of_header(kind: str, header: str) -> str | None:
    """The field a file header names: its Chinese header or the English field name."""
    h = str(header).strip().lstrip("\ufeff").strip()
    h = h.rstrip("*").strip()  # templates may mark required columns with *
    if h in _FIELDS[kind]:
        return _FIELDS[kind][h]
    if h in _HEADERS[kind]:
        return h
    return None


def natural_key(kind: str, record: Mapping[str, Any]) -> tuple[Any, ...]:
    """The key a validated record is unique by (the upsert key of the import).

    >>> natural_key("enterprises", {"credit_code": "91350100M000100Y43"})
    ('91350100M000100Y43',)
    """
    from .. import registry  # the collection declares its key once

    return tuple(record[c] for c in registry.get(kind).import_key)


# --------------------------------------------------------------------------- parsing


def _blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if isinstance(v, str) and not v.strip():
        return True
    return type(v).__name__ in ("NaTType", "NAType")


def _text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")


def parse_date(v: Any) -> dt.date:
    """A date from a cell: a date/datetime, or text like 2026-03-15, 2026/3/15, 2026年3月15日.

    >>> parse_date("2026/3/5"), parse_date("2026年03月15日"), parse_date("2026-03-15 00:00:00")
    (datetime.date(2026, 3, 5), datetime.date(2026, 3, 15), datetime.date(2026, 3, 15))
    """
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    t = _text(v)
    t = re.split(r"[ T]", t, maxsplit=1)[0]
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(t, fmt).date()
        except ValueError:
            continue
    raise ValueError(t)


_TRUE = {"是", "已落实", "落实", "true", "yes", "y", "1", "√", "t"}
_FALSE = {"否", "未落实", "false", "no", "n", "0", "×", "f"}


class _Checker:
    """Collects errors for one record; each ``get_*`` returns None when bad or blank."""

    def __init__(self, kind: str, raw: Mapping[str, Any], row: int | None, model: Any):
        self.kind = kind
        self.raw = raw
        self.row = row
        self.model = model
        self.errors: list[FieldError] = []

    def error(self, field: str, reason: str) -> None:
        self.errors.append(FieldError(self.row, header_of(self.kind, field), reason))

    def present(self, field: str) -> bool:
        return not _blank(self.raw.get(field))

    def text(self, field: str, *, required: bool = False, column: str | None = None) -> str | None:
        v = self.raw.get(field)
        if _blank(v):
            if required:
                self.error(field, "必填项为空")
            return None
        t = _text(v)
        length = getattr(self.model.__table__.c[column or field].type, "length", None)
        if length is not None and len(t) > length:
            self.error(field, f"过长（最多{length}个字符，实为{len(t)}个）")
            return None
        return t

    def choice(self, field: str, parse: Any, allowed: str, *, required: bool = False) -> Any:
        v = self.raw.get(field)
        if _blank(v):
            if required:
                self.error(field, "必填项为空")
            return None
        value = parse(v)
        if value is None:
            self.error(field, f"无法识别“{_text(v)}”（可选：{allowed}）")
        return value

    def date(self, field: str, *, required: bool = False, today: dt.date | None = None) -> dt.date | None:
        v = self.raw.get(field)
        if _blank(v):
            if required:
                self.error(field, "必填项为空")
            return None
        try:
            d = parse_date(v)
        except ValueError:
            self.error(field, f"日期格式无法识别“{_text(v)}”（应如 2026-03-15）")
            return None
        if today is not None and d > today:
            self.error(field, f"日期 {d.isoformat()} 晚于今天")
            return None
        return d

    def decimal(self, field: str, *, minimum: Decimal | None = None) -> Decimal | None:
        v = self.raw.get(field)
        if _blank(v):
            return None
        try:
            d = Decimal(_text(v).replace(",", ""))
        except InvalidOperation:
            self.error(field, f"应为数字，实为“{_text(v)}”")
            return None
        if not d.is_finite():
            self.error(field, f"应为数字，实为“{_text(v)}”")
            return None
        if minimum is not None and d < minimum:
            self.error(field, f"不能小于 {minimum}")
            return None
        return d

    def boolean(self, field: str) -> bool | None:
        v = self.raw.get(field)
        if _blank(v):
            return None
        if isinstance(v, bool):
            return v
        t = _text(v).lower()
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
        self.error(field, f"应为“是”或“否”，实为“{_text(v)}”")
        return None

    def point(self, datum: str, *, required: bool) -> tuple[float, float] | None:
        """Parsed and converted (lng, lat) in WGS84, or None."""
        has_lng, has_lat = self.present("lng"), self.present("lat")
        if not has_lng and not has_lat:
            if required:
                self.error("lng", "必填项为空")
                self.error("lat", "必填项为空")
            return None
        if not (has_lng and has_lat):
            self.error("lat" if has_lng else "lng", "经度和纬度须同时填写")
            return None
        values: list[float] = []
        for field in ("lng", "lat"):
            v = self.raw[field]
            try:
                f = float(_text(v))
            except ValueError:
                self.error(field, f"应为十进制度数，实为“{_text(v)}”")
                continue
            if not math.isfinite(f):
                self.error(field, f"应为十进制度数，实为“{_text(v)}”")
                continue
            values.append(f)
        if len(values) != 2:
            return None
        lng, lat = values
        if not geo.in_china(lng, lat):
            if geo.in_china(lat, lng):
                self.error("lng", f"坐标（{lng}, {lat}）不在中国境内，经度和纬度可能填反了")
            else:
                self.error("lng", f"坐标（{lng}, {lat}）不在中国境内")
            return None
        lng, lat = geo.to_wgs84(lng, lat, datum)
        return lng, lat


def _wkt(p: tuple[float, float]) -> str:
    return f"SRID=4326;POINT({p[0]!r} {p[1]!r})"


def _check_datum(datum: str) -> None:
    if datum not in geo.DATUMS:
        raise ValueError(f"unknown datum {datum!r}; expected one of {', '.join(geo.DATUMS)}")


def _check_in_region(c: _Checker, session: Session, code: str, p: tuple[float, float],
                     what: str) -> None:
    covered = session.execute(regions_lookup.region_covers_point(code, *p)).scalar()
    if covered is False:
        c.error("lng", f"坐标（{p[0]:.6f}, {p[1]:.6f}）不在{what}（{code}）范围内")


def _parse_region_code(c: _Checker, session: Session) -> str | None:
    code = c.text("region_code")
    if code is None:
        return None
    if not re.fullmatch(r"[0-9]{6}([0-9]{3}([0-9]{3})?)?", code):
        c.error("region_code", f"应为6、9或12位数字，实为“{code}”")
        return None
    if session.execute(regions_lookup.region_exists(code)).scalar() is None:
        c.error("region_code", f"行政区划代码 {code} 未导入")
        return None
    return code


def _enterprise(c: _Checker, session: Session) -> Enterprise | None:
    """The enterprise a risk point or hazard belongs to (by id or credit code)."""
    if c.present("enterprise_id"):
        try:
            eid = int(_text(c.raw["enterprise_id"]))
        except ValueError:
            c.error("enterprise_id", f"企业编号应为整数，实为“{_text(c.raw['enterprise_id'])}”")
            return None
        ent = session.get(Enterprise, eid)
        if ent is None:
            c.error("enterprise_id", f"企业 {eid} 不存在")
        return ent
    code = c.text("enterprise_credit_code", required=True, column="enterprise_id")
    if code is None:
        return None
    code = code.upper().replace(" ", "")
    problem = geo.credit_code_problem(code)
    if problem:
        c.error("enterprise_credit_code", problem)
        return None
    ent = session.execute(sa.select(Enterprise).where(Enterprise.credit_code == code)).scalar()
    if ent is None:
        c.error("enterprise_credit_code", f"统一社会信用代码 {code} 对应的企业未登记")
    return ent


# --------------------------------------------------------------------------- enterprises


def validate_enterprise(
    raw: Mapping[str, Any], session: Session, *, datum: str = "wgs84", row: int | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Check one enterprise record and return it ready to insert.

    Parameters
    ----------
    raw
        Fields by English name (see :data:`ENTERPRISE_COLUMNS`).
    datum
        Datum of ``lng``/``lat``: ``wgs84``, ``cgcs2000``, ``gcj02`` or ``bd09``;
        the returned ``geom`` is WGS84 (EPSG:4326).
    row
        The file row, for the error messages (None for API input).

    Returns
    -------
    (record, errors)
        ``record`` keyed by :class:`Enterprise` columns; only meaningful when
        ``errors`` is empty.
    """
    _check_datum(datum)
    c = _Checker("enterprises", raw, row, Enterprise)
    code = c.text("credit_code", required=True)
    if code is not None:
        code = code.upper().replace(" ", "")
        problem = geo.credit_code_problem(code)
        if problem:
            c.error("credit_code", problem)
            code = None
    industry = c.choice("industry", domain.parse_industry, "见模板说明页", required=True)
    region_code = _parse_region_code(c, session)
    p = c.point(datum, required=True)
    if p is not None and region_code is not None:
        _check_in_region(c, session, region_code, p, "所填行政区划")
    grade_override = c.choice("grade_override", domain.parse_grade, _GRADE_NOTE)
    record: dict[str, Any] = {
        "credit_code": code,
        "name": c.text("name", required=True),
        "address": c.text("address"),
        "industry_code": industry,
        "region_code": region_code,
        "geom": _wkt(p) if p is not None else None,
        "legal_rep": c.text("legal_rep"),
        "contact_phone": _phone(c, "contact_phone"),
        "complaint_phone": _phone(c, "complaint_phone"),
        "supervising_dept": c.text("supervising_dept"),
        "grade_override": grade_override,
        "grade_override_note": c.text("grade_override_note"),
    }
    return record, c.errors


_PHONE = re.compile(r"^[0-9+()\-－ 转/,，、]{5,40}$")


def _phone(c: _Checker, field: str) -> str | None:
    t = c.text(field)
    if t is not None and not _PHONE.match(t):
        c.error(field, f"电话号码格式无法识别“{t}”")
        return None
    return t


# --------------------------------------------------------------------------- risk points


def _parse_method(v: Any) -> str | None:
    t = _text(v)
    for key, name in domain.RISK_METHODS.items():
        if t.upper() == key or t == name:
            return key
    return None


_LEC_VALUES = {"L": {10, 6, 3, 1, 0.5, 0.2, 0.1}, "E": {10, 6, 3, 2, 1, 0.5}, "C": {100, 40, 15, 7, 3, 1}}


def validate_risk_point(
    raw: Mapping[str, Any], session: Session, *, row: int | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Check one risk point (风险点) and return it ready to insert.

    The enterprise is named by ``enterprise_id`` or ``enterprise_credit_code``
    and must exist.  ``grade`` takes any spelling (1, 红, red, 重大风险); when
    it is blank and an LEC/LS score (or its parameters) is given, the grade is
    derived with the default thresholds of :mod:`geo_service.domain`.
    """
    c = _Checker("risk-points", raw, row, RiskPoint)
    ent = _enterprise(c, session)
    method = c.choice("method", _parse_method, "、".join(domain.RISK_METHODS))
    score = c.decimal("score", minimum=Decimal(0))
    params: dict[str, Any] | None = None
    v = raw.get("method_params")
    if not _blank(v):
        if isinstance(v, Mapping):
            params = dict(v)
        else:
            try:
                loaded = json.loads(_text(v))
            except ValueError:
                loaded = None
            if isinstance(loaded, dict):
                params = loaded
            else:
                c.error("method_params", f"应为 JSON 对象，如 {{\"L\": 3, \"E\": 6, \"C\": 15}}，实为“{_text(v)}”")
    if params is not None and method == "LEC":
        try:
            lec = {k: float(params[k]) for k in "LEC"}
        except (KeyError, TypeError, ValueError):
            c.error("method_params", "LEC 评估参数须含数值 L、E、C")
        else:
            bad = [f"{k}={lec[k]:g}" for k in "LEC" if lec[k] not in _LEC_VALUES[k]]
            if bad:
                c.error("method_params", "LEC 取值不在规定档位内：" + "，".join(bad))
            elif score is None:
                score = Decimal(str(round(lec["L"] * lec["E"] * lec["C"], 2)))
    grade = c.choice("grade", domain.parse_grade, _GRADE_NOTE)
    if grade is None and not c.present("grade"):
        if method == "LEC" and score is not None:
            grade = domain.lec_grade(float(score))
        elif method == "LS" and score is not None:
            grade = domain.ls_grade(float(score))
        else:
            c.error("grade", "必填项为空（或填写 LEC/LS 评估方法与风险值）")
    record: dict[str, Any] = {
        "enterprise_id": ent.id if ent is not None else None,
        "name": c.text("name", required=True),
        "location_desc": c.text("location_desc"),
        "accident_type": c.text("accident_type"),
        "grade": grade,
        "method": method,
        "score": score,
        "method_params": params,
        "control_measures": c.text("control_measures"),
        "controls_implemented": bool(c.boolean("controls_implemented")),
        "responsible_person": c.text("responsible_person"),
        "assessed_on": c.date("assessed_on", today=dt.date.today()),
    }
    return record, c.errors


# --------------------------------------------------------------------------- hazards


def _parse_level(v: Any) -> str | None:
    t = _text(v)
    for key, name in domain.HAZARD_LEVELS.items():
        if t.lower() == key or t in (name, name[:2], name[:2] + "事故隐患"):
            return key
    return None


def _key_or_name(table: Mapping[str, str]) -> Any:
    def parse(v: Any) -> str | None:
        t = _text(v)
        if t.lower() in table:
            return t.lower()
        for key, name in table.items():
            if t == name:
                return key
        return None

    return parse


_parse_source = _key_or_name(domain.HAZARD_SOURCES)
_parse_state_name = _key_or_name(domain.HAZARD_STATES)


def _parse_state(v: Any) -> str | None:
    return _parse_state_name(v) or domain.HAZARD_STATE_ALIASES.get(_text(v))


def _parse_criterion(v: Any) -> str | None:
    t = _text(v)
    if t.lower() in domain.MAJOR_CRITERIA:
        return t.lower()
    for key, name in domain.MAJOR_CRITERIA.items():
        # the full title, or its name before the parenthesis, or the document number
        head = name.split("（")[0]
        doc = name[len(head) + 1:-1] if "（" in name else ""
        if t in (name, head) or (doc and t == doc):
            return key
    return None


_CRITERION_BY_INDUSTRY = {
    "coal": "coal",
    "mine": "mine",
    "hazchem": "hazchem",
    "fireworks": "fireworks",
    "trade": "trade",
    "construction": "construction",
    "gas": "gas",
    "crowded": "fire",
}


def default_criterion(industry_code: str) -> str:
    """The 重大隐患 criterion an enterprise of ``industry_code`` is judged under.

    >>> default_criterion("trade.metallurgy"), default_criterion("crowded"), default_criterion("transport")
    ('trade', 'fire', 'other')
    """
    return _CRITERION_BY_INDUSTRY.get(industry_code.split(".")[0], "other")


_STATE_ORDER = {s: i for i, s in enumerate(domain.HAZARD_STATES)}


def validate_hazard(
    raw: Mapping[str, Any], session: Session, *, datum: str = "wgs84", row: int | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Check one hazard (事故隐患) and return it ready to insert.

    Checks the enterprise exists; level, source, state and criterion are known
    (key or Chinese); dates parse, are not in the future and follow the
    lifecycle (found ≤ rectified ≤ verified; deadline ≥ found); the fields the
    state needs are present (已整改待验收: 整改完成日期; 已验收销号: 验收日期 and
    验收人); a 重大隐患 past 已登记 has its 五落实; 挂牌督办 has a document
    number; funds ≥ 0; an own location (optional, converted from ``datum`` to
    WGS84) lies in China and inside the enterprise's region.
    """
    _check_datum(datum)
    today = dt.date.today()
    c = _Checker("hazards", raw, row, Hazard)
    ent = _enterprise(c, session)
    level = c.choice("level", _parse_level, "一般、重大", required=True)
    source = c.choice("source", _parse_source, _values(domain.HAZARD_SOURCES), required=True)
    state = c.choice("state", _parse_state, _values(domain.HAZARD_STATES))
    if state is None and not c.present("state"):
        state = "registered"
    criterion = c.choice("criterion", _parse_criterion, "、".join(domain.MAJOR_CRITERIA))
    if criterion is None and not c.present("criterion") and level == "major" and ent is not None:
        criterion = default_criterion(ent.industry_code)
    found_on = c.date("found_on", required=True, today=today)
    deadline = c.date("deadline")
    rectified_on = c.date("rectified_on", today=today)
    verified_on = c.date("verified_on", today=today)
    funds = c.decimal("funds_wan", minimum=Decimal(0))
    record: dict[str, Any] = {
        "enterprise_id": ent.id if ent is not None else None,
        "description": c.text("description", required=True),
        "level": level,
        "category": c.text("category"),
        "criterion": criterion,
        "source": source,
        "found_on": found_on,
        "found_by": c.text("found_by"),
        "deadline": deadline,
        "state": state,
        "resp_person": c.text("resp_person"),
        "measures": c.text("measures"),
        "funds_wan": funds,
        "emergency_plan": c.text("emergency_plan"),
        "supervision_doc_no": c.text("supervision_doc_no"),
        "rectified_on": rectified_on,
        "verified_on": verified_on,
        "verifier": c.text("verifier"),
        "verification_note": c.text("verification_note"),
        "rectification_note": c.text("rectification_note"),
        "geom": None,
    }

    if found_on is not None:
        if deadline is not None and deadline < found_on:
            c.error("deadline", "整改期限早于发现日期")
        if rectified_on is not None and rectified_on < found_on:
            c.error("rectified_on", "整改完成日期早于发现日期")
    if rectified_on is not None and verified_on is not None and verified_on < rectified_on:
        c.error("verified_on", "验收日期早于整改完成日期")

    if source == "supervised" and record["supervision_doc_no"] is None and not c.present("supervision_doc_no"):
        c.error("supervision_doc_no", "挂牌督办的隐患须填写督办文号")

    if state is not None:
        stage = _STATE_ORDER[state]
        state_name = domain.HAZARD_STATES[state]
        if stage >= _STATE_ORDER["rectified"]:
            if rectified_on is None and not c.present("rectified_on"):
                c.error("rectified_on", f"状态为{state_name}时须填写整改完成日期")
        elif rectified_on is not None:
            c.error("rectified_on", f"状态为{state_name}时不应有整改完成日期")
        if state == "closed":
            if verified_on is None and not c.present("verified_on"):
                c.error("verified_on", "已验收销号的隐患须填写验收日期")
            if record["verifier"] is None and not c.present("verifier"):
                c.error("verifier", "已验收销号的隐患须填写验收人")
        elif verified_on is not None:
            c.error("verified_on", f"状态为{state_name}时不应有验收日期")
        if level == "major" and state != "registered":
            for field in ("resp_person", "measures", "funds_wan", "deadline", "emergency_plan"):
                if record[field] is None and not c.present(field):
                    c.error(field, "重大隐患进入整改后须落实“五落实”，此项不能为空")

    p = c.point(datum, required=False)
    if p is not None:
        record["geom"] = _wkt(p)
        if ent is not None and ent.region_code is not None:
            _check_in_region(c, session, ent.region_code, p, "企业所在行政区")
    return record, c.errors

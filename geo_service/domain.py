"""The domain vocabulary, defined once: grades, hazard levels, states, sources,
industries and the statistics split.

Every layer, legend, form, API enum and database CHECK constraint reads these
tables; nothing else spells a grade colour or a state name.  Colours are
defaults; :mod:`geo_service.config` may override them (``GRADE_COLORS``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "Actor",
    "ROLES",
    "ROLE_PERMISSIONS",
    "TRANSITION_PERMISSION",
    "Grade",
    "GRADES",
    "GRADE_BY_KEY",
    "GRADE_WEIGHT",
    "HAZARD_LEVELS",
    "HAZARD_STATES",
    "HAZARD_SOURCES",
    "HAZARD_ORIGINS",
    "FIVE_IMPLEMENTATIONS",
    "HAZARD_FIELD_LABELS",
    "HAZARD_FIELD_RULES",
    "HAZARD_CREATE_FIELDS",
    "HAZARD_CREATE_SOURCES",
    "SIGNOFF_EVIDENCE_KIND",
    "hazard_origin",
    "refused_hazard_fields",
    "TRANSITIONS",
    "CLOSED_STATE",
    "HAZARD_STATE_ALIASES",
    "MAJOR_LEVEL",
    "SUPERVISED_SOURCE",
    "OPEN_STATES",
    "OVERDUE_STATES",
    "REGION_LEVELS",
    "Industry",
    "INDUSTRIES",
    "STAT_GROUPS",
    "MAJOR_CRITERIA",
    "RISK_METHODS",
    "lec_grade",
    "ls_grade",
    "is_overdue",
    "overdue_days",
    "RISK_OBJECT_KINDS",
    "MEASURE_KINDS",
    "MEASURE_LEVELS",
    "CYCLE_UNITS",
    "INSPECTION_RESULTS",
    "MAJOR_ACTIONS",
    "GRADE_REVIEW_RULES",
    "parse_key",
]


class Actor(NamedTuple):
    """Who does a write: a display name, the account id (None for system work)
    and the account's role (``system`` for imports and the demo)."""

    name: str
    user_id: int | None = None
    role: str = "system"

    def may(self, permission: str) -> bool:
        """Whether this actor's role grants ``permission`` (see ROLE_PERMISSIONS)."""
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


# Roles and what each may do.  Jurisdiction (which objects) is the Scope's
# business; this is only which kinds of action.
ROLES: dict[str, str] = {
    "admin": "管理员",
    "regulator": "监管人员",
    "enterprise": "企业用户",
    "readonly": "只读",
}
# read: see the register; edit_register: enterprises and risk points;
# report_hazard: register hazards (enterprise users: 企业自查 only);
# rectify: start / finish rectification; verify: 验收销号 or send back;
# submit_return: freeze a monthly return; admin: accounts and the audit log;
# draw_map: the enterprise's own 四色图 (layout image, risk zones).
_ALL_PERMS = frozenset(
    {"read", "edit_register", "report_hazard", "rectify", "verify", "submit_return", "admin", "draw_map"}
)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "system": _ALL_PERMS,
    "admin": _ALL_PERMS,
    "regulator": _ALL_PERMS - {"admin"},
    "enterprise": frozenset({"read", "report_hazard", "rectify", "draw_map"}),
    "readonly": frozenset({"read"}),
}
# The permission each hazard transition needs.
TRANSITION_PERMISSION: dict[tuple[str, str], str] = {
    ("registered", "rectifying"): "rectify",
    ("rectifying", "rectified"): "rectify",
    ("rectified", "closed"): "verify",
    ("rectified", "rectifying"): "verify",
}


class Grade(NamedTuple):
    """A risk grade. ``value`` 1 is the highest risk (红)."""

    value: int
    key: str  # stable identifier used in URLs and APIs
    colour_name: str  # 红/橙/黄/蓝
    name: str  # 重大风险 …
    default_hex: str
    weight: int  # district heat weight: 红=4 … 蓝=1


GRADES: tuple[Grade, ...] = (
    Grade(1, "red", "红", "重大风险", "#E60012", 4),
    Grade(2, "orange", "橙", "较大风险", "#FF8C00", 3),
    Grade(3, "yellow", "黄", "一般风险", "#FFD700", 2),
    Grade(4, "blue", "蓝", "低风险", "#1E6FD9", 1),
)
GRADE_BY_KEY: dict[str, Grade] = {g.key: g for g in GRADES}
GRADE_BY_VALUE: dict[int, Grade] = {g.value: g for g in GRADES}
GRADE_WEIGHT: dict[int, int] = {g.value: g.weight for g in GRADES}


def parse_grade(text: str | int | None) -> int | None:
    """Grade value from any of its spellings: 1, "red", "红", "重大", "重大风险".

    >>> parse_grade("橙"), parse_grade("较大风险"), parse_grade("blue"), parse_grade(3)
    (2, 2, 4, 3)
    """
    if text is None:
        return None
    if isinstance(text, int):
        return text if text in GRADE_BY_VALUE else None
    t = str(text).strip()
    if not t:
        return None
    if t.isdigit():
        return int(t) if int(t) in GRADE_BY_VALUE else None
    for g in GRADES:
        if t in (g.key, g.colour_name, g.colour_name + "色", g.name, g.name[:2]):
            return g.value
    return None


# Hazard levels: key → Chinese.
HAZARD_LEVELS: dict[str, str] = {"general": "一般隐患", "major": "重大隐患"}

# Hazard lifecycle. Overdue is derived from the deadline, never stored.
HAZARD_STATES: dict[str, str] = {
    "registered": "已登记",
    "rectifying": "整改中",
    # "已整改" alone is the forms' word for a signed-off hazard (the return's
    # 已整改 / 已完成整改): the state the enterprise reports is awaiting verification.
    "rectified": "已整改待验收",
    "closed": "已验收销号",
}
CLOSED_STATE = "closed"
# Files made with the import template before the state was renamed say "已整改".
HAZARD_STATE_ALIASES: dict[str, str] = {"已整改": "rectified"}
MAJOR_LEVEL = "major"
SUPERVISED_SOURCE = "supervised"
OPEN_STATES: tuple[str, ...] = ("registered", "rectifying", "rectified")
# A hazard is overdue when it is still being worked on past its deadline; once
# the enterprise reports it rectified the clock stops (verification is the
# regulator's turn).
OVERDUE_STATES: tuple[str, ...] = ("registered", "rectifying")

# Legal transitions; rectified → rectifying is a failed verification.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("registered", "rectifying"): "开始整改",
    ("rectifying", "rectified"): "整改完成",
    ("rectified", "closed"): "验收销号",
    ("rectified", "rectifying"): "验收不通过，退回整改",
}

HAZARD_SOURCES: dict[str, str] = {
    "self": "企业自查",
    "inspection": "部门检查",
    "supervised": "挂牌督办",
    "report": "举报",
}

# --------------------------------------------------------------------------- who may write which hazard field
# 问责: the register is what an official signs.  Who registered a hazard (its
# origin) and the caller's role decide which of its fields the caller may
# write; this table is the one place that says so, and
# ``services.register`` enforces it for the API, the forms and the importers.

# Who registered a hazard: an enterprise account (企业自查 it reported itself)
# or a regulator (an inspection, 挂牌督办, a report it took, or an import).
HAZARD_ORIGINS: dict[str, str] = {"enterprise": "企业登记", "regulator": "监管部门登记"}

# 五落实 of a 重大隐患: 责任, 措施, 资金, 时限, 预案 (时限 is the deadline).
FIVE_IMPLEMENTATIONS: dict[str, str] = {
    "resp_person": "整改责任人",
    "measures": "整改措施",
    "funds_wan": "整改资金",
    "deadline": "整改期限",
    "emergency_plan": "应急预案",
}

# Every field a caller may write on a hazard, with the name a refusal shows.
HAZARD_FIELD_LABELS: dict[str, str] = {
    "description": "隐患描述",
    "level": "隐患等级",
    "category": "隐患类别",
    "criterion": "重大隐患判定标准",
    "source": "隐患来源",
    "found_on": "发现日期",
    "found_by": "检查人员",
    "deadline": "整改期限",
    "resp_person": "整改责任人",
    "measures": "整改措施",
    "funds_wan": "整改资金",
    "emergency_plan": "应急预案",
    "supervision_doc_no": "挂牌督办文号",
    "rectification_note": "整改情况说明",
    "rectified_on": "整改完成日期",
    "verified_on": "验收日期",
    "verifier": "验收人",
    "verification_note": "复查情况（验收意见）",
    "lng": "经度",
    "lat": "纬度",
}
_EVERY_FIELD = frozenset(HAZARD_FIELD_LABELS)
# The enterprise's part of the 五落实: 时限 (the deadline) is the regulator's.
_ENTERPRISE_FIVE = frozenset(FIVE_IMPLEMENTATIONS) - {"deadline"}
_ENTERPRISE_ON_REGULATORS = _ENTERPRISE_FIVE | {"rectification_note"}
_ENTERPRISE_ON_OWN = _ENTERPRISE_ON_REGULATORS | {"description", "category", "lng", "lat"}

# role → origin → the fields the role may change on a hazard of that origin
# (by PATCH or on a lifecycle step).  Evidence files are not fields: whoever
# may rectify or register may add them.  Regulators and administrators write
# everything within their jurisdiction (signing off their own rectification
# is refused by the lifecycle, see ``services.register``); read-only accounts
# write nothing.  Enterprises never write level, criterion, source, deadline,
# found_by, the supervision document, the dates the lifecycle sets or the
# verification fields.
HAZARD_FIELD_RULES: dict[str, dict[str, frozenset[str]]] = {
    "system": {"enterprise": _EVERY_FIELD, "regulator": _EVERY_FIELD},
    "admin": {"enterprise": _EVERY_FIELD, "regulator": _EVERY_FIELD},
    "regulator": {"enterprise": _EVERY_FIELD, "regulator": _EVERY_FIELD},
    "enterprise": {"enterprise": _ENTERPRISE_ON_OWN, "regulator": _ENTERPRISE_ON_REGULATORS},
    "readonly": {"enterprise": frozenset(), "regulator": frozenset()},
}
# role → the fields it may give when it registers a hazard.  An enterprise
# reports what it found (description, level, category, when, who, where) and
# its part of the 五落实; the deadline, the criterion and the rest are the
# regulator's.
HAZARD_CREATE_FIELDS: dict[str, frozenset[str]] = {
    "system": _EVERY_FIELD,
    "admin": _EVERY_FIELD,
    "regulator": _EVERY_FIELD,
    "enterprise": _ENTERPRISE_ON_OWN | {"level", "source", "found_on", "found_by"},
    "readonly": frozenset(),
}
# role → the sources it may register (absent: every source).
HAZARD_CREATE_SOURCES: dict[str, tuple[str, ...]] = {"enterprise": ("self",)}
# The evidence kind a sign-off needs (整改后 photos or documents).
SIGNOFF_EVIDENCE_KIND = "after"


def hazard_origin(role: str) -> str:
    """The origin of a hazard registered by an account of ``role``.

    >>> hazard_origin("enterprise"), hazard_origin("regulator"), hazard_origin("system")
    ('enterprise', 'regulator', 'regulator')
    """
    return "enterprise" if role == "enterprise" else "regulator"


def refused_hazard_fields(role: str, origin: str | None, fields: object) -> list[str]:
    """The fields of ``fields`` that ``role`` may not write, in table order.

    ``origin`` None means registering a new hazard.  Unknown roles may write
    nothing.

    >>> refused_hazard_fields("enterprise", "regulator", ["measures", "deadline", "source"])
    ['source', 'deadline']
    >>> refused_hazard_fields("enterprise", "enterprise", ["description", "lng", "lat"])
    []
    >>> refused_hazard_fields("enterprise", None, ["level", "deadline"])
    ['deadline']
    """
    if origin is None:
        allowed = HAZARD_CREATE_FIELDS.get(role, frozenset())
    else:
        allowed = HAZARD_FIELD_RULES.get(role, {}).get(origin, frozenset())
    wanted = set(fields)  # type: ignore[call-overload]
    return [f for f in HAZARD_FIELD_LABELS if f in wanted and f not in allowed] + sorted(
        f for f in wanted if f not in HAZARD_FIELD_LABELS and f not in allowed)


REGION_LEVELS: dict[str, str] = {
    "province": "省",
    "prefecture": "市",
    "county": "县",
    "township": "乡镇",
}

RISK_METHODS: dict[str, str] = {
    "LEC": "作业条件危险性分析法(LEC)",
    "LS": "风险矩阵法(LS)",
    "HAZCHEM100": "危险化学品企业安全风险百分制诊断",
    "OTHER": "其他",
}

# 重大隐患 criteria (判定标准) a major hazard is judged under.
MAJOR_CRITERIA: dict[str, str] = {
    "trade": "工贸企业重大事故隐患判定标准（应急管理部令第10号）",
    "hazchem": "化工和危险化学品生产经营单位重大生产安全事故隐患判定标准（安监总管三〔2017〕121号）",
    "fireworks": "烟花爆竹生产经营单位重大生产安全事故隐患判定标准（安监总管三〔2017〕121号）",
    "coal": "煤矿重大事故隐患判定标准（应急管理部令第4号）",
    "mine": "金属非金属矿山重大事故隐患判定标准（矿安〔2022〕88号）",
    "construction": "房屋市政工程生产安全重大事故隐患判定标准（建质规〔2024〕5号）",
    "fire": "重大火灾隐患判定规则（GB 35181-2025）",
    "gas": "城镇燃气经营安全重大隐患判定标准（建城规〔2023〕4号）",
    "other": "其他行业领域判定标准",
}


@dataclass(frozen=True)
class Industry:
    """A 行业领域 of the seed table; ``stat_group`` is the form-000 split."""

    code: str
    name: str
    stat_group: str
    parent: str | None = None
    sort: int = 0


# The form-000 items 12–13 split: 煤矿 / 非煤矿山 / 危险化学品 / other industries
# (reported one by one under "（行业领域）").
STAT_GROUPS: dict[str, str] = {
    "coal": "煤矿",
    "mine": "非煤矿山",
    "hazchem": "危险化学品",
    "other": "其他行业领域",
}

INDUSTRIES: tuple[Industry, ...] = (
    Industry("coal", "煤矿", "coal", sort=10),
    Industry("mine", "非煤矿山", "mine", sort=20),
    Industry("hazchem", "危险化学品", "hazchem", sort=30),
    Industry("fireworks", "烟花爆竹", "other", sort=40),
    Industry("trade", "工贸", "other", sort=50),
    Industry("trade.metallurgy", "冶金", "other", "trade", 51),
    Industry("trade.nonferrous", "有色", "other", "trade", 52),
    Industry("trade.building_materials", "建材", "other", "trade", 53),
    Industry("trade.machinery", "机械", "other", "trade", 54),
    Industry("trade.light", "轻工", "other", "trade", 55),
    Industry("trade.textile", "纺织", "other", "trade", 56),
    Industry("trade.tobacco", "烟草", "other", "trade", 57),
    Industry("trade.commerce", "商贸", "other", "trade", 58),
    Industry("construction", "建筑施工", "other", sort=60),
    Industry("transport", "交通运输", "other", sort=70),
    Industry("gas", "燃气", "other", sort=80),
    Industry("crowded", "人员密集场所", "other", sort=90),
    Industry("other", "其他", "other", sort=100),
)
INDUSTRY_BY_CODE: dict[str, Industry] = {i.code: i for i in INDUSTRIES}


def parse_industry(text: str | None) -> str | None:
    """Industry code from its code or Chinese name ("工贸/冶金" and "冶金" both work).

    >>> parse_industry("冶金"), parse_industry("工贸/冶金"), parse_industry("hazchem")
    ('trade.metallurgy', 'trade.metallurgy', 'hazchem')
    """
    if text is None:
        return None
    t = str(text).strip()
    if t in INDUSTRY_BY_CODE:
        return t
    leaf = t.split("/")[-1].split("－")[-1].split("-")[-1].strip()
    for i in INDUSTRIES:
        if leaf == i.name or t == i.name:
            return i.code
    return None


def lec_grade(d: float, thresholds: tuple[float, float, float] = (320, 160, 70)) -> int:
    """Grade from an LEC score D = L×E×C (defaults: >320 红, >160 橙, >70 黄, else 蓝).

    >>> [lec_grade(x) for x in (400, 320, 160, 70, 1)]
    [1, 2, 3, 4, 4]
    """
    red, orange, yellow = thresholds
    if d > red:
        return 1
    if d > orange:
        return 2
    if d > yellow:
        return 3
    return 4


def ls_grade(r: float, thresholds: tuple[float, float, float] = (20, 10, 4)) -> int:
    """Grade from an LS matrix score R = L×S (defaults: ≥20 红, ≥10 橙, ≥4 黄, else 蓝).

    >>> [ls_grade(x) for x in (25, 20, 16, 9, 3)]
    [1, 1, 2, 3, 4]
    """
    red, orange, yellow = thresholds
    if r >= red:
        return 1
    if r >= orange:
        return 2
    if r >= yellow:
        return 3
    return 4


def is_overdue(state: str, deadline: dt.date | None, today: dt.date) -> bool:
    """Whether a hazard in ``state`` with ``deadline`` is overdue on ``today``.

    >>> is_overdue("rectifying", dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    True
    >>> is_overdue("rectified", dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    False
    """
    return deadline is not None and state in OVERDUE_STATES and deadline < today


def overdue_days(state: str, deadline: dt.date | None, today: dt.date) -> int:
    """Days past the deadline (0 when not overdue)."""
    return (today - deadline).days if deadline and is_overdue(state, deadline, today) else 0


# --------------------------------------------------------------------------- 双重预防 as it runs
# The chain 风险分析对象 → 风险分析单元 (a risk point) → 风险事件 → 管控措施 →
# 隐患排查任务 → 排查记录 (migration 0011 copies these keys).
RISK_OBJECT_KINDS: dict[str, str] = {"major_source": "重大危险源", "device": "设备设施", "site": "作业场所"}
MEASURE_KINDS: dict[str, str] = {
    "engineering": "工程技术",
    "maintenance": "维护保养",
    "operation": "操作行为",
    "emergency": "应急措施",
}
MEASURE_LEVELS: dict[str, str] = {
    "company": "公司",
    "department": "部门",
    "workshop": "车间",
    "team": "班组",
    "post": "岗位",
}
CYCLE_UNITS: dict[str, str] = {"hour": "小时", "day": "天", "week": "周", "month": "月"}
INSPECTION_RESULTS: dict[str, str] = {"normal": "正常", "abnormal": "异常"}
# 一单四制 steps recorded on a 重大隐患.
MAJOR_ACTIONS: dict[str, str] = {
    "assign": "交办",
    "supervise": "挂牌督办",
    "extension": "延期申请",
    "delist": "摘牌",
}
# GRADE_REVIEW_RULE: what an enterprise in the 待复核等级 queue shows.
GRADE_REVIEW_RULES: dict[str, str] = {"mark": "标记待复核", "raise": "复核期间至少显示为红色"}


def parse_key(vocabulary: dict[str, str], text: str | None) -> str | None:
    """A vocabulary key from the key or its Chinese name (None when unknown).

    >>> parse_key(MEASURE_KINDS, "维护保养"), parse_key(CYCLE_UNITS, "day"), parse_key(CYCLE_UNITS, "年")
    ('maintenance', 'day', None)
    """
    if text is None:
        return None
    t = str(text).strip()
    if t in vocabulary:
        return t
    for key, name in vocabulary.items():
        if t == name:
            return key
    return None

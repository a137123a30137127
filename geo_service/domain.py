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
    "TRANSITIONS",
    "CLOSED_STATE",
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
# submit_return: freeze a monthly return; admin: accounts and the audit log.
_ALL_PERMS = frozenset(
    {"read", "edit_register", "report_hazard", "rectify", "verify", "submit_return", "admin"}
)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "system": _ALL_PERMS,
    "admin": _ALL_PERMS,
    "regulator": _ALL_PERMS - {"admin"},
    "enterprise": frozenset({"read", "report_hazard", "rectify"}),
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
    "rectified": "已整改",
    "closed": "已验收销号",
}
CLOSED_STATE = "closed"
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

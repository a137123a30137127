"""The statistical definitions of the return and the summaries, written down once.

The monthly return (form 000 items 12–14, the 调度表, 003 附件2), the region
summary API, the district heat layer and the map legends all count with the
clauses of this module; nothing else decides what "this year", "本月",
"已整改", "其中", "overdue" or a campaign's period mean, and nothing else
spells a state, a level, a source or the red grade.  ``docs/STATISTICS.md``
states each reading for users, quoting the forms.

Readings of the forms
---------------------
A. risk identification is this year's work
    Form 000 注1: "填报数据均为每年度开展防范遏制重特大事故工作的累计数据"; 003 附件2:
    "将今年以来累计数报".  A risk point counts when its ``assessed_on`` lies
    between 1 January and the month's end (:func:`risk_assessed`); a risk
    point without an assessment date is not counted (the importer warns).
B. the 调度表 counts from the campaign's start
    003: "调度表自5月份开始报送，每月25日前报5月以来累计情况"; 001: "本月的累计情况".
    The start is the setting ``CAMPAIGN_START`` ("05-01": 1 May of the
    reporting year, or a full date); :meth:`Period.campaign` is the span it
    gives, None for a month that ends before the start (the block stays blank).
C. "其中" is a subset of the column it stands under
    003 附件2 "其中：挂牌督办治理" under "落实治理措施": :func:`supervised_in_hand` is
    :func:`in_hand` AND 挂牌督办, in every row and for 本月.
D. "本月" is the month's part of "累计"
    For every cumulative column ``累计(m) = 累计(m−1) + 本月(m)`` within a span:
    each column is one clause of a :class:`Span` and ``month=False/True``.
    已完成治理 本月 = this span's hazards signed off during the month,
    whenever in the span they were found (:func:`signed_off`).
E. blank means unknown
    A count the register cannot know is ``None``, never 0 (the return's
    :mod:`~geo_service.services.statistics` keeps the list).
F. one word, one meaning
    The forms' 已整改 / 已完成整改 / 已完成治理 mean signed off (已验收销号,
    ``CLOSED_STATE``) with ``verified_on`` on or before the day counted; the
    state the enterprise reports is shown "已整改待验收" and does not count.

Other definitions
-----------------
overdue
    Still ``registered`` or ``rectifying`` and ``deadline`` before the as-of
    date (the deadline day itself is not overdue).
rates
    ``numerator / denominator × 100``, rounded half-up to one decimal; no rate
    (``None``, shown blank) when the denominator is 0.
weighted risk
    Sum over enterprises of the grade weight 红=4, 橙=3, 黄=2, 蓝=1.
five measures (五落实)
    A 重大隐患 has its 五落实 (治理措施落实) when responsible person, measures,
    funds, deadline and emergency plan are all filled.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ..domain import (
    CLOSED_STATE,
    GRADES,
    HAZARD_SOURCES,
    MAJOR_LEVEL,
    OVERDUE_STATES,
    SUPERVISED_SOURCE,
)
from ..models import Enterprise, Hazard, RiskPoint

__all__ = [
    "DEFAULT_CAMPAIGN_START",
    "MAJOR_RISK_GRADE",
    "DISPATCH_SOURCES",
    "campaign_start_of",
    "Span",
    "Period",
    "period",
    "found_in",
    "is_closed",
    "rectified_by",
    "signed_off_in",
    "overdue_on",
    "open_clause",
    "is_major",
    "is_supervised",
    "from_source",
    "major_risk",
    "open_on",
    "controls_in_place",
    "five_measures",
    "rate",
    "grade_weight",
    "assessed_in",
    "became_overdue_in",
    "found",
    "signed_off",
    "in_hand",
    "supervised_in_hand",
    "risk_assessed",
]

# 003: "调度表自5月份开始报送，每月25日前报5月以来累计情况".
DEFAULT_CAMPAIGN_START = "05-01"
# 重大风险 is the red grade (GRADES[0]).
MAJOR_RISK_GRADE = GRADES[0].value
# The 总体情况 block of the 调度表 splits major hazards by these sources (举报 is not a row).
DISPATCH_SOURCES: tuple[str, ...] = ("self", "inspection", SUPERVISED_SOURCE)
assert set(DISPATCH_SOURCES) <= set(HAZARD_SOURCES)

_CAMPAIGN = re.compile(r"(?:(\d{4})-)?(\d{1,2})-(\d{1,2})")


def campaign_start_of(setting: str, year: int) -> dt.date:
    """The campaign's first day for a return of ``year``: ``MM-DD`` of that year, or a full date.

    >>> campaign_start_of("05-01", 2026), campaign_start_of("2026-05-15", 2027)
    (datetime.date(2026, 5, 1), datetime.date(2026, 5, 15))
    >>> campaign_start_of("5月1日", 2026)
    Traceback (most recent call last):
    ...
    ValueError: CAMPAIGN_START '5月1日' is not MM-DD or YYYY-MM-DD
    """
    m = _CAMPAIGN.fullmatch((setting or "").strip())
    if not m:
        raise ValueError(f"CAMPAIGN_START {setting!r} is not MM-DD or YYYY-MM-DD")
    return dt.date(int(m.group(1) or year), int(m.group(2)), int(m.group(3)))


class Span(NamedTuple):
    """What a cumulative column covers: ``first`` to ``end`` inclusive; its
    本月 part is ``part_first`` to ``end`` (``part_first`` ≥ ``first``)."""

    first: dt.date
    part_first: dt.date
    end: dt.date

    def lower(self, month: bool) -> dt.date:
        """The first day counted by the cumulative column (``month=False``) or by its 本月 part."""
        return self.part_first if month else self.first


class Period(NamedTuple):
    """A reporting month: ``start`` (1 January), ``month_start`` and ``end`` (the
    month's last day), and the ``campaign_setting`` of the 调度表 (B)."""

    start: dt.date
    month_start: dt.date
    end: dt.date
    campaign_setting: str = DEFAULT_CAMPAIGN_START

    @property
    def label(self) -> str:
        return f"{self.end.year}年{self.end.month}月"

    @property
    def year(self) -> Span:
        """今年以来: 1 January → month end; 本月 is the month (form 000, 003 附件2)."""
        return Span(self.start, self.month_start, self.end)

    @property
    def campaign_start(self) -> dt.date:
        return campaign_start_of(self.campaign_setting, self.end.year)

    @property
    def campaign(self) -> Span | None:
        """5月以来: campaign start → month end (the 调度表); None when the month ends before the start."""
        first = self.campaign_start
        if first > self.end:
            return None
        return Span(first, max(first, self.month_start), self.end)

    def previous(self) -> Period:
        """The period of the month before (which may be in the previous year)."""
        prev_end = self.month_start - dt.timedelta(days=1)
        return period(prev_end.year, prev_end.month, self.campaign_setting)


def period(year: int, month: int, campaign: str = DEFAULT_CAMPAIGN_START) -> Period:
    """The period for ``year``-``month`` (``campaign``: the ``CAMPAIGN_START`` setting).

    >>> p = period(2026, 2)
    >>> p.year
    Span(first=datetime.date(2026, 1, 1), part_first=datetime.date(2026, 2, 1), end=datetime.date(2026, 2, 28))
    >>> p.campaign is None, period(2026, 5).campaign.first, period(2026, 6, "05-15").campaign.part_first
    (True, datetime.date(2026, 5, 1), datetime.date(2026, 6, 1))
    """
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} out of range")
    campaign_start_of(campaign, year)  # fail fast on a bad setting
    last = calendar.monthrange(year, month)[1]
    return Period(dt.date(year, 1, 1), dt.date(year, month, 1), dt.date(year, month, last), campaign)


# --- single clauses -------------------------------------------------------------------------

def found_in(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """Hazards found between ``start`` and ``end`` inclusive."""
    return Hazard.found_on.between(start, end)


def is_closed(state: Any = None) -> ColumnElement[bool]:
    """Signed off (已验收销号); ``state`` is a state column (default ``hazard.state``)."""
    return (Hazard.state if state is None else state) == CLOSED_STATE


def open_clause(state: Any = None) -> ColumnElement[bool]:
    """Hazards not yet signed off."""
    return (Hazard.state if state is None else state) != CLOSED_STATE


def rectified_by(end: dt.date) -> ColumnElement[bool]:
    """The forms' 已整改: verified and signed off on or before ``end``."""
    return sa.and_(is_closed(), Hazard.verified_on <= end)


def open_on(day: dt.date) -> ColumnElement[bool]:
    """Hazards open on ``day`` as they stood then: found by then and not signed off by then
    (a hazard closed since still counts; one found since does not)."""
    return sa.and_(Hazard.found_on <= day, sa.not_(rectified_by(day)))


def signed_off_in(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """Verified and signed off between ``start`` and ``end`` inclusive."""
    return sa.and_(is_closed(), Hazard.verified_on.between(start, end))


def overdue_on(as_of: dt.date, state: Any = None, deadline: Any = None) -> ColumnElement[bool]:
    """Hazards past their deadline and not yet reported rectified on ``as_of``
    (``state``/``deadline``: other columns with the same meaning, e.g. a tally's)."""
    state = Hazard.state if state is None else state
    deadline = Hazard.deadline if deadline is None else deadline
    return sa.and_(state.in_(OVERDUE_STATES), deadline < as_of)


def is_major(level: Any = None) -> ColumnElement[bool]:
    """重大事故隐患."""
    return (Hazard.level if level is None else level) == MAJOR_LEVEL


def from_source(source: str) -> ColumnElement[bool]:
    """Hazards of one source (企业自查, 部门检查, 挂牌督办, 举报)."""
    if source not in HAZARD_SOURCES:
        raise ValueError(f"unknown hazard source {source!r}")
    return Hazard.source == source


def is_supervised() -> ColumnElement[bool]:
    """Hazards under 挂牌督办."""
    return from_source(SUPERVISED_SOURCE)


def major_risk(grade: Any = None) -> ColumnElement[bool]:
    """重大风险: a red risk point; ``grade`` is another grade column (default
    ``risk_point.grade``, e.g. its grade at a month's end)."""
    return (RiskPoint.grade if grade is None else grade) == MAJOR_RISK_GRADE


def controls_in_place() -> ColumnElement[bool]:
    """已落实“4个清单”管控措施: the risk point's controls are marked implemented."""
    return RiskPoint.controls_implemented.is_(True)


def five_measures() -> ColumnElement[bool]:
    """Hazards with all of the 五落实 filled (责任, 措施, 资金, 时限, 预案)."""
    return sa.and_(
        Hazard.resp_person.is_not(None), Hazard.measures.is_not(None), Hazard.funds_wan.is_not(None),
        Hazard.deadline.is_not(None), Hazard.emergency_plan.is_not(None),
    )


def grade_weight(grade: Any = None) -> ColumnElement[int]:
    """Per-enterprise weight of its grade (红=4 … 蓝=1, 0 when ungraded); ``grade``
    is another grade column (default ``enterprise.grade``)."""
    return sa.case({g.value: g.weight for g in GRADES}, value=Enterprise.grade if grade is None else grade,
                   else_=0)


def rate(numerator: int | None, denominator: int | None) -> float | None:
    """A percentage rounded half-up to one decimal; None when nothing to divide by.

    >>> rate(1, 3), rate(2, 3), rate(1, 8), rate(0, 0), rate(None, None)
    (33.3, 66.7, 12.5, None, None)
    """
    if not denominator or numerator is None:
        return None
    value = Decimal(numerator) * 100 / Decimal(denominator)
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def assessed_in(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """Risk points assessed between ``start`` and ``end`` inclusive (no date: never)."""
    return RiskPoint.assessed_on.between(start, end)


def became_overdue_in(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """Hazards overdue on ``end`` that were not yet overdue on the day before ``start``.

    Written as a deadline range (overdue on ``end`` and a deadline on or after the day
    before ``start``: the same hazards) so the open hazards' deadline index serves it."""
    return sa.and_(overdue_on(end), Hazard.deadline >= start - dt.timedelta(days=1))


# --- the return's columns: one clause per concept, cumulative or its 本月 part ----------------

def found(span: Span, month: bool = False) -> ColumnElement[bool]:
    """发现 / 排查出: hazards found within the span (or within its 本月 part)."""
    return found_in(span.lower(month), span.end)


def signed_off(span: Span, month: bool = False) -> ColumnElement[bool]:
    """已整改 / 已完成整改 / 已完成治理 (D, F): the span's hazards signed off by its end,
    or — the 本月 part — signed off during the month, whenever in the span they were found."""
    done = signed_off_in(span.part_first, span.end) if month else rectified_by(span.end)
    return sa.and_(found(span), done)


def in_hand(span: Span, month: bool = False) -> ColumnElement[bool]:
    """落实治理措施: hazards found (in the span or its 本月 part) with their 五落实 in place."""
    return sa.and_(found(span, month), five_measures())


def supervised_in_hand(span: Span, month: bool = False) -> ColumnElement[bool]:
    """其中：挂牌督办治理 (C): the 挂牌督办 hazards among :func:`in_hand`."""
    return sa.and_(in_hand(span, month), is_supervised())


def risk_assessed(span: Span, month: bool = False) -> ColumnElement[bool]:
    """辨识分级 (A): risk points assessed within the span (or its 本月 part)."""
    return assessed_in(span.lower(month), span.end)

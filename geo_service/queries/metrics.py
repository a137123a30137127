"""The statistical definitions, written down once.

The region summary API, the district heat layer, the monthly return and the
map legends all count with these clauses; nothing else decides what
"rectified", "overdue" or "this period" mean.

Definitions
-----------
period
    A return for month ``YYYY-MM`` covers 1 January of that year 00:00 to the
    last day of that month inclusive (the form's note: figures are cumulative
    for the year).  "本月" is the month alone.  Dates are Beijing dates.
found in a period
    ``found_on`` falls within the period.
rectified (已整改 / 已完成整改 / 已完成治理)
    The hazard has been verified and signed off (已验收销号) with
    ``verified_on`` on or before the period's last day.  A rectification the
    enterprise reported but nobody verified yet does not count; one verified
    after the month's end counts in the month it was verified.
overdue
    Still ``registered`` or ``rectifying`` and ``deadline`` before the as-of
    date (the deadline day itself is not overdue).
open
    Not closed (已验收销号).
rates
    ``numerator / denominator × 100``, rounded half-up to one decimal; no rate
    (``None``, shown blank) when the denominator is 0.
weighted risk
    Sum over enterprises of the grade weight 红=4, 橙=3, 黄=2, 蓝=1.
assessed (risk points)
    A risk point's assessment date is ``assessed_on``, or the (Beijing) day
    it was entered when ``assessed_on`` is blank.  The register keeps no
    history of grades: a risk point counts with its current grade.  Risk
    identification is a standing register, so "by the period's end" counts
    every risk point assessed on or before that day (``assessed_by``);
    "本月" counts those assessed within the month (``assessed_in``).
five measures (五落实)
    A 重大隐患 has its 五落实 when responsible person, measures, funds,
    deadline and emergency plan are all filled (``five_measures``).
became overdue in a month
    Overdue at the month's last day but not on the day before the month
    began, i.e. the deadline fell between the last day of the previous
    month and the day before the month's last day (``became_overdue_in``);
    judged with the hazard's current state, like ``overdue_on``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ..domain import CLOSED_STATE, GRADES, OVERDUE_STATES
from ..models import Enterprise, Hazard, RiskPoint

__all__ = [
    "Period",
    "period",
    "found_in",
    "rectified_by",
    "overdue_on",
    "open_clause",
    "rate",
    "grade_weight",
    "assessed_date",
    "assessed_by",
    "assessed_in",
    "five_measures",
    "became_overdue_in",
]


class Period(NamedTuple):
    """A reporting period: ``start`` (1 January) to ``end`` (last day of the month), inclusive;
    ``month_start`` is the first day of the month itself."""

    start: dt.date
    month_start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        return f"{self.end.year}年{self.end.month}月"

    def previous(self) -> Period:
        """The period of the month before (which may be in the previous year)."""
        prev_end = self.month_start - dt.timedelta(days=1)
        return period(prev_end.year, prev_end.month)


def period(year: int, month: int) -> Period:
    """The cumulative period for ``year``-``month``.

    >>> period(2026, 2)
    Period(start=datetime.date(2026, 1, 1), month_start=datetime.date(2026, 2, 1), end=datetime.date(2026, 2, 28))
    """
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} out of range")
    last = calendar.monthrange(year, month)[1]
    return Period(dt.date(year, 1, 1), dt.date(year, month, 1), dt.date(year, month, last))


def found_in(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """Hazards found between ``start`` and ``end`` inclusive."""
    return Hazard.found_on.between(start, end)


def rectified_by(end: dt.date) -> ColumnElement[bool]:
    """Hazards verified and closed on or before ``end``."""
    return sa.and_(Hazard.state == CLOSED_STATE, Hazard.verified_on <= end)


def overdue_on(as_of: dt.date) -> ColumnElement[bool]:
    """Hazards past their deadline and not yet reported rectified on ``as_of``."""
    return sa.and_(Hazard.state.in_(OVERDUE_STATES), Hazard.deadline < as_of)


def open_clause() -> ColumnElement[bool]:
    """Hazards not yet closed."""
    return Hazard.state != CLOSED_STATE


def grade_weight() -> ColumnElement[int]:
    """Per-enterprise weight of its grade (红=4 … 蓝=1, 0 when ungraded)."""
    return sa.case({g.value: g.weight for g in GRADES}, value=Enterprise.grade, else_=0)


def rate(numerator: int, denominator: int) -> float | None:
    """A percentage rounded half-up to one decimal; None when nothing to divide by.

    >>> rate(1, 3), rate(2, 3), rate(1, 8), rate(0, 0)
    (33.3, 66.7, 12.5, None)
    """
    if not denominator:
        return None
    value = Decimal(numerator) * 100 / Decimal(denominator)
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def assessed_date() -> ColumnElement[dt.date]:
    """A risk point's assessment date: ``assessed_on``, else the Beijing day it was entered."""
    return sa.func.coalesce(
        RiskPoint.assessed_on, sa.cast(sa.func.timezone("Asia/Shanghai", RiskPoint.created_at), sa.Date)
    )


def assessed_by(end: dt.date) -> ColumnElement[bool]:
    """Risk points assessed on or before ``end`` (the standing register at that day)."""
    return assessed_date() <= end


def assessed_in(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """Risk points assessed between ``start`` and ``end`` inclusive."""
    return assessed_date().between(start, end)


def five_measures() -> ColumnElement[bool]:
    """Hazards with all of the 五落实 filled (责任, 措施, 资金, 时限, 预案)."""
    return sa.and_(
        Hazard.resp_person.is_not(None), Hazard.measures.is_not(None), Hazard.funds_wan.is_not(None),
        Hazard.deadline.is_not(None), Hazard.emergency_plan.is_not(None),
    )


def became_overdue_in(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """Hazards overdue on ``end`` that were not yet overdue on the day before ``start``."""
    return sa.and_(overdue_on(end), sa.not_(overdue_on(start - dt.timedelta(days=1))))

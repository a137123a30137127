"""Whether the 双重预防 mechanism runs ("运行效果"): today's tasks, completion
rates, overdue tasks, silent enterprises, the share of self-found hazards, the
待复核等级 queue and grades "as of" a past instant.

Times: the task windows are China Standard Time wall-clock (see migration
0011 and ``docs/STATISTICS.md``); functions here take an aware ``as_of`` and
convert it.  Periods are whole months ``first_month``..``last_month``
(first days of months).  Every statement is scoped with
:func:`~geo_service.queries.scope.enterprise_scope` in SQL; parameters are bound.

Where they plug in (for the coordinator): :func:`completion_by_region` is the
district heat metric "任务完成率" (and :func:`completion_total` an entry of the
map's indicator strip); :func:`grades_as_of` is the "as of" source for the map, the
print maps and the return, and :func:`grade_changes` the change map's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select

from ..models import (
    ControlMeasure,
    Enterprise,
    Hazard,
    InspectionRecord,
    InspectionTask,
    RiskEvent,
    RiskPoint,
    RiskZone,
)
from .scope import Scope, enterprise_scope, region_clause, region_prefix

__all__ = [
    "CST",
    "local",
    "month_bounds",
    "task_windows",
    "today_tasks",
    "unit_tasks",
    "unit_name",
    "overdue_task_counts",
    "overdue_enterprises",
    "completion_by_enterprise",
    "completion_total",
    "completion_by_region",
    "silent_enterprises",
    "self_found_share",
    "review_queue",
    "grades_as_of",
    "grade_at",
    "risk_point_grade_at",
    "risk_points_regraded_after",
    "zone_grade_at",
    "month_end",
    "grade_changes",
    "enterprise_chain",
    "enterprise_name",
    "displayed_grade",
]

CST = dt.timezone(dt.timedelta(hours=8), "CST")
CST_ZONE = "Asia/Shanghai"  # the same clock by name, as the migrations' ``dp_local`` reads it


def local(t: dt.datetime) -> dt.datetime:
    """China Standard Time wall-clock of an aware instant (naive, as the window functions take it).

    >>> local(dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.timezone.utc))
    datetime.datetime(2026, 3, 2, 0, 30)
    """
    return t.astimezone(CST).replace(tzinfo=None)


def month_bounds(first_month: dt.date, last_month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Local start of ``first_month`` and of the month after ``last_month``.

    >>> month_bounds(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    (datetime.datetime(2026, 11, 1, 0, 0), datetime.datetime(2027, 1, 1, 0, 0))
    """
    nxt = dt.date(last_month.year + last_month.month // 12, last_month.month % 12 + 1, 1)
    return dt.datetime(first_month.year, first_month.month, 1), dt.datetime(nxt.year, nxt.month, 1)


def _scoped_enterprises(scope: Scope, region: str | None, enterprise_id: int | None) -> sa.ColumnElement[bool]:
    clauses = [enterprise_scope(scope), region_clause(Enterprise.region_code, region)]
    if enterprise_id is not None:
        clauses.append(Enterprise.id == enterprise_id)
    return sa.and_(*clauses)


def task_windows(scope: Scope, *, as_of: dt.datetime, enterprise_id: int | None = None,
                 region: str | None = None) -> Select[Any]:
    """Every active task in scope with its current and previous cycle window at ``as_of``.

    Columns: the task's fields, ``enterprise_name``, ``unit_name`` (风险分析单元),
    ``measure``, ``w_start``/``w_end`` (the current window, local time),
    ``done_now`` (a record in the current window), ``overdue`` (the previous
    window was owed — it began on or after ``starts_on`` — and has no record,
    and the current window has none yet either), ``next_due`` (local time by
    which the next record is owed; the window length is exact for hours, days
    and weeks, and for months of equal length).
    """
    now = local(as_of)
    cur = sa.func.inspection_window(InspectionTask.cycle_n, InspectionTask.cycle_unit,
                                    sa.literal(now, sa.DateTime)).table_valued("w_start", "w_end").lateral("cur")
    prev = sa.func.inspection_window(InspectionTask.cycle_n, InspectionTask.cycle_unit,
                                     cur.c.w_start - sa.text("interval '1 microsecond'")
                                     ).table_valued("w_start", "w_end").lateral("prev")
    nxt = sa.func.inspection_window(InspectionTask.cycle_n, InspectionTask.cycle_unit,
                                    cur.c.w_end).table_valued("w_start", "w_end").lateral("nxt")
    last = sa.func.dp_local(InspectionTask.last_record_at)
    done_now = sa.and_(InspectionTask.last_record_at.is_not(None), last >= cur.c.w_start)
    prev_owed = prev.c.w_start >= sa.cast(InspectionTask.starts_on, sa.DateTime)
    # behind: the previous window was owed and missed, and the current one is not done yet
    overdue = sa.and_(prev_owed, sa.not_(done_now),
                      sa.or_(InspectionTask.last_record_at.is_(None), last < prev.c.w_start))
    return (
        sa.select(
            InspectionTask.id, InspectionTask.enterprise_id, InspectionTask.content, InspectionTask.cycle_n,
            InspectionTask.cycle_unit, InspectionTask.resp_post, InspectionTask.starts_on,
            InspectionTask.last_record_at, Enterprise.name.label("enterprise_name"),
            RiskPoint.id.label("unit_id"), RiskPoint.name.label("unit_name"),
            RiskPoint.grade.label("unit_grade"), ControlMeasure.description.label("measure"),
            cur.c.w_start, cur.c.w_end, done_now.label("done_now"), overdue.label("overdue"),
            # next due: the end of this window, or of the next one when this one is done
            sa.case((done_now, nxt.c.w_end), else_=cur.c.w_end).label("next_due"),
        )
        .join(Enterprise, Enterprise.id == InspectionTask.enterprise_id)
        .join(ControlMeasure, ControlMeasure.id == InspectionTask.measure_id)
        .join(RiskEvent, RiskEvent.id == ControlMeasure.event_id)
        .join(RiskPoint, RiskPoint.id == RiskEvent.risk_point_id)
        .join(cur, sa.true())
        .join(prev, sa.true())
        .join(nxt, sa.true())
        .where(InspectionTask.active, _scoped_enterprises(scope, region, enterprise_id),
               sa.or_(cur.c.w_start >= sa.cast(InspectionTask.starts_on, sa.DateTime), prev_owed))
    )


def today_tasks(scope: Scope, *, as_of: dt.datetime, enterprise_id: int | None = None) -> Select[Any]:
    """"今日排查": the tasks whose current window still lacks a record, overdue ones first.

    A task whose current window has no record is due now (by ``w_end``); it is
    also overdue when its previous window was missed.  A task whose first
    window has not begun yet (it starts later) is left out.
    """
    sub = task_windows(scope, as_of=as_of, enterprise_id=enterprise_id).subquery()
    now = local(as_of)
    return (
        sa.select(sub)
        .where(sa.not_(sub.c.done_now),
               sa.or_(sub.c.overdue, sub.c.w_start >= sa.cast(sub.c.starts_on, sa.DateTime)),
               sa.cast(sub.c.starts_on, sa.DateTime) <= now)
        .order_by(sub.c.overdue.desc(), sub.c.w_end, sub.c.id)
    )


def unit_tasks(scope: Scope, *, as_of: dt.datetime, unit_id: int | None = None,
               zone_id: int | None = None) -> Select[Any]:
    """The active tasks of one 风险分析单元 (risk point ``unit_id``) or of the units in the risk
    zone ``zone_id`` (what a 风险告知卡's QR code names), with their current window
    (:func:`task_windows`): those behind first, then those still due, then those
    already recorded in this window; tasks that have not started yet are left out."""
    sub = task_windows(scope, as_of=as_of).subquery()
    if zone_id is not None:
        units = sa.select(RiskPoint.id).where(RiskPoint.zone_id == zone_id)
        pick = sub.c.unit_id.in_(units)
    else:
        pick = sub.c.unit_id == unit_id
    return (
        sa.select(sub)
        .where(pick, sa.cast(sub.c.starts_on, sa.DateTime) <= local(as_of))
        .order_by(sub.c.overdue.desc(), sub.c.done_now, sub.c.w_end, sub.c.id)
    )


def unit_name(scope: Scope, *, unit_id: int | None = None, zone_id: int | None = None) -> Select[Any]:
    """``name`` and ``enterprise_id`` of the risk point ``unit_id`` or the risk zone ``zone_id``
    when its enterprise lies in ``scope`` (no row otherwise)."""
    table: Any = RiskZone if zone_id is not None else RiskPoint
    key = zone_id if zone_id is not None else unit_id
    return (
        sa.select(table.name, table.enterprise_id)
        .join(Enterprise, Enterprise.id == table.enterprise_id)
        .where(table.id == key, enterprise_scope(scope))
    )


def overdue_task_counts(scope: Scope, *, as_of: dt.datetime, region: str | None = None,
                        enterprise_id: int | None = None) -> Select[Any]:
    """Per enterprise: active tasks and those overdue at ``as_of`` (previous window missed)."""
    sub = task_windows(scope, as_of=as_of, region=region, enterprise_id=enterprise_id).subquery()
    return (
        sa.select(sub.c.enterprise_id, sa.func.count().label("tasks"),
                  sa.func.count().filter(sub.c.overdue).label("overdue"))
        .group_by(sub.c.enterprise_id)
    )


def overdue_enterprises(scope: Scope, *, as_of: dt.datetime, region: str | None = None) -> Select[Any]:
    """The enterprises in ``scope`` (and ``region``) with tasks overdue at ``as_of``
    (:func:`overdue_task_counts`), worst first: ``enterprise_id``, ``name``,
    ``region_code``, ``tasks`` (active), ``overdue``."""
    counts = overdue_task_counts(scope, as_of=as_of, region=region).subquery()
    return (
        sa.select(Enterprise.id.label("enterprise_id"), Enterprise.name, Enterprise.region_code,
                  counts.c.tasks, counts.c.overdue)
        .join(counts, counts.c.enterprise_id == Enterprise.id)
        .where(counts.c.overdue > 0, enterprise_scope(scope))
        .order_by(counts.c.overdue.desc(), Enterprise.name, Enterprise.id)
    )


# A task k's cycle windows still open at :as_of, ending in the period and already
# done: owed and done early (nothing once the period is over).  The FROM item
# after the task and its WHERE, for the completion per enterprise.
_EARLY_WINDOWS = """LATERAL inspection_window(k.cycle_n, k.cycle_unit, CAST(:as_of AS timestamp)) w
     WHERE CAST(:as_of AS timestamp) < CAST(:period_end AS timestamp)
       AND k.active AND w.w_end > CAST(:as_of AS timestamp)
       AND w.w_end > CAST(:first AS timestamp) AND w.w_end <= CAST(:period_end AS timestamp)
       AND w.w_start >= k.starts_on::timestamp AND dp_local(k.last_record_at) >= w.w_start"""


# For a period not yet over: the cycles (of the ``mix`` CTE) whose window holding
# :as_of ends in the period (a CTE, after "), "), and the active tasks of those cycles
# recorded since their window began (the FROM and WHERE of a count over tasks ``k`` and
# their enterprises ``e``; ix_inspection_task_cycle_recorded) — for the total and per region.
_OPEN_WINDOWS = """open_windows AS (
    SELECT c.cycle_n, c.cycle_unit, w.w_start
      FROM (SELECT DISTINCT cycle_n, cycle_unit FROM mix) c,
           LATERAL inspection_window(c.cycle_n, c.cycle_unit, CAST(:as_of AS timestamp)) w
     WHERE CAST(:as_of AS timestamp) < CAST(:period_end AS timestamp) AND w.w_end > CAST(:as_of AS timestamp)
       AND w.w_end > CAST(:first AS timestamp) AND w.w_end <= CAST(:period_end AS timestamp)"""
_OPEN_TASKS = """FROM open_windows o
      JOIN inspection_task k ON k.cycle_unit = o.cycle_unit AND k.cycle_n = o.cycle_n AND k.active
                            AND k.last_record_at >= timezone(:tz, o.w_start)
      JOIN enterprise e ON e.id = k.enterprise_id
     WHERE {where_e} AND o.w_start >= k.starts_on::timestamp"""

_COMPLETION_SQL = """
WITH months AS (
    SELECT m::timestamp AS m_start, (m + interval '1 month')::timestamp AS m_next
      FROM generate_series(CAST(:first AS timestamp), CAST(:last AS timestamp), interval '1 month') m
), ents AS (
    SELECT e.id, e.name, e.region_code FROM enterprise e WHERE {where}
), due AS (
    SELECT x.enterprise_id,
           sum(x.n * inspection_due(x.cycle_n, x.cycle_unit, x.starts_on, nullif(x.ended_on, 'infinity'),
                                    m.m_start, m.m_next, CAST(:as_of AS timestamp)))::bigint AS due
      FROM task_mix x JOIN ents ON ents.id = x.enterprise_id CROSS JOIN months m
     GROUP BY 1
), done AS (
    SELECT t.enterprise_id, sum(t.done)::bigint AS done, sum(t.abnormal)::bigint AS abnormal
      FROM task_tally t JOIN ents ON ents.id = t.enterprise_id
     WHERE t.month >= CAST(:first AS date) AND t.month <= CAST(:last AS date)
     GROUP BY 1
), early AS (
    -- windows still open at as_of, ending in the period, already done: owed and done early
    SELECT k.enterprise_id, count(*)::bigint AS early
      FROM inspection_task k JOIN ents ON ents.id = k.enterprise_id, {early_windows}
     GROUP BY 1
)
SELECT ents.id AS enterprise_id, ents.name, ents.region_code,
       coalesce(due.due, 0) + coalesce(early.early, 0) AS due,
       coalesce(done.done, 0) AS done, coalesce(done.abnormal, 0) AS abnormal
  FROM ents
  LEFT JOIN due ON due.enterprise_id = ents.id
  LEFT JOIN done ON done.enterprise_id = ents.id
  LEFT JOIN early ON early.enterprise_id = ents.id
 WHERE due.enterprise_id IS NOT NULL OR done.enterprise_id IS NOT NULL
"""


def _text_scope(scope: Scope, region: str | None, enterprise_id: int | None, *, alias: str = "e",
                id_column: str = "id") -> tuple[str, dict[str, Any]]:
    """:func:`enterprise_scope` (and the region / enterprise filters) as SQL text on ``alias``
    (the enterprise, or a tally carrying ``region_code`` and ``enterprise_id``)."""
    clauses, params = ["TRUE"], {}
    for i, code in enumerate((scope.region, region)):
        if code is not None:
            clauses.append(f"{alias}.region_code LIKE :prefix_{i}")
            params[f"prefix_{i}"] = region_prefix(code) + "%"
    for i, eid in enumerate((scope.enterprise_id, enterprise_id)):
        if eid is not None:
            clauses.append(f"{alias}.{id_column} = :eid_{i}")
            params[f"eid_{i}"] = int(eid)
    return " AND ".join(clauses), params


def completion_by_enterprise(scope: Scope, *, first_month: dt.date, last_month: dt.date,
                             as_of: dt.datetime, region: str | None = None,
                             enterprise_id: int | None = None) -> sa.TextClause:
    """任务完成率 per enterprise over whole months ``first_month``..``last_month``, from the tallies.

    Columns ``enterprise_id``, ``name``, ``region_code``, ``due`` (records due:
    cycle windows ending in the period by ``as_of``, plus windows still open
    but already done), ``done`` (windows with a record) and ``abnormal``
    (异常 records).  The rate is ``done / due`` (blank when nothing is due).
    Enterprises without tasks or records in the period are left out.
    """
    where, params = _text_scope(scope, region, enterprise_id)
    first, period_end = month_bounds(first_month, last_month)
    params.update(first=first, last=dt.datetime(last_month.year, last_month.month, 1),
                  period_end=period_end, as_of=local(as_of))
    return sa.text(_COMPLETION_SQL.format(where=where, early_windows=_EARLY_WINDOWS)).bindparams(**params)


_TOTAL_SQL = """
WITH months AS (
    SELECT m::timestamp AS m_start, (m + interval '1 month')::timestamp AS m_next
      FROM generate_series(CAST(:first AS timestamp), CAST(:last AS timestamp), interval '1 month') m
), mix AS (
    -- tasks alike owe alike: group the region's tasks first, then count each group's windows once
    SELECT x.cycle_n, x.cycle_unit, x.starts_on, x.ended_on, sum(x.n)::bigint AS n
      FROM task_mix x WHERE {where_x}
     GROUP BY 1, 2, 3, 4
), due AS (
    SELECT coalesce(sum(mix.n * inspection_due(mix.cycle_n, mix.cycle_unit, mix.starts_on,
                                                nullif(mix.ended_on, 'infinity'), m.m_start, m.m_next,
                                                CAST(:as_of AS timestamp))), 0)::bigint AS due
      FROM mix CROSS JOIN months m
), done AS (
    SELECT coalesce(sum(t.done), 0)::bigint AS done, coalesce(sum(t.abnormal), 0)::bigint AS abnormal
      FROM task_tally t
     WHERE {where_t} AND t.month >= CAST(:first AS date) AND t.month <= CAST(:last AS date)
), {open_windows}
), early AS (
    -- of those, the active tasks recorded since their window began (ix_inspection_task_cycle_recorded)
    SELECT count(*)::bigint AS early
      {open_tasks}
){counted}
SELECT {enterprises} AS enterprises, due.due + early.early AS due, done.done, done.abnormal
  FROM due, done, early{counted_from}
"""
_COUNTED = """, counted AS (
    -- an enterprise with records has tasks (a task with records cannot be deleted)
    SELECT count(DISTINCT x.enterprise_id) AS enterprises FROM task_mix x WHERE {where_x}
)"""


def completion_total(scope: Scope, *, first_month: dt.date, last_month: dt.date, as_of: dt.datetime,
                     region: str | None = None, enterprise_id: int | None = None,
                     enterprises: bool = True) -> sa.TextClause:
    """The region's (or the whole scope's) ``enterprises`` counted and records ``due``, ``done``, ``abnormal``.

    The same figures as summing :func:`completion_by_enterprise`, computed from
    the tallies alone (they carry the enterprise's ``region_code``), with the
    region's tasks grouped by cycle and start first, so a province costs a few
    thousand window counts rather than one per enterprise.  ``enterprises=False``
    leaves that count out (NULL): the map's indicator strip shows only the rate,
    and the distinct count of a prefecture's 100,000 enterprises was most of the
    statement (0.15–0.2 s of 0.3 s at 532500 in the benchmark).
    """
    where_e, params = _text_scope(scope, region, enterprise_id)
    where_x, _ = _text_scope(scope, region, enterprise_id, alias="x", id_column="enterprise_id")
    where_t, _ = _text_scope(scope, region, enterprise_id, alias="t", id_column="enterprise_id")
    first, period_end = month_bounds(first_month, last_month)
    params.update(first=first, last=dt.datetime(last_month.year, last_month.month, 1),
                  period_end=period_end, as_of=local(as_of), tz=CST_ZONE)
    sql = _TOTAL_SQL.format(open_windows=_OPEN_WINDOWS, open_tasks=_OPEN_TASKS.format(where_e=where_e),
                            where_x=where_x, where_t=where_t,
                            counted=_COUNTED.format(where_x=where_x) if enterprises else "",
                            enterprises="counted.enterprises" if enterprises else "CAST(NULL AS bigint)",
                            counted_from=", counted" if enterprises else "")
    return sa.text(sql).bindparams(**params)


_BY_REGION_SQL = """
WITH months AS (
    SELECT m::timestamp AS m_start, (m + interval '1 month')::timestamp AS m_next
      FROM generate_series(CAST(:first AS timestamp), CAST(:last AS timestamp), interval '1 month') m
), children AS (
    SELECT r.code, r.name, {prefix} AS p FROM region r WHERE r.parent_code = :parent AND {visible}
), mix AS (
    -- tasks alike owe alike: group the parent's tasks by county and cycle, then by child region
    SELECT ch.code, g.cycle_n, g.cycle_unit, g.starts_on, g.ended_on, sum(g.n)::bigint AS n
      FROM (SELECT x.region_code, x.cycle_n, x.cycle_unit, x.starts_on, x.ended_on, sum(x.n)::bigint AS n
              FROM task_mix x WHERE {where_x} GROUP BY 1, 2, 3, 4, 5) g
      JOIN children ch ON g.region_code LIKE ch.p || '%'
     GROUP BY 1, 2, 3, 4, 5
), due AS (
    SELECT mix.code, sum(mix.n * inspection_due(mix.cycle_n, mix.cycle_unit, mix.starts_on,
                                                nullif(mix.ended_on, 'infinity'), m.m_start, m.m_next,
                                                CAST(:as_of AS timestamp)))::bigint AS due
      FROM mix CROSS JOIN months m
     GROUP BY 1
), done AS (
    SELECT ch.code, sum(t.done)::bigint AS done, sum(t.abnormal)::bigint AS abnormal
      FROM (SELECT t.region_code, sum(t.done) AS done, sum(t.abnormal) AS abnormal
              FROM task_tally t
             WHERE {where_t} AND t.month >= CAST(:first AS date) AND t.month <= CAST(:last AS date)
             GROUP BY 1) t
      JOIN children ch ON t.region_code LIKE ch.p || '%'
     GROUP BY 1
), {open_windows}
), early AS (
    -- windows still open, ending in the period, already done: the active tasks of those
    -- cycles recorded since their window began (ix_inspection_task_cycle_recorded)
    SELECT ch.code, sum(k.early)::bigint AS early
      FROM (SELECT e.region_code, count(*) AS early
              {open_tasks}
             GROUP BY 1) k
      JOIN children ch ON k.region_code LIKE ch.p || '%'
     GROUP BY 1
), counted AS (
    -- an enterprise with records has tasks (a task with records cannot be deleted); each
    -- enterprise has one region_code, so the counties' counts add up
    SELECT ch.code, sum(c.enterprises)::bigint AS enterprises
      FROM (SELECT x.region_code, count(DISTINCT x.enterprise_id) AS enterprises
              FROM task_mix x WHERE {where_x} GROUP BY 1) c
      JOIN children ch ON c.region_code LIKE ch.p || '%'
     GROUP BY 1
)
SELECT ch.code, ch.name, coalesce(counted.enterprises, 0)::bigint AS enterprises,
       (coalesce(due.due, 0) + coalesce(early.early, 0))::bigint AS due,
       coalesce(done.done, 0)::bigint AS done, coalesce(done.abnormal, 0)::bigint AS abnormal
  FROM children ch
  LEFT JOIN counted ON counted.code = ch.code
  LEFT JOIN due ON due.code = ch.code
  LEFT JOIN done ON done.code = ch.code
  LEFT JOIN early ON early.code = ch.code
 ORDER BY ch.code
"""


def completion_by_region(scope: Scope, *, parent: str, first_month: dt.date, last_month: dt.date,
                         as_of: dt.datetime) -> sa.TextClause:
    """任务完成率 per child region of ``parent`` (a region and everything below it), from the tallies.

    Columns ``code``, ``name``, ``enterprises`` (with tasks or records),
    ``due``, ``done``, ``abnormal``.  This is the district metric for the map's
    heat layer and indicator strip.  One grouped statement over the tallies and
    the task mix, which carry the enterprise's ``region_code``: the parent's
    tasks are grouped by county and cycle before their windows are counted (as
    :func:`completion_total` does for one region), never one enterprise at a
    time; the figures are those of summing :func:`completion_by_enterprise`.
    """
    where_e, params = _text_scope(scope, parent, None)
    where_x, _ = _text_scope(scope, parent, None, alias="x", id_column="enterprise_id")
    where_t, _ = _text_scope(scope, parent, None, alias="t", id_column="enterprise_id")
    first, period_end = month_bounds(first_month, last_month)
    params.update(first=first, last=dt.datetime(last_month.year, last_month.month, 1),
                  period_end=period_end, as_of=local(as_of), parent=parent, tz=CST_ZONE)
    prefix = ("CASE WHEN length(r.code) = 6 AND r.code LIKE '%0000' THEN left(r.code, 2)"
              " WHEN length(r.code) = 6 AND r.code LIKE '%00' THEN left(r.code, 4)"
              " WHEN length(r.code) = 12 AND r.code LIKE '%000' THEN left(r.code, 9) ELSE r.code END")
    # only the child regions the caller may look at (its own branch of the tree)
    visible = "TRUE"
    if scope.region is not None:
        visible = f"(r.code LIKE :scope_like OR :scope_code LIKE {prefix} || '%')"
        params.update(scope_like=region_prefix(scope.region) + "%", scope_code=scope.region)
    elif scope.enterprise_id is not None:
        visible = (f"EXISTS (SELECT 1 FROM enterprise e WHERE e.id = :scope_eid"
                   f" AND e.region_code LIKE {prefix} || '%')")
        params.update(scope_eid=scope.enterprise_id)
    sql = _BY_REGION_SQL.format(open_windows=_OPEN_WINDOWS, open_tasks=_OPEN_TASKS.format(where_e=where_e),
                                prefix=prefix, visible=visible, where_x=where_x, where_t=where_t)
    return sa.text(sql).bindparams(**params)


def silent_enterprises(scope: Scope, *, month: dt.date, region: str | None = None) -> Select[Any]:
    """Enterprises with active tasks and not one 排查记录 made in ``month`` ("机制未运行")."""
    start, end = month_bounds(month, month)
    has_tasks = sa.exists().where(InspectionTask.enterprise_id == Enterprise.id, InspectionTask.active)
    recorded = sa.exists().where(
        InspectionRecord.enterprise_id == Enterprise.id,
        InspectionRecord.recorded_at >= start.replace(tzinfo=CST),
        InspectionRecord.recorded_at < end.replace(tzinfo=CST),
    )
    return (
        sa.select(Enterprise.id, Enterprise.name, Enterprise.region_code)
        .where(_scoped_enterprises(scope, region, None), has_tasks, sa.not_(recorded))
        .order_by(Enterprise.region_code, Enterprise.name)
    )


def self_found_share(scope: Scope, *, found_from: dt.date, found_to: dt.date, region: str | None = None,
                     enterprise_id: int | None = None) -> Select[Any]:
    """Hazards found in ``found_from``..``found_to`` (inclusive): ``total``, ``self_found`` (企业自查)
    and ``from_records`` (opened by an 异常 排查记录)."""
    return (
        sa.select(sa.func.count().label("total"),
                  sa.func.count().filter(Hazard.source == "self").label("self_found"),
                  sa.func.count().filter(Hazard.record_id.is_not(None)).label("from_records"))
        .select_from(Hazard).join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(_scoped_enterprises(scope, region, enterprise_id),
               Hazard.found_on >= found_from, Hazard.found_on <= found_to)
    )


def review_queue(scope: Scope, *, region: str | None = None, enterprise_id: int | None = None) -> Select[Any]:
    """待复核等级: enterprises with an open 重大隐患, or with an open hazard opened by an
    异常 record on a 重大 (红) unit.  Columns: the enterprise, its grade, ``open_major``
    and ``abnormal_on_red`` counts."""
    open_states = ("registered", "rectifying", "rectified")
    major = (
        sa.select(sa.func.count()).where(Hazard.enterprise_id == Enterprise.id, Hazard.level == "major",
                                         Hazard.state.in_(open_states))
        .scalar_subquery()
    )
    red = (
        sa.select(sa.func.count())
        .select_from(Hazard)
        .join(InspectionRecord, sa.and_(InspectionRecord.id == Hazard.record_id,
                                        InspectionRecord.recorded_at == Hazard.record_at))
        .join(InspectionTask, InspectionTask.id == InspectionRecord.task_id)
        .join(ControlMeasure, ControlMeasure.id == InspectionTask.measure_id)
        .join(RiskEvent, RiskEvent.id == ControlMeasure.event_id)
        .join(RiskPoint, RiskPoint.id == RiskEvent.risk_point_id)
        .where(Hazard.enterprise_id == Enterprise.id, Hazard.state.in_(open_states), RiskPoint.grade == 1)
        .scalar_subquery()
    )
    sub = (
        sa.select(Enterprise.id, Enterprise.name, Enterprise.region_code, Enterprise.grade,
                  major.label("open_major"), red.label("abnormal_on_red"))
        .where(_scoped_enterprises(scope, region, enterprise_id))
        .subquery()
    )
    return (sa.select(sub).where(sa.or_(sub.c.open_major > 0, sub.c.abnormal_on_red > 0))
            .order_by(sub.c.region_code, sub.c.name))


def grades_as_of(scope: Scope, *, at: dt.datetime, region: str | None = None) -> Select[Any]:
    """Each enterprise's effective grade at instant ``at`` (from ``grade_event``).

    Columns ``id``, ``name``, ``grade_then`` (NULL: ungraded or not yet
    registered then) and ``grade_now``.  For a month's map use the first
    instant of the next month (local time).
    """
    then = sa.func.enterprise_grade_as_of(sa.literal(at, sa.DateTime(timezone=True))).table_valued(
        "enterprise_id", "grade").alias("then")
    return (
        sa.select(Enterprise.id, Enterprise.name, then.c.grade.label("grade_then"),
                  Enterprise.grade.label("grade_now"))
        .join(then, then.c.enterprise_id == Enterprise.id, isouter=True)
        .where(_scoped_enterprises(scope, region, None))
        .order_by(Enterprise.id)
    )


def month_end(month: dt.date) -> dt.datetime:
    """The instant a map "as of" ``month`` shows: the first instant of the next month, China
    Standard Time.

    >>> month_end(dt.date(2026, 12, 1)).isoformat()
    '2027-01-01T00:00:00+08:00'
    """
    return month_bounds(month, month)[1].replace(tzinfo=CST)


def grade_at(at: dt.datetime, enterprise_id: Any = None) -> sa.ScalarSelect[Any]:
    """The effective grade of the enterprise ``enterprise_id`` (a column, default
    ``enterprise.id``) at instant ``at``: the last ``enterprise`` grade event at or
    before it (NULL: ungraded or not yet registered then).

    The same rule as the SQL function ``enterprise_grade_as_of`` (migration
    0011) for one enterprise at a time, so a tile reads one index entry per
    enterprise (``ix_grade_event_enterprise_at``) instead of the whole history.
    """
    g = sa.table("grade_event", sa.column("id"), sa.column("at"), sa.column("enterprise_id"),
                 sa.column("kind"), sa.column("to_grade", sa.SmallInteger))
    eid = Enterprise.id if enterprise_id is None else enterprise_id
    return (
        sa.select(g.c.to_grade)
        .where(g.c.enterprise_id == eid, g.c.kind == "enterprise",
               g.c.at <= sa.literal(at, sa.DateTime(timezone=True)))
        .order_by(g.c.at.desc(), g.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def risk_points_regraded_after(at: dt.datetime) -> Select[Any]:
    """The ids of the risk points with a grade event after instant ``at``: every other unit
    had at ``at`` the grade it has now (:func:`risk_point_grade_at`)."""
    g = sa.table("grade_event", sa.column("at"), sa.column("risk_point_id"), sa.column("kind"))
    return sa.select(g.c.risk_point_id).where(g.c.kind == "risk_point",
                                              g.c.at > sa.literal(at, sa.DateTime(timezone=True)))


def risk_point_grade_at(at: dt.datetime) -> sa.ColumnElement[Any]:
    """The grade ``risk_point`` had at instant ``at``, as a return counts it.

    Read backwards from now: the unit's first ``risk_point`` grade event after
    ``at`` holds the grade it had before (``from_grade``); when that event is
    the unit's creation (recorded after ``at``, e.g. imported later with an
    earlier assessment date) the grade it was recorded with (``to_grade``);
    with no event after ``at``, its grade of now.  This also holds for units
    recorded before the grade history began (migration 0011 kept no baseline
    for them), and reads only the events after ``at``: the units changed since
    once (``ix_grade_event_at``), then each of those units' own
    (``ix_grade_event_enterprise_at``).  Whether a unit belongs to
    a period at all is its assessment date's business
    (:func:`~geo_service.queries.metrics.risk_assessed`).
    """
    g = sa.table("grade_event", sa.column("id"), sa.column("at"), sa.column("enterprise_id"),
                 sa.column("risk_point_id"), sa.column("kind"), sa.column("from_grade", sa.SmallInteger),
                 sa.column("to_grade", sa.SmallInteger))
    later = (
        sa.select(sa.func.coalesce(g.c.from_grade, g.c.to_grade))
        .where(g.c.enterprise_id == RiskPoint.enterprise_id, g.c.risk_point_id == RiskPoint.id,
               g.c.kind == "risk_point", g.c.at > sa.literal(at, sa.DateTime(timezone=True)))
        .order_by(g.c.at, g.c.id)
        .limit(1)
        .correlate(RiskPoint)
        .scalar_subquery()
    )
    # the units changed since: one hashed list (ix_grade_event_at), so the per-unit lookup runs
    # only for them and a return of the current month reads no history at all
    changed = risk_points_regraded_after(at)
    return sa.case((RiskPoint.id.in_(changed), sa.func.coalesce(later, RiskPoint.grade)), else_=RiskPoint.grade)


def zone_grade_at(at: dt.datetime, zone_id: Any = None) -> sa.ScalarSelect[Any]:
    """The grade of the risk zone ``zone_id`` (a column, default ``risk_zone.id``) at instant
    ``at``: the last ``zone`` grade event at or before it (NULL: ungraded or not drawn yet
    then).  The same rule as the SQL function ``risk_zone_grade_as_of`` (migration 0017),
    one zone at a time (``ix_grade_event_zone_at``)."""
    g = sa.table("grade_event", sa.column("id"), sa.column("at"), sa.column("zone_id"),
                 sa.column("kind"), sa.column("to_grade", sa.SmallInteger))
    zid = RiskZone.id if zone_id is None else zone_id
    return (
        sa.select(g.c.to_grade)
        .where(g.c.zone_id == zid, g.c.kind == "zone", g.c.at <= sa.literal(at, sa.DateTime(timezone=True)))
        .order_by(g.c.at.desc(), g.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def grade_changes(scope: Scope, *, month: dt.date, region: str | None = None) -> Select[Any]:
    """Enterprises whose effective grade at the end of ``month`` differs from the end of the
    month before (the 四色动态 change map).  Columns ``id``, ``name``, ``region_code``,
    ``grade_before``, ``grade_after`` (NULL: ungraded / not registered); month ends are
    China Standard Time."""
    start, end = month_bounds(month, month)
    before = sa.func.enterprise_grade_as_of(sa.literal(start.replace(tzinfo=CST), sa.DateTime(timezone=True))
                                            ).table_valued("enterprise_id", "grade").alias("before")
    after = sa.func.enterprise_grade_as_of(sa.literal(end.replace(tzinfo=CST), sa.DateTime(timezone=True))
                                           ).table_valued("enterprise_id", "grade").alias("after")
    return (
        sa.select(Enterprise.id, Enterprise.name, Enterprise.region_code, before.c.grade.label("grade_before"),
                  after.c.grade.label("grade_after"))
        .join(before, before.c.enterprise_id == Enterprise.id, isouter=True)
        .join(after, after.c.enterprise_id == Enterprise.id, isouter=True)
        .where(_scoped_enterprises(scope, region, None), before.c.grade.is_distinct_from(after.c.grade))
        .order_by(Enterprise.region_code, Enterprise.id)
    )


def enterprise_chain(enterprise_id: int, *, scope: Scope) -> Select[Any]:
    """The enterprise's chain as flat rows: unit, event, measure, task (for its page)."""
    return (
        sa.select(RiskPoint.id.label("unit_id"), RiskPoint.name.label("unit_name"),
                  RiskPoint.grade.label("unit_grade"), RiskEvent.name.label("event"),
                  RiskEvent.accident_type, RiskEvent.grade.label("event_grade"),
                  ControlMeasure.description.label("measure"), ControlMeasure.kind.label("measure_kind"),
                  ControlMeasure.level.label("measure_level"), InspectionTask.id.label("task_id"),
                  InspectionTask.content, InspectionTask.cycle_n, InspectionTask.cycle_unit,
                  InspectionTask.resp_post, InspectionTask.active,
                  sa.func.dp_local(InspectionTask.last_record_at).label("last_record_local"))
        .select_from(RiskEvent)
        .join(RiskPoint, RiskPoint.id == RiskEvent.risk_point_id)
        .join(Enterprise, Enterprise.id == RiskEvent.enterprise_id)
        .join(ControlMeasure, ControlMeasure.event_id == RiskEvent.id, isouter=True)
        .join(InspectionTask, InspectionTask.measure_id == ControlMeasure.id, isouter=True)
        .where(Enterprise.id == enterprise_id, enterprise_scope(scope))
        .order_by(RiskPoint.grade, RiskPoint.name, RiskEvent.name, ControlMeasure.id, InspectionTask.id)
    )


def enterprise_name(enterprise_id: int, *, scope: Scope) -> Select[Any]:
    """The enterprise's id and name when it lies in ``scope``."""
    return sa.select(Enterprise.id, Enterprise.name).where(Enterprise.id == enterprise_id, enterprise_scope(scope))


def displayed_grade(grade: int | None, under_review: bool, rule: str) -> int | None:
    """The grade to show: the register's, or at least 红 (1) while under review when ``rule`` is "raise".

    The stored grade is never rewritten; this is only what a page or map shows.

    >>> displayed_grade(3, True, "raise"), displayed_grade(3, True, "mark"), displayed_grade(3, False, "raise")
    (1, 3, 3)
    """
    if under_review and rule == "raise":
        return 1
    return grade

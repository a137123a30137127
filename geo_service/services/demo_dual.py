"""The demo register's 双重预防: a chain on each enterprise's riskiest units and
three months of 排查记录 with a realistic completion.

Per enterprise (seeded, deterministic with the demo seed and "today"):

* most enterprises complete about 90 % of what is due (85–97 %);
* about one in eight lags (40–70 %);
* about one in fifteen has gone silent: it recorded at two thirds of its
  windows until 40 days ago and nothing since ("机制未运行" this month).

Up to two units (the highest-graded risk points) get a 风险事件 with a
工程技术 measure and its daily (红/橙 units) or weekly 巡检 task, an 操作行为
measure with a weekly check, and for 红/橙 units an 应急措施 measure with a
monthly check.  Tasks start 100 days before "today"; records are written in
one INSERT … SELECT per call (whether a window was done is a hash of the
seed, the task and the window), 2 % of them 异常 (without hazards: the demo's
hazards come from :mod:`.demo`).  The tallies follow by trigger.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

__all__ = ["DualCounts", "load_dual", "profiles"]

LOGGER = logging.getLogger(__name__)
HISTORY_DAYS = 100


@dataclass(frozen=True)
class DualCounts:
    events: int
    measures: int
    tasks: int
    records: int

    def __str__(self) -> str:
        return f"风险事件{self.events}个、管控措施{self.measures}项、排查任务{self.tasks}项、排查记录{self.records}条"


def profiles(enterprise_ids: list[int], seed: int) -> tuple[list[int], list[float], list[int]]:
    """(ids, completion probability, silent-for-days) per enterprise, from ``seed``.

    >>> ids, p, silent = profiles(list(range(1000)), 7)
    >>> sum(1 for x in p if x >= 0.85), sum(1 for s in silent if s)  # most near 90 %, a few silent
    (800, 56)
    """
    rng = random.Random(seed * 7919 + 15)
    p: list[float] = []
    silent: list[int] = []
    for _ in enterprise_ids:
        roll = rng.random()
        if roll < 0.066:
            p.append(round(rng.uniform(0.55, 0.75), 3))
            silent.append(40)
        elif roll < 0.2:
            p.append(round(rng.uniform(0.40, 0.70), 3))
            silent.append(0)
        else:
            p.append(round(rng.uniform(0.85, 0.97), 3))
            silent.append(0)
    return list(enterprise_ids), p, silent


_CHAIN = """
WITH units AS (
    SELECT id, enterprise_id, name, grade, coalesce(accident_type, '其他伤害') AS accident_type
      FROM (SELECT r.*, row_number() OVER (PARTITION BY enterprise_id ORDER BY grade, id) AS k
              FROM risk_point r WHERE enterprise_id = ANY(:ids)) x
     WHERE k <= 2
), ev AS (
    INSERT INTO risk_event (enterprise_id, risk_point_id, name, accident_type, consequence, grade)
    SELECT enterprise_id, id, name || split_part(accident_type, '、', 1), accident_type,
           CASE WHEN grade <= 2 THEN '可能造成人员伤亡和重大财产损失' ELSE '可能造成人员受伤和财产损失' END, grade
      FROM units
    ON CONFLICT DO NOTHING
    RETURNING id, enterprise_id, risk_point_id, grade
), me AS (
    INSERT INTO control_measure (enterprise_id, event_id, description, kind, level)
    SELECT ev.enterprise_id, ev.id, m.description, m.kind, m.level
      FROM ev JOIN units u ON u.id = ev.risk_point_id,
           LATERAL (VALUES (u.name || '安全设施（报警、联锁、防护）完好有效', 'engineering',
                            CASE WHEN ev.grade <= 2 THEN 'workshop' ELSE 'team' END),
                           ('严格执行' || u.name || '安全操作规程', 'operation', 'post'),
                           (u.name || '应急物资和处置卡齐全有效', 'emergency', 'department')) AS m(description, kind, level)
     WHERE m.kind <> 'emergency' OR ev.grade <= 2
    RETURNING id, enterprise_id, event_id, kind
), ta AS (
    INSERT INTO inspection_task (enterprise_id, measure_id, content, cycle_n, cycle_unit, resp_post, starts_on)
    SELECT me.enterprise_id, me.id,
           CASE me.kind WHEN 'engineering' THEN '巡检' || u.name || '安全设施'
                        WHEN 'operation' THEN '检查' || u.name || '操作规程执行情况'
                        ELSE '检查' || u.name || '应急物资' END,
           1,
           CASE WHEN me.kind = 'engineering' AND ev.grade <= 2 THEN 'day'
                WHEN me.kind = 'emergency' THEN 'month' ELSE 'week' END,
           CASE me.kind WHEN 'engineering' THEN '班组长' WHEN 'operation' THEN '岗位操作工' ELSE '安全管理员' END,
           CAST(:starts AS date)
      FROM me JOIN ev ON ev.id = me.event_id JOIN units u ON u.id = ev.risk_point_id
    RETURNING id
)
SELECT (SELECT count(*) FROM ev), (SELECT count(*) FROM me), (SELECT count(*) FROM ta)
"""

_RECORDS = """
WITH prof AS (
    SELECT * FROM unnest(CAST(:ids AS integer[]), CAST(:p AS float8[]), CAST(:silent AS integer[]))
             AS p(enterprise_id, p, silent_days)
), win AS (
    SELECT t.id AS task_id, t.enterprise_id, prof.p, prof.silent_days, w.w_start, w.w_end
      FROM inspection_task t JOIN prof ON prof.enterprise_id = t.enterprise_id,
           LATERAL generate_series(CAST(:starts AS timestamp), CAST(:now AS timestamp),
                                   CASE t.cycle_unit WHEN 'day' THEN interval '1 day'
                                                     WHEN 'week' THEN interval '1 week'
                                                     ELSE interval '1 month' END) AS g(s),
           LATERAL inspection_window(t.cycle_n, t.cycle_unit, g.s) AS w
), pick AS (
    SELECT win.*,
           (hashtext(:seed || ':' || task_id || ':' || w_start) & 65535) / 65536.0 AS u,
           (hashtext(:seed || '#' || task_id || ':' || w_start) & 65535) / 65536.0 AS v
      FROM win
     WHERE w_start >= CAST(:starts AS timestamp)
)
INSERT INTO inspection_record (task_id, enterprise_id, recorded_at, person, result, note, geom)
SELECT task_id, enterprise_id,
       (w_start + (w_end - w_start) * (0.1 + 0.6 * v)) AT TIME ZONE 'Asia/Shanghai',
       CASE WHEN v < 0.5 THEN '班组长' ELSE '安全员' END,
       CASE WHEN u < p * 0.02 THEN 'abnormal' ELSE 'normal' END,
       CASE WHEN u < p * 0.02 THEN '发现异常，已上报' END,
       NULL
  FROM pick
 WHERE u < p
   AND w_start + (w_end - w_start) * (0.1 + 0.6 * v) < CAST(:now AS timestamp)
   AND (silent_days = 0 OR w_start + (w_end - w_start) * (0.1 + 0.6 * v)
                             < CAST(:now AS timestamp) - make_interval(days => silent_days))
"""


def load_dual(session: Session, enterprise_ids: list[int], *, today: dt.date, seed: int) -> DualCounts:
    """Add the chain and three months of records for ``enterprise_ids`` (new enterprises only)."""
    if not enterprise_ids:
        return DualCounts(0, 0, 0, 0)
    starts = today - dt.timedelta(days=HISTORY_DAYS)
    events, measures, tasks = session.execute(sa.text(_CHAIN), {"ids": enterprise_ids, "starts": starts}).one()
    ids, p, silent = profiles(sorted(enterprise_ids), seed)
    # records up to the end of yesterday (local): today's tasks are still open
    now = dt.datetime.combine(today, dt.time(0, 0))
    records = session.execute(sa.text(_RECORDS), {"ids": ids, "p": p, "silent": silent, "starts": starts,
                                                  "now": now, "seed": str(seed)}).rowcount
    counts = DualCounts(events, measures, tasks, records)
    LOGGER.info("demo dual prevention: %s", counts)
    return counts

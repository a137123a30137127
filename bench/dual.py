"""双重预防 at provincial scale: tasks and a quarter of inspection records for the
benchmark province (run after ``generate.py``), and the time of a county's and
the province's completion rate for a month, from the tallies.

    .venv/bin/python bench/dual.py generate [--months 3]
    .venv/bin/python bench/dual.py measure

Generation, in the database and with triggers off (``session_replication_role
= replica``): per risk point one 风险事件, one 工程技术 measure and one weekly
巡检 task, plus per enterprise one 操作行为 measure with a weekly check;
all tasks start ``--months`` months back; each window is done with a
probability of 0.9 (0.5 for one enterprise in eight, 0 in the last 40 days for
one in fifteen), decided by a hash of the task and the window; 2 % 异常.
At 1,000,000 enterprises (2,000,000 risk points) and three months this is
about (2,000,000 + 1,000,000) tasks × 13 weeks × 0.86 ≈ 3.4 × 10⁷ records.
Then ``task_tally_rebuild()`` (migration 0011) and ``ANALYZE``.

Measure: the median and 95th percentile of
:func:`geo_service.queries.dual_prevention.completion_total` for the largest
county and for the province (530000), last full month, as the application
role would run it; goals 200 ms and 2 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from common import bench_database, median, pct

CHAIN = """
INSERT INTO risk_event (enterprise_id, risk_point_id, name, accident_type, grade)
SELECT enterprise_id, id, name || '事故', coalesce(accident_type, '其他伤害'), grade FROM risk_point;
INSERT INTO control_measure (enterprise_id, event_id, description, kind, level)
SELECT enterprise_id, id, '安全设施完好有效', 'engineering', 'team' FROM risk_event;
INSERT INTO inspection_task (enterprise_id, measure_id, content, cycle_n, cycle_unit, resp_post, starts_on)
SELECT enterprise_id, id, '巡检安全设施', 1, 'week', '班组长', %(starts)s FROM control_measure;
-- one 操作行为 measure per enterprise, on its first event, checked weekly
INSERT INTO control_measure (enterprise_id, event_id, description, kind, level)
SELECT DISTINCT ON (enterprise_id) enterprise_id, id, '严格执行安全操作规程', 'operation', 'post'
  FROM risk_event ORDER BY enterprise_id, id;
INSERT INTO inspection_task (enterprise_id, measure_id, content, cycle_n, cycle_unit, resp_post, starts_on)
SELECT enterprise_id, id, '检查操作规程执行情况', 1, 'week', '岗位操作工', %(starts)s
  FROM control_measure WHERE kind = 'operation';
"""

RECORDS = """
INSERT INTO inspection_record (task_id, enterprise_id, recorded_at, person, result)
SELECT t.id, t.enterprise_id,
       ((w.w_start + (w.w_end - w.w_start) * (0.1 + 0.6 * h.v)) AT TIME ZONE 'Asia/Shanghai'),
       '巡检员', CASE WHEN h.u < 0.018 THEN 'abnormal' ELSE 'normal' END
  FROM inspection_task t,
       LATERAL generate_series(%(starts)s::timestamp, %(now)s::timestamp,
                               CASE t.cycle_unit WHEN 'week' THEN interval '1 week' ELSE interval '1 day' END) g(s),
       LATERAL inspection_window(t.cycle_n, t.cycle_unit, g.s) w,
       LATERAL (SELECT (hashtext(t.id || ':' || w.w_start) & 65535) / 65536.0 AS u,
                       (hashtext(w.w_start || '#' || t.id) & 65535) / 65536.0 AS v,
                       CASE WHEN t.enterprise_id %% 15 = 0 THEN 40 ELSE 0 END AS silent,
                       CASE WHEN t.enterprise_id %% 8 = 0 THEN 0.5 ELSE 0.9 END AS p) h
 WHERE t.enterprise_id BETWEEN %(lo)s AND %(hi)s
   AND w.w_start >= %(starts)s::timestamp AND h.u < h.p
   AND w.w_start + (w.w_end - w.w_start) * (0.1 + 0.6 * h.v) < %(now)s::timestamp - make_interval(days => h.silent)
"""


def generate(months: int) -> None:
    import psycopg2
    from tqdm import tqdm

    today = dt.date.today()
    index = today.year * 12 + today.month - 1 - months
    starts = dt.date(index // 12, index % 12 + 1, 1)
    now = dt.datetime.combine(today, dt.time(0, 0))
    with bench_database() as bdb:
        conn = psycopg2.connect(bdb.dsn)
        cur = conn.cursor()
        cur.execute("SET session_replication_role = replica")
        t0 = time.perf_counter()
        cur.execute("SELECT count(*) FROM inspection_task")
        if cur.fetchone()[0]:
            # records are append-only and hazards may point at them: regenerate the province instead
            raise SystemExit("已有排查任务；请先用 generate.py --scale … 重建基准库")
        cur.execute(CHAIN, {"starts": starts})
        conn.commit()
        cur.execute("SELECT count(*) FROM inspection_task")
        tasks = cur.fetchone()[0]
        cur.execute("SELECT min(id), max(id) FROM enterprise")
        lo, hi = cur.fetchone()
        print(f"tasks: {tasks} ({time.perf_counter() - t0:.0f} s)")
        cur.execute("SELECT inspection_record_add_partitions(%s, %s)", (starts, today))
        t1 = time.perf_counter()
        step = 20_000
        records = 0
        for a in tqdm(range(lo, hi + 1, step), desc="排查记录", unit="×2万家"):
            cur.execute(RECORDS, {"starts": starts, "now": now, "lo": a, "hi": a + step - 1})
            records += cur.rowcount
            conn.commit()
        print(f"records: {records} ({time.perf_counter() - t1:.0f} s, {records / (time.perf_counter() - t1):.0f}/s)")
        cur.execute("SET session_replication_role = origin")
        t2 = time.perf_counter()
        cur.execute("SELECT task_tally_rebuild()")
        conn.commit()
        print(f"tallies rebuilt ({time.perf_counter() - t2:.0f} s)")
        conn.autocommit = True
        cur.execute("ANALYZE")
        cur.execute("SELECT (SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits"
                    " WHERE inhparent = 'inspection_record'::regclass),"
                    " (SELECT count(*) FROM task_tally), (SELECT count(*) FROM task_mix)")
        size, tallies, mixes = cur.fetchone()
        print(f"inspection_record {size}; task_tally {tallies} rows; task_mix {mixes} rows")
        conn.close()


def measure(repeat: int) -> None:
    from sqlalchemy import create_engine, text

    from geo_service.queries import dual_prevention as dp
    from geo_service.queries.scope import ALL

    now = dt.datetime.now(dp.CST)
    month = (now.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    with bench_database() as bdb:
        engine = create_engine(bdb.app_url)
        with engine.connect() as conn:
            county = conn.execute(text(
                "SELECT region_code FROM enterprise GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar_one()
            print("| figure | median ms | p95 ms | goal | result (due / done) |\n|---|---|---|---|---|")
            for label, code, goal in (("county", county, 200), ("province", "530000", 2000)):
                ms = []
                row = None
                for _ in range(repeat):
                    t = time.perf_counter()
                    row = conn.execute(dp.completion_total(ALL, first_month=month, last_month=month, as_of=now,
                                                           region=code)).one()
                    ms.append((time.perf_counter() - t) * 1000)
                assert row is not None
                print(f"| 任务完成率 {month:%Y-%m}, {label} {code} ({row.enterprises} enterprises) "
                      f"| {median(ms):.0f} | {pct(ms, 95):.0f} | < {goal} ms | {row.done} / {row.due} |")
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--months", type=int, default=3)
    m = sub.add_parser("measure")
    m.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    if args.cmd == "generate":
        generate(args.months)
    else:
        measure(args.repeat)


if __name__ == "__main__":
    main()

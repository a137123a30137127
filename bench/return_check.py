"""The monthly return on the benchmark database: tallied path against the register, timed and compared.

    python bench/return_check.py [--regions 530000,530100,530112] [--months 2026-10,2026-11] [--reps 5]

For each region and month, ``compute_return`` from the tallies (the default, migration 0020)
and from the register itself (``tallies=False``), alternating, each in a new session (no
numbers cache is involved: that lives in the web layer); prints the medians with the load
average, and whether the two JSONs are equal (``data_as_of``/``filled_on`` aside: the clock).
Exit status 1 when any pair differs.  Uses ``geo_bench`` like ``bench/run.py`` (or
``BENCH_DATABASE_URL``); it only reads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_database  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", default="530000,530100,530112")
    ap.add_argument("--months", default="2026-10,2026-11")
    ap.add_argument("--reps", type=int, default=5, help="tallied runs per case (the register: 2)")
    args = ap.parse_args()

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from geo_service.queries.scope import ALL
    from geo_service.services.statistics import compute_return, parse_month

    def run(engine, code: str, month: str, tallies: bool) -> tuple[float, str]:  # type: ignore[no-untyped-def]
        with Session(engine) as s:
            t = time.perf_counter()
            numbers = compute_return(s, code, parse_month(month), scope=ALL, tallies=tallies)
            ms = (time.perf_counter() - t) * 1000
        numbers.pop("data_as_of")
        numbers.pop("filled_on")
        return ms, json.dumps(numbers, ensure_ascii=False, sort_keys=True)

    differ = 0
    with bench_database(create=False) as bdb:
        engine = create_engine(bdb.app_url)
        for code in args.regions.split(","):
            for month in args.months.split(","):
                tallied: list[float] = []
                register: list[float] = []
                same = True
                for i in range(args.reps):
                    ms, text = run(engine, code, month, True)
                    tallied.append(ms)
                    if i < 2:
                        ms_r, text_r = run(engine, code, month, False)
                        register.append(ms_r)
                        same = same and text_r == text
                differ += not same
                load = os.getloadavg()[0]
                print(f"{code} {month}: tallied median {statistics.median(tallied):.0f} ms "
                      f"(runs {', '.join(f'{x:.0f}' for x in tallied)}); register median "
                      f"{statistics.median(register):.0f} ms; JSON {'equal' if same else 'DIFFERENT'}; "
                      f"load {load:.2f}", flush=True)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())

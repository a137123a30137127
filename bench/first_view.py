"""The map's first view request by request, and a write in one county against
another county's cached tiles, on the benchmark database (``bench/RESULTS.md``).

    python bench/first_view.py      # after bench/run.py: the same database, its own app

Prints: the requests of the first view (by kind, with the slowest), the time
until the network is idle, and, for the densest county's tile and one of another
county: their revalidation after a committed write in the densest county.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg2  # noqa: E402
import run as R  # noqa: E402
from common import bench_database  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def kind(url: str) -> str:
    path = url.split("?")[0]
    for prefix in ("/tiles/enterprises/", "/tiles/hazards/", "/tiles/regions/", "/tiles/", "/map/", "/static/"):
        if prefix in path:
            return prefix.strip("/") if prefix != "/map/" else path[path.index("/map/"):]
    return path.rsplit("/", 1)[-1] or path


def first_views(base: str, rounds: int = 4) -> dict:
    from playwright.sync_api import sync_playwright

    out = {"ms": [], "requests": None, "slowest": None}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for _ in range(rounds):
            ctx = browser.new_context(viewport={"width": 1366, "height": 768})
            page = ctx.new_page()
            seen: list[tuple[str, float]] = []
            last = {"t": 0.0}

            def done(req, seen=seen, last=last) -> None:  # type: ignore[no-untyped-def]
                last["t"] = time.perf_counter()
                t = req.timing
                seen.append((req.url, t["responseEnd"] - t["requestStart"] if t["responseEnd"] > 0 else -1))

            page.on("requestfinished", done)
            t0 = time.perf_counter()
            page.goto(base + "/map", wait_until="networkidle")
            out["ms"].append(round((last["t"] - t0) * 1000, 1))
            out["requests"] = dict(Counter(kind(u) for u, _ in seen))
            out["n_requests"] = len(seen)
            out["slowest"] = sorted(((round(ms, 1), u.replace(base, "")) for u, ms in seen), reverse=True)[:6]
            ctx.close()
        browser.close()
    out["median_ms"] = statistics.median(out["ms"])
    return out


def other_county_stays_cached(bdb, base: str) -> dict:  # type: ignore[no-untyped-def]
    http = R.Http(base)
    # not ``with psycopg2.connect()``: since psycopg2 2.9 that block is one transaction even in
    # autocommit, so the write would be committed only at its end
    c = psycopg2.connect(bdb.dsn)
    c.autocommit = True
    try:
        cur = c.cursor()
        # a z12 tile around an enterprise of 五华区 (530102) and one of 红河州's 个旧市 (532501)
        tiles = {}
        for code in ("530102", "532501"):
            cur.execute("SELECT id, ST_X(geom), ST_Y(geom) FROM enterprise WHERE region_code LIKE %s ORDER BY id LIMIT 1",
                        (code + "%",))
            eid, lng, lat = cur.fetchone()
            x, y = R.tile_of(lng, lat, 12)
            tiles[code] = (eid, f"/tiles/enterprises/12/{x}/{y}.pbf")
        etags = {}
        for code, (_e, path) in tiles.items():
            st, _b, h, _ms = http.get(path)
            etags[code] = h.get("etag", "")
        eid = tiles["530102"][0]
        cur.execute("UPDATE enterprise SET grade_override = CASE WHEN grade_override IS NULL THEN 1 END, "
                    "version = version + 1 WHERE id = %s", (eid,))
        time.sleep(float(os.environ.get("FV_WAIT", "0.5")))  # the workers hear the commit by NOTIFY
        result = {}
        for code, (_e, path) in tiles.items():
            st, _b, _h, ms = http.get(path, {"If-None-Match": etags[code]})
            result[code] = {"path": path, "status_after_write_in_530102": st, "ms": round(ms, 1)}
            _st, _b, h2, _ms = http.get(path)  # no ETag: the tile as built (or cached) now
            result[code]["etag_changed"] = h2.get("etag", "") != etags[code]
        cur.execute("SELECT code, sum(weight) FROM region_change WHERE code IN ('530102', '532501', '', '*') GROUP BY 1")
        result["tokens"] = {k: int(v) for k, v in cur.fetchall()}
        cur.execute("UPDATE enterprise SET grade_override = NULL WHERE id = %s", (eid,))
    finally:
        c.close()
    return result


def main() -> None:
    with bench_database() as bdb:
        port = R.free_port()
        app = R.start_app(bdb.app_url, port)
        try:
            base = f"http://127.0.0.1:{port}"
            R.wait_http(base + "/api/")
            first = first_views(base, rounds=1 if "--write-only" in sys.argv else 4)
            report = {"first_view": first, "write_in_one_county": other_county_stays_cached(bdb, base)}
        finally:
            R.stop(app)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    (R.OUT / "first-view.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()

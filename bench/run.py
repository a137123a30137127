"""The benchmark: each figure measured in the same run as its reference.

    .venv/bin/python bench/run.py --scale 1        # or: make bench SCALE=1
    .venv/bin/python bench/run.py --scale 0.05 --quick
    .venv/bin/python bench/run.py --only load --replica   # the load mix with and without a standby

It (re)generates the synthetic province when the database holds another scale
(``bench/generate.py``), starts the application under gunicorn on a free
loopback port against the benchmark database (``LOGIN_REQUIRED=0``: the
measured requests carry no session), starts pygeoapi (its own venv
``bench/.venv-pygeoapi``) on another port against the same table, and prints
and writes (``bench/out/results-<scale>.md``) the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from common import HERE, NAIVE_TILE, OUT, ROOT, Table, bench_database, bench_standby, median, pct, timed

VENV_BIN = ROOT / ".venv" / "bin"
PYGEOAPI_VENV = HERE / ".venv-pygeoapi"
HALF = 20037508.342789244
ZOOMS = range(5, 17)


# --------------------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
        except urllib.error.HTTPError:
            return
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class Http:
    """One keep-alive HTTP/1.1 connection (what a browser tab does)."""

    def __init__(self, base: str) -> None:
        import http.client

        host, port = base.removeprefix("http://").split(":")
        self.connect = lambda: http.client.HTTPConnection(host, int(port), timeout=120)
        self.conn = self.connect()

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str], float]:
        import http.client

        for attempt in (1, 2):
            t = time.perf_counter()
            try:
                self.conn.request("GET", path, headers=headers or {})
                r = self.conn.getresponse()
                body = r.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the server closed an idle keep-alive connection: a new one, as a browser does
                self.conn.close()
                self.conn = self.connect()
                if attempt == 2:
                    raise
        ms = (time.perf_counter() - t) * 1000
        return r.status, body, {k.lower(): v for k, v in r.getheaders()}, ms


def tile_of(lng: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lng + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def start_app(db_url: str, port: int, workers: int = 2, threads: int = 4,
              read_url: str | None = None, log_name: str | None = None) -> subprocess.Popen[bytes]:
    """gunicorn with the options of ``geo-service serve`` (gthread, 2 workers × 4 threads);
    ``read_url``: its ``DATABASE_READ_URL`` (a standby)."""
    env = {**os.environ, "DATABASE_URL": db_url, "LOGIN_REQUIRED": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_READ_URL", None)
    if read_url:
        env["DATABASE_READ_URL"] = read_url
    log = open(OUT / (log_name or ("app-replica.log" if read_url else "app.log")), "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "--chdir", str(HERE), "-w", str(workers), "-k", "gthread",
         "--threads", str(threads), "-b", f"127.0.0.1:{port}", "--timeout", "120", "wsgi_app:app"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def workers_of(master_pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master_pid)], check=False, capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set size of a process (VmHWM), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> dict[str, str]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                  if ln.startswith("MemTotal"))
    pg = subprocess.run(["psql", "--version"], check=False, capture_output=True, text=True).stdout.strip()
    return {"nproc": str(os.cpu_count()), "memory": f"{mem_kb / 1024 / 1024:.1f} GiB", "cpu": cpu,
            "python": platform.python_version(), "psql": pg, "kernel": platform.release()}


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    print("安装 wrk（Debian 软件包）…", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


WRK_LUA = r"""
local paths = {}
wrk.headers["Connection"] = "keep-alive"
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local i = 0
local bad = 0
local bust = os.getenv("WRK_BUST") == "1"
local tag = tostring(math.random(1, 1000000000))
request = function()
  i = i + 1
  local p = paths[(i % #paths) + 1]
  if bust then  -- a new URL each time: no cache can answer
    p = p .. (string.find(p, "?", 1, true) and "&" or "?") .. "_bust=" .. tag .. "-" .. i
  end
  return wrk.format("GET", p)
end
response = function(status, headers, body)
  if status >= 400 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("JSON{\"requests\":%d,\"duration_us\":%d,\"p50_us\":%d,\"p95_us\":%d,"
    .. "\"p99_us\":%d,\"connect\":%d,\"read\":%d,\"write\":%d,\"timeout\":%d,\"status\":%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status))
end
"""


def wrk(base: str, paths: list[str], *, connections: int, seconds: int, threads: int = 2,
        headers: dict[str, str] | None = None, bust: bool = False) -> dict[str, Any]:
    """Requests/s, p50/p95 and errors of ``wrk`` cycling through ``paths``."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pf:
        pf.write("\n".join(paths) + "\n")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lf:
        lf.write(WRK_LUA)
    extra = [a for k, v in (headers or {}).items() for a in ("-H", f"{k}: {v}")]
    try:
        out = subprocess.run(
            [ensure_wrk(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
             *extra, "-s", lf.name, base],
            check=False, capture_output=True, text=True, env={**os.environ, "WRK_PATHS": pf.name, "WRK_BUST": "1" if bust else "0"}, timeout=seconds + 60)
    finally:
        os.unlink(pf.name)
        os.unlink(lf.name)
    m = re.search(r"JSON(\{.*\})", out.stdout)
    if not m:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    d = json.loads(m.group(1))
    d["rps"] = d["requests"] / (d["duration_us"] / 1e6)
    d["errors"] = d["connect"] + d["read"] + d["write"] + d["timeout"] + d["status"]
    return d


def pgbench(bdb: Any, sql: str, *, clients: int, seconds: int) -> dict[str, Any]:
    """The database's own rate for ``sql`` (pgbench, ``clients`` connections)."""
    exe = str(bdb.pg_bindir / "pgbench") if bdb.pg_bindir else "pgbench"
    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "q.sql"
        script.write_text(sql)
        out = subprocess.run(
            [exe, "-n", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds), "-l",
             "--log-prefix", str(Path(d) / "log"), "-f", str(script)],
            check=False, capture_output=True, text=True, env={**os.environ, **bdb.libpq_env()}, cwd=d)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        lat = []
        for f in Path(d).glob("log*"):
            for line in f.read_text().splitlines():
                parts = line.split()
                lat.append(int(parts[2]) / 1000)
    tps = float(re.search(r"tps = ([0-9.]+)", out.stdout).group(1))  # type: ignore[union-attr]
    return {"rps": tps, "p50": median(lat), "p95": pct(lat, 95)}


# --------------------------------------------------------------------------- the figures
class Bench:
    def __init__(self, bdb: Any, base: str, table: Table, quick: bool) -> None:
        import psycopg2

        self.bdb, self.base, self.table, self.quick = bdb, base, table, quick
        self.pg = psycopg2.connect(bdb.dsn)
        self.pg.autocommit = True
        self.cur = self.pg.cursor()
        self.notes: list[str] = []
        self.extra: dict[str, Any] = {}

    def q1(self, sql: str, params: Any = None) -> Any:
        self.cur.execute(sql, params)
        return self.cur.fetchone()

    def sql_ms(self, sql: str, params: Any, repeat: int) -> tuple[list[float], Any]:
        return timed(lambda: self.q1(sql, params), repeat)

    # -- the densest area -------------------------------------------------
    def densest(self) -> tuple[float, float]:
        lng, lat, n = self.q1("""
            SELECT ST_X(ST_Centroid(ST_Collect(geom))), ST_Y(ST_Centroid(ST_Collect(geom))), count(*) AS n
              FROM enterprise GROUP BY ST_SnapToGrid(geom, 0.02) ORDER BY n DESC LIMIT 1""")
        self.extra["densest"] = {"lng": round(lng, 5), "lat": round(lat, 5), "enterprises_in_2km_cell": n}
        return lng, lat

    # -- 1. tiles ---------------------------------------------------------
    NAIVE_TILE = NAIVE_TILE


    def touch(self, eid: int) -> None:
        """A real change to one enterprise (its grade override flips), committed."""
        self.cur.execute("UPDATE enterprise SET grade_override = CASE WHEN grade_override IS NULL THEN 1 END, "
                         "version = version + 1 WHERE id = %s", (eid,))

    def tiles(self, lng: float, lat: float) -> None:
        # The naive tile over HTTP is served by a second gunicorn with the same options: the
        # naive z5–z7 tiles are megabytes each and would raise the measured workers' peak RSS.
        port = free_port()
        naive_app = start_app(self.bdb.app_url, port, log_name="app-naive.log")
        try:
            wait_http(f"http://127.0.0.1:{port}/api/")
            self._tiles(lng, lat, Http(f"http://127.0.0.1:{port}"))
        finally:
            stop(naive_app)

    def _tiles(self, lng: float, lat: float, naive_http: Http) -> None:
        http = Http(self.base)
        touched: set[int] = set()
        lagged = 0  # revalidations answered 200 by a worker that had not yet heard the write
        rounds = 1 if self.quick else 3
        ring = 1  # 3 × 3 tiles around the densest point
        for z in ZOOMS:
            cx, cy = tile_of(lng, lat, z)
            tiles = [(cx + dx, cy + dy) for dy in range(-ring, ring + 1) for dx in range(-ring, ring + 1)]
            cold, warm, cached, ref, sizes, ref_sizes, ref_http = [], [], [], [], [], [], []
            for x, y in tiles:
                # an enterprise inside this tile changes before each cold request
                w, n_ = (x / 2 ** z * 360 - 180), (math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / 2 ** z)))))
                e_, s_ = ((x + 1) / 2 ** z * 360 - 180), (math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / 2 ** z)))))
                row = self.q1("SELECT id FROM enterprise WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) LIMIT 1",
                              (w, s_, e_, n_))
                if row is None:
                    continue  # around the densest point, but only tiles that hold enterprises
                path = f"/tiles/enterprises/{z}/{x}/{y}.pbf"
                for _ in range(rounds):
                    self.touch(row[0])
                    touched.add(row[0])
                    # the workers hear a commit by LISTEN/NOTIFY (tokens.py), within milliseconds:
                    # ask after that, so the request is cold in whichever worker takes it
                    time.sleep(0.05)
                    status, body, headers, ms = http.get(path)
                    assert status == 200, (path, status)
                    cold.append(ms)
                    sizes.append(len(body))
                    etag = headers.get("etag", "")
                    for _ in range(3):
                        status, _b, _h, ms = http.get(path, {"If-None-Match": etag})
                        for _retry in range(50):
                            if status == 304:
                                break
                            # one of the two workers answered the cold request before it had heard
                            # the write's NOTIFY (tokens.py: as if just before the commit), so the
                            # ETag was the previous one; take the new one
                            lagged += 1
                            etag = _h.get("etag", etag)
                            time.sleep(0.005)
                            status, _b, _h, ms = http.get(path, {"If-None-Match": etag})
                        assert status == 304, (path, status)
                        warm.append(ms)
                        status, _b, _h, ms = http.get(path)
                        cached.append(ms)
                    ms_ref, res = self.sql_ms(self.NAIVE_TILE, {"z": z, "x": x, "y": y}, 2)
                    ref += ms_ref
                    for _ in range(2):  # the same statement served by the same stack (bench/wsgi_app.py)
                        status, _b, _h, ms = naive_http.get(f"/bench/naive-tile/{z}/{x}/{y}.pbf")
                        assert status == 200, (z, x, y, status)
                        ref_http.append(ms)
                    ref_sizes.append(len(bytes(res[0] or b"")))
            self.table.add(f"tile z{z} cold (after a write)", median(cold), pct(cold, 95),
                           "naive ST_AsMVT in DB", median(ref), pct(ref, 95), median(cold) / median(ref),
                           "p95 < 100 ms, ≤ naive", pct(cold, 95) < 100 and median(cold) <= median(ref))
            self.table.add(f"  tile z{z} cold, against the naive query served over the same HTTP stack",
                           median(cold), pct(cold, 95), "naive ST_AsMVT over HTTP", median(ref_http),
                           pct(ref_http, 95), median(cold) / median(ref_http), "", None)
            self.table.add(f"tile z{z} warm (ETag 304)", median(warm), pct(warm, 95), "", "", "", "",
                           "p50 < 5 ms", median(warm) < 5)
            self.table.add(f"tile z{z} warm (server cache, no ETag)", median(cached), pct(cached, 95), "", "", "",
                           "", "", None)
            self.extra.setdefault("tile_bytes", {})[z] = {"ours_median": int(median(sizes)),
                                                          "naive_median": int(median(ref_sizes))}
            print(f"    z{z}: tile {int(median(sizes))} B, naive {int(median(ref_sizes))} B", flush=True)
        self.extra["tile_revalidations_before_notify"] = lagged
        print(f"    revalidations answered 200 before the worker heard the write: {lagged}", flush=True)
        # the generator sets no override: put the touched enterprises back
        self.cur.execute("UPDATE enterprise SET grade_override = NULL WHERE id = ANY(%s) AND grade_override IS NOT NULL",
                         (list(touched),))

    NAIVE_HAZARD_TILE = """
        SELECT ST_AsMVT(t, 'hazards', 4096, 'geom') FROM (
          SELECT ST_AsMVTGeom(ST_Transform(coalesce(h.geom, e.geom), 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                              4096, 64, true) AS geom, h.id, h.level, h.state, h.deadline::text
            FROM hazard h JOIN enterprise e ON e.id = h.enterprise_id
           WHERE h.state IN ('registered', 'rectifying', 'rectified')
             AND coalesce(h.geom, e.geom) && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s,
                   ST_MakeEnvelope(-20037508.342789244, -20037508.342789244, 20037508.342789244,
                                   20037508.342789244, 3857), 64.0 / 4096), 4326)) t"""

    def hazard_tiles(self, lng: float, lat: float) -> None:
        """The map's hazard layer (open hazards, from tile zoom 8), cold after a write to a hazard there."""
        http = Http(self.base)
        rounds = 1 if self.quick else 3
        for z in range(8, 17):
            cx, cy = tile_of(lng, lat, z)
            cold, ref, sizes = [], [], []
            for x, y in [(cx + dx, cy + dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]:
                w, n_ = (x / 2 ** z * 360 - 180), (math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / 2 ** z)))))
                e_, s_ = ((x + 1) / 2 ** z * 360 - 180), (math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / 2 ** z)))))
                row = self.q1("SELECT id FROM hazard WHERE loc && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
                              " AND state <> 'closed' LIMIT 1", (w, s_, e_, n_))
                if row is None:
                    continue
                path = f"/tiles/hazards/{z}/{x}/{y}.pbf?hazard_state=registered,rectifying,rectified"
                for _ in range(rounds):
                    # a real write to a hazard inside the tile: the token moves, nothing is cached
                    self.cur.execute("UPDATE hazard SET version = version + 1 WHERE id = %s", (row[0],))
                    status, body, _h, ms = http.get(path)
                    assert status == 200, (path, status)
                    cold.append(ms)
                    sizes.append(len(body))
                    ms_ref, _res = self.sql_ms(self.NAIVE_HAZARD_TILE, {"z": z, "x": x, "y": y}, 1)
                    ref += ms_ref
            if not cold:
                continue
            self.table.add(f"hazard tile z{z} cold (open hazards, after a write)", median(cold), pct(cold, 95),
                           "naive: COALESCE(hazard, enterprise) points", median(ref), pct(ref, 95),
                           median(cold) / median(ref), "p95 < 100 ms", pct(cold, 95) < 100)
            print(f"    hazards z{z}: tile {int(median(sizes))} B", flush=True)

    def freshness(self, lng: float, lat: float) -> None:
        """A write committed by another client (psycopg2 here), then the tile asked
        again and again until it shows it: the milliseconds from the commit to the
        first request that shows it, for an enterprise (z8 cells, z14 points) and a
        hazard (z15), each change and its undo.  A worker learns of a commit from
        the NOTIFY (``geo_service/tokens.py``); until then it answers as if just
        before the commit."""
        import mapbox_vector_tile

        http = Http(self.base)
        windows: list[float] = []
        missed = 0

        def visible_after(check: Any, limit_s: float = 2.0) -> str:
            """Ask until ``check()`` holds: the milliseconds it took, counted in ``windows``."""
            nonlocal missed
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < limit_s:
                if check():
                    windows.append((time.perf_counter() - t0) * 1000)
                    return f"{windows[-1]:.1f} ms"
            missed += 1
            return "never"

        eid, elng, elat = self.q1("""SELECT id, ST_X(geom), ST_Y(geom) FROM enterprise
                                      WHERE grade_override IS NULL AND grade = 4
                                      ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) LIMIT 1""", (lng, lat))
        for z in (8, 14):
            x, y = tile_of(elng, elat, z)
            path = f"/tiles/enterprises/{z}/{x}/{y}.pbf?grade=1"

            def red(path: str = path) -> tuple[int, set[int]]:
                status, body, _h, _ms = http.get(path)
                feats = mapbox_vector_tile.decode(body).get("enterprises", {}).get("features", [])
                return sum(f["properties"]["count"] for f in feats), {f["properties"].get("id") for f in feats}

            before, ids_before = red()
            if z >= 12:
                assert eid not in ids_before
            self.cur.execute("UPDATE enterprise SET grade_override = 1 WHERE id = %s", (eid,))

            def shows(red: Any = red, before: int = before, z: int = z) -> bool:
                n, ids = red()
                return n == before + 1 and (z < 12 or eid in ids)

            shown = visible_after(shows)
            self.cur.execute("UPDATE enterprise SET grade_override = NULL WHERE id = %s", (eid,))
            undone = visible_after(lambda red=red, before=before: red()[0] == before)
            self.notes.append(f"freshness z{z}: red count {before}; the write shown after {shown}, "
                              f"the undo after {undone}")
        # a hazard signed off leaves the open-hazard tile
        hid, hlng, hlat = self.q1("""SELECT h.id, ST_X(coalesce(h.geom, e.geom)), ST_Y(coalesce(h.geom, e.geom))
                                       FROM hazard h JOIN enterprise e ON e.id = h.enterprise_id
                                      WHERE h.state = 'rectified' ORDER BY h.id LIMIT 1""")
        x, y = tile_of(hlng, hlat, 15)
        path = f"/tiles/hazards/15/{x}/{y}.pbf?hazard_state=registered,rectifying,rectified"

        def has() -> bool:
            _s, body, _h, _ms = http.get(path)
            feats = mapbox_vector_tile.decode(body).get("hazards", {}).get("features", [])
            return hid in {f["properties"].get("id") for f in feats}

        assert has()
        self.cur.execute("UPDATE hazard SET state = 'closed', verified_on = current_date, verifier = 'bench' "
                         "WHERE id = %s", (hid,))
        gone = visible_after(lambda: not has())
        self.cur.execute("UPDATE hazard SET state = 'rectified', verified_on = NULL, verifier = NULL WHERE id = %s",
                         (hid,))
        back = visible_after(has)
        self.notes.append(f"freshness hazard {hid}: signed off, gone from the tile after {gone}; "
                          f"undone, back after {back}")
        for n in self.notes[-3:]:
            print("    " + n, flush=True)
        self.extra["freshness_windows_ms"] = [round(w, 1) for w in windows]
        self.table.add("another client's write shown in the tile (enterprise z8, z14; hazard z15; "
                       f"each change and its undo; {len(windows)} of {len(windows) + missed} within 2 s)",
                       median(windows), max(windows, default=float("nan")), "", "", "", "",
                       "all shown, within 1 s", missed == 0 and max(windows, default=1e9) < 1000)

    # -- 2. bbox features -----------------------------------------------
    def bboxes(self, lng: float, lat: float, n: int = 20, target: int = 1200) -> list[tuple[float, ...]]:
        """``n`` boxes around the densest point, each holding about ``target`` enterprises."""
        half = 0.01
        for _ in range(30):
            cnt = self.q1("SELECT count(*) FROM enterprise WHERE geom && ST_MakeEnvelope(%s,%s,%s,%s,4326)",
                          (lng - half, lat - half, lng + half, lat + half))[0]
            if cnt >= target:
                break
            half *= 1.25
        out = []
        for i in range(n):
            a = 2 * math.pi * i / n
            cx, cy = lng + 1.5 * half * math.cos(a) * (i % 3) / 2, lat + 1.5 * half * math.sin(a) * (i % 3) / 2
            out.append((round(cx - half, 5), round(cy - half, 5), round(cx + half, 5), round(cy + half, 5)))
        self.cur.execute("DROP TABLE IF EXISTS bench_bbox")
        self.cur.execute("CREATE TABLE bench_bbox (i int PRIMARY KEY, env geometry)")
        for i, b in enumerate(out):
            self.cur.execute("INSERT INTO bench_bbox VALUES (%s, ST_MakeEnvelope(%s,%s,%s,%s,4326))", (i, *b))
        self.extra["bbox_half_deg"] = round(half, 4)
        return out

    SQL_FC = """
\\set i random(0, {n})
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(f.feature), '[]'))::text
  FROM (SELECT json_build_object(
                 'type', 'Feature', 'id', e.id,
                 'geometry', ST_AsGeoJSON(e.geom, 7)::json,
                 'properties', json_build_object(
                   'id', e.id, 'credit_code', e.credit_code, 'name', e.name, 'address', e.address,
                   'industry_code', e.industry_code, 'industry_name', i.name, 'region_code', e.region_code,
                   'grade', e.grade, 'legal_rep', e.legal_rep, 'contact_phone', e.contact_phone,
                   'supervising_dept', e.supervising_dept, 'version', e.version)) AS feature
          FROM enterprise e JOIN industry i ON i.code = e.industry_code, bench_bbox b
         WHERE b.i = :i AND e.geom && b.env AND ST_Intersects(e.geom, b.env)
         ORDER BY e.id LIMIT 1000) f;
"""

    def features(self, boxes: list[tuple[float, ...]], pygeoapi_base: str | None) -> None:
        secs = 5 if self.quick else 15
        paths = [f"/ogc/collections/enterprises/items?bbox={','.join(map(str, b))}&limit=1000" for b in boxes]
        http = Http(self.base)
        status, body, _h, _ms = http.get(paths[0])
        n_ours = len(json.loads(body)["features"])
        cold = wrk(self.base, paths, connections=4, seconds=secs, bust=True)
        ours = wrk(self.base, paths, connections=4, seconds=secs)
        db = pgbench(self.bdb, self.SQL_FC.format(n=len(boxes) - 1), clients=4, seconds=secs)
        self.table.add("OGC items bbox (1,000 features), 4 clients, every URL new (no cache)",
                       cold["p50_us"] / 1000, cold["p95_us"] / 1000,
                       "SQL alone (json_agg), 4 clients", db["p50"], db["p95"], cold["rps"] / db["rps"],
                       "≥ 0.8× DB rate", cold["rps"] >= 0.8 * db["rps"])
        self.table.add("  rate uncached: ours vs SQL alone (req/s)", cold["rps"], "", "", db["rps"], "",
                       cold["rps"] / db["rps"], "", None, unit="")
        self.table.add("OGC items bbox, 20 bboxes repeated (page cache keyed by the change token)",
                       ours["p50_us"] / 1000, ours["p95_us"] / 1000, "SQL alone", db["p50"], db["p95"],
                       ours["rps"] / db["rps"], "", None)
        self.table.add("  rate cached: ours vs SQL alone (req/s)", ours["rps"], "", "", db["rps"], "",
                       ours["rps"] / db["rps"], "", None, unit="")
        self.extra["ogc_uncached_errors"] = cold["errors"]
        self.extra["features_returned"] = n_ours
        self.extra["ogc_errors"] = ours["errors"]
        if pygeoapi_base:
            pg_paths = [f"/collections/enterprises/items?bbox={','.join(map(str, b))}&limit=1000&f=json"
                        for b in boxes]
            st, pbody, _h, _ms = Http(pygeoapi_base).get(pg_paths[0])
            n_pg = len(json.loads(pbody).get("features", [])) if st == 200 else -1
            peer = wrk(pygeoapi_base, pg_paths, connections=4, seconds=secs)
            self.table.add("  uncached vs pygeoapi PostgreSQL provider (2 workers, 4 clients), req/s", cold["rps"],
                           "", "pygeoapi req/s", peer["rps"], "", cold["rps"] / max(peer["rps"], 1e-9),
                           "≥ 5× pygeoapi", cold["rps"] >= 5 * peer["rps"], unit="")
            self.table.add("  cached vs pygeoapi, req/s", ours["rps"], "", "pygeoapi req/s", peer["rps"], "",
                           ours["rps"] / max(peer["rps"], 1e-9), "≥ 5× pygeoapi", ours["rps"] >= 5 * peer["rps"],
                           unit="")
            self.table.add("  pygeoapi latency", "", "", "pygeoapi", peer["p50_us"] / 1000, peer["p95_us"] / 1000)
            self.extra["pygeoapi_features_returned"] = n_pg
            self.extra["pygeoapi_errors"] = peer["errors"]

    # -- 3. summaries -----------------------------------------------------
    SQL_SUMMARY = """
        WITH e AS (SELECT id, grade FROM enterprise WHERE region_code LIKE %(p)s)
        SELECT (SELECT json_object_agg(coalesce(grade, 0), n) FROM (SELECT grade, count(*) n FROM e GROUP BY 1) a),
               (SELECT json_object_agg(grade, n) FROM (SELECT r.grade, count(*) n FROM risk_point r JOIN e
                                                         ON e.id = r.enterprise_id GROUP BY 1) b),
               (SELECT json_agg(c) FROM (
                  SELECT h.level, h.state, count(*) n,
                         count(*) FILTER (WHERE h.state IN ('registered', 'rectifying') AND h.deadline < %(d)s) overdue,
                         count(*) FILTER (WHERE h.source = 'supervised') supervised,
                         count(*) FILTER (WHERE h.state = 'closed' AND h.verified_on <= %(d)s) rectified
                    FROM hazard h JOIN e ON e.id = h.enterprise_id
                   WHERE h.found_on <= %(d)s GROUP BY 1, 2) c)
    """

    def summaries(self) -> None:
        from geo_service.queries.scope import region_prefix

        county = self.q1("SELECT region_code FROM enterprise GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0]
        self.extra["summary_county"] = county
        http = Http(self.base)
        today = dt.date.today()
        for label, code, goal in (("county", county, 20), ("province", "530000", 200)):
            path = f"/api/regions/{code}/summary"
            reps = 5 if self.quick else 15
            ours = []
            for _ in range(reps):
                status, body, _h, ms = http.get(path)
                assert status == 200, (path, status, body[:200])
                ours.append(ms)
            ref, _ = self.sql_ms(self.SQL_SUMMARY, {"p": region_prefix(code) + "%", "d": today}, reps)
            self.table.add(f"region summary, {label} {code}", median(ours), pct(ours, 95), "plain aggregate SQL",
                           median(ref), pct(ref, 95), median(ours) / median(ref), f"< {goal} ms",
                           pct(ours, 95) < goal)

    # -- 4./5. the return and the print map ------------------------------
    def return_and_map(self) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from geo_service.queries import metrics
        from geo_service.queries.scope import ALL
        from geo_service.services import statistics

        engine = create_engine(self.bdb.app_url)
        today = dt.date.today()
        period = metrics.period(today.year, today.month)
        reps = 2 if self.quick else 3
        with Session(engine) as s:
            secs, _ = timed(lambda: statistics.compute_return(s, "530000", period, scope=ALL), reps)
            self.table.add("monthly return numbers, province (compute_return, no cache)", median(secs), max(secs),
                           "", "", "", "", "< 2000 ms", max(secs) < 2000)
            # over HTTP: the first view after a write, then repeated views (numbers cache keyed by the token)
            http = Http(self.base)
            path = f"/api/returns/530000/{period.end:%Y-%m}"
            first, again = [], []
            for _ in range(reps):
                self.touch(self.q1("SELECT min(id) FROM enterprise")[0])
                status, _b, _h, ms = http.get(path)
                assert status == 200, (path, status)
                first.append(ms)
                for _ in range(5):
                    status, _b, _h, ms = http.get(path)
                    again.append(ms)
            self.cur.execute("UPDATE enterprise SET grade_override = NULL WHERE id = (SELECT min(id) FROM enterprise)")
            self.table.add("  province return over HTTP, first view after a write", median(first), max(first),
                           "", "", "", "", "< 2000 ms", max(first) < 2000)
            self.table.add("  province return over HTTP, repeated view", median(again), pct(again, 95),
                           "", "", "", "", "< 50 ms", pct(again, 95) < 50)
            try:
                from geo_service.services import maprender
                from geo_service.web.map import _palette  # noqa: F401 - only to know the map module loads
            except ImportError:
                maprender = None  # type: ignore[assignment]
            if maprender is not None:
                county = self.extra.get("summary_county") or "530102"

                def render() -> Any:
                    from geo_service.config import Config

                    data = maprender.load_map_data(s, county, period, scope=ALL)
                    style = maprender.MapStyle.from_config(Config())
                    return maprender.render_map(data, "risk", style=style)

                t_load, _ = timed(lambda: maprender.load_map_data(s, county, period, scope=ALL), reps)
                secs, out = timed(render, reps)
                self.table.add(f"print map PNG 300 dpi, county {county}", median(secs), max(secs),
                               "of which data query", median(t_load), max(t_load), "", "< 3000 ms",
                               max(secs) < 3000)
                self.extra["print_map_px"] = list(out.size_px)
        engine.dispose()

    # -- 6./7. load on the map's data endpoints ---------------------------
    def load(self, lng: float, lat: float, master_pid: int, label: str = "", warm_up: bool = False) -> None:
        paths = []
        for z in (8, 10, 12, 14):
            cx, cy = tile_of(lng, lat, z)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for g in (1, 2, 3, 4):
                        paths.append(f"/tiles/enterprises/{z}/{cx + dx}/{cy + dy}.pbf?grade={g}")
                    paths.append(f"/tiles/hazards/{z}/{cx + dx}/{cy + dy}.pbf"
                                 "?hazard_state=registered,rectifying,rectified")
                    paths.append(f"/tiles/regions/{z}/{cx + dx}/{cy + dy}.pbf")
        b = (round(lng - 0.3, 4), round(lat - 0.2, 4), round(lng + 0.3, 4), round(lat + 0.2, 4))
        paths += ["/map/districts.geojson?region=530100&zoom=9", "/map/regions.geojson?region=530100&zoom=9",
                  f"/map/heat.json?bbox={','.join(map(str, b))}&zoom=11"]
        secs = 10 if self.quick else 30
        if warm_up:
            wrk(self.base, paths, connections=16, seconds=10, bust=True)
            return
        # every request a new URL (bust): all cold, no cache answers
        res = wrk(self.base, paths, connections=16, seconds=secs, bust=True)
        self.table.add(f"map data endpoints{label}, 16 connections, all cold, {secs} s ({len(paths)} URLs)",
                       res["p50_us"] / 1000, res["p95_us"] / 1000, "", "", "", "", "p95 < 1 s, 0 errors",
                       res["errors"] == 0 and res["p95_us"] < 1_000_000)
        self.table.add(f"  throughput (req/s) / errors{label}", res["rps"], "", "", "", "", "", "≥ 40 req/s",
                       res["errors"] == 0 and res["rps"] >= 40, unit="")
        self.extra[f"load16_errors{label}"] = res["errors"]
        self.extra[f"load{label}"] = {"rps": res["rps"], "p50_ms": res["p50_us"] / 1000,
                                      "p95_ms": res["p95_us"] / 1000, "errors": res["errors"]}
        res = wrk(self.base, paths, connections=64, seconds=secs, bust=True)
        self.table.add(f"map data endpoints{label}, 64 connections, all cold, {secs} s", res["p50_us"] / 1000,
                       res["p95_us"] / 1000, "", "", "", "", "p95 < 3 s, 0 errors",
                       res["errors"] == 0 and res["p95_us"] < 3_000_000)
        self.table.add(f"  throughput (req/s) / errors{label}", res["rps"], "", "", "", "", "",
                       f"errors: {res['errors']}", res["errors"] == 0, unit="")
        self.extra[f"load64_errors{label}"] = res["errors"]
        peak = max(vm_hwm_mb(p) for p in workers_of(master_pid))
        self.table.add(f"peak RSS of a worker (VmHWM){label}", peak, "", "", "", "", "", "< 300 MB", peak < 300,
                       unit="MB")

    def load_on_replica(self, lng: float, lat: float) -> None:
        """The load mix with and without a replica, each on a freshly started application
        (empty caches, same options): first on the primary alone, then with
        ``DATABASE_READ_URL`` on a streaming standby of the benchmark database."""
        with bench_standby(self.bdb) as read_url:
            for label, read in ((" (fresh app, primary only)", None), (" (fresh app, reads on a local standby)", read_url)):
                port = free_port()
                app = start_app(self.bdb.app_url, port, read_url=read)
                primary_base, self.base = self.base, f"http://127.0.0.1:{port}"
                try:
                    wait_http(self.base + "/api/")
                    # the same mix for 10 s unmeasured first: a new standby starts with empty
                    # shared buffers, the primary's are warm from the sections before
                    self.load(lng, lat, app.pid, label=label, warm_up=True)
                    self.load(lng, lat, app.pid, label=label)
                finally:
                    self.base = primary_base
                    stop(app)

    # -- issue 3: the map page ----------------------------------------------
    def map_page(self) -> None:
        http = Http(self.base)
        status, body, _h, ms = http.get("/map")
        size_kb = len(body) / 1024
        self.table.add("/map HTML size", size_kb, "", "", "", "", "", "< 500 KB", size_kb < 500, unit="KB")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            self.notes.append("playwright missing: first view not measured")
            return
        args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
        times = []
        n_ent = self.q1("SELECT count(*) FROM enterprise WHERE region_code LIKE '5325%'")[0]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
            for _ in range(2 if self.quick else 4):
                ctx = browser.new_context(viewport={"width": 1366, "height": 768})
                page = ctx.new_page()
                last = {"t": 0.0}
                t0 = time.perf_counter()

                def on_done(req: Any, last: dict[str, float] = last) -> None:
                    last["t"] = time.perf_counter()

                page.on("requestfinished", on_done)
                page.goto(self.base + "/map", wait_until="networkidle")
                times.append((last["t"] - t0) * 1000)
                ctx.close()
            browser.close()
        self.table.add(f"/map first view (page + first tiles; {n_ent} enterprises in the default region)",
                       median(times), max(times), "", "", "", "", "< 1000 ms", max(times) < 1000)


def start_pygeoapi(bdb: Any, port: int) -> subprocess.Popen[bytes] | None:
    """pygeoapi (PyPI) with its PostgreSQL provider on the same table, 2 gunicorn workers."""
    from sqlalchemy.engine import make_url

    py = PYGEOAPI_VENV / "bin" / "python"
    if not py.exists():
        print("安装 pygeoapi 到 bench/.venv-pygeoapi …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PYGEOAPI_VENV)], check=True)
        subprocess.run([str(PYGEOAPI_VENV / "bin" / "pip"), "install", "-q", "pygeoapi", "geoalchemy2",
                        "gunicorn", "psycopg2-binary"], check=True)
    u = make_url(bdb.app_url)
    host = u.query.get("host") or u.host or "localhost"
    cfg = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   "cors": False, "pretty_print": False, "limits": {"default_items": 10, "max_items": 1000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                                        "keywords_type": "theme", "terms_of_service": "", "url": "http://x"},
                     "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
                     "provider": {"name": "bench", "url": "http://x"},
                     "contact": {"name": "bench", "position": "", "address": "", "city": "", "stateorprovince": "",
                                 "postalcode": "", "country": "", "phone": "", "fax": "", "email": "x@x",
                                 "url": "http://x", "hours": "", "instructions": "", "role": "pointOfContact"}},
        "resources": {"enterprises": {
            "type": "collection", "title": "enterprises", "description": "enterprises", "keywords": ["e"],
            "extents": {"spatial": {"bbox": [97, 21, 107, 30],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "PostgreSQL",
                           "data": {"host": str(host), "port": u.port or 5432, "dbname": u.database,
                                    "user": u.username, "password": u.password or "",
                                    "search_path": ["public"]},
                           "id_field": "id", "table": "enterprise", "geom_field": "geom"}]}},
    }
    work = OUT / "pygeoapi"
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.yml").write_text(json.dumps(cfg, indent=1))  # JSON is YAML
    env = {**os.environ, "PYGEOAPI_CONFIG": str(work / "config.yml"), "PYGEOAPI_OPENAPI": str(work / "openapi.yml")}
    subprocess.run([str(PYGEOAPI_VENV / "bin" / "pygeoapi"), "openapi", "generate", str(work / "config.yml"),
                    "--output-file", str(work / "openapi.yml")], env=env, check=True, capture_output=True)
    log = open(OUT / "pygeoapi.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [str(PYGEOAPI_VENV / "bin" / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "120",
         "pygeoapi.flask_app:APP"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 1,000,000 enterprises (default)")
    ap.add_argument("--regenerate", action="store_true", help="regenerate even if the scale matches")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (development)")
    ap.add_argument("--only", default="", help="comma list of: tiles,hazards,fresh,features,summary,return,load,page")
    ap.add_argument("--no-pygeoapi", action="store_true")
    ap.add_argument("--replica", action="store_true",
                    help="run the load mix again with DATABASE_READ_URL on a local standby (pg_basebackup -R)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    only = set(filter(None, args.only.split(",")))

    def want(name: str) -> bool:
        return not only or name in only

    with bench_database() as bdb:
        import psycopg2

        have = None
        try:
            with psycopg2.connect(bdb.dsn) as c, c.cursor() as cur:
                cur.execute("SELECT value FROM bench_meta WHERE key = 'scale'")
                have = float(cur.fetchone()[0])
        except psycopg2.Error:
            pass
        load_report = None
        if args.regenerate or have != args.scale:
            from generate import load

            print(f"生成模拟省份数据（scale {args.scale}）…", flush=True)
            load_report = load(args.scale)
            print(json.dumps(load_report, ensure_ascii=False, indent=1), flush=True)
        from geo_service.db import upgrade

        upgrade(bdb.url)  # a migration added since the data was generated
        port = free_port()
        app = start_app(bdb.app_url, port)
        peer = None
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/api/")
            table = Table()
            b = Bench(bdb, base, table, args.quick)
            counts = b.q1("SELECT (SELECT count(*) FROM enterprise), (SELECT count(*) FROM risk_point), "
                          "(SELECT count(*) FROM hazard), pg_size_pretty(pg_database_size(current_database()))")
            print(f"数据：企业 {counts[0]}、风险点 {counts[1]}、隐患 {counts[2]}，库 {counts[3]}", flush=True)
            lng, lat = b.densest()
            if want("tiles"):
                b.tiles(lng, lat)
            if want("hazards"):
                b.hazard_tiles(lng, lat)
            if want("fresh"):
                b.freshness(lng, lat)
            if want("features"):
                pport = None
                if not args.no_pygeoapi:
                    pport = free_port()
                    peer = start_pygeoapi(bdb, pport)
                    wait_http(f"http://127.0.0.1:{pport}/collections?f=json", 120)
                b.features(b.bboxes(lng, lat), f"http://127.0.0.1:{pport}" if pport else None)
                stop(peer)
                peer = None
            if want("summary"):
                b.summaries()
            if want("return"):
                b.return_and_map()
            if want("page"):
                b.map_page()
            if want("load"):
                b.load(lng, lat, app.pid)
                if args.replica:
                    b.load_on_replica(lng, lat)
            info = machine()
            report = {
                "when": dt.datetime.now().isoformat(timespec="seconds"),
                "command": " ".join([Path(sys.executable).name, "bench/run.py", *sys.argv[1:]]),
                "machine": info, "data": {"enterprises": counts[0], "risk_points": counts[1], "hazards": counts[2],
                                          "database_size": counts[3]},
                "load": load_report, "extra": b.extra, "notes": b.notes,
            }
            md = [f"# Benchmark run {report['when']}", "", "```", json.dumps(report, ensure_ascii=False, indent=1),
                  "```", "", table.markdown(), ""]
            out = OUT / f"results-{args.scale:g}.md"
            out.write_text("\n".join(md))
            print("\n" + table.markdown())
            print(f"\n结果已写入 {out}")
        finally:
            stop(peer)
            stop(app)


if __name__ == "__main__":
    main()

"""Shared plumbing of the benchmark: which database, timing helpers, the table.

The benchmark uses ``BENCH_DATABASE_URL`` when it is set (a superuser URL is
best: the bulk load disables triggers with ``session_replication_role``);
otherwise a separate database ``geo_bench`` in the service's embedded cluster
(``var/``), so the demo database ``geo_service`` is never touched.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402 - after the path is set

BENCH_DB = os.environ.get("BENCH_DB_NAME", "geo_bench")
CACHE = HERE / ".cache"
OUT = HERE / "out"


NAIVE_TILE = """
        SELECT ST_AsMVT(t, 'enterprises', 4096, 'geom') FROM (
          SELECT ST_AsMVTGeom(ST_Transform(e.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom,
                 e.id, e.name, e.grade, e.industry_code
            FROM enterprise e
           WHERE e.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s,
                   ST_MakeEnvelope(-20037508.342789244, -20037508.342789244, 20037508.342789244,
                                   20037508.342789244, 3857), 64.0 / 4096), 4326)) t"""
"""The naive tile: every enterprise in the buffered tile, no cells, no cache (psycopg2 parameters)."""


@dataclass
class BenchDatabase:
    url: str  # owner/superuser (loading, migrations, references)
    app_url: str  # what the application connects as
    dsn: str  # libpq string for psycopg2 / pgbench
    pg_bindir: Path | None
    started_cluster: object | None = None
    cluster: object | None = None  # the embedded cluster (None with BENCH_DATABASE_URL)

    def libpq_env(self) -> dict[str, str]:
        u = make_url(self.url)
        env = {"PGDATABASE": u.database or "", "PGUSER": u.username or ""}
        host = u.query.get("host") or u.host
        if host:
            env["PGHOST"] = str(host)
        if u.port:
            env["PGPORT"] = str(u.port)
        if u.password:
            env["PGPASSWORD"] = u.password
        return env


def _dsn_of(url: str) -> str:
    u = make_url(url)
    parts = [f"dbname={u.database}"]
    if u.username:
        parts.append(f"user={u.username}")
    if u.password:
        parts.append(f"password={u.password}")
    host = u.query.get("host") or u.host
    if host:
        parts.append(f"host={host}")
    if u.port:
        parts.append(f"port={u.port}")
    return " ".join(parts)


@contextlib.contextmanager
def bench_database(create: bool = True) -> Iterator[BenchDatabase]:
    """The benchmark database (created empty if missing); the embedded cluster
    is started for the block and stopped after only if this block started it."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        from geo_service.embedded import find_bindir

        try:
            bindir: Path | None = find_bindir()
        except Exception:  # noqa: BLE001 - pgbench then comes from the PATH
            bindir = None
        yield BenchDatabase(url, os.environ.get("BENCH_APP_DATABASE_URL", url), _dsn_of(url), bindir)
        return
    from geo_service.config import Config
    from geo_service.embedded import EmbeddedCluster

    cluster = EmbeddedCluster(Config().VAR_DIR)
    started = cluster.start()
    try:
        if create and not cluster.psql(f"SELECT 1 FROM pg_database WHERE datname = '{BENCH_DB}'").strip():
            cluster.psql(f"CREATE DATABASE {BENCH_DB}")
            cluster.psql("CREATE EXTENSION IF NOT EXISTS postgis", dbname=BENCH_DB)
        owner = make_url(cluster.url).set(database=BENCH_DB).render_as_string(hide_password=False)
        app = make_url(cluster.app_url).set(database=BENCH_DB).render_as_string(hide_password=False)
        yield BenchDatabase(owner, app, _dsn_of(owner), cluster.bindir, cluster if started else None, cluster)
    finally:
        if started:
            cluster.stop()


@contextlib.contextmanager
def bench_standby(bdb: BenchDatabase) -> Iterator[str]:
    """A streaming hot standby of the benchmark database for the block; yields the
    application's ``DATABASE_READ_URL`` on it.

    ``BENCH_READ_DATABASE_URL`` if set (a standby you made of ``BENCH_DATABASE_URL``'s
    server); else a ``pg_basebackup -R`` of the embedded cluster into
    ``var/bench-standby`` (the same OS user, its own socket), caught up with the
    primary before the block and removed after it.
    """
    given = os.environ.get("BENCH_READ_DATABASE_URL")
    if given:
        yield given
        return
    from geo_service.embedded import EmbeddedCluster

    if bdb.cluster is None:
        raise SystemExit("--replica: BENCH_DATABASE_URL 已设置时须同时设置 BENCH_READ_DATABASE_URL"
                         " / with BENCH_DATABASE_URL, set BENCH_READ_DATABASE_URL too")
    primary = bdb.cluster
    assert isinstance(primary, EmbeddedCluster)
    standby = EmbeddedCluster(primary.var_dir / "bench-standby", durable=False, primary=primary)
    standby.destroy()  # a copy left by an interrupted run
    t = time.perf_counter()
    print("建立备库（pg_basebackup -R）…", flush=True)
    standby.start()
    try:
        standby.catch_up()
        print(f"备库就绪：{time.perf_counter() - t:.0f} s", flush=True)
        yield make_url(standby.app_url).set(database=BENCH_DB).render_as_string(hide_password=False)
    finally:
        standby.destroy()


def drop_bench_database() -> None:
    """Drop ``geo_bench`` from the embedded cluster (not used with BENCH_DATABASE_URL)."""
    from geo_service.config import Config
    from geo_service.embedded import EmbeddedCluster

    cluster = EmbeddedCluster(Config().VAR_DIR)
    with cluster.session():
        cluster.psql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    """Milliseconds of ``repeat`` calls of ``fn`` and the last result."""
    out = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        out.append((time.perf_counter() - t) * 1000)
    return out, result


class Table:
    """The result table: one row per figure, with its reference and goal."""

    HEAD = ("figure", "median", "p95", "reference", "ref median", "ref p95", "ratio", "goal", "met")

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(self, figure: str, med: float | str, p95: float | str, reference: str = "",
            ref_med: float | str = "", ref_p95: float | str = "", ratio: float | str = "",
            goal: str = "", met: bool | None = None, unit: str = "ms") -> None:
        def f(v: float | str) -> str:
            if isinstance(v, str):
                return v
            if v != v:  # NaN
                return "–"
            return f"{v:.1f} {unit}" if unit else f"{v:.1f}"

        ratio_s = ratio if isinstance(ratio, str) else (f"{ratio:.2f}×" if ratio == ratio else "–")
        self.rows.append((figure, f(med), f(p95), reference, f(ref_med), f(ref_p95), ratio_s, goal,
                          "" if met is None else ("yes" if met else "NO")))
        print("  " + " | ".join(self.rows[-1]), flush=True)

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.HEAD) + " |", "|" + "---|" * len(self.HEAD)]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)

"""The private PostgreSQL + PostGIS cluster under ``./var/``.

With no ``DATABASE_URL`` the service runs its own cluster: ``initdb`` with the
system's PostgreSQL binaries, a Unix socket in a private directory (no TCP
port at all), trust authentication on that socket only.  PostgreSQL refuses to
run as root, so when we are root (servers, CI) ``initdb`` and ``postgres`` run
as the unprivileged ``postgres`` system user through ``runuser``; a normal
user on a laptop runs them as themself.

A cluster can also be a hot standby of another embedded cluster
(``EmbeddedCluster(dir, primary=other)``): its data directory is a
``pg_basebackup -R`` of the primary, taken over the primary's socket as the same
OS user, and it streams and replays the primary's WAL.  Every embedded cluster
runs with ``wal_level=replica`` and WAL senders, and ``initdb``'s ``pg_hba.conf``
trusts local replication connections, so any of them can have standbys: the test
suite's replica (``tests/conftest.py``) and the benchmark's (``bench/run.py
--replica``) are made this way.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

__all__ = ["EmbeddedCluster", "EmbeddedError", "find_bindir"]

LOGGER = logging.getLogger(__name__)

DB_NAME = "geo_service"
SUPERUSER = "postgres"
APP_ROLE = "geo_app"  # created by migration 0002
RUN_AS = "postgres"  # the system user Debian's package creates
# Unix socket paths are limited to 107 bytes; keep ours well inside.
_MAX_SOCKET_DIR = 80


class EmbeddedError(RuntimeError):
    """The embedded cluster could not be set up or started."""


def find_bindir() -> Path:
    """The PostgreSQL server binaries to use.

    ``PG_BINDIR`` wins; else the newest ``/usr/lib/postgresql/<v>/bin`` whose
    version has PostGIS installed; else wherever ``initdb`` is on the PATH.
    """
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    candidates = []
    for bindir in glob.glob("/usr/lib/postgresql/*/bin"):
        version = Path(bindir).parent.name
        if Path(f"/usr/share/postgresql/{version}/extension/postgis.control").exists():
            candidates.append((float(version), Path(bindir)))
    if candidates:
        return max(candidates)[1]
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    raise EmbeddedError(
        "找不到 PostgreSQL 服务器程序（initdb）。请先运行 make run 安装依赖，或设置 PG_BINDIR。"
    )


def _as_root() -> bool:
    return os.geteuid() == 0


def _user_can_reach(user: str, path: Path) -> bool:
    """Whether ``user`` can traverse down to ``path`` (its nearest existing ancestor)."""
    p = path.resolve()
    while not p.exists():
        p = p.parent
    proc = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-x", str(p)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return proc.returncode == 0


@dataclass
class EmbeddedCluster:
    """A private cluster rooted at ``var_dir``.

    Parameters
    ----------
    var_dir
        The service's state directory; the cluster lives in ``var_dir/pgdata``.
    durable
        False for throw-away test clusters: no fsync, faster start.
    primary
        Another embedded cluster this one is a hot standby of (read-only,
        replaying the primary's WAL); None for an ordinary cluster.
    """

    var_dir: Path
    durable: bool = True
    primary: EmbeddedCluster | None = None

    def __post_init__(self) -> None:
        self.var_dir = Path(self.var_dir).resolve()
        self.bindir = find_bindir()
        self.run_as = RUN_AS if _as_root() else None
        base = self.var_dir
        if self.run_as and not _user_can_reach(self.run_as, base):
            # e.g. a checkout under /root: the postgres user cannot enter it.
            digest = hashlib.sha1(str(base).encode()).hexdigest()[:12]
            base = Path(tempfile.gettempdir()) / f"geo-service-{digest}"
            LOGGER.info("postgres cannot reach %s; cluster kept in %s", self.var_dir, base)
        self.base = base
        self.datadir = base / "pgdata"
        sock = base / "run"
        if len(str(sock)) > _MAX_SOCKET_DIR:
            digest = hashlib.sha1(str(sock).encode()).hexdigest()[:12]
            sock = Path("/tmp") / f"gs-{digest}"
        self.socket_dir = sock
        self.logfile = base / "postgresql.log"

    # -- plumbing ---------------------------------------------------------
    def _cmd(self, *args: str) -> list[str]:
        argv = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *argv]
        return argv

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self._cmd(*args), capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
        if proc.returncode != 0:
            raise EmbeddedError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def _own(self, path: Path) -> None:
        """Give ``path`` to the user the server runs as."""
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        with open(self.var_dir / ".embedded.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- public -----------------------------------------------------------
    @property
    def url(self) -> str:
        """SQLAlchemy URL of the service database (socket, no password)."""
        return URL.create(
            "postgresql+psycopg2",
            username=SUPERUSER,
            database=DB_NAME,
            query={"host": str(self.socket_dir)},
        ).render_as_string(hide_password=False)

    @property
    def app_url(self) -> str:
        """URL for the application itself: the ``geo_app`` role made by the
        migrations, which cannot UPDATE or DELETE the append-only tables."""
        return URL.create(
            "postgresql+psycopg2",
            username=APP_ROLE,
            database=DB_NAME,
            query={"host": str(self.socket_dir)},
        ).render_as_string(hide_password=False)

    def libpq_dsn(self, dbname: str = DB_NAME) -> str:
        """A libpq connection string (for psql, pg_dump, GDAL)."""
        return f"host={self.socket_dir} user={SUPERUSER} dbname={dbname}"

    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def running(self) -> bool:
        if not self.initialised():
            return False
        proc = subprocess.run(
            self._cmd("pg_ctl", "status", "-D", str(self.datadir)),
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return proc.returncode == 0

    def init(self) -> None:
        """``initdb`` the cluster (a standby: copy its primary) if it does not exist yet."""
        if self.initialised():
            return
        for d in (self.base, self.datadir, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
            self._own(d)
        os.chmod(self.datadir, 0o700)
        os.chmod(self.socket_dir, 0o700)
        if self.primary is not None:
            if not self.primary.running():
                raise EmbeddedError("主库未运行，无法建立备库 / the primary is not running")
            LOGGER.info("pg_basebackup of %s into %s", self.primary.datadir, self.datadir)
            # -R: standby.signal and primary_conninfo (the primary's socket); -X stream:
            # the WAL written during the copy comes along; -c fast: no wait for a checkpoint.
            self._run("pg_basebackup", "-D", str(self.datadir), "-R", "-X", "stream", "-c", "fast",
                      "-d", self.primary.libpq_dsn("postgres"))
            return
        LOGGER.info("initdb %s", self.datadir)
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--auth-local=trust",
            "--auth-host=reject",
        )

    def start(self) -> bool:
        """Start the server if it is not running; True if this call started it."""
        with self._lock():
            self.init()
            if self.running():
                return False
            self.socket_dir.mkdir(parents=True, exist_ok=True)
            self._own(self.socket_dir)
            os.chmod(self.socket_dir, 0o700)
            if not self.logfile.exists():
                self.logfile.touch()
            self._own(self.logfile)
            opts = [
                f"-k {self.socket_dir}",
                "-c listen_addresses=''",
                "-c shared_buffers=256MB",
                "-c work_mem=32MB",
                "-c maintenance_work_mem=256MB",
                "-c max_connections=100",
                "-c jit=off",
                # the defaults, stated: any embedded cluster can have a streaming standby
                "-c wal_level=replica",
                "-c max_wal_senders=10",
            ]
            if not self.durable:
                opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
            LOGGER.info("starting embedded PostgreSQL in %s", self.datadir)
            self._run(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-o",
                " ".join(opts),
            )
            if self.primary is None:
                self._ensure_database()
            else:
                self._wait_in_recovery()
            return True

    def stop(self) -> None:
        """Stop the server (fast shutdown) if it is running."""
        with self._lock():
            if self.running():
                LOGGER.info("stopping embedded PostgreSQL")
                self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.datadir))

    def destroy(self) -> None:
        """Stop the server and remove the cluster's files (throw-away clusters)."""
        self.stop()
        shutil.rmtree(self.base if self.base != self.var_dir else self.datadir, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run one SQL command as the superuser; returns its unaligned output."""
        return self._run(
            "psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", self.libpq_dsn(dbname),
            "-c", sql,
        ).stdout

    def _ensure_database(self) -> None:
        for _ in range(50):
            try:
                exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'")
                break
            except EmbeddedError:
                time.sleep(0.1)
        else:
            raise EmbeddedError("嵌入式数据库已启动但无法连接")
        if not exists.strip():
            self.psql(f"CREATE DATABASE {DB_NAME}")
        self.psql("CREATE EXTENSION IF NOT EXISTS postgis", dbname=DB_NAME)

    def _wait_in_recovery(self, timeout_s: float = 60) -> None:
        """Wait until the standby accepts connections in recovery (hot standby)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if self.psql("SELECT pg_is_in_recovery()").strip() == "t":
                    return
            except EmbeddedError:
                pass  # not accepting connections yet
            if time.monotonic() > deadline:
                raise EmbeddedError("备库未能以恢复状态接受连接 / the standby did not come up in recovery")
            time.sleep(0.1)

    def catch_up(self, timeout_s: float = 60) -> None:
        """Wait until this standby has replayed everything its primary had committed
        when called: ``pg_last_wal_replay_lsn()`` here ≥ the primary's WAL position.

        The primary's position is taken with ``pg_switch_wal()``, which flushes the
        WAL and ends the segment: with ``synchronous_commit=off`` (throw-away
        clusters) ``pg_current_wal_lsn()`` may still lag the last commit, and a
        bare insert position can point past a page header no replayed record ends at.
        """
        if self.primary is None:
            raise EmbeddedError("不是备库 / not a standby")
        target = self.primary.psql("SELECT greatest(pg_switch_wal(), pg_current_wal_lsn())").strip()
        deadline = time.monotonic() + timeout_s
        while self.psql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn").strip() != "t":
            if time.monotonic() > deadline:
                raise EmbeddedError(f"备库 {timeout_s:g} 秒内未追上主库 / the standby did not reach {target}")
            time.sleep(0.05)

    @contextlib.contextmanager
    def session(self) -> Iterator[str]:
        """Ensure the cluster runs for the ``with`` block; stop it after only
        if this block started it.  Yields the database URL."""
        started = self.start()
        try:
            yield self.url
        finally:
            if started:
                self.stop()

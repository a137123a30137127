"""Engine, one session per request, teardown; migrations; the embedded default.

Reads from a replica
--------------------
With ``DATABASE_READ_URL`` set (a streaming standby of ``DATABASE_URL``), the
application has a second engine on it, and the rule for which requests use it is
one marker: a view decorated with :func:`replica_reads` is a read-only GET whose
data may come from the replica; :func:`get_read_session` gives such a view a
session on the replica, and gives every other view (or a marked view reached by
any other method, or code outside a request) the primary session of
:func:`get_session`.  So shared code may call ``get_read_session()`` and be right
wherever it runs.

Marked: the map's data (tiles, ``/map/*.json`` and ``*.geojson``), the API's
lists, regions and summaries, OGC API – Features and the return's numbers
(``/api/returns/<region>/<month>``).  Not marked, so on the primary: everything
that writes, and everything that must see its own write — a record's own page or
JSON (read back after a change, and carrying the ``version`` the next change must
send), the pages a form redirects to, the login, session and account checks of
the auth gate, the audit rows (``record_download`` writes them on the primary
within a marked view) and the return's page, bundle and archive.

The replica session reads in one ``REPEATABLE READ`` snapshot, so the
per-county change tokens a tile, a feature page or a region summary is cached
and tagged under are read in the same snapshot as its data, on the replica
(``web/changes.read_tokens`` and ``queries/changes.tokens_column`` go through
:func:`get_read_session`): nothing is ever cached under a token newer than what
the replica has replayed.  The tokens PUSHED to each worker come from the
primary (``geo_service/tokens.py``: a ``LISTEN`` on ``geo_engine``, since NOTIFY
is not delivered on a standby) and only serve to look answers up; so does the
write barrier.  Without ``DATABASE_READ_URL`` every view reads the primary: a
marked view through a second pool in autocommit (:func:`autocommit_session`),
so its one statement is one round trip, with no ``BEGIN``/``ROLLBACK`` around it.

Round trips
-----------
A tile built is one statement (its data and its change tokens), an uncached
OGC page two (the page; its audit row, committed as it returns).  No pre-ping:
:func:`watch_liveness` finds the connections a restart closed without asking
the server, and pings only those idle for a while.
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.orm import Session

from .config import project_root

__all__ = ["driver_url", "make_engine", "get_session", "get_read_session", "read_bind", "replica_reads",
           "init_app", "upgrade", "database_ok"]

LOGGER = logging.getLogger(__name__)

# The installed PostgreSQL driver (psycopg2-binary in pyproject.toml).  A plain
# ``postgresql://`` URL lets SQLAlchemy pick its default driver, which since
# SQLAlchemy 2.1 is psycopg 3: not installed here.
DRIVER = "postgresql+psycopg2"


def driver_url(url: str) -> str:
    """``url`` with the installed driver named, when it names none.

    >>> driver_url("postgresql://geo:pw@db:5432/geo")
    'postgresql+psycopg2://geo:pw@db:5432/geo'
    >>> driver_url("postgres:///geo?host=/run/pg"), driver_url("postgresql+psycopg2://h/geo")
    ('postgresql+psycopg2:///geo?host=/run/pg', 'postgresql+psycopg2://h/geo')
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        return DRIVER + sep + rest  # the rest verbatim: no re-quoting of the password or query
    return url


# A pooled connection idle longer than this is pinged before it is handed out
# (:func:`watch_liveness`); one used more recently is checked without a round trip.
IDLE_PING_SECONDS = 5.0


def _server_spoke(dbapi_connection: Any) -> bool:
    """Whether the server closed or wrote to an idle connection: its socket is
    readable (a restart or ``pg_terminate_backend`` sends a FATAL message and
    closes it), found with one ``poll()`` and no round trip.  An idle pooled
    connection has nothing to read otherwise: none of them LISTENs."""
    try:
        fd = dbapi_connection.fileno()
    except Exception:  # noqa: BLE001 - closed by the driver already
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def watch_liveness(engine: Engine) -> None:
    """Hand out only live connections, mostly without the round trip of a
    pre-ping (SQLAlchemy's "Disconnect Handling — Pessimistic", done in a pool
    ``checkout`` event): a connection whose socket shows that the server closed
    it is replaced; one idle in the pool longer than ``IDLE_PING_SECONDS`` (a
    peer that vanished without a word) is pinged first.  Under load connections
    come back within milliseconds, so requests pay one ``poll()``, not a
    ``SELECT 1``."""

    @event.listens_for(engine.pool, "connect")
    def _connected(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if _server_spoke(dbapi_connection):
            # each of its peers closed by the same restart is found by its own poll()
            raise exc.DisconnectionError("the server closed an idle connection")
        if time.monotonic() - record.info.get("idle_since", 0.0) > IDLE_PING_SECONDS:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except engine.dialect.loaded_dbapi.Error as err:
                raise exc.DisconnectionError("an idle connection did not answer a ping") from err
        record.info["idle_since"] = time.monotonic()


def make_engine(url: str, *, pool_size: int = 5, statement_timeout_ms: int = 30000,
                isolation_level: str | None = None) -> Engine:
    """An engine that survives database restarts (:func:`watch_liveness`) and never waits forever.

    Parameters
    ----------
    url
        SQLAlchemy URL of a PostgreSQL + PostGIS database.
    statement_timeout_ms
        Server-side limit on any one statement.
    isolation_level
        ``AUTOCOMMIT`` for a pool whose connections never open a transaction.
    """
    engine = create_engine(
        driver_url(url),
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_timeout=10,
        **({"isolation_level": isolation_level} if isolation_level else {}),
        pool_recycle=1800,
        connect_args={
            "connect_timeout": 5,
            "options": f"-c statement_timeout={statement_timeout_ms} -c timezone=Asia/Shanghai",
            "application_name": "geo-service",
        },
    )
    watch_liveness(engine)
    LOGGER.info("database engine %r", engine.url)
    return engine


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig(str(project_root() / "alembic.ini"))
    cfg.set_main_option("script_location", str(project_root() / "migrations"))
    cfg.attributes["url"] = driver_url(url)
    return cfg


# SQLSTATE of "deadlock detected".
DEADLOCK = "40P01"
UPGRADE_ATTEMPTS = 3


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the Alembic migrations to ``url`` up to ``revision``.

    The whole chain runs in one transaction (``migrations/env.py``), so an
    attempt that PostgreSQL ends as a deadlock's victim leaves the database as it
    was, and is run again, up to :data:`UPGRADE_ATTEMPTS` times.  The other side
    of such a deadlock is autovacuum on a register table: a migration's ``GRANT``
    rewrites the table's ``pg_class`` row without a lock that keeps vacuum out;
    vacuum, when it records the table's statistics in that row, then waits for
    the upgrade's transaction, while holding the lock a later ``CREATE INDEX`` on
    the table waits for (reproduced by hand with ``GRANT``, ``VACUUM`` and
    ``CREATE INDEX`` on PostgreSQL 15.18).  It needs no operator: once the
    victim's transaction is gone, vacuum finishes and the next attempt passes.
    """
    for attempt in range(1, UPGRADE_ATTEMPTS + 1):
        try:
            command.upgrade(alembic_config(url), revision)
            return
        except exc.DBAPIError as error:
            if _sqlstate(error) != DEADLOCK or attempt == UPGRADE_ATTEMPTS:
                raise
            LOGGER.warning("upgrade attempt %d of %d was a deadlock's victim and was rolled back;"
                           " running it again: %s", attempt, UPGRADE_ATTEMPTS,
                           str(error.orig).splitlines()[0])
            time.sleep(attempt)


def _sqlstate(error: exc.DBAPIError) -> str | None:
    """The SQLSTATE of the driver's error under ``error`` (psycopg2 or psycopg 3)."""
    return getattr(error.orig, "pgcode", None) or getattr(error.orig, "sqlstate", None)


def get_session() -> Session:
    """The request's session, opened lazily and closed at teardown."""
    if "db_session" not in g:
        # ``geo_bind`` is the engine, or in tests a connection inside an outer
        # transaction that is rolled back after each test.
        g.db_session = Session(
            bind=current_app.extensions["geo_bind"], join_transaction_mode="create_savepoint"
        )
    return g.db_session


V = TypeVar("V", bound=Callable[..., Any])


def replica_reads(view: V) -> V:
    """Mark ``view`` as a read-only GET that may read from ``DATABASE_READ_URL``
    (see the module docstring).  Put it under the route decorator::

        @bp.get("/tiles/<layer>/<int:z>/<int:x>/<int:y>.pbf")
        @replica_reads
        def tile(...): ...
    """
    view.reads_replica = True  # type: ignore[attr-defined]
    return view


def _marked_read() -> bool:
    """Whether this request is a GET or HEAD of a view marked :func:`replica_reads`."""
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "reads_replica", False))


def _replica_here() -> Engine | None:
    """The replica engine, if there is one and this request's view may read from it."""
    engine: Engine | None = current_app.extensions.get("geo_read_engine")
    return engine if engine is not None and _marked_read() else None


def _primary_reads_here() -> Engine | None:
    """The primary in autocommit, when this request is a marked read without a
    replica and the application is bound to an engine (not to a test's connection)."""
    engine: Engine | None = current_app.extensions.get("geo_autocommit_engine")
    if engine is None or current_app.extensions.get("geo_read_engine") is not None or not _marked_read():
        return None
    return engine if current_app.extensions["geo_bind"] is current_app.extensions["geo_engine"] else None


def read_bind() -> Engine | Connection:
    """What :func:`get_read_session` reads from: the replica engine in a marked
    view when ``DATABASE_READ_URL`` is set, else the primary's bind."""
    return _replica_here() or current_app.extensions["geo_bind"]


def get_read_session() -> Session:
    """The session a view reads its data from: on the replica in a view marked
    :func:`replica_reads` when ``DATABASE_READ_URL`` is set (opened lazily, one
    ``REPEATABLE READ`` snapshot, closed at teardown); without a replica, in such
    a view, on the primary in autocommit (see :func:`autocommit_session`); else
    :func:`get_session`."""
    if "db_read_session" in g:
        return g.db_read_session
    engine = _replica_here()
    if engine is not None:
        g.db_read_session = Session(bind=engine.execution_options(isolation_level="REPEATABLE READ"))
        return g.db_read_session
    return autocommit_session() or get_session()


def autocommit_session() -> Session | None:
    """In a marked read on the primary (no replica): the request's session in
    autocommit, where each statement is its own transaction — no ``BEGIN`` and no
    ``ROLLBACK`` round trips around the one statement that builds a tile or a page
    (which reads its change tokens in that same statement), and a write such as
    :func:`~geo_service.web.context.record_download`'s audit row committed when
    its ``INSERT`` returns.  Each statement sees what was committed before it, as
    in the ``READ COMMITTED`` transaction it replaces.  None elsewhere."""
    if "db_autocommit_session" not in g:
        engine = _primary_reads_here()
        if engine is None:
            return None
        g.db_autocommit_session = Session(bind=engine)
    session: Session = g.db_autocommit_session
    return session


def close_request_session(exc: BaseException | None) -> None:
    """Close the request's sessions (rolled back after an error), if they were opened."""
    for name in ("db_read_session", "db_autocommit_session", "db_session"):
        session: Session | None = g.pop(name, None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def database_ok(engine: Engine) -> bool:
    """Whether the database answers and has PostGIS."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT postgis_lib_version()"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        LOGGER.warning("database not reachable", exc_info=True)
        return False


def init_app(app: Flask, url: str, read_url: str | None = None) -> None:
    """The primary engine on ``url`` and, with ``read_url``, the replica's (same options)."""
    options = {"pool_size": app.config["POOL_SIZE"], "statement_timeout_ms": app.config["STATEMENT_TIMEOUT_MS"]}
    engine = make_engine(url, **options)
    app.extensions["geo_engine"] = engine
    app.extensions["geo_bind"] = engine
    # A pool of its own, whose connections stay in autocommit: switching a pooled
    # connection in and out of autocommit costs psycopg2 a SET round trip each time.
    app.extensions["geo_autocommit_engine"] = make_engine(url, **options, isolation_level="AUTOCOMMIT")
    app.extensions["geo_read_engine"] = make_engine(read_url, **options) if read_url else None
    app.teardown_appcontext(close_request_session)


def var_path(app: Flask, *parts: str) -> Path:
    return Path(app.config["VAR_DIR"]).joinpath(*parts)

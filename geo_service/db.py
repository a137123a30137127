"""Engine, one session per request, teardown; migrations; the embedded default."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from .config import project_root

__all__ = ["driver_url", "make_engine", "get_session", "init_app", "upgrade", "database_ok"]

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


def make_engine(url: str, *, pool_size: int = 5, statement_timeout_ms: int = 30000) -> Engine:
    """An engine that survives database restarts (pre-ping) and never waits forever.

    Parameters
    ----------
    url
        SQLAlchemy URL of a PostgreSQL + PostGIS database.
    statement_timeout_ms
        Server-side limit on any one statement.
    """
    engine = create_engine(
        driver_url(url),
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
        pool_timeout=10,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": 5,
            "options": f"-c statement_timeout={statement_timeout_ms} -c timezone=Asia/Shanghai",
            "application_name": "geo-service",
        },
    )
    LOGGER.info("database engine %r", engine.url)
    return engine


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig(str(project_root() / "alembic.ini"))
    cfg.set_main_option("script_location", str(project_root() / "migrations"))
    cfg.attributes["url"] = driver_url(url)
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the Alembic migrations to ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def get_session() -> Session:
    """The request's session, opened lazily and closed at teardown."""
    if "db_session" not in g:
        # ``geo_bind`` is the engine, or in tests a connection inside an outer
        # transaction that is rolled back after each test.
        g.db_session = Session(
            bind=current_app.extensions["geo_bind"], join_transaction_mode="create_savepoint"
        )
    return g.db_session


def close_request_session(exc: BaseException | None) -> None:
    """Close the request's session (rolled back after an error), if it was opened."""
    session: Session | None = g.pop("db_session", None)
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


def init_app(app: Flask, url: str) -> None:
    engine = make_engine(
        url,
        pool_size=app.config["POOL_SIZE"],
        statement_timeout_ms=app.config["STATEMENT_TIMEOUT_MS"],
    )
    app.extensions["geo_engine"] = engine
    app.extensions["geo_bind"] = engine
    app.teardown_appcontext(close_request_session)


def var_path(app: Flask, *parts: str) -> Path:
    return Path(app.config["VAR_DIR"]).joinpath(*parts)

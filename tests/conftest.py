"""A real PostGIS for the whole suite, never a mock.

The suite starts its own throw-away embedded cluster once per session (or
uses ``TEST_DATABASE_URL``), migrates an empty database with Alembic (so the
migrations are tested too) and runs each test inside a transaction that is
rolled back at the end.  Tests that need committed data (a live server for
the browser, backup/restore) ask ``make_database`` for a database of their own.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from geo_service import create_app, db
from geo_service.config import TestConfig
from geo_service.embedded import EmbeddedCluster


@pytest.fixture(scope="session")
def embedded_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster | None]:
    """The suite's throw-away cluster; None when ``TEST_DATABASE_URL`` names a server."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    cluster = EmbeddedCluster(tmp_path_factory.mktemp("pg"), durable=False)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def server_url(embedded_cluster: EmbeddedCluster | None) -> str:
    """URL of a PostGIS server's maintenance database we may create databases on."""
    return embedded_cluster.url if embedded_cluster is not None else os.environ["TEST_DATABASE_URL"]


@dataclass
class Replication:
    """A primary and its streaming hot standby (``pg_basebackup -R``)."""

    primary: EmbeddedCluster
    standby: EmbeddedCluster

    def database(self) -> str:
        """A new migrated database on the primary (it reaches the standby by replication); its name."""
        name = f"geo_repl_{uuid.uuid4().hex[:10]}"
        self.primary.psql(f'CREATE DATABASE "{name}"')
        db.upgrade(self.url(self.primary, name))
        return name

    @staticmethod
    def url(cluster: EmbeddedCluster, dbname: str, user: str | None = None) -> str:
        """SQLAlchemy URL of ``dbname`` on ``cluster`` (the owner, or ``user``)."""
        url = make_url(cluster.url).set(database=dbname)
        return (url.set(username=user) if user else url).render_as_string(hide_password=False)

    def pause_replay(self) -> None:
        """Stop the standby replaying WAL (it still receives it) until :meth:`resume_replay`."""
        self.standby.psql("SELECT pg_wal_replay_pause()")
        for _ in range(600):
            if self.standby.psql("SELECT pg_get_wal_replay_pause_state()").strip() == "paused":
                return
            time.sleep(0.05)
        raise AssertionError("the standby did not pause its replay")

    def resume_replay(self) -> None:
        self.standby.psql("SELECT pg_wal_replay_resume()")


@pytest.fixture(scope="session")
def replication(embedded_cluster: EmbeddedCluster | None,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replication]:
    """A streaming replica of the suite's cluster, started for the session: the
    standby is a ``pg_basebackup -R`` of the primary taken as the OS user the
    primary runs as (``postgres`` under root), on its own socket, and is handed
    out once it accepts connections in recovery.  With ``TEST_DATABASE_URL`` (a
    server we cannot copy) a throw-away primary of its own is started instead."""
    primary, own = embedded_cluster, None
    if primary is None:
        primary = own = EmbeddedCluster(tmp_path_factory.mktemp("pg-primary"), durable=False)
        own.start()
    standby = EmbeddedCluster(tmp_path_factory.mktemp("pg-standby"), durable=False, primary=primary)
    try:
        standby.start()
        yield Replication(primary, standby)
    finally:
        standby.destroy()
        if own is not None:
            own.destroy()


def _admin_engine(server_url: str) -> Engine:
    return create_engine(
        make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )


@pytest.fixture(scope="session")
def make_database(server_url: str) -> Iterator[Callable[[], str]]:
    """Factory: a new, migrated, empty database; dropped at the end of the session."""
    admin = _admin_engine(server_url)
    created: list[str] = []

    def _make() -> str:
        name = f"geo_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        db.upgrade(url)
        return url

    yield _make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(make_database: Callable[[], str]) -> str:
    """The suite's main database (migrated, empty; tests roll back)."""
    return make_database()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = db.make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside an outer transaction rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """An ORM session joined to the test's transaction (commits become savepoints)."""
    with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
        yield s


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"


APP_ROLE = "geo_app"


def requests_as_app_role(application, connection: Connection) -> None:  # type: ignore[no-untyped-def]
    """Serve every request of ``application`` as the role the service really runs
    as (``geo_app``, narrowed by migration 0007), while the test's own fixtures
    and checks keep the owner's rights: a write the role may not make fails the
    test that exercises it."""

    def become_app_role() -> None:
        connection.exec_driver_sql(f"SET ROLE {APP_ROLE}")

    def back_to_owner(exc: BaseException | None) -> None:
        # Close the request's session first: rolling back its savepoint after
        # RESET ROLE would undo the RESET.
        db.close_request_session(exc)
        connection.exec_driver_sql("RESET ROLE")

    # first, before the login gate reads the account
    application.before_request_funcs.setdefault(None, []).insert(0, become_app_role)
    application.teardown_request(back_to_owner)


@pytest.fixture
def app(database_url: str, connection: Connection, var_dir: Path):  # type: ignore[no-untyped-def]
    """The application bound to the test's connection, serving as ``geo_app``."""
    application = create_app(TestConfig(database_url, var_dir))
    application.extensions["geo_bind"] = connection
    requests_as_app_role(application, connection)
    yield application
    application.extensions["geo_engine"].dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()

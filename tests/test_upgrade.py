"""No data lost on upgrade: the previous release's demo database, migrated to
the new schema, still holds every row it held, column for column.

``tests/fixtures/releases/0.1.0-demo.dump`` is a ``pg_dump --format=custom``
of release 0.1.0 (commit f663004, schema revision 0003) made with that
release's own code: ``demo load --today 2026-11-28`` (14 regions, 2,000
enterprises, 5,125 risk points, 4,925 hazards, 18,888 events), the five demo
accounts, an API token, a refused login, a hazard edited and moved to 整改中
through the register service (audit rows), one evidence file and one submitted
October return of 蒙自市 (with its map exports).  It stands for an
installation's real register: the test restores it, runs ``alembic upgrade
head`` exactly as ``make run`` does, and compares every table's rows over the
columns the old release had: every old row is still there, unchanged, and only
the logs may have grown.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from geo_service import db
from geo_service.embedded import find_bindir
from geo_service.services.backup import libpq_args

DUMP = Path(__file__).parent / "fixtures" / "releases" / "0.1.0-demo.dump"
# Tables that are the extension's or the migration tool's, not the register's.
NOT_REGISTER = {"spatial_ref_sys", "alembic_version"}
# Logs that a migration may append to (a backfill that touches register rows
# records a change token), but never rewrite or shorten.
APPEND_ONLY = {"data_change", "audit_log", "hazard_event"}
# Row counts of the release's register, counted in it when the dump was made
# (``demo load`` printed the first five; the transition added one event): a
# restore that silently dropped rows fails here before any comparison.
RELEASE_COUNTS = {"region": 14, "enterprise": 2000, "risk_point": 5125, "hazard": 4925,
                  "hazard_event": 18889, "app_user": 5, "return_archive": 1, "hazard_evidence": 1,
                  "audit_log": 4, "api_token": 1, "login_attempt": 1, "map_export": 4}


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    """A new database with nothing in it (not migrated)."""
    name = f"geo_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def release_database(empty_database: str, database_url: str) -> str:
    """A new database holding the 0.1.0 demo register, at schema 0003.

    ``database_url`` first: its migrations create the ``geo_app`` role that the
    dump's grants name."""
    args, env = libpq_args(empty_database)
    subprocess.run([str(find_bindir() / "pg_restore"), "--no-owner", "--exit-on-error", *args, str(DUMP)],
                   check=True, capture_output=True, env=env, stdin=subprocess.DEVNULL)
    return empty_database


def _tables(engine: Engine) -> dict[str, list[str]]:
    """Every ordinary table of the public schema and its columns, in order."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
            " ORDER BY c.table_name, c.ordinal_position")).all()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        if table not in NOT_REGISTER:
            tables.setdefault(table, []).append(column)
    return tables


def _rows(engine: Engine, table: str, columns: list[str]) -> set[str]:
    """The md5 of every row's text over ``columns``.

    Identifiers come from the catalogue, quoted by PostgreSQL's ``format('%I')``."""
    with engine.connect() as conn:
        quoted = conn.execute(text("SELECT string_agg(format('%I', c), ', ' ORDER BY o)"
                                   " FROM unnest(CAST(:cols AS text[])) WITH ORDINALITY AS u(c, o)"),
                              {"cols": columns}).scalar_one()
        tbl = conn.execute(text("SELECT format('%I', CAST(:t AS text))"), {"t": table}).scalar_one()
        hashes = conn.execute(text(f"SELECT md5(CAST(ROW({quoted}) AS text)) FROM {tbl}")).scalars().all()
    assert len(hashes) == len(set(hashes)), f"{table} has duplicate rows"
    return set(hashes)


def test_upgrade_from_the_previous_release_keeps_every_row(release_database: str) -> None:
    engine = create_engine(release_database)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0003"
        before_tables = _tables(engine)
        before = {t: _rows(engine, t, cols) for t, cols in before_tables.items()}
        for table, count in RELEASE_COUNTS.items():
            assert len(before[table]) == count, table

        db.upgrade(release_database)

        after_tables = _tables(engine)
        with engine.connect() as conn:
            head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        assert head == ScriptDirectory.from_config(db.alembic_config(release_database)).get_current_head()
        for table, columns in before_tables.items():
            assert table in after_tables, f"table {table} was dropped"
            missing = [c for c in columns if c not in after_tables[table]]
            assert not missing, f"{table} lost columns {missing}"
            after = _rows(engine, table, columns)
            lost = before[table] - after
            assert not lost, f"{len(lost)} rows of {table} were changed or deleted"
            if table not in APPEND_ONLY:
                assert len(after) == len(before[table]), f"{table} gained rows"
    finally:
        engine.dispose()


def test_an_upgrade_that_loses_a_deadlock_is_run_again(empty_database: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """CI once failed here: autovacuum on the restored register and the upgrade's
    ``CREATE INDEX`` (migration 0022) waited for each other, and PostgreSQL ended
    the upgrade.  This plays the other side by hand: a session holds a lock
    ``hazard_tally``'s ``CREATE INDEX`` must wait for, then waits for the
    upgrade's transaction (its lock on ``alembic_version``); the upgrade, which
    checks for deadlock after 1 s while this session waits 60 s, is the victim.
    The upgrade must roll back, run again once the session is gone, and reach
    the head."""
    db.upgrade(empty_database, "0021")
    engine = create_engine(empty_database)
    outcome: list[BaseException | None] = []

    def run_upgrade() -> None:
        try:
            db.upgrade(empty_database)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            outcome.append(error)

    try:
        with engine.connect() as other, engine.connect() as watch:
            other.execute(text("SET deadlock_timeout = '60s'"))
            other.execute(text("LOCK TABLE hazard_tally IN ROW EXCLUSIVE MODE"))
            caplog.set_level(logging.WARNING, logger="geo_service.db")
            upgrading = threading.Thread(target=run_upgrade)
            upgrading.start()
            waiting = "SELECT count(*) FROM pg_locks WHERE relation = 'hazard_tally'::regclass AND NOT granted"
            for _ in range(600):
                if watch.execute(text(waiting)).scalar_one():
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the upgrade never waited for hazard_tally")
            watch.rollback()
            # Returns once the upgrade's attempt was ended and rolled back.
            other.execute(text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
            assert other.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0021"
            other.rollback()
        upgrading.join(120)
        assert not upgrading.is_alive(), "the upgrade did not finish"
        assert outcome == [None], outcome
        with engine.connect() as conn:
            head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            indexes = set(conn.execute(text(
                "SELECT indexname FROM pg_indexes WHERE indexname IN"
                " ('ix_hazard_tally_region', 'ix_enterprise_cell_region_z0')")).scalars())
        assert head == ScriptDirectory.from_config(db.alembic_config(empty_database)).get_current_head()
        assert indexes == {"ix_hazard_tally_region", "ix_enterprise_cell_region_z0"}
        retries = [r for r in caplog.records if "deadlock" in r.getMessage()]
        assert len(retries) == 1, [r.getMessage() for r in caplog.records]
    finally:
        engine.dispose()

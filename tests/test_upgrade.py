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

import subprocess
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
def release_database(server_url: str, database_url: str) -> Iterator[str]:
    """A new database holding the 0.1.0 demo register, at schema 0003.

    ``database_url`` first: its migrations create the ``geo_app`` role that the
    dump's grants name."""
    name = f"geo_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    args, env = libpq_args(url)
    subprocess.run([str(find_bindir() / "pg_restore"), "--no-owner", "--exit-on-error", *args, str(DUMP)],
                   check=True, capture_output=True, env=env, stdin=subprocess.DEVNULL)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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

"""Least privilege: the application's role ``geo_app`` holds exactly the grants
the migrations declare, one per line with its reason, and nothing more.

Migration 0007 revoked everything and declared the list for the tables that
existed then; each later migration declares the lines for what it adds.  The
lists live in the migrations (a migration never imports live code); this test
loads every migration module by its path and parses its ``APP_GRANTS`` lines,
then compares them with what PostgreSQL's catalogue says ``geo_app`` holds on
every table, column and sequence of the schema.  The
refusals below are checked independently of that list, by trying them.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"
MIGRATION = VERSIONS / "0007_least_privilege.py"
_LINE = re.compile(r"^GRANT (?P<privs>.+?) ON (?:SEQUENCE )?(?P<obj>\w+) TO geo_app;\s+--\s+(?P<reason>\S.*)$")


def _load(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _migration():  # type: ignore[no-untyped-def]
    return _load(MIGRATION)


def grant_lines() -> list[str]:
    """Every migration's ``APP_GRANTS`` lines, 0007's first."""
    lines: list[str] = []
    for path in sorted(VERSIONS.glob("*.py")):
        lines += [line.strip() for line in getattr(_load(path), "APP_GRANTS", "").strip().splitlines()]
    return lines


def _split_privileges(privs: str) -> list[str]:
    """``SELECT, UPDATE (a, b)`` → ``['SELECT', 'UPDATE (a, b)']`` (commas inside parentheses kept)."""
    out, depth, cur = [], 0, ""
    for ch in privs:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return out


def declared_grants() -> set[tuple[str, str, str | None]]:
    """(object, privilege, column or None) for every line of the migration's list."""
    expected: set[tuple[str, str, str | None]] = set()
    for line in grant_lines():
        m = _LINE.match(line)
        assert m, f"not one GRANT with its reason: {line!r}"
        for priv in _split_privileges(m["privs"]):
            name, _, cols = priv.partition("(")
            if cols:
                for col in cols.rstrip(")").split(","):
                    expected.add((m["obj"], name.strip(), col.strip()))
            else:
                expected.add((m["obj"], name.strip(), None))
    return expected


ACTUAL = """
SELECT c.relname, a.privilege_type, NULL AS col
  FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
 WHERE c.relnamespace = 'public'::regnamespace AND a.grantee = 'geo_app'::regrole
UNION ALL
SELECT c.relname, a.privilege_type, att.attname
  FROM pg_class c JOIN pg_attribute att ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
 CROSS JOIN LATERAL aclexplode(att.attacl) a
 WHERE c.relnamespace = 'public'::regnamespace AND a.grantee = 'geo_app'::regrole
"""


def test_app_role_holds_exactly_the_declared_grants(connection):
    actual = {(r[0], r[1], r[2]) for r in connection.execute(text(ACTUAL))}
    expected = declared_grants()
    assert actual - expected == set(), "grants held but not declared"
    assert expected - actual == set(), "grants declared but not held"
    # No default privileges hand the next table to geo_app behind the list's back.
    defaults = connection.execute(text(
        "SELECT count(*) FROM pg_default_acl d CROSS JOIN LATERAL aclexplode(d.defaclacl) a"
        " WHERE a.grantee = 'geo_app'::regrole")).scalar_one()
    assert defaults == 0


def test_every_table_is_named_in_the_list(connection):
    """A table a later migration adds must be given its grant lines (or listed as none)."""
    tables = set(connection.execute(text(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
        " AND NOT relispartition"  # a partition is reached through its parent's grants
    )).scalars())
    module = _migration()
    named = {obj for obj, _, _ in declared_grants()} | set(module.NO_GRANTS)
    assert tables - named == set()
    # The reasons are there, not just the lines.
    for line in grant_lines():
        assert len(_LINE.match(line)["reason"]) > 10  # type: ignore[index]


@pytest.fixture
def committed_return(make_database):  # type: ignore[no-untyped-def]
    """A database with a region, an account, a login failure and a submitted return, committed."""
    url = make_database()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO region (code, name, level, geom) VALUES ('539901', '测试县', 'county',"
            " ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326)))"))
        conn.execute(text(
            "INSERT INTO app_user (username, display_name, password_hash, role, region_code)"
            " VALUES ('li', '李监管', 'x', 'regulator', '539901')"))
        conn.execute(text("INSERT INTO login_attempt (username, succeeded) VALUES ('li', false)"))
        conn.execute(text(
            "INSERT INTO return_archive (region_code, period, submitted_by, data_as_of, numbers,"
            " bundle_zip, bundle_sha256) VALUES ('539901', '2026-10-01', '李监管', now(), '{}', '\\x00', 'x')"))
    engine.dispose()
    return url


@pytest.mark.parametrize("sql", [
    "DELETE FROM return_archive",
    "UPDATE return_archive SET numbers = '{\"forged\": 1}'",
    "UPDATE app_user SET role = 'admin'",
    "UPDATE app_user SET active = true, region_code = NULL",
    "DELETE FROM login_attempt",
    "UPDATE region SET name = '改名'",
    "INSERT INTO region (code, name, level, geom) VALUES ('539902', 'x', 'county',"
    " ST_Multi(ST_MakeEnvelope(101, 20, 102, 21, 4326)))",
    "DELETE FROM industry",
    "UPDATE alembic_version SET version_num = '0001'",
    "DELETE FROM spatial_ref_sys WHERE srid = 4326",
    "INSERT INTO app_user (username, display_name, password_hash, role) VALUES ('evil', 'e', 'x', 'admin')",
    "UPDATE hazard SET enterprise_id = 1",
    # derived data is the owner's triggers' alone
    "UPDATE enterprise SET grade_auto = 1",
    "DELETE FROM hazard_tally",
    "UPDATE risk_tally SET n = n + 1",
    "DELETE FROM enterprise_cell",
    "INSERT INTO data_change DEFAULT VALUES",
    # the per-county change tokens: only the owner's triggers append them
    "INSERT INTO region_change (code) VALUES ('539901')",
    "DELETE FROM region_change",
    "SELECT region_change_note(ARRAY['539901'])",
    "SELECT enterprise_cell_apply(ST_SetSRID(ST_MakePoint(100.5, 20.5), 4326), '539901', 'hazchem', 1::smallint, 1, 1)",
    "UPDATE risk_zone SET grade_auto = 4",
    "DELETE FROM task_tally",
    "INSERT INTO grade_event (enterprise_id, kind, to_grade, actor) VALUES (1, 'enterprise', 4, 'x')",
    "UPDATE inspection_record SET result = 'normal'",
    "DELETE FROM major_action",
])
def test_app_role_is_refused(committed_return, sql):
    url = make_url(committed_return).set(username="geo_app").render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(sql))
    finally:
        engine.dispose()


def test_app_role_still_does_its_work(committed_return):
    """Reading the register, logging attempts, appending returns and changing a password."""
    url = make_url(committed_return).set(username="geo_app").render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO login_attempt (username, succeeded) VALUES ('li', true)"))
            conn.execute(text(
                "INSERT INTO return_archive (region_code, period, submitted_by, data_as_of, numbers,"
                " bundle_zip, bundle_sha256) VALUES ('539901', '2026-10-01', '李监管', now(), '{}', '\\x01', 'y')"))
            assert conn.execute(text(
                "SELECT count(*) FROM return_archive WHERE region_code = '539901'")).scalar_one() == 2
            conn.execute(text("UPDATE app_user SET password_hash = 'new' WHERE username = 'li'"))
            # a new enterprise with a red risk point: the owner's triggers grade it and count it
            eid = conn.execute(text(
                "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
                " ('91539901MA00000002', '测试化工有限公司', 'hazchem', ST_SetSRID(ST_MakePoint(100.5, 20.5), 4326))"
                " RETURNING id")).scalar_one()
            conn.execute(text("INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, '储罐区', 1)"), {"e": eid})
            assert conn.execute(text("SELECT grade_auto, region_code FROM enterprise WHERE id = :e"),
                                {"e": eid}).one() == (1, "539901")
            assert conn.execute(text("SELECT n FROM risk_tally WHERE region_code = '539901' AND grade = 1")
                                ).scalar_one() == 1
            assert conn.execute(text("SELECT sum(n) FROM enterprise_cell WHERE z = 11")).scalar_one() == 1
            conn.rollback()
    finally:
        engine.dispose()

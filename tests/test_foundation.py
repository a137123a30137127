"""The embedded database, the migrations and the health check."""

from __future__ import annotations

from sqlalchemy import text


def test_postgis_and_schema_present(connection):
    assert connection.execute(text("SELECT postgis_lib_version()")).scalar()
    tables = set(
        connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
    )
    assert {"region", "enterprise", "risk_point", "hazard", "hazard_event", "industry"} <= tables


def test_every_geometry_column_has_a_gist_index(connection):
    rows = connection.execute(
        text(
            """
            SELECT g.f_table_name, g.f_geometry_column,
                   EXISTS (SELECT 1 FROM pg_indexes i
                            WHERE i.tablename = g.f_table_name
                              AND i.indexdef ILIKE '%USING gist (' || g.f_geometry_column || '%')
              FROM geometry_columns g WHERE g.f_table_schema = 'public'
            """
        )
    ).all()
    assert rows, "no geometry columns found"
    missing = [(t, c) for t, c, has in rows if not has]
    assert missing == []


def test_healthz_reports_database(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": True}

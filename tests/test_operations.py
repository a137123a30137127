"""Operations: the application's database role, backup/restore, database restarts."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from geo_service import create_app, db
from geo_service.config import TestConfig
from geo_service.embedded import EmbeddedCluster
from geo_service.services import backup


def _as_app_role(url: str) -> str:
    return make_url(url).set(username="geo_app").render_as_string(hide_password=False)


@pytest.fixture
def committed_register(make_database):  # type: ignore[no-untyped-def]
    """A database with one region, one enterprise, one hazard and its event, committed."""
    url = make_database()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO region (code, name, level, geom) VALUES ('539901', '测试县', 'county',"
            " ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326)))"))
        eid = conn.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom)"
            " VALUES ('91539901MA00000002', '测试化工有限公司', 'hazchem',"
            " ST_SetSRID(ST_MakePoint(100.25, 20.75), 4326)) RETURNING id")).scalar_one()
        hid = conn.execute(text(
            "INSERT INTO hazard (enterprise_id, description, level, source, found_on)"
            " VALUES (:e, '储罐区未设置可燃气体报警', 'general', 'self', '2026-10-01') RETURNING id"),
            {"e": eid}).scalar_one()
        conn.execute(text(
            "INSERT INTO hazard_event (hazard_id, actor, to_state) VALUES (:h, '测试', 'registered')"),
            {"h": hid})
    engine.dispose()
    return url


def test_app_role_cannot_rewrite_the_append_only_tables(committed_register):
    engine = create_engine(_as_app_role(committed_register))
    with engine.connect() as conn:
        # It may read and append ...
        assert conn.execute(text("SELECT count(*) FROM hazard_event")).scalar_one() == 1
        conn.execute(text(
            "INSERT INTO audit_log (actor, action, object_type) VALUES ('x', 'create', 'test')"))
        conn.rollback()
        # ... but it holds no UPDATE or DELETE grant on them.
        for sql in ("UPDATE hazard_event SET note = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(sql))
            conn.rollback()
        # It can still maintain the register itself.
        conn.execute(text("UPDATE hazard SET found_by = '检查组'"))
        conn.rollback()
    engine.dispose()


def test_backup_restores_into_a_fresh_database(committed_register, make_database, tmp_path):
    dump = tmp_path / "register.dump"
    backup.backup(committed_register, dump)
    assert dump.stat().st_size > 0
    fresh = make_database()
    backup.restore(fresh, dump)
    engine = create_engine(fresh)
    with engine.connect() as conn:
        counts = conn.execute(text(
            "SELECT (SELECT count(*) FROM region), (SELECT count(*) FROM enterprise),"
            " (SELECT count(*) FROM hazard), (SELECT count(*) FROM hazard_event)")).one()
        assert tuple(counts) == (1, 1, 1, 1)
        lng, lat = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM enterprise")).one()
        assert (lng, lat) == (100.25, 20.75)
        # Triggers came back too: the restored event log is still append-only.
        with pytest.raises(Exception, match="append-only"):
            conn.execute(text("DELETE FROM hazard_event"))
    engine.dispose()


def test_service_survives_a_database_restart(tmp_path):
    cluster = EmbeddedCluster(tmp_path / "var", durable=False)
    cluster.start()
    try:
        db.upgrade(cluster.url)
        app = create_app(TestConfig(cluster.url, tmp_path / "var"))
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        cluster.stop()
        started = time.monotonic()
        down = client.get("/healthz")
        assert down.status_code == 503
        assert down.get_json()["database"] is False
        assert time.monotonic() - started < 15, "a request during the outage must not hang"
        cluster.start()
        assert client.get("/healthz").status_code == 200
    finally:
        cluster.destroy()

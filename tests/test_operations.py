"""Operations: the application's database role, backup/restore, database restarts."""

from __future__ import annotations

import io
import tarfile
import time
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from geo_service import create_app, db
from geo_service.cli import main
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


def _fresh_name(url: str) -> str:
    """A database name on the same server that does not exist yet (restore creates it)."""
    return make_url(url).set(database=f"geo_restore_{uuid.uuid4().hex[:10]}").render_as_string(hide_password=False)


def _drop(url: str) -> None:
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
    admin.dispose()


def test_backup_restores_into_a_fresh_database(committed_register, tmp_path):
    archive = tmp_path / "备份.tar"
    backup.backup(committed_register, archive, tmp_path / "no-uploads")
    assert tarfile.is_tarfile(archive)
    fresh = _fresh_name(committed_register)  # absent: restore creates it
    try:
        backup.restore(fresh, archive, tmp_path / "uploads")
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
    finally:
        _drop(fresh)


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # sniffed as PNG by its magic bytes


def test_evidence_bytes_survive_backup_and_restore_on_a_fresh_server(committed_register, tmp_path):
    """Upload evidence, back up, restore on a new server (no geo_app role there yet)
    into a new upload directory, and read the same bytes back through the service,
    which connects as the re-created geo_app."""
    old_var = tmp_path / "old-var"
    app = create_app(TestConfig(committed_register, old_var))
    engine = create_engine(committed_register)
    with engine.connect() as conn:
        hazard_id = conn.execute(text("SELECT id FROM hazard")).scalar_one()
    engine.dispose()
    up = app.test_client().post(f"/api/hazards/{hazard_id}/evidence",
                                data={"kind": "before", "file": (io.BytesIO(PNG), "整改前.png")})
    assert up.status_code == 201, up.get_data(as_text=True)
    evidence_id = up.get_json()["id"]
    app.extensions["geo_engine"].dispose()
    archive = tmp_path / "备份.tar"
    backup.backup(committed_register, archive, old_var / "uploads")

    cluster = EmbeddedCluster(tmp_path / "new-server", durable=False)
    cluster.start()
    try:
        roles = cluster.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'geo_app'").strip()
        assert roles == "0"
        new_var = tmp_path / "new-var"
        info = backup.restore(cluster.url, archive, new_var / "uploads")
        assert info["roles_created"] == ["geo_app"] and info["uploads_restored"] == 1
        restored = create_app(TestConfig(cluster.app_url, new_var))  # as geo_app
        got = restored.test_client().get(f"/api/evidence/{evidence_id}")
        assert got.status_code == 200
        assert got.data == PNG
        got.close()
        restored.extensions["geo_engine"].dispose()
    finally:
        cluster.destroy()


def _cli(args: list[str], url: str, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", url)
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_restore_errors_are_chinese_sentences(committed_register, tmp_path, monkeypatch):
    monkeypatch.setenv("GEO_SERVICE_VAR", str(tmp_path / "var"))
    junk = tmp_path / "照片.tar"
    junk.write_bytes(PNG)
    cases = [
        (["restore", str(junk)], committed_register, "照片.tar 不是本系统的备份文件"),
        (["restore", str(tmp_path / "没有.tar")], committed_register, "备份文件不存在"),
    ]
    archive = tmp_path / "备份.tar"
    assert _cli(["backup", "-o", str(archive)], committed_register, monkeypatch).exit_code == 0
    # a database with content is not overwritten without --replace
    cases.append((["restore", str(archive)], committed_register, "不是空库（已有"))
    # a server that is not there
    down = make_url(committed_register).set(query={"host": str(tmp_path / "no-such-socket")})
    cases.append((["restore", str(archive)], down.render_as_string(hide_password=False), "无法连接数据库服务器"))
    for args, url, message in cases:
        result = _cli(args, url, monkeypatch)
        assert result.exit_code != 0, result.output
        assert message in result.output
        assert "Traceback" not in result.output
    # the refused restore left the database as it was
    engine = create_engine(committed_register)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM hazard")).scalar_one() == 1
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


@pytest.fixture
def served_register(tmp_path):  # type: ignore[no-untyped-def]
    """A cluster of its own with one committed enterprise, and the application on an
    engine (not inside a test transaction), as it runs in production."""
    cluster = EmbeddedCluster(tmp_path / "var", durable=False)
    cluster.start()
    try:
        db.upgrade(cluster.url)
        engine = create_engine(cluster.url)
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO enterprise (credit_code, name, industry_code, geom)"
                " VALUES ('91539901MA00000002', '测试化工有限公司', 'hazchem',"
                " ST_SetSRID(ST_MakePoint(100.25, 20.75), 4326))"))
        engine.dispose()
        app = create_app(TestConfig(cluster.url, tmp_path / "var"))
        app.config["LOGIN_REQUIRED"] = False
        yield cluster, app
    finally:
        cluster.destroy()


def _downloads(url: str) -> int:
    """The committed audit rows of downloads, read on a connection of their own."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'download'")).scalar_one()
    finally:
        engine.dispose()


OGC_PAGE = "/ogc/collections/enterprises/items?bbox=100,20,101,21&limit=10"


def test_data_requests_survive_a_restart_between_two_requests(served_register):  # type: ignore[no-untyped-def]
    cluster, app = served_register
    client = app.test_client()
    first = client.get(OGC_PAGE)
    assert first.status_code == 200 and first.get_json()["numberReturned"] == 1
    assert client.get("/tiles/enterprises/14/12754/7226.pbf").status_code == 200
    # the pooled connections are now dead: the server was restarted while they sat idle
    cluster.stop()
    cluster.start()
    again = client.get(OGC_PAGE + "&offset=0")  # a new URL: read from the database, not the page cache
    assert again.status_code == 200
    assert [f["properties"]["name"] for f in again.get_json()["features"]] == ["测试化工有限公司"]
    assert client.get("/tiles/enterprises/14/12754/7226.pbf?grade=1").status_code == 200
    assert _downloads(cluster.url) == 2


def test_a_page_of_register_data_is_audited_and_committed_before_its_body(served_register):  # type: ignore[no-untyped-def]
    cluster, app = served_register
    seen_at_headers: list[int] = []
    inner = app.wsgi_app

    def watching(environ, start_response):  # type: ignore[no-untyped-def]
        def start(status, headers, exc_info=None):  # type: ignore[no-untyped-def]
            seen_at_headers.append(_downloads(cluster.url))  # before any byte of the body
            return start_response(status, headers, exc_info)
        return inner(environ, start)

    app.wsgi_app = watching  # type: ignore[method-assign]
    client = app.test_client()
    assert client.get(OGC_PAGE).status_code == 200
    assert client.get(OGC_PAGE).status_code == 200  # the page cache answers; still a download
    assert seen_at_headers == [1, 2]

"""Every download of register data leaves one audit row (who, which filter, how
many rows, which format), and every 403 a row naming the account; the
administrator reads both on /admin/audit.

The world: county 539901 with three enterprises; two major hazards and one
general hazard on the first.  The counts the tests expect are counted from
this table by the test itself, not by the code under test.
"""

from __future__ import annotations

import hashlib
import json
import uuid

import lxml.html
import pytest
from helpers import credit_code
from sqlalchemy import text

from geo_service.services import accounts

PASSWORD = "correct-horse-9"
HAZARDS = [("major", "液氯储罐压力表失效"), ("major", "可燃气体报警器失效"), ("general", "消防通道堵塞")]


@pytest.fixture
def world(app, session):  # type: ignore[no-untyped-def]
    app.config["LOGIN_REQUIRED"] = True
    session.execute(text(
        "INSERT INTO region (code, name, level, geom) VALUES ('539901', '甲县', 'county',"
        " ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326)))"))
    enterprises = [session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, legal_rep, contact_phone, geom) VALUES"
        " (:c, :n, 'hazchem', '张三', '0873-1234567', ST_SetSRID(ST_MakePoint(:x, 20.5), 4326)) RETURNING id"),
        {"c": credit_code(i, "539901"), "n": f"甲县第{i}化工厂", "x": 100.1 + i / 10}).scalar_one()
        for i in range(1, 4)]
    for level, description in HAZARDS:
        session.execute(text(
            "INSERT INTO hazard (enterprise_id, description, level, source, found_on, deadline)"
            " VALUES (:e, :d, :l, 'inspection', '2026-10-01', '2026-12-31')"),
            {"e": enterprises[0], "d": description, "l": level})
    regulator = accounts.create_user(session, "jia", PASSWORD, "regulator", region_code="539901",
                                     display_name="甲县 王科员")
    admin = accounts.create_user(session, "boss", PASSWORD, "admin", display_name="系统管理员")
    viewer = accounts.create_user(session, "kan", PASSWORD, "readonly", region_code="539901",
                                  display_name="甲县 只读")
    tokens = {u.username: accounts.create_token(session, u, "t") for u in (regulator, admin, viewer)}
    session.commit()
    return {"enterprises": enterprises, "regulator": regulator, "admin": admin, "viewer": viewer,
            "headers": {name: {"Authorization": f"Bearer {t}"} for name, t in tokens.items()}}


def _rows(session, action: str) -> list:  # type: ignore[type-arg]
    return session.execute(text(
        "SELECT user_id, actor, object_type, object_id, after FROM audit_log WHERE action = :a ORDER BY id"),
        {"a": action}).all()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gpkg", "shp"])
def test_a_file_download_is_recorded_once_with_its_rows_filter_and_format(client, session, world, fmt):
    resp = client.get(f"/api/hazards?format={fmt}&hazard_level=major", headers=world["headers"]["jia"])
    assert resp.status_code == 200
    rows = _rows(session, "download")
    assert len(rows) == 1
    user_id, actor, what, _object_id, after = rows[0]
    assert (user_id, actor, what) == (world["regulator"].id, "甲县 王科员", "hazards")
    assert after == {"format": fmt, "rows": sum(1 for level, _ in HAZARDS if level == "major"),
                     "filter": {"format": fmt, "hazard_level": "major"}}


def test_enterprise_download_and_geojson_download_are_recorded(client, session, world):
    client.get("/api/enterprises?format=xlsx", headers=world["headers"]["jia"])
    client.get("/api/enterprises?download=1&grade=1&grade=2", headers=world["headers"]["jia"])
    rows = _rows(session, "download")
    assert [(r.object_type, r.after["format"], r.after["rows"]) for r in rows] == [
        ("enterprises", "xlsx", len(world["enterprises"])), ("enterprises", "geojson", 0)]
    assert rows[1].after["filter"] == {"download": "1", "grade": ["1", "2"]}


def test_a_polygon_search_download_records_the_polygon(client, session, world):
    polygon = {"type": "Polygon", "coordinates": [[[100, 20], [100.25, 20], [100.25, 21], [100, 21], [100, 20]]]}
    resp = client.post("/api/enterprises/search?format=csv", json=polygon, headers=world["headers"]["jia"])
    assert resp.status_code == 200
    (row,) = _rows(session, "download")
    assert row.after["rows"] == 1  # only 甲县第1化工厂 (100.2 E) lies west of 100.25 E
    assert row.after["filter"] == {"format": "csv", "polygon": polygon}


def test_browsing_a_page_is_not_a_download(client, session, world):
    assert client.get("/api/hazards", headers=world["headers"]["jia"]).status_code == 200
    assert client.get("/api/hazards?format=json&limit=2", headers=world["headers"]["jia"]).status_code == 200
    assert _rows(session, "download") == []


def test_ledger_exports_are_recorded(client, session, world):
    headers = world["headers"]["jia"]
    assert client.get("/hazards/export/checklist.xlsx?region=539901", headers=headers).status_code == 200
    assert client.get("/hazards/export/worklog.xlsx", headers=headers).status_code == 200
    hazard = session.execute(text("SELECT min(id) FROM hazard WHERE level = 'major'")).scalar_one()
    assert client.get(f"/hazards/{hazard}/ledger.docx", headers=headers).status_code == 200
    rows = _rows(session, "download")
    assert [(r.object_type, r.object_id, r.after["format"], r.after["rows"]) for r in rows] == [
        ("checklist", None, "xlsx", 2), ("worklog", None, "xlsx", 3), ("major_record", str(hazard), "docx", 1)]
    assert rows[0].after["filter"] == {"region": "539901"}
    assert {r.user_id for r in rows} == {world["regulator"].id}


def test_return_packages_are_recorded(app, client, session, world):
    headers = world["headers"]["boss"]
    archive = session.execute(text(
        "INSERT INTO return_archive (region_code, period, submitted_by, data_as_of, numbers, bundle_zip,"
        " bundle_sha256) VALUES ('539901', '2026-10-01', '科员', now(), '{}', :z, :s) RETURNING id"),
        {"z": b"PK", "s": hashlib.sha256(b"PK").hexdigest()}).scalar_one()
    session.commit()
    job_id = uuid.uuid4().hex  # a finished return job, as a worker leaves it
    session.execute(text(
        "INSERT INTO background_job (id, kind, region_code, month, state, done, total, message, filename, payload)"
        " VALUES (:j, 'return', '539901', '2026-10', 'done', 1, 1, '完成', 'x.zip', :z)"), {"j": job_id, "z": b"PK"})
    session.commit()
    assert client.get(f"/returns/jobs/{job_id}/download", headers=headers).status_code == 200
    assert client.get(f"/returns/archive/{archive}.zip", headers=headers).status_code == 200
    rows = _rows(session, "download")
    assert [(r.user_id, r.object_type, r.object_id, r.after["format"]) for r in rows] == [
        (world["admin"].id, "return", "539901 2026-10", "zip"), (world["admin"].id, "return_archive", str(archive), "zip")]


def test_a_refusal_is_recorded_with_the_account(client, session, world):
    assert client.get("/admin/audit?person=x", headers=world["headers"]["jia"]).status_code == 403
    resp = client.post("/api/hazards", json={"enterprise_id": world["enterprises"][0]},
                       headers=world["headers"]["kan"])
    assert resp.status_code == 403
    rows = _rows(session, "forbidden")
    assert [(r.user_id, r.actor, r.object_type, r.after["method"], r.after["path"]) for r in rows] == [
        (world["regulator"].id, "甲县 王科员", "request", "GET", "/admin/audit?person=x"),
        (world["viewer"].id, "甲县 只读", "request", "POST", "/api/hazards")]
    assert "只读" in rows[1].after["message"]
    # the refused write itself left nothing behind
    assert session.execute(text("SELECT count(*) FROM hazard")).scalar_one() == len(HAZARDS)


def _audit_table(client, world, action: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    resp = client.get(f"/admin/audit?action={action}", headers=world["headers"]["boss"])
    assert resp.status_code == 200
    page = lxml.html.fromstring(resp.get_data(as_text=True))
    return [[td.text_content().strip() for td in tr.cssselect("td")] for tr in page.cssselect("table.audit tbody tr")]


def test_the_administrator_reads_downloads_and_refusals(client, session, world):
    client.get("/api/hazards?format=csv", headers=world["headers"]["jia"])
    client.get("/admin/audit", headers=world["headers"]["jia"])
    downloads = _audit_table(client, world, "download")
    assert [(r[1], r[2], r[3]) for r in downloads] == [("甲县 王科员", "download", "hazards")]
    assert json.loads(downloads[0][5]) == {"format": "csv", "rows": 3, "filter": {"format": "csv"}}
    refusals = _audit_table(client, world, "forbidden")
    assert [(r[1], r[2], r[3]) for r in refusals] == [("甲县 王科员", "forbidden", "request")]
    assert json.loads(refusals[0][5])["path"] == "/admin/audit"


def test_ogc_item_pages_of_register_data_are_recorded(client, session, world):
    """A GIS client harvests a collection page by page: each page is a download of its rows."""
    headers = world["headers"]["jia"]
    first = client.get("/ogc/collections/enterprises/items?limit=2", headers=headers)
    second = client.get("/ogc/collections/enterprises/items?limit=2&offset=2", headers=headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert client.get("/ogc/collections/regions/items", headers=headers).status_code == 200  # boundaries: not register data
    rows = _rows(session, "download")
    assert [(r.object_type, r.after["format"], r.after["rows"]) for r in rows] == [
        ("enterprises", "ogc", 2), ("enterprises", "ogc", len(world["enterprises"]) - 2)]
    assert rows[1].after["filter"] == {"limit": "2", "offset": "2"}

"""Every endpoint, with login on: who may reach it, and that a county's
regulator never sees or changes the other county's register.

The table below must list every rule of the application: a new endpoint
that nobody classified fails ``test_every_endpoint_is_classified``, and
once classified it is probed anonymously and as the other county's
regulator.  The world: prefecture 539900 with counties 539901 (甲县, ours)
and 539902 (乙县, theirs), one chemical plant in each with a red risk
point, an open major hazard with its event, evidence and an archived return.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import docx
import mapbox_vector_tile
import openpyxl
import pypdf
import pytest
from sqlalchemy import text

from geo_service.geo import CREDIT_CHARSET, credit_check_char
from geo_service.services import accounts, cards

PASSWORD = "correct-horse-9"


def credit(region: str, serial: str) -> str:
    body = f"91{region}{serial}"
    return body + credit_check_char(body)


@dataclass
class World:
    ours: dict[str, Any]
    theirs: dict[str, Any]
    token_ours: str  # the regulator of 甲县
    token_admin: str
    admin_token_id: int
    job_theirs: str
    import_theirs: str = ""  # an import job of the administrator's, with its rejected rows
    notice_theirs: str = ""  # the public risk notice of 乙县's plant (its 告知卡's QR code)
    export_theirs: str = ""  # an export job of the administrator's


THEIR_MARKERS = ("乙县", "539902", "乙县化工", "乙县储罐区")


def _plant(session, code: str, name: str, lng: float, hazard: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids: dict[str, Any] = {"code": code, "lng": lng, "lat": 20.5}
    ids["credit"] = credit(code, "MA0000000")
    ids["enterprise"] = session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
        " (:c, :n, 'hazchem', ST_SetSRID(ST_MakePoint(:x, 20.5), 4326)) RETURNING id"),
        {"c": ids["credit"], "n": name, "x": lng}).scalar_one()
    ids["risk_point"] = session.execute(text(
        "INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, :n, 1) RETURNING id"),
        {"e": ids["enterprise"], "n": name + "液氯储罐"}).scalar_one()
    ids["hazard"] = session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, deadline)"
        " VALUES (:e, :d, 'major', 'self', '2026-10-01', '2026-12-31') RETURNING id"),
        {"e": ids["enterprise"], "d": hazard}).scalar_one()
    session.execute(text(
        "INSERT INTO hazard_event (hazard_id, actor, to_state) VALUES (:h, '检查员', 'registered')"),
        {"h": ids["hazard"]})
    # the 双重预防 chain: one event, measure and daily task on the risk point
    ids["task"] = session.execute(text(
        "WITH ev AS (INSERT INTO risk_event (enterprise_id, risk_point_id, name, accident_type, grade)"
        " VALUES (:e, :r, '泄漏', '中毒和窒息', 1) RETURNING id),"
        " me AS (INSERT INTO control_measure (enterprise_id, event_id, description, kind, level)"
        " SELECT :e, id, '报警器完好', 'engineering', 'team' FROM ev RETURNING id)"
        " INSERT INTO inspection_task (enterprise_id, measure_id, content, cycle_n, cycle_unit, starts_on)"
        " SELECT :e, id, :n, 1, 'day', '2026-10-01' FROM me RETURNING id"),
        {"e": ids["enterprise"], "r": ids["risk_point"], "n": name + "巡检"}).scalar_one()
    ids["evidence"] = session.execute(text(
        "INSERT INTO hazard_evidence (hazard_id, kind, filename, content_type, size_bytes, sha256, stored_path)"
        " VALUES (:h, 'before', 'photo.jpg', 'image/jpeg', 3, :s, '/nonexistent') RETURNING id"),
        {"h": ids["hazard"], "s": hashlib.sha256(b"abc").hexdigest()}).scalar_one()
    ids["zone"] = session.execute(text(
        "INSERT INTO risk_zone (enterprise_id, name, geom) VALUES (:e, :n,"
        " ST_Multi(ST_Expand(ST_SetSRID(ST_MakePoint(:x, 20.5), 4326), 0.0005))) RETURNING id"),
        {"e": ids["enterprise"], "n": name + "储罐区", "x": lng}).scalar_one()
    session.execute(text(
        "INSERT INTO enterprise_layout (enterprise_id, filename, source_type, content_type, size_bytes, sha256,"
        " stored_path, width_px, height_px, georef_method, control_points, footprint) VALUES (:e, 'p.png',"
        " 'image/png', 'image/png', 3, :s, 'nonexistent', 10, 10, 'corners4', '[{},{},{},{}]',"
        " ST_Expand(ST_SetSRID(ST_MakePoint(:x, 20.5), 4326), 0.001))"),
        {"e": ids["enterprise"], "s": hashlib.sha256(b"abc").hexdigest(), "x": lng})
    ids["archive"] = session.execute(text(
        "INSERT INTO return_archive (region_code, period, submitted_by, data_as_of, numbers, bundle_zip,"
        " bundle_sha256) VALUES (:r, '2026-10-01', '科员', now(), '{}', :z, :s) RETURNING id"),
        {"r": code, "z": b"PK", "s": hashlib.sha256(b"PK").hexdigest()}).scalar_one()
    return ids


@pytest.fixture
def world(app, session) -> World:  # type: ignore[no-untyped-def]
    app.config["LOGIN_REQUIRED"] = True
    session.execute(text(
        "INSERT INTO region (code, name, level, parent_code, geom) VALUES"
        " ('539900', '测试州', 'prefecture', NULL, ST_Multi(ST_MakeEnvelope(100, 20, 102, 21, 4326))),"
        " ('539901', '甲县', 'county', '539900', ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326))),"
        " ('539902', '乙县', 'county', '539900', ST_Multi(ST_MakeEnvelope(101, 20, 102, 21, 4326)))"))
    ours = _plant(session, "539901", "甲县化工有限公司", 100.5, "甲县储罐区未设可燃气体报警")
    theirs = _plant(session, "539902", "乙县化工有限公司", 101.5, "乙县储罐区未设可燃气体报警")
    regulator = accounts.create_user(session, "jia", PASSWORD, "regulator", region_code="539901")
    admin = accounts.create_user(session, "boss", PASSWORD, "admin")
    token_ours = accounts.create_token(session, regulator, "t")
    token_admin = accounts.create_token(session, admin, "t")
    admin_token_id = session.execute(text(
        "SELECT id FROM api_token WHERE user_id = :u"), {"u": admin.id}).scalar_one()
    session.commit()
    # A return job the administrator started for 乙县, and an import of theirs with rejected rows
    # (kept in background_job, as in production).
    job_id, import_id, export_id = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    session.execute(text(
        "INSERT INTO background_job (id, kind, region_code, month, state, done, total, message, filename, payload,"
        " params, result) VALUES (:j, 'return', '539902', '2026-10', 'done', 1, 1, '完成', 'x.zip', :z, '{}', NULL),"
        " (:i, 'import', NULL, NULL, 'done', 1, 1, '完成', '被拒绝的行.xlsx', :z, :p, :r),"
        " (:e, 'export', NULL, NULL, 'done', 2, 2, '完成', 'hazards.csv', :z, :pe, '{\"rows\": 2}')"),
        {"j": job_id, "i": import_id, "e": export_id, "z": b"PK",
         "p": json.dumps({"owner": str(admin.id), "kind": "enterprises"}),
         "pe": json.dumps({"owner": str(admin.id), "collection": "hazards", "format": "csv", "args": {}}),
         "r": json.dumps({"kind": "enterprises", "rows": 1, "inserted": 0, "updated": 0, "unchanged": 0,
                          "rejected": 1, "events": 0, "written": False, "dry_run": False, "headers": [],
                          "errors": [[2, "企业名称", "必填项为空"]], "warnings": []})})
    session.commit()
    notice = cards.notice_token(app.config["SECRET_KEY"], theirs["enterprise"])
    return World(ours, theirs, token_ours, token_admin, admin_token_id, job_id, import_id, notice, export_id)


def _tile(layer: str, lng: float, lat: float, z: int = 10) -> str:
    """The URL of the web-mercator tile at zoom ``z`` that holds (lng, lat)."""
    n = 2 ** z
    x = int((lng + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return f"/tiles/{layer}/{z}/{x}/{y}.pbf"


def _new_enterprise_json(w: World) -> dict[str, Any]:
    return {"credit_code": credit("539902", "MA0000009"), "name": "乙县新厂", "industry": "hazchem",
            "lng": 101.7, "lat": 20.7}


# kind:
#   public    anyone
#   self      any signed-in account (its own session and tokens)
#   admin     administrators only (403 for the regulator)
#   list      200 for the regulator, nothing of 乙县 in the answer
#   read      the other county's object: 404, exactly as a missing one
#   write     a change to the other county's object: 404, exactly as a missing one
#   create    a new record placed in the other county: 403
#   import    an import file about the other county's object: refused row by row (422), nothing written
Case = tuple[str, str, Callable[[World], str], str, Callable[[World], Any] | None]
T = "theirs"
CASES: list[Case] = [
    ("health.healthz", "GET", lambda w: "/healthz", "public", None),
    ("static", "GET", lambda w: "/static/css/app.css", "public", None),
    ("auth.login", "GET", lambda w: "/login", "public", None),
    ("auth.login", "POST", lambda w: "/login", "login", lambda w: {"username": "jia", "password": "wrong"}),
    ("auth.logout", "POST", lambda w: "/logout", "self", None),
    ("auth.account", "GET", lambda w: "/account", "self", None),
    ("auth.password", "GET", lambda w: "/account/password", "self", None),
    ("auth.password", "POST", lambda w: "/account/password", "self",
     lambda w: {"old_password": PASSWORD, "password": "battery-staple-42", "password2": "battery-staple-42"}),
    ("auth.token_create", "POST", lambda w: "/account/tokens", "self", None),
    ("auth.token_revoke", "POST", lambda w: f"/account/tokens/{w.admin_token_id}/revoke", "read", None),
    ("auth.audit_log", "GET", lambda w: "/admin/audit", "admin", None),
    # the data API
    ("api.index", "GET", lambda w: "/api/", "list", None),
    ("api.openapi", "GET", lambda w: "/api/openapi.json", "self", None),
    ("api.enterprises", "GET", lambda w: "/api/enterprises", "list", None),
    ("api.enterprises", "GET", lambda w: "/api/enterprises?format=csv", "list", None),
    ("api.enterprises", "GET", lambda w: "/api/enterprises?format=xlsx", "list", None),
    ("api.enterprises", "GET", lambda w: "/api/enterprises?lon=101.5&lat=20.5&radius_m=50000", "list", None),
    ("api.enterprises", "GET", lambda w: "/api/enterprises?lon=101.5&lat=20.5&k=5", "list", None),
    ("api.enterprises_search", "POST", lambda w: "/api/enterprises/search", "list",
     lambda w: {"type": "Polygon", "coordinates": [[[100, 20], [102, 20], [102, 21], [100, 21], [100, 20]]]}),
    ("api.enterprise", "GET", lambda w: f"/api/enterprises/{w.theirs['enterprise']}", "read", None),
    ("api.enterprise_nearby", "GET", lambda w: f"/api/enterprises/{w.theirs['enterprise']}/nearby?radius_m=1000",
     "read", None),
    ("api.enterprise_create", "POST", lambda w: "/api/enterprises", "create", _new_enterprise_json),
    ("api.enterprise_update", "PATCH", lambda w: f"/api/enterprises/{w.theirs['enterprise']}", "write",
     lambda w: {"address": "x", "version": 1}),
    ("api.enterprise_hazard_create", "POST", lambda w: f"/api/enterprises/{w.theirs['enterprise']}/hazards",
     "write", lambda w: {"description": "新隐患", "level": "general", "source": "inspection",
                         "found_on": "2026-11-01", "deadline": "2026-12-01"}),
    ("api.enterprise_risk_point_create", "POST",
     lambda w: f"/api/enterprises/{w.theirs['enterprise']}/risk-points", "write",
     lambda w: {"name": "新风险点", "grade": 2}),
    ("api.risk_points", "GET", lambda w: "/api/risk-points", "list", None),
    ("api.risk_points_search", "POST", lambda w: "/api/risk-points/search", "list",
     lambda w: {"type": "Polygon", "coordinates": [[[100, 20], [102, 20], [102, 21], [100, 21], [100, 20]]]}),
    ("api.risk_point", "GET", lambda w: f"/api/risk-points/{w.theirs['risk_point']}", "read", None),
    ("api.risk_point_create", "POST", lambda w: "/api/risk-points", "write",
     lambda w: {"enterprise_id": w.theirs["enterprise"], "name": "新风险点", "grade": 2}),
    ("api.risk_point_update", "PATCH", lambda w: f"/api/risk-points/{w.theirs['risk_point']}", "write",
     lambda w: {"grade": 4, "version": 1}),
    ("api.hazards", "GET", lambda w: "/api/hazards", "list", None),
    ("api.hazards", "GET", lambda w: "/api/hazards?format=csv", "list", None),
    ("api.hazards_search", "POST", lambda w: "/api/hazards/search", "list",
     lambda w: {"type": "Polygon", "coordinates": [[[100, 20], [102, 20], [102, 21], [100, 21], [100, 20]]]}),
    ("api.hazard", "GET", lambda w: f"/api/hazards/{w.theirs['hazard']}", "read", None),
    ("api.hazard_evidence_list", "GET", lambda w: f"/api/hazards/{w.theirs['hazard']}/evidence", "read", None),
    ("api.evidence_file", "GET", lambda w: f"/api/evidence/{w.theirs['evidence']}", "read", None),
    ("api.hazard_create", "POST", lambda w: "/api/hazards", "write",
     lambda w: {"enterprise_id": w.theirs["enterprise"], "description": "新隐患", "level": "general",
                "source": "inspection", "found_on": "2026-11-01", "deadline": "2026-12-01"}),
    ("api.hazard_update", "PATCH", lambda w: f"/api/hazards/{w.theirs['hazard']}", "write",
     lambda w: {"category": "x", "version": 1}),
    ("api.hazard_transition", "POST", lambda w: f"/api/hazards/{w.theirs['hazard']}/transition", "write",
     lambda w: {"to_state": "rectifying", "version": 1}),
    ("api.hazard_evidence_upload", "POST", lambda w: f"/api/hazards/{w.theirs['hazard']}/evidence", "write",
     "multipart"),
    # the enterprise's own 四色图
    ("api.enterprise_zones", "GET", lambda w: f"/api/enterprises/{w.theirs['enterprise']}/zones", "read", None),
    ("api.zone_create", "POST", lambda w: f"/api/enterprises/{w.theirs['enterprise']}/zones", "write",
     lambda w: {"name": "新区域", "geometry": {"type": "Polygon", "coordinates": [[[101.5, 20.5], [101.501, 20.5],
                                                                                 [101.501, 20.501], [101.5, 20.5]]]}}),
    ("api.zone", "GET", lambda w: f"/api/zones/{w.theirs['zone']}", "read", None),
    ("api.zone_update", "PATCH", lambda w: f"/api/zones/{w.theirs['zone']}", "write",
     lambda w: {"name": "改名", "version": 1}),
    ("api.zone_delete", "DELETE", lambda w: f"/api/zones/{w.theirs['zone']}", "write", lambda w: {"version": 1}),
    ("api.zones_import", "POST", lambda w: f"/api/enterprises/{w.theirs['enterprise']}/zones/import", "write",
     "multipart"),
    ("api.layout", "GET", lambda w: f"/api/enterprises/{w.theirs['enterprise']}/layout", "read", None),
    ("api.layout_image", "GET", lambda w: f"/api/enterprises/{w.theirs['enterprise']}/layout/image", "read", None),
    ("api.layout_upload", "POST", lambda w: f"/api/enterprises/{w.theirs['enterprise']}/layout", "write",
     "multipart"),
    ("api.layout_place", "PATCH", lambda w: f"/api/enterprises/{w.theirs['enterprise']}/layout", "write",
     lambda w: {"corners": [[101.5, 20.5], [101.501, 20.5], [101.5, 20.499]], "version": 1}),
    ("api.layout_delete", "DELETE", lambda w: f"/api/enterprises/{w.theirs['enterprise']}/layout", "write",
     lambda w: {"version": 1}),
    # the printed enterprise map, the 风险告知卡 and the public notice their QR codes open
    ("plantmap.enterprise_map", "GET", lambda w: f"/enterprises/{w.theirs['enterprise']}/map.pdf", "read", None),
    ("plantmap.cards_pdf", "GET", lambda w: f"/enterprises/{w.theirs['enterprise']}/cards.pdf", "read", None),
    ("plantmap.zone_card", "GET", lambda w: f"/zones/{w.theirs['zone']}/card.pdf", "read", None),
    ("plantmap.risk_point_card", "GET", lambda w: f"/risk-points/{w.theirs['risk_point']}/card.pdf", "read", None),
    ("public.notice", "GET", lambda w: f"/notice/{w.notice_theirs}", "public", None),
    ("public.notice", "GET", lambda w: f"/notice/{w.notice_theirs}?unit={w.theirs['risk_point']}", "public", None),
    ("plantmap.zones_geojson", "GET", lambda w: "/map/zones.geojson?bbox=100,20,102,21&zoom=17", "list", None),
    ("api.regions", "GET", lambda w: "/api/regions", "list", None),
    ("api.region", "GET", lambda w: f"/api/regions/{w.theirs['code']}", "read", None),
    ("api.region_summary", "GET", lambda w: f"/api/regions/{w.theirs['code']}/summary", "read", None),
    ("api.region_children", "GET", lambda w: f"/api/regions/{w.theirs['code']}/children", "read", None),
    ("api.region_summary", "GET", lambda w: "/api/regions/539900/summary", "list", None),
    ("api.region_children", "GET", lambda w: "/api/regions/539900/children", "list", None),
    ("api.region_lookup", "GET", lambda w: "/api/regions/lookup?lon=101.5&lat=20.5", "list", None),
    # OGC API Features
    ("ogc.landing", "GET", lambda w: "/ogc/", "self", None),
    ("ogc.api", "GET", lambda w: "/ogc/api", "self", None),
    ("ogc.conformance", "GET", lambda w: "/ogc/conformance", "self", None),
    ("ogc.collections", "GET", lambda w: "/ogc/collections", "self", None),
    ("ogc.collection", "GET", lambda w: "/ogc/collections/enterprises", "self", None),
    ("ogc.queryables", "GET", lambda w: "/ogc/collections/enterprises/queryables", "self", None),
    ("ogc.tile_matrix_sets", "GET", lambda w: "/ogc/tileMatrixSets", "self", None),
    ("ogc.tile_matrix_set", "GET", lambda w: "/ogc/tileMatrixSets/WebMercatorQuad", "self", None),
    ("ogc.tilesets", "GET", lambda w: "/ogc/collections/enterprises/tiles", "self", None),
    ("ogc.tileset", "GET", lambda w: "/ogc/collections/hazards/tiles/WebMercatorQuad", "self", None),
    ("tiles.tilejson", "GET", lambda w: "/tiles/enterprises.json", "self", None),
    ("ogc.items", "GET", lambda w: "/ogc/collections/enterprises/items", "list", None),
    # a CQL2 filter is scoped like every other: it narrows the caller's list, never widens it
    ("ogc.items", "GET", lambda w: "/ogc/collections/enterprises/items?filter=grade%20IS%20NULL%20OR%20grade%20%3E%3D%201",
     "list", None),
    ("ogc.items", "GET", lambda w: "/ogc/collections/hazards/items", "list", None),
    ("ogc.items", "GET", lambda w: "/ogc/collections/risk-points/items", "list", None),
    ("ogc.items", "GET", lambda w: "/ogc/collections/regions/items", "list", None),
    ("ogc.item", "GET", lambda w: f"/ogc/collections/enterprises/items/{w.theirs['enterprise']}", "read", None),
    ("ogc.item", "GET", lambda w: f"/ogc/collections/hazards/items/{w.theirs['hazard']}", "read", None),
    ("ogc.item", "GET", lambda w: f"/ogc/collections/regions/items/{w.theirs['code']}", "read", None),
    # vector tiles over 乙县's plant
    ("tiles.tile", "GET", lambda w: _tile("enterprises", 101.5, 20.5), "list", None),
    ("tiles.tile", "GET", lambda w: _tile("enterprises", 101.5, 20.5, 14), "list", None),
    ("tiles.tile", "GET", lambda w: _tile("hazards", 101.5, 20.5), "list", None),
    ("tiles.tile", "GET", lambda w: _tile("regions", 101.5, 20.5, 8), "list", None),
    # the map
    ("map.index", "GET", lambda w: "/map", "list", None),
    ("map.index", "GET", lambda w: "/map?region=539902", "bad", None),
    ("map.districts", "GET", lambda w: "/map/districts.geojson?region=539900", "list", None),
    ("map.regions_geojson", "GET", lambda w: "/map/regions.geojson?region=539900", "list", None),
    ("map.heat", "GET", lambda w: "/map/heat.json?bbox=100,20,102,21&zoom=8", "heat", None),
    ("map.search", "GET", lambda w: "/map/search.json?q=化工", "list", None),
    # the local base map file (none configured here: 404 for a signed-in caller)
    ("map.basemap_tile", "GET", lambda w: "/map/basemap/9/404/222.png", "bad", None),
    ("map.basemap_pmtiles", "GET", lambda w: "/map/basemap.pmtiles", "bad", None),
    ("map.indicators", "GET", lambda w: "/map/indicators.json", "list", None),
    ("map.sheet", "GET", lambda w: "/map/sheet.pdf?bbox=99.5,19.5,102.5,21.5&zoom=9", "list", None),
    ("map.sheet", "GET", lambda w: "/map/sheet.png?region=539902&bbox=99.5,19.5,102.5,21.5", "bad", None),
    ("map.indicators", "GET", lambda w: "/map/indicators.json?region=539902", "bad", None),
    ("map.panel_hazards", "GET", lambda w: f"/map/panel-hazards.json?enterprise_id={w.theirs['enterprise']}",
     "list", None),
    ("map.search", "GET", lambda w: f"/map/search.json?q={w.theirs['credit']}", "list", None),
    # the ledgers
    ("ledger.hazard_ledger", "GET", lambda w: "/hazards", "list", None),
    ("ledger.overdue_list", "GET", lambda w: "/hazards/overdue?days=400", "list", None),
    ("ledger.export_checklist", "GET", lambda w: "/hazards/export/checklist.xlsx", "list", None),
    ("ledger.export_worklog", "GET", lambda w: "/hazards/export/worklog.xlsx", "list", None),
    ("ledger.enterprise_page", "GET", lambda w: f"/enterprises/{w.theirs['enterprise']}", "read", None),
    ("ledger.enterprise_new", "GET", lambda w: "/enterprises/new", "self", None),
    ("ledger.enterprise_new", "POST", lambda w: "/enterprises/new", "create",
     lambda w: {**_new_enterprise_json(w), "lng": "101.7", "lat": "20.7"}),
    ("ledger.risk_point_new", "GET", lambda w: f"/enterprises/{w.theirs['enterprise']}/risk-points/new",
     "read", None),
    ("ledger.risk_point_new", "POST", lambda w: f"/enterprises/{w.theirs['enterprise']}/risk-points/new",
     "write", lambda w: {"name": "x"}),
    ("ledger.hazard_page", "GET", lambda w: f"/hazards/{w.theirs['hazard']}", "read", None),
    ("ledger.hazard_new", "GET", lambda w: f"/hazards/new?enterprise={w.theirs['enterprise']}", "read", None),
    ("ledger.hazard_new", "GET", lambda w: "/hazards/new?q=化工", "list", None),
    ("ledger.hazard_new", "POST", lambda w: f"/hazards/new?enterprise={w.theirs['enterprise']}", "write",
     lambda w: {"description": "x"}),
    ("ledger.hazard_edit", "GET", lambda w: f"/hazards/{w.theirs['hazard']}/edit", "read", None),
    ("ledger.hazard_edit", "POST", lambda w: f"/hazards/{w.theirs['hazard']}/edit", "write",
     lambda w: {"description": "改写", "version": "1"}),
    ("ledger.hazard_transition", "POST", lambda w: f"/hazards/{w.theirs['hazard']}/transition", "write",
     lambda w: {"from_state": "registered", "to_state": "rectifying", "version": "1"}),
    ("ledger.hazard_evidence_upload", "POST", lambda w: f"/hazards/{w.theirs['hazard']}/evidence", "write",
     "multipart"),
    ("ledger.major_record_pdf", "GET", lambda w: f"/hazards/{w.theirs['hazard']}/ledger.pdf", "read", None),
    ("ledger.major_record_docx", "GET", lambda w: f"/hazards/{w.theirs['hazard']}/ledger.docx", "read", None),
    # 双重预防 and 一单四制
    ("dual.today", "GET", lambda w: f"/inspections/today?enterprise={w.theirs['enterprise']}", "read", None),
    # a 风险告知卡's QR code names a unit or a zone; without an enterprise: the overdue list
    ("dual.today", "GET", lambda w: f"/inspections/today?unit={w.theirs['risk_point']}", "read", None),
    ("dual.today", "GET", lambda w: f"/inspections/today?zone={w.theirs['zone']}", "read", None),
    ("dual.today", "GET", lambda w: "/inspections/today", "list", None),
    ("dual.record", "POST", lambda w: f"/inspections/tasks/{w.theirs['task']}/record", "write",
     lambda w: {"result": "normal"}),
    ("dual.overview", "GET", lambda w: "/dual-prevention?from=2026-10&to=2026-12", "list", None),
    ("dual.overview", "GET", lambda w: "/dual-prevention?region=539900", "list", None),
    ("dual.major_ledger", "GET", lambda w: "/major-hazards?show=all", "list", None),
    ("dual.major_action", "POST", lambda w: f"/major-hazards/{w.theirs['hazard']}/actions", "write",
     lambda w: {"kind": "assign", "assignee": "某科", "due_on": "2026-12-01"}),
    ("dual.notice_docx", "GET", lambda w: "/major-hazards/notice.docx?month=2027-01", "list", None),
    ("dual.notice_pdf", "GET", lambda w: "/major-hazards/notice.pdf?month=2027-01", "list", None),
    # the monthly return
    ("returns.index", "GET", lambda w: "/returns", "list", None),
    ("returns.page", "GET", lambda w: f"/returns/{w.theirs['code']}/2026-10", "read", None),
    ("returns.numbers_json", "GET", lambda w: f"/api/returns/{w.theirs['code']}/2026-10", "read", None),
    ("returns.changes_map", "GET", lambda w: f"/returns/{w.theirs['code']}/2026-10/changes.png", "read", None),
    ("returns.bundle", "POST", lambda w: f"/returns/{w.theirs['code']}/2026-10/bundle", "write", lambda w: {}),
    ("returns.archive_json", "GET", lambda w: f"/api/returns/archive/{w.theirs['archive']}", "read", None),
    ("returns.archive_zip", "GET", lambda w: f"/returns/archive/{w.theirs['archive']}.zip", "read", None),
    ("returns.job_status", "GET", lambda w: f"/api/returns/jobs/{w.job_theirs}", "read", None),
    ("returns.job_page", "GET", lambda w: f"/returns/jobs/{w.job_theirs}", "read", None),
    ("returns.job_download", "GET", lambda w: f"/returns/jobs/{w.job_theirs}/download", "read", None),
    # importing through the browser
    ("imports.index", "GET", lambda w: "/import", "self", None),
    ("imports.template", "GET", lambda w: "/import/template/enterprises.xlsx", "self", None),
    ("imports.upload", "POST", lambda w: "/import", "import", "import-csv"),
    ("imports.job_page", "GET", lambda w: f"/import/jobs/{w.import_theirs}", "read", None),
    ("api.export_start", "POST", lambda w: "/api/hazards/exports?format=xlsx", "export", None),
    ("api.export_status", "GET", lambda w: f"/api/exports/{w.export_theirs}", "read", None),
    ("api.export_download", "GET", lambda w: f"/api/exports/{w.export_theirs}/download", "read", None),
    ("imports.job_rejects", "GET", lambda w: f"/import/jobs/{w.import_theirs}/rejects.xlsx", "read", None),
]


def test_every_endpoint_is_classified(app):
    """A new endpoint must be added to CASES, and so gets probed below."""
    listed = {(endpoint, method) for endpoint, method, *_ in CASES}
    missing = []
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (rule.endpoint, method) not in listed:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert missing == [], "endpoints without an access case: " + ", ".join(sorted(missing))


def _send(client, method: str, url: str, body: Any, w: World, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    payload = body(w) if callable(body) else None
    if body == "import-csv":  # renames 乙县's plant
        csv_text = f"统一社会信用代码,企业名称,行业领域,经度,纬度\n{w.theirs['credit']},改名化工,危险化学品,101.5,20.5\n"
        return client.open(url, method=method, headers=headers,
                           data={"kind": "enterprises", "datum": "wgs84",
                                 "file": (io.BytesIO(csv_text.encode("utf-8")), "e.csv")})
    if body == "multipart":
        return client.open(url, method=method, headers=headers,
                           data={"kind": "before", "file": (io.BytesIO(b"\xff\xd8\xff\xe0photo"), "p.jpg")})
    if payload is not None and url.startswith(("/api/",)):
        return client.open(url, method=method, json=payload, headers=headers)
    return client.open(url, method=method, data=payload or {}, headers=headers)


def _text(resp) -> str:  # type: ignore[no-untyped-def]
    """Everything a person could read out of a response, whatever its format."""
    data = resp.get_data()
    kind = resp.mimetype or ""
    if "spreadsheetml" in kind:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        return " ".join(str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                        for c in row if c is not None)
    if kind == "application/x-protobuf" or resp.request.path.endswith(".pbf"):
        layers = mapbox_vector_tile.decode(data)
        return json.dumps([f["properties"] for layer in layers.values() for f in layer["features"]],
                          ensure_ascii=False) + f" features={sum(len(v['features']) for v in layers.values())}"
    if "wordprocessingml" in kind:
        doc = docx.Document(io.BytesIO(data))
        return " ".join([p.text for p in doc.paragraphs]
                        + [c.text for t in doc.tables for row in t.rows for c in row.cells])
    if kind == "application/pdf":
        return " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    if kind == "application/zip":
        return " ".join(zipfile.ZipFile(io.BytesIO(data)).namelist())
    return data.decode("utf-8", errors="replace")


@pytest.mark.parametrize("case", CASES, ids=[f"{c[1]} {c[0]} {i}" for i, c in enumerate(CASES)])
def test_anonymous_reaches_only_the_public_endpoints(case, client, world):
    endpoint, method, url, kind, body = case
    resp = _send(client, method, url(world), body, world, {})
    resp.get_data()  # buffer the body, then release any file behind it
    resp.close()
    if kind == "public":
        assert resp.status_code == 200
    elif kind == "login":
        assert resp.status_code == 400  # a login form without its CSRF token
    else:
        # sent to the login page, or refused; never served
        assert resp.status_code in (302, 401, 403), resp.status_code
        if resp.status_code == 302:
            assert "/login" in resp.headers["Location"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[1]} {c[0]} {i}" for i, c in enumerate(CASES)])
def test_a_county_regulator_never_sees_or_changes_the_other_county(case, client, world):
    endpoint, method, url, kind, body = case
    headers = {"Authorization": f"Bearer {world.token_ours}"}
    resp = _send(client, method, url(world), body, world, headers)
    resp.get_data()  # buffer the body, then release any file behind it
    resp.close()
    status = resp.status_code
    if kind == "login":
        assert status == 401  # a token caller posting the login form: wrong password, no CSRF needed
    elif kind in ("public", "self"):
        assert status in (200, 302, 303), resp.get_data(as_text=True)[:300]
    elif kind == "admin":
        assert status == 403
    elif kind == "read":
        assert status == 404, resp.get_data(as_text=True)[:300]
    elif kind == "write":
        assert status == 404, resp.get_data(as_text=True)[:300]
    elif kind == "create":
        assert status == 403, resp.get_data(as_text=True)[:300]
    elif kind == "bad":
        assert status in (400, 404)
    elif kind == "export":  # the export job runs inside the request here (JOBS_INLINE): then its file
        assert status == 202, resp.get_data(as_text=True)[:300]
        file = client.get(resp.get_json()["download_url"], headers=headers)
        assert file.status_code == 200
        readable = _text(file)
        assert "甲县储罐区" in readable and [m for m in THEIR_MARKERS if m in readable] == []
    elif kind == "import":
        assert status == 422, resp.get_data(as_text=True)[:300]
        readable = _text(resp)
        assert "不在本账号管辖范围内" in readable
        assert [m for m in THEIR_MARKERS if m in readable] == []
    elif kind == "heat":
        assert status == 200
        points = resp.get_json()["points"]
        assert points, "甲县's plant should be in the heat"
        assert all(p[0] < 101 for p in points), "a heat point inside 乙县"
    else:
        assert status == 200, resp.get_data(as_text=True)[:300]
        readable = _text(resp)
        leaked = [m for m in THEIR_MARKERS if m in readable]
        assert leaked == [], f"{url(world)} shows {leaked}"
        if ".pbf" in url(world) and "regions" not in url(world):
            assert readable.endswith("features=0")


def _ghost(w: World) -> World:
    """The same world with every id of 乙县 replaced by one that exists nowhere."""
    missing: dict[str, Any] = {k: 10**9 + i if isinstance(v, int) else v for i, (k, v) in enumerate(w.theirs.items())}
    missing["code"] = "539909"
    return replace(w, theirs=missing, admin_token_id=10**9 + 99, job_theirs=uuid.uuid4().hex,
                   import_theirs=uuid.uuid4().hex, export_theirs=uuid.uuid4().hex)


def _normalised(resp, ids: list[Any]) -> str:  # type: ignore[no-untyped-def]
    """The body with the ids (theirs and the missing ones) and the per-request CSRF token blanked."""
    body = resp.get_data(as_text=True)
    for value in sorted({str(v) for v in ids}, key=len, reverse=True):
        body = re.sub(rf"(?<![0-9A-Za-z_-]){re.escape(value)}(?![0-9A-Za-z_-])", "<id>", body)
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token"', body)


ID_CASES = [c for c in CASES if c[3] in ("read", "write")]


@pytest.mark.parametrize("case", ID_CASES, ids=[f"{c[1]} {c[0]} {i}" for i, c in enumerate(ID_CASES)])
def test_another_countys_id_answers_exactly_as_a_missing_one(case, client, world):
    """No existence oracle: reading or changing 乙县's record looks like asking for one that does not exist."""
    endpoint, method, url, kind, body = case
    ghost = _ghost(world)
    headers = {"Authorization": f"Bearer {world.token_ours}"}
    theirs = _send(client, method, url(world), body, world, headers)
    missing = _send(client, method, url(ghost), body, ghost, headers)
    for resp in (theirs, missing):
        resp.get_data()
        resp.close()
    assert (theirs.status_code, missing.status_code) == (404, 404), url(world)
    ids = [*world.theirs.values(), *ghost.theirs.values(), world.admin_token_id, ghost.admin_token_id,
           world.job_theirs, ghost.job_theirs, world.import_theirs, ghost.import_theirs, world.export_theirs, ghost.export_theirs]
    assert _normalised(theirs, ids) == _normalised(missing, ids)
    assert theirs.mimetype == missing.mimetype


def test_a_refused_page_says_no_right_to_see_in_chinese(client, world):
    """A county regulator opening the prefecture's return, or the other county on the map."""
    headers = {"Authorization": f"Bearer {world.token_ours}"}
    resp = client.get("/returns/539900/2026-10", headers=headers)
    assert resp.status_code == 404 and "无权查看行政区划 539900" in resp.get_data(as_text=True)
    resp = client.get("/map?region=539902", headers=headers)
    assert resp.status_code == 400 and "无权查看行政区划 539902" in resp.get_data(as_text=True)
    # the same words for a code that exists nowhere: nothing is revealed
    resp = client.get("/returns/539977/2026-10", headers=headers)
    assert "无权查看行政区划 539977" in resp.get_data(as_text=True)


def test_the_administrator_sees_both_counties(client, world):
    """The probes above can fail: with an unrestricted account 乙县 is there."""
    headers = {"Authorization": f"Bearer {world.token_admin}"}
    assert client.get(f"/api/enterprises/{world.theirs['enterprise']}", headers=headers).status_code == 200
    listed = client.get("/api/hazards?format=csv", headers=headers).get_data(as_text=True)
    assert "乙县储罐区" in listed and "甲县储罐区" in listed
    tile = client.get(_tile("enterprises", 101.5, 20.5, 14), headers=headers)
    assert "乙县化工" in _text(tile)


def test_the_regulator_sees_its_own_county(client, world):
    headers = {"Authorization": f"Bearer {world.token_ours}"}
    listed = client.get("/api/hazards?format=csv", headers=headers).get_data(as_text=True)
    assert "甲县储罐区" in listed
    page = client.get(f"/enterprises/{world.ours['enterprise']}", headers=headers)
    assert page.status_code == 200 and "甲县化工有限公司" in page.get_data(as_text=True)


assert CREDIT_CHARSET  # the credit helper above builds valid codes from the real charset

"""Out-of-range paging, deeply nested JSON and wrongly typed JSON values answer
400 with a Chinese message on the real endpoints, never a 500."""

from __future__ import annotations

import json

import pytest
from helpers import credit_code
from sqlalchemy import text

from geo_service.queries.filters import MAX_OFFSET
from geo_service.services import accounts

BIGINT_PLUS_ONE = str(2**63)
HUGE = "9" * 40


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    """One enterprise with a hazard and a risk point in county 539901."""
    session.execute(text(
        "INSERT INTO region (code, name, level, geom) VALUES ('539901', '甲县', 'county',"
        " ST_Multi(ST_MakeEnvelope(100, 20, 101, 21, 4326)))"))
    eid = session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
        " (:c, '甲县化工有限公司', 'hazchem', ST_SetSRID(ST_MakePoint(100.5, 20.5), 4326)) RETURNING id"),
        {"c": credit_code(1, "539901")}).scalar_one()
    hid = session.execute(text(
        "INSERT INTO hazard (enterprise_id, description, level, source, found_on, deadline)"
        " VALUES (:e, '储罐区未设可燃气体报警', 'general', 'inspection', '2026-10-01', '2026-12-31')"
        " RETURNING id"), {"e": eid}).scalar_one()
    session.commit()
    return {"enterprise": eid, "hazard": hid}


def _bad(resp, parameter: str) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == 400, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json(silent=True)
    text_ = json.dumps(body, ensure_ascii=False) if body is not None else resp.get_data(as_text=True)
    assert parameter in text_, text_[:300]
    assert "无效" in text_ or "不能" in text_ or "应为" in text_, text_[:300]


LISTS = ["/api/enterprises", "/api/risk-points", "/api/hazards", "/api/enterprises?format=json",
         "/ogc/collections/enterprises/items", "/ogc/collections/risk-points/items",
         "/ogc/collections/hazards/items", "/ogc/collections/regions/items"]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("offset", [HUGE, BIGINT_PLUS_ONE, str(MAX_OFFSET + 1)])
def test_an_offset_out_of_range_is_refused(client, world, url, offset):
    sep = "&" if "?" in url else "?"
    _bad(client.get(f"{url}{sep}offset={offset}"), "offset")


@pytest.mark.parametrize("url", LISTS)
def test_the_largest_offset_is_an_empty_page(client, world, url):
    sep = "&" if "?" in url else "?"
    resp = client.get(f"{url}{sep}offset={MAX_OFFSET}")
    assert resp.status_code == 200
    assert resp.get_json()["numberReturned"] == 0


@pytest.mark.parametrize("query", [f"page={HUGE}", f"page={BIGINT_PLUS_ONE}", "page=10000000&per_page=200",
                                   f"per_page={HUGE}"])
def test_a_ledger_page_out_of_range_is_refused(client, world, query):
    resp = client.get(f"/hazards?{query}")
    assert resp.status_code == 400
    assert "参数 page 无效" in resp.get_data(as_text=True) or "参数 per_page 无效" in resp.get_data(as_text=True)


def test_a_ledger_page_in_range_works(client, world):
    assert client.get("/hazards?page=2&per_page=50").status_code == 200
    assert client.get(f"/hazards?page={MAX_OFFSET // 200 + 1}&per_page=200").status_code == 200


def test_the_audit_log_page_is_bounded(app, client, session, world):
    app.config["LOGIN_REQUIRED"] = True
    admin = accounts.create_user(session, "boss", "correct-horse-9", "admin")
    token = accounts.create_token(session, admin, "t")
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/admin/audit?page=2", headers=headers).status_code == 200
    resp = client.get(f"/admin/audit?page={HUGE}", headers=headers)
    assert resp.status_code == 400 and "参数 page 无效" in resp.get_data(as_text=True)


# --------------------------------------------------------------------------- JSON bodies


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [21, 100, 5000])
def test_deeply_nested_json_is_refused(client, world, depth):
    polygon = client.post("/api/hazards/search", data=_nested(depth), content_type="application/json")
    _bad(polygon, "body")
    body = '{"name": ' + _nested(depth) + "}"
    _bad(client.post("/api/enterprises", data=body, content_type="application/json"), "body")
    patch = '{"version": 1, "description": ' + _nested(depth) + "}"
    _bad(client.patch(f"/api/hazards/{world['hazard']}", data=patch, content_type="application/json"), "body")


def test_json_twenty_deep_is_still_read(client, world):
    """A posted polygon nested no deeper than the limit is answered as before (here: not a polygon)."""
    resp = client.post("/api/hazards/search", data=_nested(20), content_type="application/json")
    assert resp.status_code == 400 and "polygon" in resp.get_data(as_text=True)


@pytest.mark.parametrize("value", [{"a": 1}, ["甲县"], [1, 2]])
def test_an_object_or_array_where_text_is_expected_is_refused(client, world, value):
    create = {"credit_code": credit_code(2, "539901"), "name": value, "industry": "hazchem",
              "lng": 100.6, "lat": 20.6}
    _bad(client.post("/api/enterprises", json=create), "name")
    _bad(client.patch(f"/api/hazards/{world['hazard']}", json={"version": 1, "description": value}),
         "description")
    _bad(client.post(f"/api/hazards/{world['hazard']}/transition",
                     json={"version": 1, "to_state": "rectifying", "note": "x", "fields": {"resp_person": value}}),
         "resp_person")


@pytest.mark.parametrize("version", ["1", 1.5, 1.0, True, {}, [], None, -1, 0, 2**63])
def test_a_version_that_is_not_a_positive_integer_is_refused(client, world, version):
    resp = client.patch(f"/api/hazards/{world['hazard']}", json={"version": version, "category": "电气"})
    _bad(resp, "version")
    resp = client.post(f"/api/hazards/{world['hazard']}/transition",
                       json={"version": version, "to_state": "rectifying"})
    _bad(resp, "version")


def test_an_integer_version_is_accepted(client, world):
    resp = client.patch(f"/api/hazards/{world['hazard']}", json={"version": 1, "category": "电气"})
    assert resp.status_code == 200 and resp.get_json()["version"] == 2
    resp = client.patch(f"/api/hazards/{world['hazard']}", json={"category": "消防"}, headers={"If-Match": '"v2"'})
    assert resp.status_code == 200 and resp.get_json()["version"] == 3


def test_a_form_version_out_of_range_is_refused(client, world):
    resp = client.post(f"/hazards/{world['hazard']}/transition",
                       data={"from_state": "registered", "to_state": "rectifying", "version": HUGE})
    assert resp.status_code == 400 and "参数 version 无效" in resp.get_data(as_text=True)

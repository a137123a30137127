"""The enterprise's 四色图 over HTTP: zones and the layout, the errors each bad input
answers (with nothing written), optimistic locking and who may draw.

Geography as in ``tests/services/test_zones.py``: county 990101 = 103–104°E ×
23–24°N, the plant at (103.5, 23.5), another enterprise at (103.8, 23.8).
"""

from __future__ import annotations

import io
import json

import pytest
from helpers import credit_code
from PIL import Image
from sqlalchemy import func, select, text

from geo_service.models import EnterpriseLayout, RiskZone
from geo_service.services import accounts


def square(lng: float, lat: float, d: float = 0.001) -> dict:
    return {"type": "Polygon", "coordinates": [[[lng, lat], [lng + d, lat], [lng + d, lat + d], [lng, lat + d],
                                                [lng, lat]]]}


BOWTIE = {"type": "Polygon", "coordinates": [[[103.501, 23.501], [103.502, 23.502], [103.502, 23.501],
                                              [103.501, 23.502], [103.501, 23.501]]]}


@pytest.fixture
def plant(session):
    session.execute(text(
        "INSERT INTO region (code, name, level, geom) VALUES ('990101', '测试县', 'county',"
        " ST_Multi(ST_MakeEnvelope(103, 23, 104, 24, 4326)))"))
    ids = {}
    for key, n, lng, lat in (("chem", 1, 103.5, 23.5), ("other", 2, 103.8, 23.8)):
        ids[key] = session.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
            " (:c, :n, 'hazchem', ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"),
            {"c": credit_code(n, "990101"), "n": f"测试化工{n}厂", "x": lng, "y": lat}).scalar_one()
    ids["tank"] = session.execute(text(
        "INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, '液氯储罐', 2) RETURNING id"),
        {"e": ids["chem"]}).scalar_one()
    session.commit()
    return ids


def n_zones(session) -> int:
    return session.scalar(select(func.count()).select_from(RiskZone))


def png(w: int = 400, h: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), "white").save(out, format="PNG")
    return out.getvalue()


def test_draw_edit_and_delete_a_zone(client, session, plant):
    url = f"/api/enterprises/{plant['chem']}/zones"
    r = client.post(url, json={"name": "罐区", "geometry": square(103.501, 23.501),
                               "risk_point_ids": [plant["tank"]]})
    assert r.status_code == 201, r.get_json()
    zone = r.get_json()
    assert zone["properties"]["grade"] == 2 and zone["properties"]["grade_name"] == "较大风险"
    assert zone["properties"]["risk_points"][0]["name"] == "液氯储罐" and r.headers["ETag"] == '"v1"'
    # an overlapping zone is written, with a warning
    r = client.post(url, json={"name": "泵房", "geometry": square(103.5015, 23.5015), "grade": "黄"})
    assert r.status_code == 201 and [w["name"] for w in r.get_json()["warnings"]] == ["罐区"]
    listed = client.get(url).get_json()
    assert sorted(f["properties"]["name"] for f in listed["features"]) == ["泵房", "罐区"]
    # optimistic locking
    zid = zone["id"]
    assert client.patch(f"/api/zones/{zid}", json={"name": "一号罐区", "version": 1}).status_code == 200
    r = client.patch(f"/api/zones/{zid}", json={"name": "二号罐区", "version": 1})
    assert r.status_code == 409 and "已被他人修改" in r.get_json()["message"]
    assert client.delete(f"/api/zones/{zid}", headers={"If-Match": '"v1"'}).status_code == 409
    assert client.delete(f"/api/zones/{zid}", headers={"If-Match": '"v2"'}).status_code == 204
    assert client.get(f"/api/zones/{zid}").status_code == 404
    # the enterprise page's history keeps the zone's life, deletion included
    page = client.get(f"/enterprises/{plant['chem']}").get_data(as_text=True)
    history = " ".join(page.split('id="history"')[1].split())
    assert f"新建 风险区域 #{zid}" in history and f"删除 风险区域 #{zid}" in history


def test_bad_zones_are_refused_with_the_reason_and_nothing_written(client, session, plant):
    url = f"/api/enterprises/{plant['chem']}/zones"
    r = client.post(url, json={"name": "自相交", "geometry": BOWTIE})
    assert r.status_code == 422
    body = r.get_json()
    assert "边界自相交" in body["message"] and body["repaired"]["type"] == "MultiPolygon"
    assert n_zones(session) == 0
    r = client.post(url, json={"name": "自相交", "geometry": BOWTIE, "confirm_repair": True})
    assert r.status_code == 201 and r.get_json()["geometry"]["type"] == "MultiPolygon"
    r = client.post(url, json={"name": "远处", "geometry": square(103.53, 23.5)})
    assert r.status_code == 400 and "超过允许的 2,000 米" in r.get_json()["message"]
    r = client.post(url, json={"name": "点", "geometry": {"type": "Point", "coordinates": [103.5, 23.5]}})
    assert r.status_code == 400 and "应为面" in r.get_json()["message"]
    assert n_zones(session) == 1


def test_zone_distance_is_a_setting(app, client, session, plant):
    app.config["ZONE_MAX_DISTANCE_M"] = 5000.0
    r = client.post(f"/api/enterprises/{plant['chem']}/zones",
                    json={"name": "远处仓库", "geometry": square(103.53, 23.5)})
    assert r.status_code == 201


def test_layout_upload_checks_the_content_and_the_size(app, client, session, plant):
    url = f"/api/enterprises/{plant['chem']}/layout"
    r = client.post(url, data={"file": (io.BytesIO(b"MZ\x90\x00 pretending"), "plan.png")})
    assert r.status_code == 400 and "按文件内容判断" in r.get_json()["message"]
    app.config["MAX_LAYOUT_MB"] = 0.0005  # 524 bytes
    r = client.post(url, data={"file": (io.BytesIO(png(800, 800) + b"\x00" * 600), "plan.png")})
    assert r.status_code == 413
    assert session.scalar(select(func.count()).select_from(EnterpriseLayout)) == 0
    app.config["MAX_LAYOUT_MB"] = 20
    r = client.post(url, data={"file": (io.BytesIO(png()), "厂区平面图.png")})
    assert r.status_code == 201, r.get_json()
    meta = r.get_json()
    assert (meta["width"], meta["height"], len(meta["corners"])) == (400, 200, 4)
    image = client.get(meta["href"])
    data = image.get_data()
    image.close()
    assert image.status_code == 200 and data == png()
    corners = [[103.499, 23.502], [103.503, 23.502], [103.499, 23.500]]
    r = client.patch(url, json={"corners": corners, "version": 1})
    assert r.status_code == 200 and r.get_json()["corners"][2] == [103.503, 23.5]
    assert client.patch(url, json={"corners": corners, "version": 1}).status_code == 409
    r = client.patch(url, json={"corners": [[104.5, 23.5], [104.6, 23.5], [104.5, 23.4]], "version": 2})
    assert r.status_code == 400 and "平面图距企业位置" in r.get_json()["message"]
    # replacing the image keeps the placement
    r = client.post(url, data={"file": (io.BytesIO(png(800, 400)), "新平面图.png"), "version": "2"})
    assert r.status_code == 200 and r.get_json()["corners"][2] == [103.503, 23.5]


def test_zones_import_answers_per_feature_errors(client, session, plant):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"区域名称": "罐区", "风险等级": "橙"}, "geometry": square(103.501, 23.501)},
        {"type": "Feature", "properties": {"区域名称": "远处"}, "geometry": square(103.53, 23.5)},
    ]}
    data = json.dumps(doc, ensure_ascii=False).encode()
    url = f"/api/enterprises/{plant['chem']}/zones/import"
    r = client.post(url, data={"file": (io.BytesIO(data), "zones.geojson")})
    assert r.status_code == 422
    assert [(e["row"], e["column"]) for e in r.get_json()["errors"]] == [(2, "区域范围")]
    assert n_zones(session) == 0
    r = client.post(url, data={"file": (io.BytesIO(data), "zones.geojson"), "skip_bad": "1"})
    assert r.status_code == 200 and r.get_json()["inserted"] == 1 and n_zones(session) == 1


def test_who_may_draw(app, client, session, plant):
    app.config["LOGIN_REQUIRED"] = True
    viewer = accounts.create_user(session, "kan", "correct-horse-9", "readonly", region_code="990101")
    owner = accounts.create_user(session, "chang", "correct-horse-9", "enterprise", enterprise_id=plant["chem"])
    other = accounts.create_user(session, "bie", "correct-horse-9", "enterprise", enterprise_id=plant["other"])
    tokens = {u.username: accounts.create_token(session, u, "t") for u in (viewer, owner, other)}
    session.commit()
    url = f"/api/enterprises/{plant['chem']}/zones"
    body = {"name": "罐区", "geometry": square(103.501, 23.501)}

    def auth(name: str) -> dict:
        return {"Authorization": f"Bearer {tokens[name]}"}

    assert client.post(url, json=body, headers=auth("kan")).status_code == 403
    assert client.get(url, headers=auth("kan")).status_code == 200
    assert client.post(url, json=body, headers=auth("bie")).status_code == 404  # another enterprise: as if missing
    assert client.get(url, headers=auth("bie")).status_code == 404
    assert client.post(url, json=body, headers=auth("chang")).status_code == 201

"""The closed loop over HTTP: create, edit, transitions, optimistic locking,
evidence upload and download, and the errors each answers."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
import sqlalchemy as sa
from queries.world import add_regions, build_world, credit_code

from geo_service.models import AuditLog, HazardEvent, HazardEvidence

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%test\n"


def docx_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


@pytest.fixture
def world(session):
    w = build_world(session)
    session.commit()
    return w


def test_create_enterprise_then_risk_point_moves_its_grade(client, session):
    add_regions(session)
    session.commit()
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [103.8, 23.3]},
               "properties": {"credit_code": credit_code(90), "name": "新建材厂", "industry": "建材"}}
    r = client.post("/api/enterprises", json=feature)
    assert r.status_code == 201, r.get_json()
    ent = r.get_json()
    assert (ent["region_code"], ent["industry_code"], ent["grade"]) == ("532502", "trade.building_materials", None)
    assert r.headers["Location"] == f"/api/enterprises/{ent['id']}" and r.headers["ETag"] == '"v1"'
    r = client.post(f"/api/enterprises/{ent['id']}/risk-points", json={"name": "窑炉", "grade": "橙"})
    assert r.status_code == 201 and r.get_json()["grade_name"] == "较大风险"
    assert client.get(f"/api/enterprises/{ent['id']}").get_json()["grade"] == 2
    rp = r.get_json()
    r = client.patch(f"/api/risk-points/{rp['id']}", json={"grade": "红"}, headers={"If-Match": r.headers["ETag"]})
    assert r.status_code == 200 and r.get_json()["version"] == 2
    assert client.get(f"/api/enterprises/{ent['id']}").get_json()["grade"] == 1


def test_invalid_record_answers_400_with_field_errors(client, session):
    add_regions(session)
    session.commit()
    r = client.post("/api/enterprises", json={"credit_code": "91532501MA0000000X", "name": "", "industry": "核电",
                                              "lng": 23.3, "lat": 103.3})
    assert r.status_code == 400
    columns = {e["column"] for e in r.get_json()["errors"]}
    assert {"统一社会信用代码", "企业名称", "行业领域", "经度"} <= columns
    r = client.post("/api/enterprises", data="not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["parameter"] == "body"
    r = client.post("/api/enterprises?datum=mars", json={})
    assert r.status_code == 400 and r.get_json()["parameter"] == "datum"


def test_two_clients_same_version_second_gets_409_nothing_lost(client, app, world, session):
    other = app.test_client()
    a = client.get(f"/api/enterprises/{world.mill.id}")
    b = other.get(f"/api/enterprises/{world.mill.id}")
    assert a.headers["ETag"] == b.headers["ETag"] == '"v1"'
    r1 = client.patch(f"/api/enterprises/{world.mill.id}", json={"contact_phone": "0873-1111111", "version": 1})
    assert r1.status_code == 200 and r1.headers["ETag"] == '"v2"'
    r2 = other.patch(f"/api/enterprises/{world.mill.id}", json={"address": "覆盖", "version": 1})
    assert r2.status_code == 409 and r2.get_json()["error"] == "version_conflict"
    now = client.get(f"/api/enterprises/{world.mill.id}").get_json()
    assert now["contact_phone"] == "0873-1111111" and now["address"] == "开远钢铁厂地址" and now["version"] == 2
    r = client.patch(f"/api/enterprises/{world.mill.id}", json={"address": "x"})
    assert r.status_code == 400 and r.get_json()["parameter"] == "version"


def test_hazard_closed_loop_over_http(client, world, session):
    r = client.post("/api/hazards", json={"enterprise_id": world.mill.id, "description": "煤气管道泄漏",
                                          "level": "major", "source": "inspection", "found_on": "2026-03-02"})
    assert r.status_code == 201
    hz = r.get_json()
    assert hz["state"] == "registered" and [e["to_state"] for e in hz["events"]] == ["registered"]
    url = f"/api/hazards/{hz['id']}/transition"
    r = client.post(url, json={"to_state": "rectifying", "version": 1})
    assert r.status_code == 409 and "五落实" in r.get_json()["message"]
    five = {"resp_person": "钱七", "measures": "更换管段", "funds_wan": 20, "deadline": "2026-04-30",
            "emergency_plan": "煤气中毒应急预案"}
    r = client.post(url, json={"to_state": "rectifying", "fields": five, "note": "方案已批", "version": 1})
    assert r.status_code == 200 and r.get_json()["state_name"] == "整改中"
    r = client.post(url, json={"to_state": "closed", "version": 2})
    assert r.status_code == 409 and r.get_json()["error"] == "illegal_transition"
    assert "不能从“整改中”变更为“已验收销号”" in r.get_json()["message"]
    r = client.post(url, json={"to_state": "rectified", "fields": {"rectified_on": "2026-03-20"}},
                    headers={"If-Match": '"v2"'})
    assert r.status_code == 200
    # the verifier is the signing account: a typed one is refused
    r = client.post(url, json={"to_state": "closed", "version": 3,
                               "fields": {"verifier": "孙八", "verified_on": "2026-03-25"}})
    assert r.status_code == 400 and r.get_json()["parameter"] == "verifier"
    r = client.post(url, json={"to_state": "closed", "version": 3, "fields": {}})
    assert r.status_code == 409 and "验收日期" in r.get_json()["message"]
    # a 重大隐患 needs a 整改后 file and a 验收意见
    sign = {"to_state": "closed", "version": 3, "note": "复查合格", "fields": {"verified_on": "2026-03-25"}}
    r = client.post(url, json=sign)
    assert r.status_code == 409 and "尚缺：整改后佐证材料（至少一份）、验收意见" in r.get_json()["message"]
    r = client.post(f"/api/hazards/{hz['id']}/evidence", data={"kind": "after", "file": (io.BytesIO(PNG), "整改后.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 201
    sign["fields"]["verification_note"] = "管段已更换，检测无泄漏"
    r = client.post(url, json=sign)
    body = r.get_json()
    assert r.status_code == 200 and body["state"] == "closed" and body["next_states"] == []
    assert body["verification_note"] == "管段已更换，检测无泄漏" and body["verifier_name"] == "匿名用户"
    assert [(e["from_state"], e["to_state"]) for e in body["events"]] == [
        (None, "registered"), ("registered", "rectifying"), ("rectifying", "rectified"), ("rectified", "closed")]
    actions = session.execute(sa.select(AuditLog.action).where(AuditLog.object_type == "hazard",
                                                               AuditLog.object_id == str(hz["id"]))).scalars().all()
    assert actions == ["create", "transition", "transition", "transition"]
    r = client.post(url, json={"to_state": "purple", "version": 4})
    assert r.status_code == 400 and r.get_json()["parameter"] == "to_state"


def test_stale_transition_writes_no_event(client, world, session):
    url = f"/api/hazards/{world.h_general_open.id}/transition"
    assert client.post(url, json={"to_state": "rectifying", "version": 1}).status_code == 200
    assert client.post(url, json={"to_state": "rectified", "version": 1}).status_code == 409
    n = session.execute(sa.select(sa.func.count()).select_from(HazardEvent)
                        .where(HazardEvent.hazard_id == world.h_general_open.id)).scalar_one()
    assert n == 2  # registration + the one accepted transition


def test_evidence_upload_list_download(client, app, world, session):
    url = f"/api/hazards/{world.h_major_overdue.id}/evidence"
    r = client.post(url, data={"kind": "before", "file": (io.BytesIO(PNG), "现场.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    ev = r.get_json()
    digest = hashlib.sha256(PNG).hexdigest()
    assert (ev["content_type"], ev["sha256"], ev["size_bytes"]) == ("image/png", digest, len(PNG))
    stored = app.config["UPLOAD_DIR"] / digest[:2] / digest
    assert stored.read_bytes() == PNG
    r = client.post(url, data={"kind": "plan", "file": (io.BytesIO(docx_bytes()), "方案.docx")},
                    content_type="multipart/form-data")
    assert r.get_json()["content_type"].endswith("wordprocessingml.document")
    listed = client.get(url).get_json()["items"]
    assert [(e["kind"], e["filename"]) for e in listed] == [("before", "现场.png"), ("plan", "方案.docx")]
    detail = client.get(f"/api/hazards/{world.h_major_overdue.id}").get_json()
    assert len(detail["evidence"]) == 2
    with client.get(ev["href"]) as got:
        assert got.status_code == 200 and got.data == PNG and got.mimetype == "image/png"
        assert "attachment" in got.headers["Content-Disposition"]


@pytest.mark.parametrize("payload,filename,kind,status,parameter", [
    (b"MZ\x90\x00 an exe", "report.pdf", "plan", 400, "file"),        # a PDF name does not make it a PDF
    (b"", "empty.png", "before", 400, "file"),
    (PDF, "x.pdf", "selfie", 400, "kind"),
    (b"PK\x03\x04not really a zip", "a.xlsx", "other", 400, "file"),
])
def test_evidence_rejects_bad_files(client, world, session, payload, filename, kind, status, parameter):
    r = client.post(f"/api/hazards/{world.h_school.id}/evidence",
                    data={"kind": kind, "file": (io.BytesIO(payload), filename)}, content_type="multipart/form-data")
    assert r.status_code == status and r.get_json()["parameter"] == parameter
    assert session.execute(sa.select(sa.func.count()).select_from(HazardEvidence)).scalar_one() == 0


def test_evidence_size_limit(client, app, world):
    app.config["MAX_EVIDENCE_MB"] = 1
    big = PDF + b"0" * (1024 * 1024)
    # the multipart body built by hand: the test client would spool a large one to an unclosed temp file
    boundary = "----geo-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nplan\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode() + big + f"\r\n--{boundary}--\r\n".encode()
    r = client.post(f"/api/hazards/{world.h_school.id}/evidence", data=body,
                    content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 413 and r.get_json()["error"] == "file_too_large"


def test_scope_from_a_token_hides_and_forbids(client, app, world, session):
    """A regulator of county 532502 (the mill's) neither sees nor edits the plant in 532501."""
    from geo_service.services import accounts

    user = accounts.create_user(session, "kaiyuan", "correct-horse-9", "regulator", region_code="532502")
    token = accounts.create_token(session, user, "脚本")
    session.commit()
    app.config["LOGIN_REQUIRED"] = True
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/enterprises/{world.plant.id}", headers=auth).status_code == 404
    r = client.patch(f"/api/enterprises/{world.plant.id}", json={"address": "x", "version": 1}, headers=auth)
    assert r.status_code == 404  # exactly as a missing id: no existence oracle
    ids = [f["id"] for f in client.get("/api/enterprises", headers=auth).get_json()["features"]]
    assert ids == [world.mill.id]
    assert client.get("/api/enterprises").status_code == 401

"""The registration forms and the closed-loop step forms: validation messages
next to the fields, typed values kept, writes through the register service."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import lxml.html
import pytest
import sqlalchemy as sa
from web.test_ledger_world import LedgerWorld, build, credit_code

from geo_service.models import AuditLog, Enterprise, Hazard, HazardEvent, RiskPoint


@pytest.fixture
def world(session) -> LedgerWorld:  # type: ignore[no-untyped-def]
    w = build(session)
    session.commit()
    return w


def form_page(client, url: str) -> tuple[lxml.html.HtmlElement, str]:  # type: ignore[no-untyped-def]
    """The page and the CSRF token its first form carries."""
    resp = client.get(url)
    assert resp.status_code == 200
    doc = lxml.html.fromstring(resp.get_data(as_text=True))
    token = doc.cssselect("form[method=post] input[name=csrf_token]")[0].get("value")
    assert token
    return doc, token


def post(client, url: str, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    return client.post(url, data=data)


def field_error(doc: lxml.html.HtmlElement, name: str) -> str:
    """The error text shown inside the field block of ``name`` (empty when none)."""
    blocks = [b for b in doc.cssselect("div.field")
              if b.cssselect(f"[name={name}]")]
    assert blocks, f"no field {name}"
    return " ".join(p.text_content() for p in blocks[0].cssselect(".field-error"))


def value_of(doc: lxml.html.HtmlElement, name: str) -> str:
    el = doc.cssselect(f"[name={name}]")[0]
    if el.tag == "textarea":
        return el.text_content()
    if el.tag == "select":
        chosen = el.cssselect("option[selected]")
        return chosen[0].get("value") if chosen else ""
    return el.get("value") or ""


def html(resp) -> lxml.html.HtmlElement:  # type: ignore[no-untyped-def]
    return lxml.html.fromstring(resp.get_data(as_text=True))


# --------------------------------------------------------------------------- enterprise


def test_enterprise_form_errors_next_to_fields_and_values_kept(client, world, session):
    _doc, token = form_page(client, "/enterprises/new")
    bad_code = credit_code(7)[:-1] + ("0" if credit_code(7)[-1] != "0" else "1")  # wrong check character
    data = {"csrf_token": token, "credit_code": bad_code, "name": "丁建材厂", "industry": "trade.building_materials",
            "lng": "103.12", "lat": "", "legal_rep": "钱七", "contact_phone": "not a phone!"}
    resp = post(client, "/enterprises/new", data)
    assert resp.status_code == 400
    doc = html(resp)
    assert "校验" in field_error(doc, "credit_code")
    assert field_error(doc, "lat")  # 经度和纬度须同时填写
    assert "电话" in field_error(doc, "contact_phone")
    assert field_error(doc, "name") == ""
    # What the user typed is still there.
    assert value_of(doc, "credit_code") == bad_code
    assert value_of(doc, "name") == "丁建材厂"
    assert value_of(doc, "legal_rep") == "钱七"
    assert value_of(doc, "industry") == "trade.building_materials"
    assert session.scalar(sa.select(sa.func.count()).select_from(Enterprise).where(Enterprise.name == "丁建材厂")) == 0


def test_enterprise_form_registers_and_assigns_the_region(client, world, session):
    _doc, token = form_page(client, "/enterprises/new")
    code = credit_code(8)
    data = {"csrf_token": token, "credit_code": code, "name": "丁建材厂", "industry": "trade.building_materials",
            "lng": "103.45", "lat": "23.50", "datum": "wgs84", "legal_rep": "钱七", "complaint_phone": "12350"}
    resp = post(client, "/enterprises/new", data)
    assert resp.status_code == 303
    ent = session.scalars(sa.select(Enterprise).where(Enterprise.credit_code == code)).one()
    assert resp.headers["Location"].endswith(f"/enterprises/{ent.id}")
    # (103.45, 23.50) lies east of 103.3 E: county 532502 by point-in-polygon.
    assert ent.region_code == "532502"
    audit = session.scalars(sa.select(AuditLog).where(AuditLog.object_type == "enterprise",
                                                      AuditLog.object_id == str(ent.id))).all()
    assert [a.action for a in audit] == ["create"]
    page = client.get(resp.headers["Location"])
    assert "已登记企业：丁建材厂" in page.get_data(as_text=True)


# --------------------------------------------------------------------------- risk point


def test_risk_point_lec_grade_is_computed_on_the_server(client, world, session):
    works = world.enterprises["works"]
    url = f"/enterprises/{works.id}/risk-points/new"
    _doc, token = form_page(client, url)
    # D = 3 × 6 × 40 = 720 > 320 → 红 with the default thresholds; no grade chosen.
    resp = post(client, url, {"csrf_token": token, "name": "喷漆房", "method": "LEC", "lec_L": "3", "lec_E": "6",
                              "lec_C": "40", "accident_type": "火灾、爆炸"})
    assert resp.status_code == 303
    rp = session.scalars(sa.select(RiskPoint).where(RiskPoint.name == "喷漆房")).one()
    assert (rp.grade, float(rp.score), rp.method, rp.method_params) == (1, 720.0, "LEC", {"L": 3, "E": 6, "C": 40})
    session.refresh(works)
    assert works.grade == 1  # the enterprise follows its highest risk point (was 黄)


def test_risk_point_thresholds_come_from_the_settings(app, client, world, session):
    app.config["LEC_THRESHOLDS"] = (800, 500, 100)
    works = world.enterprises["works"]
    url = f"/enterprises/{works.id}/risk-points/new"
    _doc, token = form_page(client, url)
    # D = 720: not > 800, > 500 → 橙 under these settings.
    resp = post(client, url, {"csrf_token": token, "name": "喷漆房", "method": "LEC", "lec_L": "3", "lec_E": "6",
                              "lec_C": "40"})
    assert resp.status_code == 303
    assert session.scalars(sa.select(RiskPoint.grade).where(RiskPoint.name == "喷漆房")).one() == 2


def test_risk_point_ls_and_errors(client, world, session):
    works = world.enterprises["works"]
    url = f"/enterprises/{works.id}/risk-points/new"
    _doc, token = form_page(client, url)
    resp = post(client, url, {"csrf_token": token, "name": "", "method": "LS", "ls_L": "4", "ls_S": "9",
                              "location_desc": "二号车间"})
    assert resp.status_code == 400
    doc = html(resp)
    assert "1、2、3、4、5" in field_error(doc, "ls_S")
    assert value_of(doc, "location_desc") == "二号车间"
    assert value_of(doc, "ls_L") == "4"
    # Name missing is reported too once the calculator is satisfied.
    resp = post(client, url, {"csrf_token": token, "name": "", "method": "LS", "ls_L": "4", "ls_S": "5"})
    assert resp.status_code == 400
    assert "必填" in field_error(html(resp), "name")
    # A duplicate name is an error next to the name.
    resp = post(client, url, {"csrf_token": token, "name": "冲压车间", "method": "LS", "ls_L": "2", "ls_S": "2"})
    assert resp.status_code == 400
    assert "同名" in field_error(html(resp), "name")
    # LS R = 4 × 5 = 20 ≥ 20 → 红.
    resp = post(client, url, {"csrf_token": token, "name": "二号车间", "method": "LS", "ls_L": "4", "ls_S": "5"})
    assert resp.status_code == 303
    rp = session.scalars(sa.select(RiskPoint).where(RiskPoint.name == "二号车间")).one()
    assert (rp.grade, float(rp.score)) == (1, 20.0)


# --------------------------------------------------------------------------- hazard


def test_hazard_form_errors_next_to_fields(client, world, session):
    chem = world.enterprises["chem"]
    url = f"/hazards/new?enterprise={chem.id}"
    _doc, token = form_page(client, url)
    future = (world.today + dt.timedelta(days=3)).isoformat()
    resp = post(client, url, {"csrf_token": token, "description": "", "level": "general", "source": "supervised",
                              "found_on": future, "found_by": "县应急局", "funds_wan": "-1"})
    assert resp.status_code == 400
    doc = html(resp)
    assert "必填" in field_error(doc, "description")
    assert "督办文号" in field_error(doc, "supervision_doc_no")
    assert "晚于今天" in field_error(doc, "found_on")
    assert "不能小于" in field_error(doc, "funds_wan")
    assert value_of(doc, "found_by") == "县应急局"
    assert value_of(doc, "source") == "supervised"
    assert value_of(doc, "funds_wan") == "-1"


def test_hazard_form_own_location_outside_the_region(client, world):
    chem = world.enterprises["chem"]
    url = f"/hazards/new?enterprise={chem.id}"
    _doc, token = form_page(client, url)
    # (103.45, 23.3) is in 开远市, not in the enterprise's 个旧市.
    resp = post(client, url, {"csrf_token": token, "description": "围墙外堆放危化品", "level": "general",
                              "source": "inspection", "found_on": world.today.isoformat(),
                              "own_location": "1", "lng": "103.45", "lat": "23.30"})
    assert resp.status_code == 400
    doc = html(resp)
    assert "532501" in field_error(doc, "lng")
    assert doc.cssselect("#f-own_location")[0].get("checked") is not None


def test_hazard_form_registers_with_enterprise_location(client, world, session):
    chem = world.enterprises["chem"]
    url = f"/hazards/new?enterprise={chem.id}"
    _doc, token = form_page(client, url)
    resp = post(client, url, {"csrf_token": token, "description": "消防水池液位计损坏", "level": "general",
                              "source": "self", "found_on": world.today.isoformat(),
                              "lng": "103.2", "lat": "23.3"})  # typed but the box is not ticked: ignored
    assert resp.status_code == 303
    hz = session.scalars(sa.select(Hazard).where(Hazard.description == "消防水池液位计损坏")).one()
    assert resp.headers["Location"].endswith(f"/hazards/{hz.id}")
    assert hz.state == "registered" and hz.geom is None
    events = session.scalars(sa.select(HazardEvent).where(HazardEvent.hazard_id == hz.id)).all()
    assert [(e.from_state, e.to_state) for e in events] == [(None, "registered")]


def test_hazard_new_without_enterprise_offers_a_search(client, world):
    doc = lxml.html.fromstring(client.get("/hazards/new?q=化工").get_data(as_text=True))
    links = [a.get("href") for a in doc.cssselect(".picklist a")]
    assert links == [f"/hazards/new?enterprise={world.enterprises['chem'].id}"]


# --------------------------------------------------------------------------- the closed loop


def step(client, hazard: Hazard, source: str, target: str, **fields: str):  # type: ignore[no-untyped-def]
    doc, _ = form_page(client, f"/hazards/{hazard.id}")
    form = doc.cssselect(f"#step-{source}-{target}")[0]
    data = {i.get("name"): i.get("value") for i in form.cssselect("input[type=hidden]")}
    for el in form.cssselect("input:not([type=hidden]), textarea"):
        data[el.get("name")] = el.get("value") if el.tag == "input" else el.text_content()
    data.update(fields)
    return client.post(f"/hazards/{hazard.id}/transition", data=data)


def test_major_hazard_needs_its_five_before_rectifying(client, world, session):
    h7 = world.hazards["h7"]  # major, registered, nothing of the 五落实 but the deadline
    resp = step(client, h7, "registered", "rectifying", measures="更换双回路电源")
    assert resp.status_code == 400
    doc = html(resp)
    form = doc.cssselect("#step-registered-rectifying")[0]
    for name in ("resp_person", "funds_wan", "emergency_plan"):
        blocks = [b for b in form.cssselect("div.field") if b.cssselect(f"[name={name}]")]
        assert "五落实" in blocks[0].cssselect(".field-error")[0].text_content()
    assert form.cssselect("[name=measures]")[0].text_content() == "更换双回路电源"  # kept
    session.refresh(h7)
    assert h7.state == "registered"
    resp = step(client, h7, "registered", "rectifying", resp_person="赵六", measures="更换双回路电源",
                funds_wan="8", emergency_plan="停电应急预案", note="已制定治理方案")
    assert resp.status_code == 303
    session.refresh(h7)
    assert (h7.state, h7.resp_person, float(h7.funds_wan)) == ("rectifying", "赵六", 8.0)


def test_the_loop_to_sign_off_and_back(client, world, session):
    h4 = world.hazards["h4"]  # general, rectifying
    assert step(client, h4, "rectifying", "rectified").status_code == 303
    session.refresh(h4)
    assert h4.state == "rectified" and h4.rectified_on == dt.date.today()
    # Send back without a reason: the reason field says so.
    resp = step(client, h4, "rectified", "rectifying")
    assert resp.status_code == 400
    assert "原因" in field_error(html(resp).cssselect("#step-rectified-rectifying")[0], "note")
    assert step(client, h4, "rectified", "rectifying", note="防护罩未固定").status_code == 303
    session.refresh(h4)
    assert h4.state == "rectifying" and h4.verification_note == "防护罩未固定"
    assert step(client, h4, "rectifying", "rectified").status_code == 303
    # Sign-off without a date: error next to 验收日期, the opinion typed is kept; no 验收人 to type.
    resp = step(client, h4, "rectified", "closed", verified_on="", verification_note="防护罩已固定")
    assert resp.status_code == 400
    form = html(resp).cssselect("#step-rectified-closed")[0]
    assert "验收日期" in field_error(form, "verified_on")
    assert form.cssselect("[name=verifier]") == [] and "验收人：匿名用户（当前账号）" in form.text_content()
    assert form.cssselect("[name=verification_note]")[0].text_content() == "防护罩已固定"
    resp = step(client, h4, "rectified", "closed", verification_note="防护罩已固定")
    assert resp.status_code == 303
    session.refresh(h4)
    assert (h4.state, h4.verifier) == ("closed", "匿名用户")  # the signing account's name
    doc = html(client.get(f"/hazards/{h4.id}"))
    timeline = [re.sub(r"\s+", " ", li.text_content()) for li in doc.cssselect("#timeline li")]
    # registered, rectifying (fixture) + 整改完成, 退回, 整改完成, 销号
    assert [t.split("：", 1)[1].split("（")[0].strip() for t in timeline] == [
        "已登记", "已登记 → 整改中", "整改中 → 已整改待验收", "已整改待验收 → 整改中", "整改中 → 已整改待验收",
        "已整改待验收 → 已验收销号"]
    assert "防护罩未固定" in timeline[3]
    assert "匿名用户" in timeline[5] and "复查情况：防护罩已固定" in timeline[5]


def test_stale_form_is_a_409_with_nothing_lost(client, world, session):
    h2 = world.hazards["h2"]  # general, registered
    doc, _ = form_page(client, f"/hazards/{h2.id}")
    form = doc.cssselect("#step-registered-rectifying")[0]
    data = {i.get("name"): i.get("value") for i in form.cssselect("input[type=hidden]")}
    assert step(client, h2, "registered", "rectifying").status_code == 303  # someone else was faster
    data.update(note="我也开始整改")
    data["from_state"], data["to_state"] = "rectifying", "rectified"
    resp = client.post(f"/hazards/{h2.id}/transition", data=data)  # old version number
    assert resp.status_code == 409
    assert "已被他人修改" in html(resp).cssselect("#step-rectifying-rectified .form-errors")[0].text_content()
    session.refresh(h2)
    assert h2.state == "rectifying"


def test_illegal_step_is_refused(client, world, session):
    h6 = world.hazards["h6"]  # registered
    resp = client.post(f"/hazards/{h6.id}/transition",
                       data={"from_state": "registered", "to_state": "closed", "version": str(h6.version)})
    assert resp.status_code == 400
    session.refresh(h6)
    assert h6.state == "registered"


# --------------------------------------------------------------------------- evidence


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_evidence_upload_lists_the_file(client, world, session):
    import hashlib
    import io

    from geo_service.models import HazardEvidence

    h1 = world.hazards["h1"]
    doc, token = form_page(client, f"/hazards/{h1.id}")
    token = doc.cssselect("#evidence-form input[name=csrf_token]")[0].get("value")
    data = _png()
    resp = client.post(f"/hazards/{h1.id}/evidence", content_type="multipart/form-data",
                       data={"csrf_token": token, "kind": "after", "file": (io.BytesIO(data), "整改后.png")})
    assert resp.status_code == 303
    row = session.scalars(sa.select(HazardEvidence).where(HazardEvidence.hazard_id == h1.id)).one()
    assert (row.kind, row.filename, row.size_bytes, row.sha256) == (
        "after", "整改后.png", len(data), hashlib.sha256(data).hexdigest())
    doc = html(client.get(f"/hazards/{h1.id}"))
    listed = [re.sub(r"\s+", " ", tr.text_content()) for tr in doc.cssselect("tr.evidence-row")]
    assert len(listed) == 1 and "整改后照片" in listed[0] and "整改后.png" in listed[0]
    link = doc.cssselect("tr.evidence-row a")[0].get("href")
    with client.get(link) as download:
        assert download.data == data


def test_evidence_upload_refuses_other_types_next_to_the_field(client, world, session):
    import io

    h1 = world.hazards["h1"]
    resp = client.post(f"/hazards/{h1.id}/evidence", content_type="multipart/form-data",
                       data={"kind": "plan", "file": (io.BytesIO(b"just some text"), "方案.txt")})
    assert resp.status_code == 400
    form = html(resp).cssselect("#evidence-form")[0]
    assert "JPEG" in field_error(form, "file")
    assert value_of(form, "kind") == "plan"  # kept
    resp = client.post(f"/hazards/{h1.id}/evidence", content_type="multipart/form-data", data={"kind": "plan"})
    assert resp.status_code == 400
    assert "请选择" in field_error(html(resp).cssselect("#evidence-form")[0], "file")

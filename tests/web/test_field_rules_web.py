"""The field rules and the separation of duties over HTTP, with accounts on: the
API (the reported attack), the hazard forms, and read-only accounts that see no
write control and get 403 on every new or edit page before typing anything.

The register is tests/web/test_ledger_world.py: ``works`` (乙机械厂, 个旧市
532501) has h4 (部门检查, 整改中) and h5 (举报, 已整改), both registered by a
regulator; ``chem`` (甲化工, 532501) has h2 (企业自查, 已登记).
"""

from __future__ import annotations

import io
import re

import lxml.html
import pytest
import sqlalchemy as sa
from web.test_ledger_world import LedgerWorld, build

from geo_service.models import AuditLog, Hazard, User
from geo_service.services import accounts, register

PASSWORD = "correct-horse-9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def world(app, session) -> LedgerWorld:  # type: ignore[no-untyped-def]
    app.config["LOGIN_REQUIRED"] = True
    w = build(session)
    accounts.create_user(session, "gejiu", PASSWORD, "regulator", region_code="532501", display_name="个旧李四")
    accounts.create_user(session, "gejiu2", PASSWORD, "regulator", region_code="532501", display_name="个旧王五")
    accounts.create_user(session, "viewer", PASSWORD, "readonly", region_code="532500", display_name="只读")
    accounts.create_user(session, "works", PASSWORD, "enterprise", enterprise_id=w.enterprises["works"].id,
                         display_name="乙厂安全员")
    session.commit()
    return w


def login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302


def bearer(session, username: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    user = session.scalars(sa.select(User).where(User.username == username)).one()
    token = accounts.create_token(session, user, "tests")
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def page(client, url: str, status: int = 200) -> lxml.html.HtmlElement:  # type: ignore[no-untyped-def]
    resp = client.get(url)
    assert resp.status_code == status, url
    return lxml.html.fromstring(resp.get_data(as_text=True))


def stored(session, hazard_id: int) -> tuple[dict, int]:  # type: ignore[no-untyped-def]
    session.expire_all()
    audits = session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                            .where(AuditLog.object_type == "hazard", AuditLog.object_id == str(hazard_id)))
    return register.snapshot(session.get(Hazard, hazard_id)), audits


# --------------------------------------------------------------------------- the API


def test_the_reported_attack_over_the_api(client, world, session):
    """qiye's PATCH of its own enterprise's 部门检查 hazard (issue 11): 403, nothing changed."""
    h4 = world.hazards["h4"]
    auth = bearer(session, "works")
    before = stored(session, h4.id)
    version = before[0]["version"]
    attacks = [({"source": "self", "deadline": "2027-12-31"}, "隐患来源、整改期限"), ({"level": "major"}, "隐患等级"),
               ({"criterion": "trade"}, "重大隐患判定标准"), ({"supervision_doc_no": "x"}, "挂牌督办文号"),
               ({"found_by": "企业自己"}, "检查人员"), ({"verification_note": "已验收"}, "复查情况")]
    for body, names in attacks:
        resp = client.patch(f"/api/hazards/{h4.id}", json={"version": version, **body}, headers=auth)
        assert resp.status_code == 403, body
        assert f"无权修改字段：{names}" in resp.get_json()["message"]
        assert stored(session, h4.id) == before
    resp = client.patch(f"/api/hazards/{h4.id}", json={"version": version, "measures": "加装联锁防护罩"},
                        headers=auth)
    assert resp.status_code == 200 and resp.get_json()["measures"] == "加装联锁防护罩"


# role → expected status per (field, origin); a small API-level cut of tests/services/test_field_rules.py
API_CASES = {
    "gejiu": {("found_by", "regulator"): 200, ("deadline", "regulator"): 200, ("level", "enterprise"): 200, ("description", "enterprise"): 200,
              ("rectification_note", "enterprise"): 200},
    "works": {("level", "regulator"): 403, ("deadline", "regulator"): 403, ("description", "regulator"): 403,
              ("rectification_note", "regulator"): 200, ("funds_wan", "regulator"): 200,
              ("description", "enterprise"): 200, ("category", "enterprise"): 200, ("level", "enterprise"): 403,
              ("deadline", "enterprise"): 403, ("found_on", "enterprise"): 403},
    "viewer": {("measures", "regulator"): 403, ("description", "enterprise"): 403},
}
VALUES = {"level": "major", "deadline": "2027-12-31", "description": "冲床光电保护失效", "rectification_note": "已修复",
          "funds_wan": 1.5, "category": "设备设施", "found_on": "2020-01-01", "found_by": "县工信局复查组", "measures": "加装联锁"}
COLUMNS_JSON = {"funds_wan": 1.5}


@pytest.mark.parametrize("username", sorted(API_CASES))
def test_field_rules_over_the_api(client, world, session, username):
    # the works' own report (enterprise-registered) next to h4 (regulator-registered)
    resp = client.post("/api/hazards", headers=bearer(session, "works"), json={
        "enterprise_id": world.enterprises["works"].id, "description": "砂轮机防护罩破损", "level": "general",
        "found_on": world.today.isoformat()})
    assert resp.status_code == 201 and resp.get_json()["source"] == "self"
    ids = {"enterprise": resp.get_json()["id"], "regulator": world.hazards["h4"].id}
    auth = bearer(session, username)
    for (field, origin), status in API_CASES[username].items():
        before = stored(session, ids[origin])
        resp = client.patch(f"/api/hazards/{ids[origin]}",
                            json={"version": before[0]["version"], field: VALUES[field]}, headers=auth)
        assert resp.status_code == status, (username, field, origin, resp.get_json())
        after = stored(session, ids[origin])
        if status == 200:
            assert after[0][field] == COLUMNS_JSON.get(field, VALUES[field])
            assert after[0]["version"] == before[0]["version"] + 1 and after[1] == before[1] + 1
        else:
            assert after == before


def test_the_api_refuses_a_self_sign_off_and_names_the_account(client, world, session, app):
    h4 = world.hazards["h4"]  # 整改中
    gejiu, gejiu2 = bearer(session, "gejiu"), bearer(session, "gejiu2")
    url = f"/api/hazards/{h4.id}/transition"
    assert client.post(url, json={"to_state": "rectified", "version": h4.version}, headers=gejiu).status_code == 200
    version = stored(session, h4.id)[0]["version"]
    sign = {"to_state": "closed", "version": version, "fields": {"verified_on": world.today.isoformat()}}
    resp = client.post(url, json=sign, headers=gejiu)
    assert resp.status_code == 403 and "须由其他账号验收" in resp.get_json()["message"]
    # 一般隐患: evidence and opinion only when the setting asks for them
    app.config["SIGNOFF_EVIDENCE_GENERAL"] = True
    resp = client.post(url, json=sign, headers=gejiu2)
    assert resp.status_code == 409 and "整改后佐证材料" in resp.get_json()["message"]
    app.config["SIGNOFF_EVIDENCE_GENERAL"] = False
    resp = client.post(url, json=sign, headers=gejiu2)
    body = resp.get_json()
    assert resp.status_code == 200 and body["state"] == "closed" and body["verifier_name"] == "个旧王五"
    assert [(e["to_state"], e["actor"]) for e in body["events"]][-2:] == [("rectified", "个旧李四"),
                                                                         ("closed", "个旧王五")]


# --------------------------------------------------------------------------- the forms


def test_enterprise_form_offers_only_self_inspection(client, world, session):
    login(client, "works")
    works = world.enterprises["works"]
    url = f"/hazards/new?enterprise={works.id}"
    doc = page(client, url)
    # one source only, so nothing to choose: the form names it and sends it
    assert doc.cssselect("select[name=source]") == []
    assert [i.get("value") for i in doc.cssselect("#hazard-form input[name=source]")] == ["self"]
    assert doc.cssselect("#f-source-fixed")[0].text_content() == "企业自查"
    for name in ("deadline", "criterion", "supervision_doc_no"):
        assert doc.cssselect(f"#hazard-form [name={name}]") == [], name
    token = doc.cssselect("#hazard-form input[name=csrf_token]")[0].get("value")
    data = {"csrf_token": token, "description": "行车限位失灵", "level": "general", "found_on": world.today.isoformat()}
    n = session.scalar(sa.select(sa.func.count()).select_from(Hazard))
    assert client.post(url, data={**data, "source": "inspection"}).status_code == 403
    resp = client.post(url, data={**data, "source": "self", "deadline": "2027-01-01"})
    assert resp.status_code == 403 and "无权修改字段：整改期限" in resp.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Hazard)) == n
    resp = client.post(url, data={**data, "source": "self"})
    assert resp.status_code == 303
    hz = session.scalars(sa.select(Hazard).where(Hazard.description == "行车限位失灵")).one()
    assert (hz.source, hz.origin) == ("self", "enterprise")
    # a regulator's form still offers every source
    client.post("/logout", data={"csrf_token": token})
    login(client, "gejiu")
    doc = page(client, url)
    assert [o.get("value") for o in doc.cssselect("#f-source option")] == ["self", "inspection", "supervised", "report"]


def test_enterprise_step_form_shows_only_its_fields(client, world, session):
    login(client, "works")
    h4 = world.hazards["h4"]  # 整改中, registered by a regulator
    doc = page(client, f"/hazards/{h4.id}")
    form = doc.cssselect("#step-rectifying-rectified")[0]
    names = {el.get("name") for el in form.cssselect("input:not([type=hidden]), textarea")}
    assert names == {"rectification_note", "note"}  # not the 整改完成日期, which the lifecycle sets
    data = {i.get("name"): i.get("value") for i in form.cssselect("input[type=hidden]")}
    before = stored(session, h4.id)
    resp = client.post(f"/hazards/{h4.id}/transition", data={**data, "rectified_on": "2020-01-01"})
    assert resp.status_code == 403 and "无权修改字段：整改完成日期" in resp.get_data(as_text=True)
    assert stored(session, h4.id) == before
    resp = client.post(f"/hazards/{h4.id}/transition", data={**data, "rectification_note": "已加装防护罩"})
    assert resp.status_code == 303
    after = stored(session, h4.id)[0]
    assert (after["state"], after["rectification_note"]) == ("rectified", "已加装防护罩")


def test_sign_off_form_for_the_rectifier_and_for_another_account(client, world, session, tmp_path):
    h1 = world.hazards["h1"]  # 重大, 整改中, chem in 个旧市
    login(client, "gejiu")
    doc = page(client, f"/hazards/{h1.id}")
    form = doc.cssselect("#step-rectifying-rectified")[0]
    data = {i.get("name"): i.get("value") for i in form.cssselect("input[type=hidden]")}
    assert client.post(f"/hazards/{h1.id}/transition", data=data).status_code == 303
    doc = page(client, f"/hazards/{h1.id}")
    assert doc.cssselect("#step-rectified-closed") == []  # not offered to the rectifier
    assert "须由其他账号办理" in doc.cssselect("#own-rectification")[0].text_content()
    data = {"csrf_token": data["csrf_token"], "from_state": "rectified", "to_state": "closed",
            "version": str(stored(session, h1.id)[0]["version"]), "verified_on": world.today.isoformat(),
            "verification_note": "复查合格"}
    before = stored(session, h1.id)
    resp = client.post(f"/hazards/{h1.id}/transition", data=data)
    assert resp.status_code == 403 and "须由其他账号验收" in resp.get_data(as_text=True)
    assert stored(session, h1.id) == before
    client.post("/logout", data={"csrf_token": data["csrf_token"]})
    login(client, "gejiu2")
    doc = page(client, f"/hazards/{h1.id}")
    form = doc.cssselect("#step-rectified-closed")[0]
    assert "验收人：个旧王五（当前账号）" in form.text_content() and form.cssselect("[name=verifier]") == []
    data["csrf_token"] = form.cssselect("input[name=csrf_token]")[0].get("value")
    resp = client.post(f"/hazards/{h1.id}/transition", data=data)  # 重大: no 整改后 file yet
    assert resp.status_code == 409 and "尚缺：整改后佐证材料" in resp.get_data(as_text=True)
    upload = client.post(f"/hazards/{h1.id}/evidence", content_type="multipart/form-data",
                         data={"csrf_token": data["csrf_token"], "kind": "after",
                               "file": (io.BytesIO(PNG), "整改后.png")})
    assert upload.status_code == 303
    assert client.post(f"/hazards/{h1.id}/transition", data=data).status_code == 303
    doc = page(client, f"/hazards/{h1.id}")
    assert "验收人：个旧王五（账号 gejiu2）" in doc.cssselect("#hazard-verifier")[0].text_content()
    timeline = [re.sub(r"\s+", " ", li.text_content()) for li in doc.cssselect("#timeline li")]
    assert "个旧李四" in timeline[-2] and "整改中 → 已整改" in timeline[-2]
    assert "个旧王五" in timeline[-1] and "复查情况：复查合格" in timeline[-1]


def test_edit_page_shows_only_the_fields_the_account_may_change(client, world, session):
    h4 = world.hazards["h4"]  # works, 部门检查: registered by a regulator
    login(client, "works")
    doc = page(client, f"/hazards/{h4.id}")
    assert doc.cssselect("#hazard-edit")[0].get("href") == f"/hazards/{h4.id}/edit"
    doc = page(client, f"/hazards/{h4.id}/edit")
    form = doc.cssselect("#hazard-edit-form")[0]
    shown = {el.get("name") for el in form.cssselect("input:not([type=hidden]), textarea, select")}
    assert shown == {"resp_person", "measures", "funds_wan", "emergency_plan", "rectification_note"}
    data = {i.get("name"): i.get("value") for i in form.cssselect("input[type=hidden]")}
    before = stored(session, h4.id)
    # a field the page does not offer, added by hand, is refused and nothing is written
    resp = client.post(f"/hazards/{h4.id}/edit", data={**data, "measures": "新措施", "deadline": "2027-12-31"})
    assert resp.status_code == 403 and "无权修改字段：整改期限" in resp.get_data(as_text=True)
    assert stored(session, h4.id) == before
    resp = client.post(f"/hazards/{h4.id}/edit", data={**data, "measures": "加装光电保护", "resp_person": "吴工"})
    assert resp.status_code == 303
    after = stored(session, h4.id)
    assert after[0]["measures"] == "加装光电保护" and after[0]["resp_person"] == "吴工"  # unchanged: not sent
    assert after[0]["version"] == before[0]["version"] + 1 and after[1] == before[1] + 1
    # a regulator is offered every field
    client.post("/logout", data={"csrf_token": data["csrf_token"]})
    login(client, "gejiu")
    form = page(client, f"/hazards/{h4.id}/edit").cssselect("#hazard-edit-form")[0]
    shown = {el.get("name") for el in form.cssselect("input:not([type=hidden]), textarea, select")}
    assert {"level", "deadline", "source", "found_by", "verification_note", "description"} <= shown


# --------------------------------------------------------------------------- read-only accounts


def new_and_edit_pages(world: LedgerWorld) -> list[str]:
    chem = world.enterprises["chem"].id
    return ["/hazards/new", f"/hazards/new?enterprise={chem}", "/hazards/new?q=甲化工", "/enterprises/new",
            f"/enterprises/{chem}/risk-points/new", "/import", "/import/template/hazards.xlsx",
            f"/hazards/{world.hazards['h1'].id}/edit", f"/hazards/{world.hazards['h2'].id}/edit"]


def test_read_only_account_gets_403_on_every_new_page(client, world):
    login(client, "viewer")
    for url in new_and_edit_pages(world):
        assert client.get(url).status_code == 403, url


def test_enterprise_account_gets_403_on_register_pages(client, world):
    login(client, "works")
    works = world.enterprises["works"].id
    for url in ("/enterprises/new", f"/enterprises/{works}/risk-points/new", "/import"):
        assert client.get(url).status_code == 403, url


def test_read_only_pages_show_no_write_control(client, world):
    login(client, "viewer")
    hz = world.hazards
    month = world.today.strftime("%Y-%m")
    urls = ["/hazards", "/hazards/overdue", f"/enterprises/{world.enterprises['chem'].id}",
            f"/enterprises/{world.enterprises['works'].id}", f"/returns/532500/{month}", "/map", "/account",
            *(f"/hazards/{h.id}" for h in hz.values())]
    for url in urls:
        doc = page(client, url)
        posts = [f.get("action") for f in doc.cssselect("form")
                 if (f.get("method") or "get").lower() == "post" and f.get("action") not in ("/logout",)
                 and not (f.get("action") or "").startswith("/account/tokens")]
        assert posts == [], (url, posts)
        links = [a.get("href") for a in doc.cssselect("a[href]")
                 if "/new" in a.get("href") or "/edit" in a.get("href") or a.get("href").startswith("/import")]
        assert links == [], (url, links)
        assert doc.cssselect("input[type=file]") == [], url

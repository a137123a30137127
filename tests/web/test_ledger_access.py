"""The ledger with accounts switched on: jurisdiction in every list and page,
the steps a role may take, CSRF on every form."""

from __future__ import annotations

import re

import lxml.html
import pytest
from web.test_ledger_world import LedgerWorld, build

from geo_service.services import accounts

PASSWORD = "correct-horse-9"


@pytest.fixture
def world(app, session) -> LedgerWorld:  # type: ignore[no-untyped-def]
    app.config["LOGIN_REQUIRED"] = True
    w = build(session)
    accounts.create_user(session, "kaiyuan", PASSWORD, "regulator", region_code="532502")
    accounts.create_user(session, "viewer", PASSWORD, "readonly", region_code="532500")
    accounts.create_user(session, "works", PASSWORD, "enterprise", enterprise_id=w.enterprises["works"].id)
    session.commit()
    return w


def login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302


def doc(client, url: str, status: int = 200) -> lxml.html.HtmlElement:  # type: ignore[no-untyped-def]
    resp = client.get(url)
    assert resp.status_code == status
    return lxml.html.fromstring(resp.get_data(as_text=True))


def test_anonymous_is_sent_to_login(client, world):
    resp = client.get("/hazards")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_regulator_sees_only_its_county(client, world):
    login(client, "kaiyuan")
    hz = world.hazards
    ids = {int(tr.get("data-hazard")) for tr in doc(client, "/hazards").cssselect("tr[data-hazard]")}
    assert ids == {hz["h6"].id, hz["h7"].id, hz["h8"].id}  # 开远市 only
    overdue = doc(client, "/hazards/overdue")
    assert {g.get("data-region") for g in overdue.cssselect("section.region-group")} == {"532502"}
    # Another county's enterprise, hazard and ledger are out of reach.
    doc(client, f"/enterprises/{world.enterprises['chem'].id}", 404)
    doc(client, f"/hazards/{hz['h1'].id}", 404)
    assert client.get(f"/hazards/{hz['h1'].id}/ledger.pdf").status_code == 404
    # The export carries the same restriction (three rows under the headings, then the signatures).
    resp = client.get("/hazards/export/worklog.xlsx")
    from io import BytesIO

    from openpyxl import load_workbook

    ws = load_workbook(BytesIO(resp.data)).active
    listed = [r[3] for r in ws.iter_rows(min_row=4, values_only=True) if r[2] is not None]
    assert sorted(listed) == sorted(["井下局部通风机未挂牌管理", "主要通风机未安装备用电源", "调度室值班记录不全"])


def test_forms_need_the_csrf_token(client, world, session):
    login(client, "kaiyuan")
    mine = world.enterprises["mine"]
    url = f"/hazards/new?enterprise={mine.id}"
    data = {"description": "井口信号装置失灵", "level": "general", "source": "inspection",
            "found_on": world.today.isoformat()}
    resp = client.post(url, data=data)
    assert resp.status_code == 400
    assert "表单已过期" in resp.get_data(as_text=True)
    page = doc(client, url)
    token = page.cssselect("#hazard-form input[name=csrf_token]")[0].get("value")
    resp = client.post(url, data={**data, "csrf_token": token})
    assert resp.status_code == 303
    # The event names the logged-in account.
    hazard_page = doc(client, resp.headers["Location"])
    assert "kaiyuan" in hazard_page.cssselect("#timeline li")[0].text_content()


def test_read_only_account_sees_no_actions(client, world):
    login(client, "viewer")
    page = doc(client, f"/hazards/{world.hazards['h2'].id}")
    assert page.cssselect("form.step-form") == []
    assert page.cssselect("#evidence-form") == []
    assert "无可执行的操作" in page.cssselect("#actions")[0].text_content()


def test_enterprise_account_may_rectify_but_not_sign_off(client, world):
    login(client, "works")
    hz = world.hazards
    # h4 is 整改中: the enterprise may report it rectified.
    page = doc(client, f"/hazards/{hz['h4'].id}")
    assert [f.get("id") for f in page.cssselect("form.step-form[id^=step-]")] == ["step-rectifying-rectified"]
    # h5 is 已整改待验收: verification is the regulator's, so no step for the enterprise.
    page = doc(client, f"/hazards/{hz['h5'].id}")
    assert page.cssselect("form.step-form[id^=step-]") == []
    # Its own enterprise only.
    doc(client, f"/enterprises/{world.enterprises['mine'].id}", 404)

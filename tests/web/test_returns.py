"""The returns pages and API over HTTP, on the register of ``test_statistics``."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

from PIL import Image
from services.test_statistics import build_register
from sqlalchemy import text

from geo_service.models import Hazard, MapExport, ReturnArchive


def test_api_numbers_match_the_hand_count(client, session):
    build_register(session)
    resp = client.get("/api/returns/532500/2026-10?unit=红河州应急管理局")
    assert resp.status_code == 200
    body = resp.get_json()
    top = body["regions"][0]
    # see test_statistics: 3 enterprises / 2 红 risk points assessed this year; 4 major found, 1 rectified
    assert (top["form000"]["item12"]["enterprises"], top["form000"]["item12"]["major_risks"]) == (3, 2)
    assert (top["form000"]["item13"]["major_found"], top["form000"]["item13"]["major_rectified"]) == (4, 1)
    assert body["unit"] == "红河州应急管理局" and [r["code"] for r in body["regions"]] == ["532500", "532501", "532502"]


def test_api_errors_are_chinese_json(client, session):
    build_register(session)
    bad = client.get("/api/returns/532500/2026-13")
    assert bad.status_code == 400 and "月份" in bad.get_json()["message"]
    missing = client.get("/api/returns/999999/2026-10")
    assert missing.status_code == 404 and "999999" in missing.get_json()["message"]


def test_page_shows_the_tables_and_the_button(client, session):
    build_register(session)
    resp = client.get("/returns/532500/2026-10")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "红河州统计月报（2026年10月）" in html
    assert "生成月报（ZIP）" in html and "<progress" in html
    assert "企业自查发现的重大事故隐患（个）" in html
    # the 累计总计 row: 2 红 risk points assessed this year, 1 controlled, 50.0 %
    row = re.search(r"<strong>累计总计</strong></td>(.*?)</tr>", html, re.S).group(1)
    cells = re.findall(r'<td class="n">([^<]*)</td>', row)
    assert cells[:3] == ["2", "1", "50.0"] and cells[3:8] == ["4", "3", "1", "1", "25.0"]
    # the campaign's start and the period the 调度表 covers
    assert '<span id="campaign-start">2026年5月1日</span>' in html
    assert '<span id="dispatch-period">2026年5月1日至2026年10月31日累计</span>' in html
    assert 'id="dispatch-blank"' not in html
    assert "本月尚未提交归档" in html
    # nothing from outside
    assert not re.search(r"(src|href)=\"https?://", html)


def test_picker_redirects_to_the_page(client, session):
    build_register(session)
    page = client.get("/returns")
    assert page.status_code == 200 and "红河州（532500）" in page.get_data(as_text=True)
    go = client.get("/returns?region=532501&month=2026-10")
    assert go.status_code == 302 and go.headers["Location"].endswith("/returns/532501/2026-10")


def test_button_produces_the_zip_with_progress(client, session):
    build_register(session)
    resp = client.post("/returns/532500/2026-10/bundle", data={"unit": "红河州应急管理局", "paper": "A4"},
                       headers={"Accept": "application/json"})
    assert resp.status_code == 202
    job = resp.get_json()
    # the test app runs the job inline: finished, all steps counted
    status = client.get(job["status_url"]).get_json()
    assert status["state"] == "done" and status["done"] == status["total"] == 11
    z = client.get(status["download_url"])
    assert z.status_code == 200 and z.mimetype == "application/zip"
    members = zipfile.ZipFile(io.BytesIO(z.data)).namelist()
    assert "532500_红河州_2026-10_统计月报.xlsx" in members
    assert "地图/532502_开远市_重大事故隐患分布图_2026-10.pdf" in members
    assert session.query(MapExport).count() == 12


def test_any_worker_answers_for_a_job(app, client, session, database_url, connection):
    """gunicorn runs several workers: the poll and the download may reach another one."""
    from geo_service import create_app
    from geo_service.config import TestConfig

    build_register(session)
    job = client.post("/returns/532501/2026-10/bundle", headers={"Accept": "application/json"}).get_json()
    other = create_app(TestConfig(database_url, app.config["VAR_DIR"]))
    other.extensions["geo_bind"] = connection
    with other.test_client() as second:
        status = second.get(job["status_url"]).get_json()
        assert status["state"] == "done"
        z = second.get(status["download_url"])
        assert z.status_code == 200 and zipfile.ZipFile(io.BytesIO(z.data)).testzip() is None
        assert second.get("/api/returns/jobs/" + "0" * 32).status_code == 404
    other.extensions["geo_engine"].dispose()


def test_submit_freezes_and_the_page_shows_the_difference(client, session):
    reg = build_register(session)
    resp = client.post("/returns/532501/2026-10/bundle", data={"submit": "1", "by": "李科员"})
    assert resp.status_code == 302  # a plain form post goes to the job page
    assert "已归档" in client.get(resp.headers["Location"]).get_data(as_text=True)
    archive = session.query(ReturnArchive).one()
    assert archive.submitted_by == "李科员"
    audited = session.execute(text(
        "SELECT action, object_id FROM audit_log WHERE object_type = 'return_archive'")).one()
    assert tuple(audited) == ("submit", str(archive.id))
    page = client.get("/returns/532501/2026-10").get_data(as_text=True)
    assert "与当前重新计算一致" in page

    # h2 (个旧市, 挂牌督办, found 5 March) is verified and closed on 28 October after the return was submitted
    h2 = session.get(Hazard, reg.haz["h2"].id)
    h2.state, h2.verified_on, h2.verifier = "closed", dt.date(2026, 10, 28), "州应急局"
    session.flush()
    page = client.get("/returns/532501/2026-10").get_data(as_text=True)
    assert "个旧市·第13项·已整改（处）" in page
    body = client.get(f"/api/returns/archive/{archive.id}").get_json()
    diff = {d["key"]: d for d in body["diff"]}
    assert (diff["532501/item13/major_rectified"]["archived"],
            diff["532501/item13/major_rectified"]["fresh"]) == (0, 1)
    # found before the campaign's start (1 May): not in the 调度表, before or after
    assert "532501/dispatch/supervised_rectified" not in diff
    # the archived ZIP is the one submitted, byte for byte
    z = client.get(f"/returns/archive/{archive.id}.zip")
    assert z.data == bytes(archive.bundle_zip)


def test_change_map_preview_is_a_png(client, session):
    build_register(session)
    resp = client.get("/returns/532500/2026-10/changes.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert Image.open(io.BytesIO(resp.data)).size == (2480, 3508)
    # a preview is not an export
    assert session.query(MapExport).count() == 0


def test_unknown_job_is_404(client, session):
    resp = client.get("/api/returns/jobs/nope")
    assert resp.status_code == 404 and "任务" in resp.get_json()["message"]


def _login(client, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}).status_code == 302


def test_unit_defaults_to_the_accounts_unit_then_the_setting(app, client, session):
    from geo_service.services import accounts

    build_register(session)
    app.config["LOGIN_REQUIRED"] = True
    app.config["ISSUING_UNIT"] = "红河州安委会办公室"
    accounts.create_user(session, "zhou", "correct-horse-9", "regulator", region_code="532500",
                         unit=" 红河州应急管理局 ")
    accounts.create_user(session, "wu", "correct-horse-9", "regulator", region_code="532500")
    session.commit()
    _login(client, "zhou", "correct-horse-9")
    assert client.get("/api/returns/532500/2026-10").get_json()["unit"] == "红河州应急管理局"
    assert 'name="unit" value="红河州应急管理局"' in client.get("/returns/532500/2026-10").get_data(as_text=True)
    # typed on the page, it wins
    assert client.get("/api/returns/532500/2026-10?unit=个旧市应急管理局").get_json()["unit"] == "个旧市应急管理局"
    with app.test_client() as other:
        _login(other, "wu", "correct-horse-9")  # no unit of its own: the ISSUING_UNIT setting
        assert other.get("/api/returns/532500/2026-10").get_json()["unit"] == "红河州安委会办公室"


def test_a_month_before_the_campaign_shows_a_blank_dispatch_block_and_why(app, client, session):
    build_register(session)
    html = client.get("/returns/532500/2026-04").get_data(as_text=True)
    assert '<span id="dispatch-period">2026年4月，专项行动自2026年5月1日开始</span>' in html
    assert "早于专项行动开始日期（2026年5月1日）" in html
    row = re.search(r"<td>红河州（合计）</td>(.*?)</tr>", html.split('id="dispatch-period"')[1], re.S).group(1)
    assert re.findall(r'<td class="n">([^<]*)</td>', row) == [""] * 6
    # a deployment whose campaign began on 1 March shows April's figures, from 1 March
    app.config["CAMPAIGN_START"] = "2026-03-01"
    html = client.get("/returns/532500/2026-04").get_data(as_text=True)
    assert '<span id="campaign-start">2026年3月1日</span>' in html
    assert '<span id="dispatch-period">2026年3月1日至2026年4月30日累计</span>' in html
    row = re.search(r"<td>红河州（合计）</td>(.*?)</tr>", html.split('id="dispatch-period"')[1], re.S).group(1)
    assert re.findall(r'<td class="n">([^<]*)</td>', row) == ["0", "0", "0", "0", "1", "0"]  # h2 (5 March)


def test_a_resubmission_is_a_new_archive_and_the_earlier_stays(client, session):
    """Submitted returns are append-only (the app role holds no UPDATE or DELETE on
    them): submitting again adds a row; the latest is current, the first stays listed."""
    build_register(session)
    for by in ("李科员", "王科长"):
        resp = client.post("/returns/532501/2026-10/bundle", data={"submit": "1", "by": by})
        assert resp.status_code == 302
    first, second = session.query(ReturnArchive).order_by(ReturnArchive.id).all()
    assert (first.submitted_by, second.submitted_by) == ("李科员", "王科长")
    page = client.get("/returns/532501/2026-10").get_data(as_text=True)
    assert f"{second.id}（现行）" in page
    assert f"最新归档（编号 {second.id}）" in page
    assert f"/returns/archive/{first.id}.zip" in page and f"{first.id}（现行）" not in page
    old = client.get(f"/returns/archive/{first.id}.zip")
    assert old.status_code == 200 and bytes(first.bundle_zip) == old.data


def test_repeated_numbers_come_from_the_cache_until_a_write(client, session):
    """The numbers are kept per worker under the change token: a repeat is the same
    answer; a new hazard or a drawn risk zone (form 000 item 14) shows at once."""
    reg = build_register(session)
    session.commit()
    url = "/api/returns/532500/2026-10"
    first = client.get(url).get_json()
    assert client.get(url).get_json() == first
    top = first["regions"][0]["form000"]
    assert (top["item13"]["major_found"], top["item14"]["enterprises"]) == (4, 0)
    session.add(Hazard(enterprise_id=reg.ent["B"].id, description="主通风机无备用电源", level="major",
                       source="inspection", found_on=dt.date(2026, 10, 12), deadline=dt.date(2026, 12, 1),
                       state="registered", resp_person="张三", measures="增设备用电源", funds_wan=8,
                       emergency_plan="停风应急预案"))
    session.commit()
    after = client.get(url).get_json()["regions"][0]["form000"]
    assert after["item13"]["major_found"] == 5
    session.execute(text(
        "INSERT INTO risk_zone (enterprise_id, name, geom, created_at) VALUES (:e, '罐区',"
        " ST_Multi(ST_Expand(ST_SetSRID(ST_MakePoint(103.25, 23.5), 4326), 0.0005)), '2026-10-05')"),
        {"e": reg.ent["A"].id})
    session.commit()
    assert client.get(url).get_json()["regions"][0]["form000"]["item14"]["enterprises"] == 1

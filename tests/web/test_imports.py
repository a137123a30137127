"""Importing through the browser, with login on.

The world: prefecture 990100 with counties 990101 (甲县, x 100–101) and
990102 (乙县, x 101–102), all y 25–26 (tests/fixtures/squares.geojson); a
regulator of 甲县, an administrator, an enterprise user and a read-only user.
Each test uploads a small hand-made file and checks the register itself,
not only the page.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from pyproj import Geod
from sqlalchemy import text
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from geo_service.geo import credit_check_char
from geo_service.services import accounts
from geo_service.services.importers import import_regions, read_region_file
from geo_service.services.validation import COLUMNS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PASSWORD = "correct-horse-9"
MB = 1024 * 1024
GEOD = Geod(ellps="WGS84")
ERROR_ROW = re.compile(r'<tr><td class="row-no">(\d*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>')


def credit(region: str, serial: str) -> str:
    body = f"91{region}{serial}"
    return body + credit_check_char(body)


@pytest.fixture
def world(app, session):  # type: ignore[no-untyped-def]
    app.config["LOGIN_REQUIRED"] = True
    import_regions(session, read_region_file(FIXTURES / "squares.geojson"))
    theirs = session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
        " (:c, '乙县老厂', 'hazchem', ST_SetSRID(ST_MakePoint(101.5, 25.5), 4326)) RETURNING id"),
        {"c": credit("990102", "MA0000001")}).scalar_one()
    users = {
        "regulator": accounts.create_user(session, "jia", PASSWORD, "regulator", region_code="990101"),
        "admin": accounts.create_user(session, "boss", PASSWORD, "admin"),
        "enterprise": accounts.create_user(session, "qiye", PASSWORD, "enterprise", enterprise_id=theirs),
        "readonly": accounts.create_user(session, "kan", PASSWORD, "readonly", region_code="990101"),
    }
    session.commit()
    return {"users": users, "theirs": theirs}


def _csrf(client, path: str) -> str:  # type: ignore[no-untyped-def]
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"{path} has no CSRF token"
    return match.group(1)


def _login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": _csrf(client, "/login")})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]


def _upload(client, data: bytes, filename: str, kind: str = "enterprises", *, datum: str = "wgs84",  # type: ignore[no-untyped-def]
            skip_bad: bool = False, dry_run: bool = False, csrf: bool = True):
    form: dict[str, object] = {"kind": kind, "datum": datum,
                               "file": FileStorage(io.BytesIO(data), filename, content_type="application/octet-stream")}
    if skip_bad:
        form["skip_bad"] = "1"
    if dry_run:
        form["dry_run"] = "1"
    if csrf:
        form["csrf_token"] = _csrf(client, "/import")
    # encoded in memory: the test client would spool a large body to a temporary
    # file that stays open when the server refuses the request unread
    body, _, boundary = stream_encode_multipart(form, use_tempfile=False)
    return client.post("/import", data=body.getvalue(),
                       content_type=f'multipart/form-data; boundary="{boundary}"')


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


def _xlsx(header: list[str], rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _count(session, sql: str = "SELECT count(*) FROM enterprise", **params: object) -> int:  # type: ignore[no-untyped-def]
    return session.execute(text(sql), params).scalar_one()


def _counts(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'<span class="n" id="count-(\w+)">(\d+)</span>', html)}


ENTERPRISE_HEADER = ["统一社会信用代码", "企业名称", "行业领域", "行政区划代码", "经度", "纬度"]
# two enterprises of 甲县: one placed by its point, one with its county given
GOOD_ROWS: list[list[object]] = [
    [credit("990101", "MA0000011"), "甲县红星机械厂", "工贸/机械", None, 100.5, 25.5],
    [credit("990101", "MA0000022"), "甲县安泰化工有限公司", "危险化学品", "990101", 100.3, 25.3],
]


def test_good_xlsx_is_imported_and_counted(client, world, session):
    _login(client, "jia")
    before = _count(session)
    resp = _upload(client, _xlsx(ENTERPRISE_HEADER, GOOD_ROWS), "甲县企业.xlsx")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:500]
    assert _counts(html) == {"rows": 2, "inserted": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert _count(session) == before + 2
    # both landed in 甲县: the first by point-in-polygon, the second as given
    assert session.execute(text("SELECT region_code FROM enterprise WHERE name LIKE '甲县%' ORDER BY name")
                           ).scalars().all() == ["990101", "990101"]
    # the audit log names the regulator, not an anonymous importer
    actor, user_id = session.execute(text(
        "SELECT actor, user_id FROM audit_log WHERE action = 'import' ORDER BY id DESC LIMIT 1")).one()
    assert user_id == world["users"]["regulator"].id
    # the same file again changes nothing
    again = _upload(client, _xlsx(ENTERPRISE_HEADER, GOOD_ROWS), "甲县企业.xlsx")
    assert _counts(again.get_data(as_text=True))["unchanged"] == 2
    assert _count(session) == before + 2


def test_bad_rows_write_nothing_and_are_listed_by_row(client, world, session):
    _login(client, "jia")
    before = _count(session)
    resp = _upload(client, (FIXTURES / "enterprises_bad.csv").read_bytes(), "bad.csv")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "未写入任何数据" in html
    errors = ERROR_ROW.findall(html)
    # row 2 is the only good row of the file; rows 3–9 each have a fault
    assert sorted({int(r) for r, _, _ in errors}) == [3, 4, 5, 6, 7, 8, 9]
    assert ("3", "统一社会信用代码") in {(r, c) for r, c, _ in errors}
    assert any(r == "9" and "与第2行重复" in reason for r, _, reason in errors)
    assert _count(session) == before  # not even row 2


def test_skip_bad_imports_the_good_rows_and_offers_the_rejected_ones(client, world, session):
    _login(client, "jia")
    resp = _upload(client, (FIXTURES / "enterprises_bad.csv").read_bytes(), "bad.csv", skip_bad=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert _counts(html)["inserted"] == 1 and _counts(html)["rejected"] == 7
    assert _count(session, "SELECT count(*) FROM enterprise WHERE name LIKE '%好企业%'") == 1
    link = re.search(r'href="(/import/jobs/[0-9a-f]{32}/rejects\.xlsx)"', html)
    assert link, "no download of the rejected rows"
    book = client.get(link.group(1))
    assert book.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(book.get_data())).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][-1] == "错误原因" and len(rows) == 1 + 7
    assert rows[1][-1].startswith("第3行 统一社会信用代码")
    # another account cannot fetch it by its address
    client.post("/logout", data={"csrf_token": _csrf(client, "/import")})
    _login(client, "boss")
    assert client.get(link.group(1)).status_code == 404


def test_dry_run_writes_nothing(client, world, session):
    _login(client, "jia")
    before = _count(session)
    audits = _count(session, "SELECT count(*) FROM audit_log WHERE action = 'import'")
    resp = _upload(client, _xlsx(ENTERPRISE_HEADER, GOOD_ROWS), "甲县企业.xlsx", dry_run=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "仅检查，未写入" in html
    assert _counts(html)["inserted"] == 2  # what would happen
    assert _count(session) == before
    assert _count(session, "SELECT count(*) FROM audit_log WHERE action = 'import'") == audits


def test_gcj02_csv_is_converted_to_wgs84(client, world, session):
    _login(client, "jia")
    # the file holds the GCJ-02 (高德) reading of the WGS84 point (100.5, 25.5)
    resp = _upload(client, (FIXTURES / "enterprises_gcj02.csv").read_bytes(), "gcj.csv", datum="gcj02")
    assert resp.status_code == 200 and _counts(resp.get_data(as_text=True))["inserted"] == 1
    lng, lat = session.execute(text(
        "SELECT ST_X(geom), ST_Y(geom) FROM enterprise WHERE credit_code = '91990101MA00000110'")).one()
    assert GEOD.inv(lng, lat, 100.5, 25.5)[2] < 0.5
    assert GEOD.inv(100.5011255, 25.4970037, 100.5, 25.5)[2] > 300  # unconverted it would be 300 m off


def test_rows_outside_the_regulators_county_are_rejected(client, world, session):
    _login(client, "jia")
    rows: list[list[object]] = [
        GOOD_ROWS[0],
        [credit("990102", "MA0000033"), "乙县新厂", "建材", None, 101.5, 25.6],  # point in 乙县
        [credit("990102", "MA0000044"), "乙县另一厂", "建材", "990102", 101.4, 25.4],  # 乙县 given
        [credit("990102", "MA0000001"), "改名的乙县老厂", "危险化学品", None, 100.5, 25.4],  # 乙县's, moved into 甲县
    ]
    resp = _upload(client, _csv(ENTERPRISE_HEADER, rows), "mixed.csv")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    errors = {(r, c, reason) for r, c, reason in ERROR_ROW.findall(html)}
    assert errors == {("3", "经度", "不在本账号管辖范围内"), ("4", "行政区划代码", "不在本账号管辖范围内"),
                      ("5", "统一社会信用代码", "不在本账号管辖范围内")}
    assert _count(session, "SELECT count(*) FROM enterprise WHERE name LIKE '%乙县%'") == 1
    assert _count(session, "SELECT count(*) FROM enterprise WHERE name = '乙县老厂'") == 1
    # with skip-bad only 甲县's row is written
    resp = _upload(client, _csv(ENTERPRISE_HEADER, rows), "mixed.csv", skip_bad=True)
    assert _counts(resp.get_data(as_text=True))["inserted"] == 1
    assert session.execute(text("SELECT DISTINCT region_code FROM enterprise WHERE name <> '乙县老厂'")
                           ).scalars().all() == ["990101"]


def test_risk_points_of_another_countys_enterprise_are_rejected(client, world, session):
    _login(client, "jia")
    header = ["企业统一社会信用代码", "风险点名称", "风险等级"]
    data = _csv(header, [[credit("990102", "MA0000001"), "液氯储罐", "红"]])
    resp = _upload(client, data, "rp.csv", kind="risk-points")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422, html[:800]
    assert ERROR_ROW.findall(html) == [("2", "企业统一社会信用代码", "不在本账号管辖范围内")]
    assert _count(session, "SELECT count(*) FROM risk_point") == 0
    # the administrator's jurisdiction holds 乙县: the same file is imported (the check can pass)
    client.post("/logout", data={"csrf_token": _csrf(client, "/import")})
    _login(client, "boss")
    resp = _upload(client, data, "rp.csv", kind="risk-points")
    assert resp.status_code == 200 and _counts(resp.get_data(as_text=True))["inserted"] == 1
    assert _count(session, "SELECT count(*) FROM risk_point") == 1


@pytest.mark.parametrize("username", ["qiye", "kan"])
def test_enterprise_and_read_only_users_get_403(client, world, session, username):
    _login(client, username)
    assert client.get("/import").status_code == 403
    assert client.get("/import/template/enterprises.xlsx").status_code == 403
    token = _csrf(client, "/account")
    resp = client.post("/import", data={"kind": "enterprises", "csrf_token": token,
                                        "file": (io.BytesIO(_csv(ENTERPRISE_HEADER, GOOD_ROWS)), "e.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 403
    assert _count(session, "SELECT count(*) FROM enterprise WHERE name LIKE '甲县%'") == 0
    assert "导入数据" not in client.get("/account").get_data(as_text=True)


def test_anonymous_is_sent_to_login(client, world):
    resp = client.get("/import")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_fake_xlsx_is_refused(client, world, session):
    _login(client, "jia")
    resp = _upload(client, _csv(ENTERPRISE_HEADER, GOOD_ROWS), "企业.xlsx")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "扩展名 .xlsx 与内容不符" in html
    assert _count(session, "SELECT count(*) FROM enterprise WHERE name LIKE '甲县%'") == 0


def test_zip_bomb_is_refused_without_being_parsed(client, world, monkeypatch, tmp_path):
    _login(client, "jia")
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for _ in range(200):  # 200 MB of zeros, 1 MB at a time
                member.write(bytes(MB))
    assert path.stat().st_size < MB
    opened: list[object] = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(a))
    resp = _upload(client, path.read_bytes(), "企业.xlsx")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "疑似恶意压缩文件" in html
    assert opened == []


def test_upload_over_the_import_limit_is_413(client, world, app, session):
    _login(client, "jia")
    big = _csv(ENTERPRISE_HEADER, GOOD_ROWS) + b"," * (MB + 200 * 1024)  # 1.2 MB
    app.config["MAX_IMPORT_MB"] = 1  # the import limit, under the request limit
    resp = _upload(client, big, "big.csv")
    assert resp.status_code == 413
    assert "超过导入上限 1 MB" in resp.get_data(as_text=True)
    assert _count(session, "SELECT count(*) FROM enterprise WHERE name LIKE '甲县%'") == 0


def test_upload_over_the_request_limit_is_413(client, world, app, session):
    _login(client, "jia")
    big = _csv(ENTERPRISE_HEADER, GOOD_ROWS) + b"," * (MB + 200 * 1024)  # 1.2 MB
    app.config["MAX_CONTENT_LENGTH"] = 512 * 1024  # the request limit, refused before the form is read
    resp = _upload(client, big, "big.csv")
    assert resp.status_code == 413
    assert "上传内容过大" in resp.get_data(as_text=True)
    assert _count(session, "SELECT count(*) FROM enterprise WHERE name LIKE '甲县%'") == 0


def test_missing_csrf_token_is_400(client, world, session):
    _login(client, "jia")
    resp = _upload(client, _xlsx(ENTERPRISE_HEADER, GOOD_ROWS), "e.xlsx", csrf=False)
    assert resp.status_code == 400
    assert "表单已过期" in resp.get_data(as_text=True)
    assert _count(session, "SELECT count(*) FROM enterprise WHERE name LIKE '甲县%'") == 0


def test_form_and_templates(client, world):
    _login(client, "jia")
    page = client.get("/import").get_data(as_text=True)
    for label in ("企业", "风险点", "隐患", "WGS84", "跳过错误行", "仅检查不写入", 'enctype="multipart/form-data"',
                  "导入数据</a>", 'name="viewport"'):
        assert label in page, label
    for kind in ("enterprises", "risk-points", "hazards"):
        assert f"/import/template/{kind}.xlsx" in page
        resp = client.get(f"/import/template/{kind}.xlsx")
        assert resp.status_code == 200
        ws = openpyxl.load_workbook(io.BytesIO(resp.get_data())).worksheets[0]
        assert [c.value for c in ws[1]] == [c.header for c in COLUMNS[kind]]
    assert client.get("/import/template/nonsense.xlsx").status_code == 404

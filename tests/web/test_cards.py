"""风险告知卡 and the public risk notice their QR codes open.

World (``tests/services/test_zones.py``'s plant): 测试化工1厂 with 液氯储罐
(较大, in the zone 罐区), 输送泵 (一般, no card) and here a 重大 point 氯气
压缩机 outside any zone; its contact phone, legal representative and an open
hazard are not public.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import numpy as np
import pypdfium2 as pdfium
import zxingcpp
from pypdf import PdfReader
from services.test_zones import plant, square  # noqa: F401  (the fixture)
from sqlalchemy import text

from geo_service.domain import Actor
from geo_service.queries.scope import ALL
from geo_service.services import zones

ADMIN = Actor("管理员", None, "admin")
PRIVATE = ("13800000000", "张法人", "91990101", "输送泵", "储罐区未设可燃气体报警")


def _world(session, plant) -> None:  # noqa: F811
    session.execute(text("UPDATE enterprise SET complaint_phone = '0873-7654321', contact_phone = '13800000000',"
                         " legal_rep = '张法人' WHERE id = :e"), {"e": plant["chem"]})
    session.execute(text("UPDATE risk_point SET accident_type = '中毒和窒息、火灾', control_measures = '双人巡检',"
                         " responsible_person = '李工' WHERE id = :i"), {"i": plant["tank"]})
    session.execute(text("INSERT INTO risk_point (enterprise_id, name, grade, accident_type) VALUES"
                         " (:e, '氯气压缩机', 1, '中毒和窒息')"), {"e": plant["chem"]})
    session.execute(text("INSERT INTO hazard (enterprise_id, description, level, source, found_on) VALUES"
                         " (:e, '储罐区未设可燃气体报警', 'general', 'self', '2026-10-01')"), {"e": plant["chem"]})
    zones.create_zone(session, plant["chem"], {"name": "罐区", "geometry": square(103.501, 23.501),
                                               "risk_point_ids": [plant["tank"]], "emergency_measures": "关闭阀门，撤离下风向人员"},
                      ADMIN, scope=ALL, max_distance_m=2000)
    session.commit()


def _qr_codes(pdf: bytes, page: int = 0) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    try:
        image = doc[page].render(scale=200 / 72).to_pil()
    finally:
        doc.close()
    return [r.text for r in zxingcpp.read_barcodes(image)]


def test_cards_carry_the_grade_band_and_a_qr_code_of_the_public_notice(app, client, session, plant):  # noqa: F811
    _world(session, plant)
    r = client.get(f"/enterprises/{plant['chem']}/cards.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(r.data))
    assert len(reader.pages) == 2  # the zone 罐区 (较大) and the point 氯气压缩机 (重大); 输送泵 (一般) has none
    assert round(float(reader.pages[0].mediabox.width)) == 595  # A4
    first = reader.pages[0].extract_text()
    for expected in ("安全风险告知卡", "罐区", "橙色 · 较大风险", "液氯储罐", "中毒和窒息、火灾", "双人巡检",
                     "关闭阀门，撤离下风向人员", "李工", "0873-7654321", "12350", "测试化工1厂"):
        assert expected in first, expected
    assert "氯气压缩机" in reader.pages[1].extract_text() and "红色 · 重大风险" in reader.pages[1].extract_text()
    # the band is printed in the grade's colour
    doc = pdfium.PdfDocument(r.data)
    band = np.asarray(doc[0].render(scale=100 / 72).to_pil().convert("RGB"))[80, 400].astype(int)
    doc.close()
    assert np.abs(band - np.array([0xFF, 0x8C, 0x00])).max() <= 8, band

    urls = _qr_codes(r.data)
    assert len(urls) == 1 and len(_qr_codes(r.data, 1)) == 1
    url = urlsplit(urls[0])
    # both cards open the enterprise's notice (each naming its own unit: web/test_card_tasks.py)
    assert url.path == urlsplit(_qr_codes(r.data, 1)[0]).path
    assert url.path.startswith("/notice/") and url.path != f"/notice/{plant['chem']}"

    # the notice answers without login and shows only the public fields
    app.config["LOGIN_REQUIRED"] = True
    page = client.get(url.path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for public in ("测试化工1厂", "液氯储罐", "罐区", "氯气压缩机", "中毒和窒息", "李工", "0873-7654321", "较大风险",
                   "重大风险"):
        assert public in html, public
    assert [p for p in PRIVATE if p in html] == []
    assert client.get(f"/enterprises/{plant['chem']}/cards.pdf").status_code == 302  # the cards need a login
    assert client.get("/notice/forged-token").status_code == 404
    assert client.get(f"/notice/{plant['chem']}").status_code == 404  # never by a bare id
    app.config["PUBLIC_NOTICE"] = False
    assert client.get(url.path).status_code == 404


def test_one_card_and_a5(client, session, plant):  # noqa: F811
    _world(session, plant)
    r = client.get(f"/risk-points/{plant['tank']}/card.pdf?paper=A5")
    assert r.status_code == 200
    page = PdfReader(io.BytesIO(r.data)).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (420, 595)
    assert "液氯储罐" in page.extract_text() and len(_qr_codes(r.data)) == 1
    assert client.get(f"/risk-points/{plant['pump']}/card.pdf").status_code == 404  # 一般: no card
    zid = session.execute(text("SELECT id FROM risk_zone")).scalar_one()
    assert client.get(f"/zones/{zid}/card.pdf").status_code == 200

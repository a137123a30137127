"""A 风险告知卡's QR code scanned on a phone (390×844, touch, geolocation granted) in a real
headless Chromium: the enterprise's own user sees the public notice and, under it, the
unit's inspection task, and records it 正常 with one tap; the record is the phone's.

World: one plant, its 较大 unit 液氨储罐 with one daily task started three days ago
(overdue), and the plant's user 班组长老李.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pypdfium2 as pdfium
import pytest
import zxingcpp
from helpers import credit_code
from live import serve
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from geo_service.domain import Actor
from geo_service.models import InspectionRecord
from geo_service.queries.scope import ALL
from geo_service.services import accounts, inspections

WORKER, PASSWORD = "laoli", "card-phone-2026"
PHONE = {"longitude": 103.2234567, "latitude": 23.4456789}
CST = dt.timezone(dt.timedelta(hours=8))


@dataclass
class Plant:
    url: str
    database_url: str
    enterprise_id: int
    unit: int
    task: int


@pytest.fixture(scope="module")
def plant(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    url = make_database()
    engine = create_engine(url)
    system = Actor("导入")
    today = dt.datetime.now(CST).date()
    with Session(engine) as s:
        eid = s.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
            " (:c, '开远合成氨厂', 'hazchem', ST_SetSRID(ST_MakePoint(103.2234, 23.4456), 4326)) RETURNING id"),
            {"c": credit_code(12, "532502")}).scalar_one()
        rp = s.execute(text("INSERT INTO risk_point (enterprise_id, name, grade, accident_type) VALUES"
                            " (:e, '液氨储罐', 2, '中毒和窒息') RETURNING id"), {"e": eid}).scalar_one()
        ev = inspections.create_event(s, rp, {"name": "液氨泄漏", "accident_type": "中毒和窒息", "grade": 2},
                                      system, scope=ALL)
        me = inspections.create_measure(s, ev.id, {"description": "氨气报警器完好", "kind": "engineering",
                                                   "level": "team"}, system, scope=ALL)
        task = inspections.create_task(s, me.id, {"content": "检查储罐区氨气报警器", "cycle_n": 1, "cycle_unit": "day",
                                                  "resp_post": "操作工", "starts_on": today - dt.timedelta(days=3)},
                                       system, scope=ALL)
        accounts.create_user(s, WORKER, PASSWORD, "enterprise", enterprise_id=eid, display_name="班组长老李")
        s.commit()
        ids = (eid, rp, task.id)
    engine.dispose()
    with serve(url, tmp_path_factory.mktemp("card-live") / "var") as base:
        yield Plant(base, url, *ids)


@pytest.fixture
def phone(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True,
                                  has_touch=True, locale="zh-CN", geolocation=PHONE, permissions=["geolocation"])
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def test_scan_the_card_and_record_the_unit_s_task(plant, phone):  # type: ignore[no-untyped-def]
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    phone.goto(f"{plant.url}/login")
    phone.fill("input[name=username]", WORKER)
    phone.fill("input[name=password]", PASSWORD)
    phone.tap("button[type=submit]")
    phone.wait_for_load_state("networkidle")

    # the printed card, "scanned": its QR code names the unit
    pdf = phone.request.get(f"{plant.url}/risk-points/{plant.unit}/card.pdf").body()
    doc = pdfium.PdfDocument(pdf)
    try:
        codes = [r.text for r in zxingcpp.read_barcodes(doc[0].render(scale=200 / 72).to_pil())]
    finally:
        doc.close()
    assert len(codes) == 1 and codes[0].endswith(f"?unit={plant.unit}")

    phone.goto(codes[0])
    phone.wait_for_selector("#position-state[data-state=located]")
    assert "安全风险公告" in phone.inner_text("main") and "液氨储罐" in phone.inner_text("main")
    task = phone.locator(".unit-tasks li.task")
    assert task.count() == 1 and "检查储罐区氨气报警器" in task.inner_text() and "已逾期" in task.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    task.locator("button.tap.normal").tap()  # the second tap
    phone.wait_for_selector("text=已记录：正常")
    assert "本周期已记录" in phone.inner_text("li.task")
    assert errors == []

    engine = create_engine(plant.database_url)
    with Session(engine) as s:
        rows = s.execute(select(InspectionRecord.task_id, InspectionRecord.result, InspectionRecord.person,
                                text("ST_X(geom)"), text("ST_Y(geom)"))).all()
    engine.dispose()
    assert [(r[0], r[1], r[2]) for r in rows] == [(plant.task, "normal", "班组长老李")]
    assert abs(rows[0][3] - PHONE["longitude"]) < 1e-6 and abs(rows[0][4] - PHONE["latitude"]) < 1e-6

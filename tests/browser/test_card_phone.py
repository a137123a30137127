"""A 风险告知卡's QR code scanned on a phone (390×844, touch, geolocation granted) in a real
headless Chromium: the enterprise's own user sees the public notice and, under it, the
unit's inspection task, and records it 正常 with one tap; the record is the phone's.

World: one plant, its 较大 unit 液氨储罐 with one daily task started three days ago
(overdue), and the plant's user 班组长老李.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pypdfium2 as pdfium
import pytest
import zxingcpp
from browser.phone_world import PhonePlant, Task, phone_plant, sign_in
from browser.phone_world import phone as phone_page
from helpers import credit_code
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from geo_service.models import InspectionRecord

WORKER, PASSWORD = "laoli", "card-phone-2026"
PHONE = {"longitude": 103.2234567, "latitude": 23.4456789}


@pytest.fixture(scope="module")
def plant(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhonePlant]:
    with phone_plant(make_database, tmp_path_factory.mktemp("card-live") / "var",
                     enterprise=("开远合成氨厂", credit_code(12, "532502"), 103.2234, 23.4456),
                     unit={"name": "液氨储罐", "grade": 2, "accident_type": "中毒和窒息"},
                     event={"name": "液氨泄漏", "accident_type": "中毒和窒息", "grade": 2},
                     measure="氨气报警器完好",
                     tasks=[Task("检查储罐区氨气报警器", "操作工", days_ago=3)],
                     user=(WORKER, PASSWORD, "班组长老李")) as p:
        yield p


@pytest.fixture
def phone(browser):  # type: ignore[no-untyped-def]
    with phone_page(browser, PHONE) as pg:
        yield pg


def test_scan_the_card_and_record_the_unit_s_task(plant, phone):  # type: ignore[no-untyped-def]
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(phone, plant.url, WORKER, PASSWORD)

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
    assert [(r[0], r[1], r[2]) for r in rows] == [(plant.tasks[0], "normal", "班组长老李")]
    assert abs(rows[0][3] - PHONE["longitude"]) < 1e-6 and abs(rows[0][4] - PHONE["latitude"]) < 1e-6

"""今日排查 on a phone (390×844, touch, geolocation granted) in a real headless
Chromium against a live server: an enterprise user records one task 正常
and another 异常 with a photo from the camera input; the 异常 opens a hazard
linked to its record, placed where the phone was."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser.phone_world import PhonePlant, Task, phone_plant, sign_in
from browser.phone_world import phone as phone_page
from helpers import credit_code
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from geo_service.models import Hazard, HazardEvidence, InspectionRecord

WORKER, PASSWORD = "banzu", "phone-test-2026"
# The phone stands a few metres north-east of the plant's registered point.
PHONE = {"longitude": 103.1234567, "latitude": 23.3456789}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"camera" * 50 + b"\xff\xd9"


@pytest.fixture(scope="module")
def plant(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhonePlant]:
    with phone_plant(make_database, tmp_path_factory.mktemp("phone-live") / "var",
                     enterprise=("红河液氯充装站", credit_code(11, "532501"), 103.1234, 23.3456),
                     unit={"name": "液氯充装台", "grade": 1},
                     event={"name": "液氯泄漏", "accident_type": "中毒和窒息", "grade": 1},
                     measure="氯气泄漏报警器与紧急切断阀联锁完好",
                     tasks=[
                         # started three days ago with no record: yesterday's window was missed (overdue)
                         Task("检查充装台报警器显示", "充装工", days_ago=3),
                         # starts today: due by midnight
                         Task("检查紧急切断阀动作", "班组长", days_ago=0),
                     ],
                     user=(WORKER, PASSWORD, "班组长老王")) as p:
        yield p


@pytest.fixture
def phone(browser):  # type: ignore[no-untyped-def]
    with phone_page(browser, PHONE) as pg:
        yield pg


def test_record_one_task_normal_and_one_abnormal_on_a_phone(plant, phone, tmp_path: Path,
                                                             screenshot_dir: Path):  # type: ignore[no-untyped-def]
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(phone, plant.url, WORKER, PASSWORD)

    phone.goto(f"{plant.url}/inspections/today")
    phone.wait_for_selector("#position-state[data-state=located]")
    tasks = phone.locator("li.task")
    assert tasks.count() == 2
    # the missed task first, marked overdue
    assert "检查充装台报警器显示" in tasks.nth(0).inner_text() and "已逾期" in tasks.nth(0).inner_text()
    assert "今日到期" in tasks.nth(1).inner_text()
    # fits the phone: no sideways scrolling, both buttons side by side and big enough to tap
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    normal = tasks.nth(0).locator("button.tap.normal").bounding_box()
    abnormal = tasks.nth(0).locator("label.tap.abnormal").bounding_box()
    assert normal["height"] >= 44 and abnormal["x"] > normal["x"] + normal["width"] - 1
    phone.screenshot(path=str(screenshot_dir / "inspection-today-phone.png"), full_page=True)

    # One tap: 正常.
    tasks.nth(0).locator("button.tap.normal").tap()
    phone.wait_for_selector("text=已记录：正常")
    assert phone.locator("li.task").count() == 1

    # Two taps: 异常, then the photo from the camera input (it submits by itself).
    remaining = phone.locator("li.task").nth(0)
    assert "检查紧急切断阀动作" in remaining.inner_text()
    phone.wait_for_selector("#position-state[data-state=located]")
    remaining.locator("input.note").fill("切断阀卡涩")
    photo = tmp_path / "camera.jpg"
    photo.write_bytes(JPEG)
    with phone.expect_file_chooser() as chooser:
        remaining.locator("label.tap.abnormal").tap()
    with phone.expect_navigation():
        chooser.value.set_files(str(photo))
    flash = phone.inner_text(".flash")
    assert "已记录异常，已生成隐患" in flash
    assert phone.locator("text=今日排查任务已全部完成").count() == 1
    phone.screenshot(path=str(screenshot_dir / "inspection-abnormal-phone.png"), full_page=True)
    phone.tap("text=查看隐患")
    phone.wait_for_load_state("networkidle")
    assert "检查紧急切断阀动作" in phone.inner_text("main") and "切断阀卡涩" in phone.inner_text("main")
    assert errors == []

    # The register holds both records, where the phone was, and the hazard opened by the second.
    engine = create_engine(plant.database_url)
    with Session(engine) as s:
        rows = s.execute(select(InspectionRecord.task_id, InspectionRecord.result, InspectionRecord.person,
                                text("ST_X(geom)"), text("ST_Y(geom)"), InspectionRecord.id)
                         .order_by(InspectionRecord.recorded_at)).all()
        assert [(r[0], r[1], r[2]) for r in rows] == [(plant.tasks[0], "normal", "班组长老王"),
                                                      (plant.tasks[1], "abnormal", "班组长老王")]
        for r in rows:
            assert (r[3], r[4]) == pytest.approx((PHONE["longitude"], PHONE["latitude"]), abs=1e-6)
        hz = s.scalars(select(Hazard).where(Hazard.enterprise_id == plant.enterprise_id)).one()
        assert (hz.record_id, hz.source, hz.level, hz.state, hz.found_by) == (
            rows[1][5], "self", "general", "registered", "班组长老王")
        assert s.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM hazard WHERE id = :h"),
                         {"h": hz.id}).one() == pytest.approx((PHONE["longitude"], PHONE["latitude"]), abs=1e-6)
        evidence = s.scalars(select(HazardEvidence).where(HazardEvidence.hazard_id == hz.id)).one()
        assert evidence.kind == "before" and evidence.content_type == "image/jpeg"
    engine.dispose()

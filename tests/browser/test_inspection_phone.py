"""今日排查 on a phone (390×844, touch, geolocation granted) in a real headless
Chromium against a live server: an enterprise user records one task 正常
and another 异常 with a photo from the camera input; the 异常 opens a hazard
linked to its record, placed where the phone was."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import credit_code
from live import serve
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from geo_service.domain import Actor
from geo_service.models import Hazard, HazardEvidence, InspectionRecord
from geo_service.queries.scope import ALL
from geo_service.services import accounts, inspections

WORKER, PASSWORD = "banzu", "phone-test-2026"
# The phone stands a few metres north-east of the plant's registered point.
PHONE = {"longitude": 103.1234567, "latitude": 23.3456789}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"camera" * 50 + b"\xff\xd9"
CST = dt.timezone(dt.timedelta(hours=8))


@dataclass
class Plant:
    url: str
    database_url: str
    enterprise_id: int
    overdue_task: int
    today_task: int


@pytest.fixture(scope="module")
def plant(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    url = make_database()
    engine = create_engine(url)
    system = Actor("导入")
    today = dt.datetime.now(CST).date()
    with Session(engine) as s:
        eid = s.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
            " (:c, '红河液氯充装站', 'hazchem', ST_SetSRID(ST_MakePoint(103.1234, 23.3456), 4326)) RETURNING id"),
            {"c": credit_code(11, "532501")}).scalar_one()
        rp = s.execute(text("INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, '液氯充装台', 1)"
                            " RETURNING id"), {"e": eid}).scalar_one()
        ev = inspections.create_event(s, rp, {"name": "液氯泄漏", "accident_type": "中毒和窒息", "grade": 1},
                                      system, scope=ALL)
        me = inspections.create_measure(s, ev.id, {"description": "氯气泄漏报警器与紧急切断阀联锁完好",
                                                   "kind": "engineering", "level": "team"}, system, scope=ALL)
        # started three days ago with no record: yesterday's window was missed (overdue)
        t1 = inspections.create_task(s, me.id, {"content": "检查充装台报警器显示", "cycle_n": 1, "cycle_unit": "day",
                                                "resp_post": "充装工", "starts_on": today - dt.timedelta(days=3)},
                                     system, scope=ALL)
        # starts today: due by midnight
        t2 = inspections.create_task(s, me.id, {"content": "检查紧急切断阀动作", "cycle_n": 1, "cycle_unit": "day",
                                                "resp_post": "班组长", "starts_on": today}, system, scope=ALL)
        accounts.create_user(s, WORKER, PASSWORD, "enterprise", enterprise_id=eid, display_name="班组长老王")
        s.commit()
        ids = (eid, t1.id, t2.id)
    engine.dispose()
    with serve(url, tmp_path_factory.mktemp("phone-live") / "var") as base:
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


def test_record_one_task_normal_and_one_abnormal_on_a_phone(plant, phone, tmp_path: Path,
                                                             screenshot_dir: Path):  # type: ignore[no-untyped-def]
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    phone.goto(f"{plant.url}/login")
    phone.fill("input[name=username]", WORKER)
    phone.fill("input[name=password]", PASSWORD)
    phone.tap("button[type=submit]")
    phone.wait_for_load_state("networkidle")

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
        assert [(r[0], r[1], r[2]) for r in rows] == [(plant.overdue_task, "normal", "班组长老王"),
                                                      (plant.today_task, "abnormal", "班组长老王")]
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

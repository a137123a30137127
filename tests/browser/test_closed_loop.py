"""The closed loop of a hazard in a real headless Chromium against a live server:
a regulator registers a 重大隐患 through the form (location picked on the small
map), is told what the 五落实 lack, starts rectification, records it done and
uploads the 整改后 photo; being the account that recorded 整改完成, it is not
offered 验收销号; a second account signs it off with its 验收意见, and the
timeline names both; the page loads nothing from outside."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from live import login, serve
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from web.test_ledger_world import LedgerWorld, build

from geo_service.models import Hazard, HazardEvent, User
from geo_service.services import accounts

# The second account, who signs off what the first recorded as rectified.
CHECKER, CHECKER_PASSWORD = "checker", "checker-test-2026"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class Live:
    url: str
    database_url: str
    world: LedgerWorld


@pytest.fixture(scope="module")
def ledger_server(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The application on a free loopback port over a committed ledger register."""
    url = make_database()
    engine = create_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        world = build(session)
        accounts.create_user(session, CHECKER, CHECKER_PASSWORD, "regulator", region_code="532500",
                             display_name="州应急局验收组 刘九")
        session.commit()
    engine.dispose()
    with serve(url, tmp_path_factory.mktemp("ledger-live") / "var") as base:
        yield Live(base, url, world)


def _foreign(requests: list[str]) -> list[str]:
    return [u for u in requests if not u.startswith(("data:", "blob:"))
            and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]


def test_register_a_hazard_and_close_it_in_the_browser(ledger_server, page, screenshot_dir: Path):  # type: ignore[no-untyped-def]
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    # A missing asset or a server error is a failure; the 400 of the refused step is expected.
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if (r.status >= 500 or r.status == 404) and not r.url.endswith("/favicon.ico") else None)
    chem = ledger_server.world.enterprises["chem"]
    login(page, ledger_server.url)

    # The enterprise page links to the hazard form.
    page.goto(f"{ledger_server.url}/enterprises/{chem.id}")
    page.wait_for_function("() => document.querySelector('#ledger-map')._ledgerMap !== undefined")
    # The surroundings map shows the plant and its neighbour within 1 000 m.
    assert page.locator("#ledger-map path.leaflet-interactive").count() == 2
    page.screenshot(path=str(screenshot_dir / "ledger-enterprise.png"), full_page=True)
    page.click("text=登记隐患")
    page.wait_for_selector("#hazard-form")
    page.wait_for_function("() => document.querySelector('#ledger-map')._ledgerMap !== undefined")

    # Pick the hazard's own location on the small map: a click a little north-east of the plant.
    page.evaluate("""() => document.querySelector('#ledger-map')._ledgerMap.setView([23.30, 103.10], 16,
                                                                              {animate: false})""")
    page.locator("#ledger-map").scroll_into_view_if_needed()
    box = page.locator("#ledger-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 - 30)
    assert page.is_checked("#f-own_location")
    lng = float(page.input_value("#f-lng"))
    lat = float(page.input_value("#f-lat"))
    assert 103.10 < lng < 103.11 and 23.30 < lat < 23.31  # east and north of the plant's point

    page.fill("#f-description", "液氯钢瓶库通风不良")
    page.check("input[name=level][value=major]")
    page.select_option("#f-source", "inspection")
    page.fill("#f-found_by", "市应急局检查组")
    deadline = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    page.fill("#f-deadline", deadline)
    page.screenshot(path=str(screenshot_dir / "ledger-hazard-form.png"), full_page=True)
    page.click("#hazard-form button[type=submit]")
    page.wait_for_selector("#timeline")
    assert "隐患已登记" in page.inner_text(".flash")
    assert "已登记" in page.inner_text("h1")
    hazard_url = page.url
    hazard_id = int(hazard_url.rstrip("/").rsplit("/", 1)[1])

    # 开始整改 with the 五落实 incomplete: the missing ones are marked next to their fields.
    page.fill("#step-registered-rectifying [name=resp_person]", "王工")
    page.click("#step-registered-rectifying button[type=submit]")
    page.wait_for_selector("#step-registered-rectifying .field-error")
    form_errors = page.inner_text("#step-registered-rectifying")
    assert "应急预案不能为空" in form_errors and "整改资金不能为空" in form_errors
    assert page.input_value("#step-registered-rectifying [name=resp_person]") == "王工"  # kept
    page.fill("#step-registered-rectifying [name=measures]", "增设强制排风并与氯气报警联锁")
    page.fill("#step-registered-rectifying [name=funds_wan]", "3.5")
    page.fill("#step-registered-rectifying [name=emergency_plan]", "液氯泄漏专项应急预案")
    page.click("#step-registered-rectifying button[type=submit]")
    page.wait_for_selector("#step-rectifying-rectified")
    assert "整改中" in page.inner_text("h1")

    page.fill("#step-rectifying-rectified [name=note]", "排风设施已安装调试")
    page.fill("#step-rectifying-rectified [name=rectification_note]", "已安装强制排风，与氯气报警联锁")
    page.click("#step-rectifying-rectified button[type=submit]")
    page.wait_for_selector("#step-rectified-rectifying")  # 退回整改 is offered, 验收销号 is not
    assert "已整改待验收" in page.inner_text("h1")

    # The account that recorded 整改完成 is not offered the sign-off; it uploads the 整改后 photo.
    page.wait_for_selector("#own-rectification")
    assert page.locator("#step-rectified-closed").count() == 0
    photo = screenshot_dir / "after.png"
    photo.write_bytes(PNG)
    page.select_option("#evidence-form [name=kind]", "after")
    page.set_input_files("#f-file", str(photo))
    page.click("#evidence-form button[type=submit]")
    page.wait_for_selector("tr.evidence-row")
    assert "整改后照片" in page.inner_text("#evidence")

    # A second account signs it off: the 验收人 is that account, not typed.
    page.click("header .user button[type=submit]")  # 退出
    page.goto(f"{ledger_server.url}/login")
    page.fill("input[name=username]", CHECKER)
    page.fill("input[name=password]", CHECKER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(hazard_url)
    page.wait_for_selector("#step-rectified-closed")
    assert "验收人：州应急局验收组 刘九（当前账号）" in page.inner_text("#step-rectified-closed")
    assert page.locator("#step-rectified-closed [name=verifier]").count() == 0
    page.fill("#step-rectified-closed [name=verification_note]", "复查合格")
    page.click("#step-rectified-closed button[type=submit]")
    page.wait_for_selector("text=流程结束")
    assert "已验收销号" in page.inner_text("h1")
    assert "州应急局验收组 刘九（账号 checker）" in page.inner_text("#hazard-verifier")

    timeline = page.locator("#timeline li").all_inner_texts()
    assert len(timeline) == 4
    assert "已登记" in timeline[0]
    assert "已登记 → 整改中" in timeline[1]
    assert "整改中 → 已整改待验收" in timeline[2] and "排风设施已安装调试" in timeline[2]
    assert "测试管理员" in timeline[2]
    assert "已整改待验收 → 已验收销号" in timeline[3] and "州应急局验收组 刘九" in timeline[3]
    assert "复查情况：复查合格" in timeline[3]
    page.screenshot(path=str(screenshot_dir / "ledger-hazard-closed.png"), full_page=True)

    # The register holds what the browser did.
    engine = create_engine(ledger_server.database_url)
    with Session(engine) as s:
        hz = s.get(Hazard, hazard_id)
        assert (hz.state, hz.verifier, hz.level, float(hz.funds_wan)) == ("closed", "州应急局验收组 刘九", "major", 3.5)
        checker = s.scalars(select(User).where(User.username == CHECKER)).one()
        assert hz.verifier_id == checker.id and hz.rectified_by_id not in (None, checker.id)
        assert hz.geom is not None
        steps = s.scalars(select(HazardEvent.to_state).where(HazardEvent.hazard_id == hazard_id)
                          .order_by(HazardEvent.id)).all()
        assert steps == ["registered", "rectifying", "rectified", "closed"]
    engine.dispose()

    # Its 附件6 prints.
    with page.expect_download() as dl:
        page.click("#ledger-docx")
    assert dl.value.suggested_filename.endswith(".docx")

    # The ledger lists it as closed, and the page works on a phone-sized screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{ledger_server.url}/hazards?q=液氯钢瓶库")
    assert page.locator("#hazard-table tbody tr[data-hazard]").count() == 1
    assert "已验收销号" in page.inner_text("#hazard-table")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1  # the wide table scrolls inside its own box, not the page
    page.screenshot(path=str(screenshot_dir / "ledger-phone.png"), full_page=True)

    assert errors == []
    assert _foreign(requests) == []

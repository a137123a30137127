"""The 修改密码 page in a real headless Chromium, on a phone (390×844) and a
desktop (1440×900): reached from the header, no sideways scrolling, every
field visible, and the change takes effect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live import BROWSER_PASSWORD, BROWSER_USER, serve


@pytest.fixture(scope="module")
def account_server(make_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live server over an empty register with the browser's administrator (its password changes here)."""
    with serve(make_database(), tmp_path_factory.mktemp("password-live") / "var") as base:
        yield base


def _sign_in(page, base: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", BROWSER_USER)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_change_password_on_phone_and_desktop(account_server, browser, screenshot_dir: Path):  # type: ignore[no-untyped-def]
    old = BROWSER_PASSWORD
    for (width, height), new in (((390, 844), "phone-changed-2026"), ((1440, 900), "desk-changed-2026")):
        _change(account_server, browser, screenshot_dir, width, height, old, new)
        old = new


def _change(account_server, browser, screenshot_dir: Path, width: int, height: int,  # type: ignore[no-untyped-def]
            old: str, new: str) -> None:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    try:
        _sign_in(page, account_server, old)
        assert "/login" not in page.url
        link = page.get_by_role("link", name="修改密码")
        assert link.is_visible()
        link.click()
        page.wait_for_load_state("networkidle")
        assert page.url.endswith("/account/password")
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        for name in ("old_password", "password", "password2"):
            field = page.locator(f"input[name={name}]")
            box = field.bounding_box()
            assert field.is_visible() and box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        page.screenshot(path=str(screenshot_dir / f"password-{width}x{height}.png"))
        # a mismatch is refused with the reason, on the same page
        page.fill("input[name=old_password]", old)
        page.fill("input[name=password]", new)
        page.fill("input[name=password2]", new + "x")
        page.get_by_role("button", name="修改密码").click()
        page.wait_for_load_state("networkidle")
        assert "两次输入的新密码不一致" in page.locator("[role=alert]").inner_text()
        page.fill("input[name=old_password]", old)
        page.fill("input[name=password]", new)
        page.fill("input[name=password2]", new)
        page.get_by_role("button", name="修改密码").click()
        page.wait_for_load_state("networkidle")
        assert page.url.endswith("/account")
        assert "密码已修改" in page.locator("[role=status]").inner_text()
    finally:
        context.close()
    # the new password signs in, the old one no longer does
    fresh = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    try:
        page = fresh.new_page()
        _sign_in(page, account_server, old)
        assert "/login" in page.url and "用户名或密码错误" in page.content()
        _sign_in(page, account_server, new)
        assert "/login" not in page.url
    finally:
        fresh.close()

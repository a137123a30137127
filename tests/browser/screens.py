"""A live server of its own for the map's browser tests (the hand-made register
of :mod:`map_world` plus two enterprise accounts), phone and desktop
contexts, and signing in as any account."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from browser.map_world import MapWorld, build
from live import serve
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from geo_service.services import accounts

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
# Enterprise accounts: one for enterprise a (two open hazards), one for f (none yet).
OWNER_A = ("owner_a", "owner-a-2026-pass")
OWNER_F = ("owner_f", "owner-f-2026-pass")
# A county regulator of 开远市 (532502), which has no districts below it.
COUNTY = ("kaiyuan", "kaiyuan-2026-pass")


@dataclass
class Live:
    url: str
    database_url: str
    world: MapWorld


@contextmanager
def screens_server(make_database: Callable[[], str], var_dir: Path) -> Iterator[Live]:
    """The application over a committed copy of the map world, with two enterprise accounts."""
    url = make_database()
    engine = create_engine(url)
    with Session(engine) as session:
        world = build(session)
        accounts.create_user(session, *OWNER_A, "enterprise", display_name="红河化工安全员",
                             enterprise_id=world.ids["a"])
        accounts.create_user(session, *OWNER_F, "enterprise", display_name="五金店店长",
                             enterprise_id=world.ids["f"])
        accounts.create_user(session, *COUNTY, "regulator", display_name="开远市应急局", region_code="532502")
        session.commit()
    engine.dispose()
    with serve(url, var_dir) as base:
        yield Live(base, url, world)


def context(chromium, viewport, **kw):  # type: ignore[no-untyped-def]
    return chromium.new_context(viewport=viewport, locale="zh-CN", has_touch=viewport is PHONE,
                                is_mobile=viewport is PHONE, **kw)


def watch(page) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return requests, errors


def foreign(requests: list[str]) -> list[str]:
    return [u for u in requests if not u.startswith(("data:", "blob:"))
            and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]


def login_as(page, base: str, user: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, "login failed"


def box(page, selector: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not displayed"
    return box

"""A live server on a committed database and a headless Chromium, for the browser tests.

The server is werkzeug's ``make_server`` in a thread on a free loopback port;
the database is a fresh one from ``make_database()`` holding the committed
register of :mod:`map_world`.  Chromium is Debian's (``/usr/bin/chromium``),
driven by Playwright and started by the test itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser.map_world import MapWorld, build
from helpers import committed_database
from live import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@dataclass
class LiveServer:
    url: str
    world: MapWorld


@pytest.fixture(scope="session")
def live_server(make_database: Callable[[], str],
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The application on 127.0.0.1:<free port> over a committed map register."""
    url, world = committed_database(make_database, build)
    with serve(url, tmp_path_factory.mktemp("live") / "var") as base:
        yield LiveServer(base, world)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN",
                                  accept_downloads=True)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def screenshot_dir() -> Path:
    """Where screenshots go (kept for a person to look at)."""
    path = Path("/tmp/geo-service-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path

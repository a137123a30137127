"""A live server on a committed database (for the browser and for GDAL), and signing in to it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from geo_service import create_app
from geo_service.config import TestConfig
from geo_service.models import User
from geo_service.services import accounts

# The account the browser tests sign in with (login is on, as in production).
BROWSER_USER = "tester"
BROWSER_PASSWORD = "browser-test-2026"


def _as_app_role(engine) -> None:  # type: ignore[no-untyped-def]
    """Every connection of ``engine`` acts as ``geo_app`` (migration 0007's grants),
    whatever account the test server's URL names."""

    @event.listens_for(engine, "connect")
    def _set_role(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        with dbapi_conn.cursor() as cur:
            cur.execute("SET ROLE geo_app")
        dbapi_conn.commit()


@contextmanager
def serve(database_url: str, var_dir: Path, settings: dict | None = None) -> Iterator[str]:
    """The application on 127.0.0.1:<free port> over ``database_url``, with an
    administrator account for the browser; yields the base URL.  ``settings``
    override configuration keys (``BASEMAP`` …)."""
    engine = create_engine(database_url)
    with Session(engine) as session:
        accounts.create_user(session, BROWSER_USER, BROWSER_PASSWORD, "admin", display_name="测试管理员")
        session.commit()
    engine.dispose()
    config = TestConfig(database_url, var_dir)
    for key, value in (settings or {}).items():
        setattr(config, key, value)
    app = create_app(config)
    app.config["LOGIN_REQUIRED"] = True  # as in production
    _as_app_role(app.extensions["geo_engine"])  # and with the production role's grants
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        listener = app.extensions.get("region_tokens")  # the change-token listener, if a request started it
        if listener is not None:
            listener.dispose()
        app.extensions["geo_engine"].dispose()


def api_token(database_url: str) -> str:
    """A fresh API token of the live server's administrator, for scripts and GDAL."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            user = session.scalars(select(User).where(User.username == BROWSER_USER)).one()
            token = accounts.create_token(session, user, "tests")
            session.commit()
    finally:
        engine.dispose()
    return token


def login(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login form, as a person would."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", BROWSER_USER)
    page.fill("input[name=password]", BROWSER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, "login failed"



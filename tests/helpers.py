"""Small builders shared by the hand-made test worlds."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from geo_service.geo import CREDIT_CHARSET, credit_check_char

T = TypeVar("T")
B = TypeVar("B")


def credit_code(n: int, region: str = "532501") -> str:
    """A valid 统一社会信用代码 registered in ``region``, numbered ``n``."""
    body = "91" + region + "".join(CREDIT_CHARSET[(n // 31**i) % 31] for i in range(8, -1, -1))
    return body + credit_check_char(body)


def box(w: float, s: float, e: float, n: float) -> str:
    """An EWKT MultiPolygon for the lng/lat box west, south, east, north."""
    return f"SRID=4326;MULTIPOLYGON((({w} {s},{e} {s},{e} {n},{w} {n},{w} {s})))"


PASSWORD = "correct-horse-9"  # the test accounts' password (long enough for MIN_PASSWORD_LENGTH)


def csrf(client, path: str = "/login") -> str:  # type: ignore[no-untyped-def]
    """The CSRF token of the form at ``path``."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"{path} has no CSRF token"
    return match.group(1)


def wait_for(condition: Callable[[], T], what: str, limit_s: float = 60.0, every_s: float = 0.05) -> T:
    """Wait for an event of another thread or process (a notification, a job's
    state): ``condition()``'s first true value; fail if it never comes."""
    deadline = time.monotonic() + limit_s
    while not (got := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(every_s)
    return got


def committed_database(make_database: Callable[[], str], build: Callable[[Session], B]) -> tuple[str, B]:
    """A fresh database holding, committed, what ``build(session)`` adds: its URL and what ``build`` returned."""
    url = make_database()
    engine = create_engine(url)
    with Session(engine) as session:
        built = build(session)
        session.commit()
    engine.dispose()
    return url, built

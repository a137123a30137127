"""The phone enterprise world of the phone tests: one plant with one unit, one
control measure and its daily inspection tasks, the plant's own user, a live
server over it, and a phone (390×844, touch, geolocation granted) to sign in with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import committed_database
from live import serve
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_service.domain import Actor
from geo_service.queries.scope import ALL
from geo_service.services import accounts, inspections

CST = dt.timezone(dt.timedelta(hours=8))


@dataclass
class PhonePlant:
    url: str
    database_url: str
    enterprise_id: int
    unit: int
    tasks: list[int]  # in the order given


@dataclass
class Task:
    """A daily task of the unit's measure, started ``days_ago`` days before today (China time)."""

    content: str
    resp_post: str
    days_ago: int


@contextmanager
def phone_plant(make_database: Callable[[], str], var_dir: Path, *, enterprise: tuple[str, str, float, float],
                unit: dict[str, Any], event: dict[str, Any], measure: str, tasks: list[Task],
                user: tuple[str, str, str]) -> Iterator[PhonePlant]:
    """A live server over a fresh database holding the plant ``enterprise``
    (name, credit code, longitude, latitude), its risk point ``unit`` (``name``,
    ``grade``, optionally ``accident_type``), one ``event`` with one team-level
    engineering ``measure``, the measure's ``tasks``, and the enterprise user
    ``user`` (username, password, display name)."""
    system = Actor("导入")
    today = dt.datetime.now(CST).date()
    name, code, lng, lat = enterprise

    def build(s: Session) -> tuple[int, int, list[int]]:
        eid = s.execute(text(
            "INSERT INTO enterprise (credit_code, name, industry_code, geom) VALUES"
            " (:c, :n, 'hazchem', ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"),
            {"c": code, "n": name, "x": lng, "y": lat}).scalar_one()
        rp = s.execute(text("INSERT INTO risk_point (enterprise_id, name, grade, accident_type) VALUES"
                            " (:e, :n, :g, :a) RETURNING id"),
                       {"e": eid, "n": unit["name"], "g": unit["grade"], "a": unit.get("accident_type")}).scalar_one()
        ev = inspections.create_event(s, rp, event, system, scope=ALL)
        me = inspections.create_measure(s, ev.id, {"description": measure, "kind": "engineering", "level": "team"},
                                        system, scope=ALL)
        task_ids = [inspections.create_task(s, me.id, {"content": t.content, "cycle_n": 1, "cycle_unit": "day",
                                                       "resp_post": t.resp_post,
                                                       "starts_on": today - dt.timedelta(days=t.days_ago)},
                                            system, scope=ALL).id
                    for t in tasks]
        username, password, display_name = user
        accounts.create_user(s, username, password, "enterprise", enterprise_id=eid, display_name=display_name)
        return eid, rp, task_ids

    url, (eid, rp, task_ids) = committed_database(make_database, build)
    with serve(url, var_dir) as base:
        yield PhonePlant(base, url, eid, rp, task_ids)


@contextmanager
def phone(browser: Any, geolocation: dict[str, float]) -> Iterator[Any]:
    """A page on a phone standing at ``geolocation``, with the permission granted."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True,
                                  has_touch=True, locale="zh-CN", geolocation=geolocation,
                                  permissions=["geolocation"])
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Any, base_url: str, username: str, password: str) -> None:
    """Sign in through the login form with a tap, as on a phone."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.tap("button[type=submit]")
    # signed in once the form's answer has led away from the login page (waiting for the
    # network to be idle alone could end before the form was posted)
    page.wait_for_url(lambda url: "/login" not in url)
    page.wait_for_load_state("networkidle")

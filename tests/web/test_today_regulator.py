"""``/inspections/today`` for an account without an enterprise: the enterprises of its
jurisdiction with overdue tasks, worst first, each linking to its page and its
今日排查 (read-only).

World (the ``users`` accounts: regulator ``r`` and read-only ``v`` hold 测试县 539901,
``e`` is 测试化工有限公司's user); every task is daily and started ten days ago, so a
task without a record yesterday or today is overdue now:

* 甲厂 (539901): two tasks, no record → 2 overdue;
* 乙厂 (539901): one task recorded just now → not overdue (not listed);
* 丙厂 (539901): one task, no record → 1 overdue;
* 丁厂 (539902, the other county): one task, no record → 1 overdue, never shown to ``r``.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from helpers import PASSWORD, credit_code
from sqlalchemy import text

from geo_service.domain import Actor
from geo_service.queries.scope import ALL
from geo_service.services import inspections
from geo_service.web.dual import views

SYSTEM = Actor("测试导入")


def _plant(session, n: int, name: str, region: str, lng: float, tasks: int) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    eid = session.execute(text(
        "INSERT INTO enterprise (credit_code, name, industry_code, region_code, geom) VALUES"
        " (:c, :n, 'hazchem', :r, ST_SetSRID(ST_MakePoint(:x, 20.5), 4326)) RETURNING id"),
        {"c": credit_code(n, region), "n": name, "r": region, "x": lng}).scalar_one()
    rp = session.execute(text("INSERT INTO risk_point (enterprise_id, name, grade) VALUES (:e, '罐区', 2) RETURNING id"),
                         {"e": eid}).scalar_one()
    event = inspections.create_event(session, rp, {"name": "泄漏", "accident_type": "中毒和窒息", "grade": 2},
                                     SYSTEM, scope=ALL)
    measure = inspections.create_measure(session, event.id, {"description": "报警器完好", "kind": "工程技术",
                                                             "level": "班组"}, SYSTEM, scope=ALL)
    starts = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    ids = [inspections.create_task(session, measure.id, {"content": f"{name}巡检{i}", "cycle_n": 1,
                                                         "cycle_unit": "天", "starts_on": starts},
                                   SYSTEM, scope=ALL).id for i in range(1, tasks + 1)]
    return eid, ids


@pytest.fixture
def world(session, users):  # type: ignore[no-untyped-def]
    session.execute(text("INSERT INTO region (code, name, level, geom) VALUES ('539902', '乙县', 'county',"
                         " ST_Multi(ST_MakeEnvelope(101, 20, 102, 21, 4326)))"))
    jia, _ = _plant(session, 11, "甲厂", "539901", 100.2, 2)
    yi, (t_yi,) = _plant(session, 12, "乙厂", "539901", 100.3, 1)
    bing, _ = _plant(session, 13, "丙厂", "539901", 100.4, 1)
    ding, _ = _plant(session, 14, "丁厂", "539902", 101.5, 1)
    inspections.record_inspection(session, t_yi, "正常", SYSTEM, scope=ALL)
    session.commit()
    return {"甲厂": jia, "乙厂": yi, "丙厂": bing, "丁厂": ding}


def _login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302


def _listed(html: str) -> list[tuple[int, str, int]]:
    """(enterprise id, name, overdue tasks) of each row, in order."""
    return [(int(eid), name, int(overdue)) for eid, name, overdue in re.findall(
        r'<tr data-enterprise="(\d+)">\s*<td data-label="企业"><a href="/enterprises/\d+">([^<]+)</a></td>'
        r'\s*<td data-label="地区">\d*</td><td data-label="排查任务">\d+</td>'
        r'\s*<td data-label="当前逾期任务">(\d+)</td>', html)]


def test_a_county_regulator_sees_its_own_enterprises_with_overdue_tasks(secure_app, client, world):  # type: ignore[no-untyped-def]
    _login(client, "r")
    resp = client.get("/inspections/today")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert _listed(html) == [(world["甲厂"], "甲厂", 2), (world["丙厂"], "丙厂", 1)]
    assert "丁厂" not in html and "乙厂" not in html
    assert "共 2 家企业有逾期任务，逾期任务 3 项" in re.sub(r"\s+", " ", html)
    # each row links to the enterprise's 今日排查, which the regulator reads without record buttons
    assert f'href="/inspections/today?enterprise={world["甲厂"]}"' in html
    page = client.get(f"/inspections/today?enterprise={world['甲厂']}").get_data(as_text=True)
    assert "甲厂巡检1" in page and "甲厂巡检2" in page and "已逾期" in page
    assert "record-form" not in page and "正常</button>" not in page
    # the other county's enterprise is out of reach, listed or not
    assert client.get(f"/inspections/today?enterprise={world['丁厂']}").status_code == 404
    assert _listed(client.get("/inspections/today?region=539902").get_data(as_text=True)) == []


def test_the_list_is_capped_like_the_overview(secure_app, client, world, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(views, "LIST_LIMIT", 1)
    _login(client, "a")  # the administrator: every county
    html = client.get("/inspections/today").get_data(as_text=True)
    assert _listed(html) == [(world["甲厂"], "甲厂", 2)]
    assert "仅列出前 1 家（共 3 家）" in html
    full = _listed(client.get("/inspections/today?all=1").get_data(as_text=True))
    # the worst first; 丙厂 and 丁厂 tie at one overdue task each
    assert full[0] == (world["甲厂"], "甲厂", 2)
    assert sorted(full[1:]) == sorted([(world["丙厂"], "丙厂", 1), (world["丁厂"], "丁厂", 1)])


def test_an_enterprise_user_still_gets_his_own_tasks(secure_app, client, world):  # type: ignore[no-untyped-def]
    _login(client, "e")
    page = client.get("/inspections/today").get_data(as_text=True)
    assert "测试化工有限公司" in page and "甲厂" not in page and "有逾期任务的企业" not in page

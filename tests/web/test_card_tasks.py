"""A 风险告知卡's QR code → the unit's inspection tasks, for the enterprise's own user only.

World: ``test_cards._world`` over ``tests/services/test_zones.py``'s plants — 测试化工1厂
with 液氯储罐 (较大, in the zone 罐区), 输送泵 (一般, in no zone) and 氯气压缩机 (重大, in no
zone); 测试化工2厂 next door.  Here each of 1厂's three units gets one daily task that
started three days ago (so each is due today): 巡检液氯储罐, 巡检输送泵, 检查压缩机.
Accounts: 1厂's user ``e1``, 2厂's user ``e2``, the county regulator ``r``.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from helpers import PASSWORD
from services.test_zones import plant, square  # noqa: F401  (the fixture)
from sqlalchemy import text
from web.test_cards import _qr_codes, _world

from geo_service.domain import Actor
from geo_service.queries.scope import ALL
from geo_service.services import accounts, inspections

SYSTEM = Actor("测试导入")


def _task(session, unit: int, content: str) -> int:  # type: ignore[no-untyped-def]
    event = inspections.create_event(session, unit, {"name": f"{content}事件", "accident_type": "中毒和窒息",
                                                     "grade": 2}, SYSTEM, scope=ALL)
    measure = inspections.create_measure(session, event.id, {"description": f"{content}措施", "kind": "工程技术",
                                                             "level": "岗位"}, SYSTEM, scope=ALL)
    starts = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    return inspections.create_task(session, measure.id, {"content": content, "cycle_n": 1, "cycle_unit": "天",
                                                         "resp_post": "操作工", "starts_on": starts},
                                   SYSTEM, scope=ALL).id


@pytest.fixture
def card_world(app, session, plant):  # type: ignore[no-untyped-def]  # noqa: F811
    _world(session, plant)
    compressor = session.execute(text("SELECT id FROM risk_point WHERE name = '氯气压缩机'")).scalar_one()
    zone = session.execute(text("SELECT id FROM risk_zone")).scalar_one()
    tasks = {"tank": _task(session, plant["tank"], "巡检液氯储罐"), "pump": _task(session, plant["pump"], "巡检输送泵"),
             "compressor": _task(session, compressor, "检查压缩机")}
    accounts.create_user(session, "e1", PASSWORD, "enterprise", enterprise_id=plant["chem"])
    accounts.create_user(session, "e2", PASSWORD, "enterprise", enterprise_id=plant["other"])
    accounts.create_user(session, "r", PASSWORD, "regulator", region_code="990101")
    session.commit()
    pdf = app.test_client().get(f"/enterprises/{plant['chem']}/cards.pdf").data
    urls = [urlsplit(_qr_codes(pdf, page)[0]) for page in (0, 1)]
    app.config["LOGIN_REQUIRED"] = True
    return {"zone": zone, "compressor": compressor, "tasks": tasks, "urls": urls}


def _login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302


def _flat(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_each_card_s_qr_code_names_its_own_unit(card_world):  # type: ignore[no-untyped-def]
    zone_card, point_card = card_world["urls"]
    assert zone_card.path == point_card.path and zone_card.path.startswith("/notice/")
    assert zone_card.query == f"zone={card_world['zone']}"
    assert point_card.query == f"unit={card_world['compressor']}"


def test_the_enterprise_s_user_records_the_unit_s_task_from_the_card(client, session, card_world):  # type: ignore[no-untyped-def]
    zone_card, point_card = card_world["urls"]
    _login(client, "e1")
    html = client.get(f"{zone_card.path}?{zone_card.query}").get_data(as_text=True)
    page = _flat(html)
    # the public notice, then the zone's tasks: only 液氯储罐's (输送泵 and 压缩机 are in no zone)
    assert "安全风险公告" in page and "本单元排查任务 罐区" in page
    assert "巡检液氯储罐" in page and "巡检输送泵" not in page and "检查压缩机" not in page
    page = _flat(client.get(f"{point_card.path}?{point_card.query}").get_data(as_text=True))
    assert "本单元排查任务 氯气压缩机" in page and "检查压缩机" in page and "巡检液氯储罐" not in page

    # two taps: the QR code's page, then 正常
    task = card_world["tasks"]["tank"]
    form = re.search(rf'<form method="post" action="(/inspections/tasks/{task}/record)"(.*?)</form>', html, re.S)
    assert form and f'name="zone" value="{card_world["zone"]}"' in form.group(2)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.group(2)).group(1)
    resp = client.post(form.group(1), data={"result": "normal", "zone": str(card_world["zone"]),
                                            "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/inspections/today?zone={card_world['zone']}")
    assert session.execute(text("SELECT result FROM inspection_record WHERE task_id = :t"),
                           {"t": task}).scalars().all() == ["normal"]
    page = _flat(client.get(resp.headers["Location"]).get_data(as_text=True))
    assert "已记录：正常" in page and "本单元排查任务 风险区域 罐区" in page and "本周期已记录" in page


def test_anyone_else_gets_the_public_notice_alone(client, card_world):  # type: ignore[no-untyped-def]
    zone_card, point_card = card_world["urls"]
    plain = client.get(zone_card.path).get_data(as_text=True)
    # anonymous: the parameters change nothing, whether the unit exists or not
    for query in (zone_card.query, point_card.query, "unit=999999", "zone=abc"):
        assert client.get(f"{zone_card.path}?{query}").get_data(as_text=True) == plain
    assert "本单元排查任务" not in plain and "巡检液氯储罐" not in plain
    for user in ("e2", "r"):
        other = client.application.test_client()
        _login(other, user)
        mine = other.get(zone_card.path).get_data(as_text=True)
        assert "本单元排查任务" not in mine and "测试化工1厂" in mine
        for query in (zone_card.query, point_card.query, "unit=999999"):
            assert other.get(f"{zone_card.path}?{query}").get_data(as_text=True) == mine, (user, query)
        if user == "e2":
            # and another enterprise's user cannot open the unit's tasks directly
            assert other.get(f"/inspections/today?zone={card_world['zone']}").status_code == 404
            assert other.get(f"/inspections/today?unit={card_world['compressor']}").status_code == 404

"""A small hand-made register shared by the query, API, OGC and tile tests.

Geography (WGS84 degrees), chosen so each relation a test asserts is plain:

* province 530000 = box 102–105 E, 22–25 N; prefecture 532500 = box 103–104 E, 23–24 N,
  split at 103.5 E into county 532501 (west) and county 532502 (east).
* ``plant`` 红河化工 (hazchem, risk points 红 + 黄 → grade 1) at (103.25, 23.50), county 532501.
* ``school`` 实验小学 (crowded, one 蓝 point) at (103.257, 23.50): ~714 m east of the plant.
* ``market`` 农贸市场 (crowded, 黄) at (103.25, 23.512): ~1 330 m north of the plant.
* ``mill`` 钢铁厂 (trade.metallurgy, 橙) at (103.70, 23.60), county 532502, ~46 km away.
* ``shop`` 五金店 (trade.commerce, no risk point → ungraded) at (103.26, 23.49), county 532501.

Hazards (dates relative to ``TODAY`` = 2026-03-15):

* ``h_major_overdue``: plant, major, rectifying, deadline 2026-03-01 → overdue 14 days, 挂牌督办.
* ``h_general_open``: plant, general, registered, deadline 2026-04-01 → not overdue.
* ``h_closed``: mill, general, closed, verified 2026-02-20 → rectified.
* ``h_school``: school, general, registered, no deadline, own point (103.2571, 23.5001), found 2026-02-10.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from helpers import box, credit_code
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_service.models import Enterprise, Hazard, HazardEvent, Region, RiskPoint

TODAY = dt.date(2026, 3, 15)




@dataclass
class World:
    plant: Enterprise
    school: Enterprise
    market: Enterprise
    mill: Enterprise
    shop: Enterprise
    h_major_overdue: Hazard
    h_general_open: Hazard
    h_closed: Hazard
    h_school: Hazard

    POINTS = {
        "plant": (103.25, 23.50),
        "school": (103.257, 23.50),
        "market": (103.25, 23.512),
        "mill": (103.70, 23.60),
        "shop": (103.26, 23.49),
    }


def add_regions(session: Session) -> None:
    session.add_all([
        Region(code="530000", name="云南省", level="province", parent_code=None, geom=box(102, 22, 105, 25)),
    ])
    session.flush()
    session.add(Region(code="532500", name="红河州", level="prefecture", parent_code="530000",
                       geom=box(103, 23, 104, 24)))
    session.flush()
    session.add_all([
        Region(code="532501", name="个旧市", level="county", parent_code="532500", geom=box(103, 23, 103.5, 24)),
        Region(code="532502", name="开远市", level="county", parent_code="532500", geom=box(103.5, 23, 104, 24)),
    ])
    session.flush()


def build_world(session: Session) -> World:
    """Insert the regions, enterprises, risk points and hazards above (flushed, not committed)."""
    add_regions(session)
    pts = World.POINTS

    def ent(n: int, key: str, name: str, industry: str) -> Enterprise:
        lng, lat = pts[key]
        e = Enterprise(credit_code=credit_code(n), name=name, industry_code=industry,
                       geom=f"SRID=4326;POINT({lng} {lat})", address=f"{name}地址",
                       legal_rep="张三", contact_phone="0873-1234567")
        session.add(e)
        return e

    plant = ent(1, "plant", "红河化工有限公司", "hazchem")
    school = ent(2, "school", "实验小学", "crowded")
    market = ent(3, "market", "农贸市场", "crowded")
    mill = ent(4, "mill", "开远钢铁厂", "trade.metallurgy")
    shop = ent(5, "shop", "五金店", "trade.commerce")
    session.flush()
    session.add_all([
        RiskPoint(enterprise_id=plant.id, name="液氯储罐区", grade=1),
        RiskPoint(enterprise_id=plant.id, name="机修车间", grade=3),
        RiskPoint(enterprise_id=school.id, name="食堂", grade=4),
        RiskPoint(enterprise_id=market.id, name="燃气管线", grade=3),
        RiskPoint(enterprise_id=mill.id, name="高炉", grade=2),
    ])
    session.flush()

    def hazard(e: Enterprise, description: str, **kw: object) -> Hazard:
        h = Hazard(enterprise_id=e.id, description=description, **kw)
        session.add(h)
        return h

    five = dict(resp_person="李四", measures="更换阀门", funds_wan=12, emergency_plan="泄漏应急预案")
    h1 = hazard(plant, "液氯储罐压力表失效", level="major", source="supervised", supervision_doc_no="红安督〔2026〕1号",
                found_on=dt.date(2026, 1, 20), deadline=dt.date(2026, 3, 1), state="rectifying", **five)
    h2 = hazard(plant, "消防通道堵塞", level="general", source="self", found_on=dt.date(2026, 3, 5),
                deadline=dt.date(2026, 4, 1), state="registered")
    h3 = hazard(mill, "高炉平台护栏缺失", level="general", source="inspection", found_on=dt.date(2026, 2, 1),
                deadline=dt.date(2026, 2, 15), state="closed", rectified_on=dt.date(2026, 2, 14),
                verified_on=dt.date(2026, 2, 20), verifier="王五")
    h4 = hazard(school, "教学楼灭火器过期", level="general", source="report", found_on=dt.date(2026, 2, 10),
                state="registered", geom="SRID=4326;POINT(103.2571 23.5001)")
    session.flush()
    for h in (h1, h2, h3, h4):
        session.add(HazardEvent(hazard_id=h.id, actor="测试", from_state=None, to_state="registered"))
    session.flush()
    for e in (plant, school, market, mill, shop):
        session.refresh(e)
    return World(plant, school, market, mill, shop, h1, h2, h3, h4)


def region_of(session: Session, enterprise_id: int) -> str:
    return session.execute(text("SELECT region_code FROM enterprise WHERE id = :id"),
                           {"id": enterprise_id}).scalar_one()

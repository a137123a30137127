"""A small hand-made register for the map tests (test client and browser).

Geography (WGS84 degrees): prefecture 532500 红河州 = box 103–104 E, 23–24 N,
split into three counties by longitude:

* 532501 个旧市 103.0–103.3 E, 532502 开远市 103.3–103.6 E, 532503 蒙自市 103.6–104.0 E.

Enterprises (grade = highest risk point; weights 红4 橙3 黄2 蓝1) and hazards,
dates relative to ``today``:

====  =========  =======  ============  ==============================================
key   county     grade    point         hazards
====  =========  =======  ============  ==============================================
a     个旧 01    红 1     103.10 23.50  major rectifying, deadline today-10 (overdue);
                                          general registered, deadline today+20
b     个旧 01    橙 2     103.20 23.30  —
c     开远 02    黄 3     103.40 23.70  major closed (verified) — not open
d     开远 02    蓝 4     103.45 23.40  general registered, deadline today-3 (overdue)
e     开远 02    红 1     103.50 23.60  major registered, deadline today+30
g     开远 02    黄 3     103.35 23.20  —
f     蒙自 03    none     103.80 23.50  —
====  =========  =======  ============  ==============================================

:data:`EXPECTED` is written out from this table by hand, not by the code under test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from helpers import box, credit_code
from sqlalchemy.orm import Session

from geo_service.models import Enterprise, Hazard, HazardEvent, Region, RiskPoint

COUNTIES = {
    "532501": ("个旧市", 103.0, 103.3),
    "532502": ("开远市", 103.3, 103.6),
    "532503": ("蒙自市", 103.6, 104.0),
}

ENTERPRISES: dict[str, dict[str, Any]] = {
    "a": {"name": "红河化工有限公司", "county": "532501", "grade": 1, "lnglat": (103.10, 23.50),
          "industry": "hazchem"},
    "b": {"name": "个旧锡业冶炼厂", "county": "532501", "grade": 2, "lnglat": (103.20, 23.30),
          "industry": "trade.nonferrous"},
    "c": {"name": "开远建材厂", "county": "532502", "grade": 3, "lnglat": (103.40, 23.70),
          "industry": "trade.building_materials"},
    "d": {"name": "开远农贸市场", "county": "532502", "grade": 4, "lnglat": (103.45, 23.40),
          "industry": "crowded"},
    "e": {"name": "开远燃气公司", "county": "532502", "grade": 1, "lnglat": (103.50, 23.60),
          "industry": "gas"},
    "g": {"name": "开远机械厂", "county": "532502", "grade": 3, "lnglat": (103.35, 23.20),
          "industry": "trade.machinery"},
    "f": {"name": "蒙自五金店", "county": "532503", "grade": None, "lnglat": (103.80, 23.50),
          "industry": "trade.commerce"},
}

# By county, counted by hand from the table in the module docstring.
EXPECTED = {
    "532501": {"weighted_risk": 4 + 3, "major_risk_enterprises": 1, "open_major_hazards": 1,
               "overdue_hazards": 1, "enterprises": 2},
    "532502": {"weighted_risk": 2 + 1 + 4 + 2, "major_risk_enterprises": 1, "open_major_hazards": 1,
               "overdue_hazards": 1, "enterprises": 4},
    "532503": {"weighted_risk": 0, "major_risk_enterprises": 0, "open_major_hazards": 0,
               "overdue_hazards": 0, "enterprises": 1},
}

FIVE = dict(resp_person="李四", measures="更换阀门", funds_wan=12, emergency_plan="泄漏应急预案")




@dataclass
class MapWorld:
    today: dt.date
    ids: dict[str, int] = field(default_factory=dict)
    hazard_ids: dict[str, int] = field(default_factory=dict)


def build(session: Session, today: dt.date | None = None) -> MapWorld:
    """Insert the regions, enterprises, risk points and hazards above (flushed, not committed)."""
    today = today or dt.date.today()
    world = MapWorld(today)
    session.add(Region(code="530000", name="云南省", level="province", parent_code=None, geom=box(102, 22, 105, 25)))
    session.flush()
    session.add(Region(code="532500", name="红河州", level="prefecture", parent_code="530000",
                       geom=box(103, 23, 104, 24)))
    session.flush()
    for code, (name, west, east) in COUNTIES.items():
        session.add(Region(code=code, name=name, level="county", parent_code="532500",
                           geom=box(west, 23, east, 24)))
    session.flush()

    for n, (key, spec) in enumerate(ENTERPRISES.items(), start=1):
        lng, lat = spec["lnglat"]
        e = Enterprise(credit_code=credit_code(n), name=spec["name"], industry_code=spec["industry"],
                       region_code=spec["county"], geom=f"SRID=4326;POINT({lng} {lat})",
                       address=f"{COUNTIES[spec['county']][0]}{spec['name']}路1号",
                       legal_rep="张三", contact_phone="0873-1234567")
        session.add(e)
        session.flush()
        world.ids[key] = e.id
        if spec["grade"] is not None:
            session.add(RiskPoint(enterprise_id=e.id, name=f"{spec['name']}主要风险点", grade=spec["grade"],
                                  accident_type="火灾"))
    session.flush()

    def hazard(key: str, label: str, description: str, **kw: Any) -> None:
        h = Hazard(enterprise_id=world.ids[key], description=description, found_on=today - dt.timedelta(days=40),
                   **kw)
        session.add(h)
        session.flush()
        session.add(HazardEvent(hazard_id=h.id, actor="测试", from_state=None, to_state="registered"))
        world.hazard_ids[label] = h.id

    day = dt.timedelta(days=1)
    hazard("a", "a_major", "液氯储罐压力表失效", level="major", source="inspection", state="rectifying",
           deadline=today - 10 * day, **FIVE)
    hazard("a", "a_general", "消防通道堵塞", level="general", source="self", state="registered",
           deadline=today + 20 * day)
    hazard("c", "c_closed", "粉尘除尘系统失效", level="major", source="inspection", state="closed",
           deadline=today - 20 * day, rectified_on=today - 25 * day, verified_on=today - 22 * day,
           verifier="王五", **FIVE)
    hazard("d", "d_general", "灭火器过期", level="general", source="report", state="registered",
           deadline=today - 3 * day)
    hazard("e", "e_major", "燃气管道腐蚀", level="major", source="self", state="registered",
           deadline=today + 30 * day)
    session.flush()
    return world

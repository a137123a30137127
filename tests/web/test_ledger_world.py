"""A small hand-made register for the ledger tests (pages, exports, browser).

Geography (WGS84 degrees): prefecture 532500 红河州 = box 103.0–103.6 E,
23.0–24.0 N, split at 103.3 E into county 532501 个旧市 (west) and county
532502 开远市 (east).

Enterprises:

* ``chem`` 甲化工有限公司 (危险化学品) at (103.10, 23.30), 532501; risk points
  液氯储罐区 红, 装卸区 橙, 办公区 蓝 → grade 红.
* ``works`` 乙机械厂 (工贸/机械) at (103.105, 23.303), 532501, about 620 m from
  ``chem`` (inside the 1 000 m surroundings); risk point 冲压车间 黄.
* ``mine`` 丙煤矿 (煤矿) at (103.40, 23.70), 532502, ~50 km away; no risk point.

Hazards, dates relative to ``today`` (the table the tests' expectations are
counted from, by hand-written predicates — not by the code under test):

====  =====  =======  ==========  =========  ==========  ==========  =========================
key   ent    level    source      found      deadline    state       note
====  =====  =======  ==========  =========  ==========  ==========  =========================
h1    chem   major    inspection  today-40   today-5     rectifying  overdue 5 days
h2    chem   general  self        today-10   today+3     registered  due soon
h3    chem   major    supervised  today-100  today-30    closed      verified today-32
h4    works  general  inspection  today-20   today+30    rectifying  —
h5    works  general  report      today-15   today-2     rectified   clock stopped: not overdue
h6    mine   general  inspection  today-60   today-1     registered  overdue 1 day
h7    mine   major    self        today-5    today+7     registered  due soon (last day)
h8    mine   general  inspection  today-3    today+8     registered  outside the 7-day window
====  =====  =======  ==========  =========  ==========  ==========  =========================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from helpers import box, credit_code
from sqlalchemy.orm import Session

from geo_service.models import Enterprise, Hazard, HazardEvent, Region, RiskPoint


def point(lng: float, lat: float) -> str:
    return f"SRID=4326;POINT({lng} {lat})"


ENTERPRISES: dict[str, dict[str, Any]] = {
    "chem": dict(name="甲化工有限公司", industry_code="hazchem", region_code="532501", lng=103.10, lat=23.30,
                 address="云南省红河州个旧市大屯镇化工园区1号", legal_rep="张三", contact_phone="0873-1234567",
                 complaint_phone="0873-12350", supervising_dept="个旧市应急管理局"),
    "works": dict(name="乙机械厂", industry_code="trade.machinery", region_code="532501", lng=103.105,
                  lat=23.303, address="个旧市大屯镇工业路8号", legal_rep="李四", contact_phone="0873-7654321",
                  complaint_phone=None, supervising_dept="个旧市工信局"),
    "mine": dict(name="丙煤矿", industry_code="coal", region_code="532502", lng=103.40, lat=23.70,
                 address="开远市小龙潭", legal_rep="赵六", contact_phone="0873-1111111",
                 complaint_phone=None, supervising_dept="开远市应急管理局"),
}

RISK_POINTS: list[dict[str, Any]] = [
    dict(ent="chem", name="液氯储罐区", location_desc="罐区东侧", accident_type="中毒和窒息", grade=1,
         method="LEC", score=Decimal("720"), responsible_person="王工"),
    dict(ent="chem", name="装卸区", location_desc="北门", accident_type="车辆伤害", grade=2,
         method="LEC", score=Decimal("180"), responsible_person="陈工"),
    dict(ent="chem", name="办公区", location_desc="综合楼", accident_type="火灾", grade=4,
         method="LEC", score=Decimal("18"), responsible_person="周工"),
    dict(ent="works", name="冲压车间", location_desc="一号车间", accident_type="机械伤害", grade=3,
         method="LS", score=Decimal("6"), responsible_person="吴工"),
]

FIVE = dict(resp_person="王工", measures="加装有毒气体报警仪并与紧急切断阀联锁", funds_wan=Decimal("12.50"),
            emergency_plan="液氯泄漏专项应急预案")

# key: (enterprise, level, source, found offset, deadline offset, state, extra columns)
HAZARDS: dict[str, tuple[str, str, str, int, int, str, dict[str, Any]]] = {
    "h1": ("chem", "major", "inspection", -40, -5, "rectifying",
           dict(description="液氯储罐区未设置泄漏报警装置", category="设备设施", criterion="hazchem",
                found_by="市应急局检查组", **FIVE)),
    "h2": ("chem", "general", "self", -10, 3, "registered",
           dict(description="配电室门口堆放杂物", found_by="企业安全员")),
    "h3": ("chem", "major", "supervised", -100, -30, "closed",
           dict(description="反应釜未设置自动化控制系统", criterion="hazchem", supervision_doc_no="红安办督〔2026〕1号",
                rectified=-35, verified=-32, verifier="市应急局验收组", **FIVE)),
    "h4": ("works", "general", "inspection", -20, 30, "rectifying",
           dict(description="冲床防护罩缺失", found_by="县工信局", resp_person="吴工", measures="加装防护罩")),
    "h5": ("works", "general", "report", -15, -2, "rectified",
           dict(description="车间消防通道被占用", rectified=-3, resp_person="吴工")),
    "h6": ("mine", "general", "inspection", -60, -1, "registered",
           dict(description="井下局部通风机未挂牌管理", found_by="县应急局")),
    "h7": ("mine", "major", "self", -5, 7, "registered",
           dict(description="主要通风机未安装备用电源", criterion="coal")),
    "h8": ("mine", "general", "inspection", -3, 8, "registered",
           dict(description="调度室值班记录不全", found_by="县应急局")),
}


@dataclass
class LedgerWorld:
    today: dt.date
    enterprises: dict[str, Enterprise]
    hazards: dict[str, Hazard]

    def hazard_facts(self) -> list[dict[str, Any]]:
        """The fixture table as plain dicts, for hand-written expected counts."""
        out = []
        for key, (ent, level, source, found, deadline, state, extra) in HAZARDS.items():
            out.append(dict(key=key, id=self.hazards[key].id, ent=ent, level=level, source=source,
                            found_on=self.today + dt.timedelta(days=found),
                            deadline=self.today + dt.timedelta(days=deadline), state=state,
                            region=ENTERPRISES[ent]["region_code"],
                            industry=ENTERPRISES[ent]["industry_code"],
                            enterprise=ENTERPRISES[ent]["name"], description=extra["description"]))
        return out


def build(session: Session, today: dt.date | None = None) -> LedgerWorld:
    """Insert the regions, enterprises, risk points and hazards (with their events); flush only."""
    today = today or dt.date.today()
    session.add(Region(code="532500", name="红河州", level="prefecture", geom=box(103.0, 23.0, 103.6, 24.0)))
    session.flush()
    session.add_all([
        Region(code="532501", name="个旧市", level="county", parent_code="532500",
               geom=box(103.0, 23.0, 103.3, 24.0)),
        Region(code="532502", name="开远市", level="county", parent_code="532500",
               geom=box(103.3, 23.0, 103.6, 24.0)),
    ])
    session.flush()
    enterprises: dict[str, Enterprise] = {}
    for i, (key, spec) in enumerate(ENTERPRISES.items(), start=1):
        spec = dict(spec)
        lng, lat = spec.pop("lng"), spec.pop("lat")
        ent = Enterprise(credit_code=credit_code(100 + i, spec["region_code"]), geom=point(lng, lat), **spec)
        session.add(ent)
        enterprises[key] = ent
    session.flush()
    for rp in RISK_POINTS:
        spec = dict(rp)
        session.add(RiskPoint(enterprise_id=enterprises[spec.pop("ent")].id, **spec))
    session.flush()
    hazards: dict[str, Hazard] = {}
    for key, (ent, level, source, found, deadline, state, extra) in HAZARDS.items():
        extra = dict(extra)
        rectified = extra.pop("rectified", None)
        verified = extra.pop("verified", None)
        hz = Hazard(enterprise_id=enterprises[ent].id, level=level, source=source,
                    found_on=today + dt.timedelta(days=found), deadline=today + dt.timedelta(days=deadline),
                    state=state,
                    rectified_on=today + dt.timedelta(days=rectified) if rectified is not None else None,
                    verified_on=today + dt.timedelta(days=verified) if verified is not None else None,
                    **extra)
        session.add(hz)
        hazards[key] = hz
    session.flush()
    path = ["registered", "rectifying", "rectified", "closed"]
    for hz in hazards.values():
        previous = None
        for step in path[: path.index(hz.state) + 1]:
            session.add(HazardEvent(hazard_id=hz.id, actor="测试员", from_state=previous, to_state=step,
                                    note="登记" if previous is None else None))
            previous = step
    session.flush()
    for ent in enterprises.values():
        session.refresh(ent)
    return LedgerWorld(today, enterprises, hazards)

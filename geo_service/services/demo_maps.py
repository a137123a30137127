"""Demo 四色图: about 30 demo enterprises get a generated plant layout and risk zones.

For each chosen enterprise (a deterministic draw from the demo seed among the
enterprises with risk points) :func:`plan` makes a 厂区平面图 with Pillow — the
fence, the roads, the gate, six buildings named for the industry (罐区 and 合成
车间 for a chemical plant, 回转窑 for a cement works …) and a north arrow —
and a zone around each building.  The four riskiest buildings are the zones
of grade 红, 橙, 黄 and 蓝: the enterprise's risk points of a grade go into
that zone (its grade then follows them), and a zone no risk point lands in
gets the grade as an explicit one.  The image (240 m × 160 m on the ground)
is centred on the enterprise's point and stored like any uploaded layout.

The maps belong to the register's past: only enterprises whose risk points
were all recorded before this month are drawn, each one 7–27 days after its
last risk point (and before this month), and its layout, zones and the zones'
grade events carry that date, so last month's return counts the drawn maps
(form 000 item 14) and its maps show the zones.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.orm import Session

from ..models import Enterprise, EnterpriseLayout, RiskPoint, RiskZone
from ..queries.dual_prevention import CST
from .demo import date_grade_events, grade_event_mark
from .evidence import store_content

__all__ = ["DEMO_MAPS", "ZoneSpec", "plan", "draw_demo_maps"]

DEMO_MAPS = 30
WIDTH_PX, HEIGHT_PX = 1200, 800
WIDTH_M, HEIGHT_M = 240.0, 160.0
_M_PER_DEG = 111_319.49
# The buildings of a plant by industry, the riskiest first (the first four become 红, 橙, 黄, 蓝).
_BUILDINGS: dict[str, tuple[str, ...]] = {
    "hazchem": ("液氯罐区", "合成车间", "危化品仓库", "装卸站台", "循环水站", "办公楼"),
    "mine": ("炸药库", "主井口", "选矿车间", "提升机房", "尾矿库", "办公楼"),
    "coal": ("瓦斯抽放站", "主斜井", "煤仓", "提升机房", "机修车间", "办公楼"),
    "trade.nonferrous": ("煤气柜", "熔炼车间", "电解车间", "原料库", "配电房", "办公楼"),
    "trade.metallurgy": ("煤气柜", "炼钢车间", "轧钢车间", "原料场", "配电房", "办公楼"),
    "trade.building_materials": ("煤粉制备", "回转窑", "粉磨车间", "原料堆场", "配电房", "办公楼"),
    "fireworks": ("药物混合工房", "装药工房", "成品库", "原料库", "晾晒场", "办公楼"),
    "gas": ("储气罐区", "充装间", "钢瓶库", "调压站", "配电房", "办公楼"),
}
_DEFAULT_BUILDINGS = ("锅炉房", "生产车间", "仓库", "配电房", "原料库", "办公楼")
# Six cells (x0, y0, x1, y1 in pixels) between the roads.
_CELLS = ((70, 90, 370, 370), (450, 90, 750, 370), (840, 90, 1130, 370),
          (70, 430, 370, 720), (450, 430, 750, 720), (840, 430, 1130, 720))


@dataclass(frozen=True)
class ZoneSpec:
    """A zone of a demo plan: its name, grade (1–4) and rectangle in image pixels."""

    name: str
    grade: int
    rect: tuple[int, int, int, int]


def _font(size: int) -> Any:
    from matplotlib import font_manager

    from .maprender import cjk_font

    return ImageFont.truetype(font_manager.findfont(cjk_font()), size)


def plan(rng: random.Random, industry: str, title: str) -> tuple[bytes, list[ZoneSpec]]:
    """A generated plant layout (PNG bytes) and its zones; deterministic for the ``rng`` state."""
    names = _BUILDINGS.get(industry) or _BUILDINGS.get(industry.split(".")[0]) or _DEFAULT_BUILDINGS
    img = Image.new("RGB", (WIDTH_PX, HEIGHT_PX), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((30, 50, WIDTH_PX - 30, HEIGHT_PX - 30), outline=(90, 90, 90), width=5)  # fence
    d.rectangle((30, 385, WIDTH_PX - 30, 415), fill=(215, 215, 215))  # main road
    for x in (395, 780):
        d.rectangle((x, 50, x + 30, HEIGHT_PX - 30), fill=(215, 215, 215))
    d.rectangle((560, HEIGHT_PX - 36, 640, HEIGHT_PX - 24), fill="white")  # gate in the fence
    small, big = _font(22), _font(28)
    d.text((600, HEIGHT_PX - 12), "大门", font=small, fill=(60, 60, 60), anchor="ms")
    d.text((WIDTH_PX // 2, 36), f"{title}厂区平面图", font=big, fill="black", anchor="ms")
    d.polygon(((WIDTH_PX - 60, 70), (WIDTH_PX - 72, 110), (WIDTH_PX - 48, 110)), fill="black")
    d.text((WIDTH_PX - 60, 135), "北", font=small, fill="black", anchor="ms")
    zones = []
    for i, (name, cell) in enumerate(zip(names, _CELLS, strict=True)):
        x0, y0, x1, y1 = cell
        bx0, by0 = x0 + rng.randint(10, 40), y0 + rng.randint(10, 40)
        bx1, by1 = x1 - rng.randint(10, 40), y1 - rng.randint(10, 40)
        if "罐" in name or "柜" in name:  # tanks: circles in a bund
            d.rectangle((bx0, by0, bx1, by1), outline=(120, 120, 120), width=3)
            r = min(bx1 - bx0, by1 - by0) // 5
            for cx in (bx0 + (bx1 - bx0) // 3, bx0 + 2 * (bx1 - bx0) // 3):
                cy = (by0 + by1) // 2
                d.ellipse((cx - r, cy - r, cx + r, cy + r), outline="black", width=4)
        else:
            d.rectangle((bx0, by0, bx1, by1), outline="black", width=4, fill=(245, 245, 245))
            for hx in range(bx0 + 20, bx1, 40):  # roof lines
                d.line((hx, by0 + 4, hx, by1 - 4), fill=(200, 200, 200), width=1)
        d.text(((bx0 + bx1) // 2, by0 - 6 if by0 > 70 else by1 + 28), name, font=small, fill="black", anchor="ms")
        grade = i + 1 if i < 4 else 4
        zones.append(ZoneSpec(name, grade, (bx0 - 8, by0 - 8, bx1 + 8, by1 + 8)))
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue(), zones


def _corners(lng: float, lat: float) -> list[dict[str, Any]]:
    """Three control points (TL, TR, BL) placing the image centred on (lng, lat), north up."""
    hw = WIDTH_M / 2 / (_M_PER_DEG * math.cos(math.radians(lat)))
    hh = HEIGHT_M / 2 / _M_PER_DEG
    return [{"px": [0, 0], "lnglat": [lng - hw, lat + hh]},
            {"px": [WIDTH_PX, 0], "lnglat": [lng + hw, lat + hh]},
            {"px": [0, HEIGHT_PX], "lnglat": [lng - hw, lat - hh]}]


def _to_lnglat(cps: Sequence[Mapping[str, Any]], x: float, y: float) -> tuple[float, float]:
    (l0, t0), (l1, _), (_, b0) = cps[0]["lnglat"], cps[1]["lnglat"], cps[2]["lnglat"]
    return l0 + (l1 - l0) * x / WIDTH_PX, t0 + (b0 - t0) * y / HEIGHT_PX


def _ring_ewkt(cps: Sequence[Mapping[str, Any]], rect: tuple[float, float, float, float], multi: bool) -> str:
    x0, y0, x1, y1 = rect
    pts = [_to_lnglat(cps, x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
    ring = ",".join(f"{lng!r} {lat!r}" for lng, lat in pts)
    return f"SRID=4326;MULTIPOLYGON((({ring})))" if multi else f"SRID=4326;POLYGON(({ring}))"


def draw_demo_maps(session: Session, enterprise_ids: Sequence[int], *, upload_dir: Path, seed: int,
                   n: int = DEMO_MAPS, today: dt.date | None = None) -> int:
    """Give ``n`` of ``enterprise_ids`` (those with risk points all recorded before ``today``'s
    month, drawn from ``seed``) a layout and zones, dated in the past; returns how many got
    one.  The caller commits."""
    if not enterprise_ids:
        return 0
    month_start = dt.datetime.combine((today or dt.date.today()).replace(day=1), dt.time(0), tzinfo=CST)
    last_point = (sa.select(sa.func.max(RiskPoint.created_at)).where(RiskPoint.enterprise_id == Enterprise.id)
                  .scalar_subquery())
    rows = session.execute(
        sa.select(Enterprise.id, Enterprise.name, Enterprise.industry_code, sa.func.ST_X(Enterprise.geom),
                  sa.func.ST_Y(Enterprise.geom), last_point.label("last_point"))
        .where(Enterprise.id.in_(list(enterprise_ids)),
               sa.exists().where(RiskPoint.enterprise_id == Enterprise.id),
               ~sa.exists().where(RiskPoint.enterprise_id == Enterprise.id, RiskPoint.created_at >= month_start),
               ~sa.exists().where(RiskZone.enterprise_id == Enterprise.id))
        .order_by(Enterprise.credit_code)
    ).all()
    rng = random.Random(seed * 31 + 14)
    # the industries with a plant of their own first, so the demo shows tank farms, kilns and mines
    special = [r for r in rows if r.industry_code in _BUILDINGS or r.industry_code.split(".")[0] in _BUILDINGS]
    chosen = rng.sample(special, min(len(special), n * 2 // 3))
    others = [r for r in rows if r not in chosen]
    chosen += rng.sample(others, min(len(others), n - len(chosen)))
    for ent_id, name, industry, lng, lat, last in chosen:
        drawn_at = min(last + dt.timedelta(days=7 + ent_id % 21), month_start - dt.timedelta(hours=9))
        mark = grade_event_mark(session)
        png, specs = plan(rng, industry, name)
        digest = store_content(upload_dir, png)
        cps = _corners(lng, lat)
        session.add(EnterpriseLayout(
            enterprise_id=ent_id, filename=f"{name}厂区平面图.png", source_type="image/png",
            content_type="image/png", size_bytes=len(png), sha256=digest, stored_path=str(Path(digest[:2]) / digest),
            width_px=WIDTH_PX, height_px=HEIGHT_PX, georef_method="points3", control_points=cps,
            footprint=sa.func.ST_GeomFromEWKT(_ring_ewkt(cps, (0, 0, WIDTH_PX, HEIGHT_PX), False)),
            uploaded_by="演示数据", created_at=drawn_at, updated_at=drawn_at))
        points = session.execute(sa.select(RiskPoint.id, RiskPoint.grade)
                                 .where(RiskPoint.enterprise_id == ent_id).order_by(RiskPoint.id)).all()
        for i, spec in enumerate(specs):
            # the four graded zones take the enterprise's risk points of their grade
            mine = [p.id for p in points if p.grade == spec.grade] if i < 4 else []
            zone_id = session.execute(
                sa.insert(RiskZone).values(
                    enterprise_id=ent_id, name=spec.name, geom=sa.func.ST_GeomFromEWKT(_ring_ewkt(cps, spec.rect, True)),
                    grade_override=None if mine else spec.grade, created_at=drawn_at, updated_at=drawn_at)
                .returning(RiskZone.id)).scalar_one()
            if mine:
                session.execute(sa.update(RiskPoint).where(RiskPoint.id.in_(mine)).values(zone_id=zone_id)
                                .execution_options(synchronize_session=False))
        date_grade_events(session, mark, drawn_at)
    session.flush()
    return len(chosen)

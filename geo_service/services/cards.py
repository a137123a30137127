"""风险告知卡: a printable card for each risk zone or risk point of 较大 and above.

A card (A4 or A5, portrait) carries the name under a band in the grade's
colour, the risk points, the likely accident types, the control measures,
the emergency handling, the responsible person, the 举报电话 (the
enterprise's complaint phone and the ``SAFETY_HOTLINE``) and a QR code (made
with ``segno``) that opens the enterprise's public risk notice, naming the card's unit (:func:`unit_url`): the
enterprise's own signed-in user finds that unit's inspection tasks there.  The notice's
address carries a token signed with the application's secret
(:func:`notice_token`), so the public pages cannot be enumerated by id.

Rendered by WeasyPrint with the system's Noto CJK fonts, like 附件6.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import segno
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from ..domain import GRADE_BY_VALUE
from ..errors import InvalidParameter, NotFound
from ..queries import zones as zq
from ..queries.scope import Scope
from .register import load_enterprise, load_risk_point
from .zones import load_zone

__all__ = ["Card", "PAPERS", "CARD_MAX_GRADE", "notice_token", "notice_enterprise_id", "unit_url", "enterprise_cards",
           "zone_card", "risk_point_card", "cards_html", "cards_pdf"]

PAPERS = ("A4", "A5")
# Cards are made for grades up to this one (1 重大, 2 较大).
CARD_MAX_GRADE = 2
_SALT = "risk-notice"


def notice_token(secret: str, enterprise_id: int) -> str:
    """The signed token naming an enterprise in its public notice's address.

    >>> t = notice_token("s3cret", 42)
    >>> notice_enterprise_id("s3cret", t), notice_enterprise_id("other", t), notice_enterprise_id("s3cret", "42")
    (42, None, None)
    """
    return URLSafeSerializer(secret, salt=_SALT).dumps(int(enterprise_id))


def notice_enterprise_id(secret: str, token: str) -> int | None:
    """The enterprise a notice token names, or None when it is not one of ours."""
    try:
        value = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


@dataclass
class Card:
    """What one 风险告知卡 says."""

    kind: str  # zone | risk_point
    name: str
    grade: int
    enterprise_name: str
    risk_points: list[str] = field(default_factory=list)
    accident_types: str = ""
    control_measures: str = ""
    emergency_measures: str = ""
    responsible_person: str = ""
    phones: list[str] = field(default_factory=list)
    notice_url: str = ""


def _join(values: Sequence[str | None], sep: str = "、") -> str:
    """The distinct non-blank values joined; with ``、`` each value is split on list commas first.

    >>> _join(["火灾、爆炸", "中毒，爆炸", None]), _join(["穿戴防护", "穿戴防护"], "；")
    ('火灾、爆炸、中毒', '穿戴防护')
    """
    out: list[str] = []
    for v in values:
        parts = re.split(r"[、，,]", v or "") if sep == "、" else [v or ""]
        for part in (p.strip() for p in parts):
            if part and part not in out:
                out.append(part)
    return sep.join(out)


def _phones(ent: Any, hotline: str) -> list[str]:
    phones = []
    if ent.complaint_phone:
        phones.append(f"企业举报电话：{ent.complaint_phone}")
    if hotline:
        phones.append(f"安全生产举报投诉电话：{hotline}")
    return phones


def unit_url(url: str, kind: str, key: int) -> str:
    """The notice address ``url`` naming the card's own unit: ``?zone=`` for a zone's card,
    ``?unit=`` for a risk point's.  The public notice is the same for everyone; the
    enterprise's own signed-in user also finds that unit's inspection tasks there.

    >>> unit_url("https://x/notice/t", "zone", 7), unit_url("", "risk_point", 3)
    ('https://x/notice/t?zone=7', '')
    """
    if not url:
        return url
    return f"{url}{'&' if '?' in url else '?'}{'zone' if kind == 'zone' else 'unit'}={int(key)}"


def _zone_card(ent: Any, zone: Mapping[str, Any], points: Sequence[Mapping[str, Any]], hotline: str,
               url: str) -> Card:
    own = [p for p in points if p["zone_id"] == zone["id"]]
    return Card(
        kind="zone", name=zone["name"] + (f"（{zone['floor']}）" if zone.get("floor") else ""), grade=zone["grade"],
        enterprise_name=ent.name, risk_points=[p["name"] for p in own],
        accident_types=_join([zone.get("accident_types")] + [p["accident_type"] for p in own]),
        control_measures=_join([zone.get("control_measures")] + [p["control_measures"] for p in own], "\n"),
        emergency_measures=zone.get("emergency_measures") or "",
        responsible_person=zone.get("responsible_person") or _join([p["responsible_person"] for p in own]),
        phones=_phones(ent, hotline), notice_url=unit_url(url, "zone", zone["id"]),
    )


def _point_card(ent: Any, point: Mapping[str, Any], zone: Mapping[str, Any] | None, hotline: str,
                url: str) -> Card:
    return Card(
        kind="risk_point", name=point["name"], grade=point["grade"], enterprise_name=ent.name,
        risk_points=[point["name"] + (f"（{point['location_desc']}）" if point.get("location_desc") else "")],
        accident_types=point.get("accident_type") or "", control_measures=point.get("control_measures") or "",
        emergency_measures=(zone or {}).get("emergency_measures") or "",
        responsible_person=point.get("responsible_person") or "", phones=_phones(ent, hotline),
        notice_url=unit_url(url, "risk_point", point["id"]),
    )


def _material(session: Session, enterprise_id: int, scope: Scope) -> tuple[Any, list[Any], list[Any]]:
    ent = load_enterprise(session, enterprise_id, scope=scope)
    zones = [dict(r) for r in session.execute(zq.zones_select(scope=scope, enterprise_id=ent.id)).mappings()]
    points = [dict(r) for r in session.execute(zq.zone_points_select(ent.id, scope=scope)).mappings()]
    return ent, zones, points


def enterprise_cards(session: Session, enterprise_id: int, *, scope: Scope, hotline: str, url: str) -> list[Card]:
    """Every card of an enterprise: each zone of 较大 and above (with its risk points), then each
    risk point of 较大 and above that is not already on the card of such a zone."""
    ent, zones, points = _material(session, enterprise_id, scope)
    carded = {z["id"] for z in zones if z["grade"] is not None and z["grade"] <= CARD_MAX_GRADE}
    by_id = {z["id"]: z for z in zones}
    cards = [_zone_card(ent, z, points, hotline, url) for z in zones if z["id"] in carded]
    cards += [_point_card(ent, p, by_id.get(p["zone_id"]), hotline, url) for p in points
              if p["grade"] <= CARD_MAX_GRADE and p["zone_id"] not in carded]
    return cards


def zone_card(session: Session, zone_id: int, *, scope: Scope, hotline: str, url_for_enterprise: Any) -> Card:
    """The card of one zone (refused below 较大)."""
    zone = load_zone(session, zone_id, scope=scope)
    ent, zones, points = _material(session, zone.enterprise_id, scope)
    row = next(z for z in zones if z["id"] == zone.id)
    if row["grade"] is None or row["grade"] > CARD_MAX_GRADE:
        raise NotFound("风险告知卡只为较大及以上风险的区域制作")
    return _zone_card(ent, row, points, hotline, url_for_enterprise(ent.id))


def risk_point_card(session: Session, risk_point_id: int, *, scope: Scope, hotline: str,
                    url_for_enterprise: Any) -> Card:
    """The card of one risk point (refused below 较大)."""
    rp = load_risk_point(session, risk_point_id, scope=scope)
    ent, zones, points = _material(session, rp.enterprise_id, scope)
    row = next(p for p in points if p["id"] == rp.id)
    if row["grade"] > CARD_MAX_GRADE:
        raise NotFound("风险告知卡只为较大及以上风险的风险点制作")
    zone = next((z for z in zones if z["id"] == row["zone_id"]), None)
    return _point_card(ent, row, zone, hotline, url_for_enterprise(ent.id))


def _e(text: str) -> str:
    return html.escape(text or "").replace("\n", "<br>")


def _card_html(card: Card, palette: Mapping[int, str]) -> str:
    g = GRADE_BY_VALUE[card.grade]
    colour = palette.get(card.grade, g.default_hex)
    ink = "#000000" if card.grade == 3 else "#FFFFFF"  # black on yellow, white on red/orange/blue
    qr = segno.make(card.notice_url, error="m").svg_data_uri(scale=4, border=2) if card.notice_url else ""
    rows = [("风险点", "、".join(card.risk_points)), ("可能导致的事故类型", card.accident_types),
            ("主要管控措施", card.control_measures), ("应急处置措施", card.emergency_measures),
            ("责任人", card.responsible_person)]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v) or '<span class=blank>（未填写）</span>'}</td></tr>"
                   for k, v in rows)
    phones = "<br>".join(_e(p) for p in card.phones) or "（未填写）"
    return f"""<section class="card">
<div class="band" style="background:{colour};color:{ink}">
  <div class="kind">安全风险告知卡</div>
  <div class="name">{_e(card.name)}</div>
  <div class="grade">风险等级：{g.colour_name}色 · {g.name}</div>
</div>
<table>{body}<tr><th>举报电话</th><td>{phones}</td></tr></table>
<div class="foot">
  <div class="ent">{_e(card.enterprise_name)}<br><span class="small">扫描二维码查看本企业安全风险公告（本企业人员登录后可排查本单元）</span></div>
  {f'<img class="qr" src="{qr}" alt="二维码">' if qr else ''}
</div>
</section>"""


def cards_html(cards: Sequence[Card], *, palette: Mapping[int, str], paper: str = "A4") -> str:
    """The cards as one HTML document, one card per page."""
    if paper not in PAPERS:
        raise InvalidParameter("paper", "可选：A4、A5")
    big = paper == "A4"
    pages = "".join(_card_html(c, palette) for c in cards)
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>
@page {{ size: {paper} portrait; margin: {12 if big else 8}mm; }}
body {{ font-family: "Noto Sans CJK SC", sans-serif; font-size: {12 if big else 9}pt; margin: 0; }}
.card {{ page-break-after: always; border: 2pt solid #222; height: {268 if big else 189}mm; position: relative;
         box-sizing: border-box; padding-bottom: {46 if big else 36}mm; }}  /* the foot sits in the padding */
.card:last-child {{ page-break-after: auto; }}
.band {{ padding: {8 if big else 5}mm; text-align: center; }}
.band .kind {{ font-size: {26 if big else 18}pt; font-weight: bold; letter-spacing: 4pt; }}
.band .name {{ font-size: {20 if big else 14}pt; font-weight: bold; margin-top: 2mm; }}
.band .grade {{ font-size: {14 if big else 10}pt; margin-top: 1mm; }}
table {{ width: 100%; border-collapse: collapse; }}
th, td {{ border-top: 0.8pt solid #222; padding: {5 if big else 2.5}mm {3 if big else 2}mm; vertical-align: top;
          text-align: left; }}
th {{ width: 26%; background: #f2f2f2; border-right: 0.8pt solid #222; }}
.blank {{ color: #888; }}
.foot {{ display: flex; justify-content: space-between; align-items: center; border-top: 1pt solid #222;
         padding: {3 if big else 2}mm; position: absolute; left: 0; right: 0; bottom: 0; }}
.ent {{ font-weight: bold; }}
.small {{ font-weight: normal; font-size: {9 if big else 7}pt; color: #444; }}
.qr {{ width: {34 if big else 26}mm; height: {34 if big else 26}mm; }}
</style></head><body>{pages}</body></html>"""


def cards_pdf(cards: Sequence[Card], *, palette: Mapping[int, str], paper: str = "A4") -> bytes:
    """The cards as one PDF, one card per page."""
    from weasyprint import HTML  # imported here: loading pango takes a moment

    if not cards:
        raise NotFound("该企业没有较大及以上风险的区域或风险点，无需制作风险告知卡")
    return HTML(string=cards_html(cards, palette=palette, paper=paper)).write_pdf()

"""The enterprise's own 四色图 surface: the printed map (PDF / 300 dpi PNG) and the
风险告知卡 (one, or every card of an enterprise as one PDF), and the data the
drawing map on the enterprise page starts from.  Views are thin."""

from __future__ import annotations

import dataclasses
import io
import json
import math
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, send_file, url_for
from flask_wtf.csrf import generate_csrf

from ... import domain
from ...db import get_session
from ...errors import InvalidParameter
from ...queries import zones as zq
from ...queries.filters import enterprise_clause, parse_filters, parse_int
from ...services import cards as cs
from ...services.maprender import PAPERS, MapStyle
from ...services.plantrender import load_plant_map, render_plant_map
from ..api.common import grades_at_arg, state_day
from ..context import current_actor, current_scope

__all__ = ["bp", "plant_map_context", "notice_url"]

bp = Blueprint("plantmap", __name__)

PDF = "application/pdf"


def notice_url(enterprise_id: int) -> str:
    """The absolute address of the enterprise's public risk notice (what the QR code opens)."""
    token = cs.notice_token(current_app.config["SECRET_KEY"], enterprise_id)
    return url_for("public.notice", token=token, _external=True)


def plant_map_context(ent: Any, lng: float, lat: float) -> dict[str, Any]:
    """What the enterprise page's drawing map needs (its JSON block and whether the caller may draw)."""
    from ..map import basemap_config

    palette = {int(k): v for k, v in current_app.config["GRADE_COLORS"].items()}
    may_draw = current_actor().may("draw_map")
    data = {
        "enterprise_id": ent.id, "centre": [lng, lat], "may_draw": may_draw, "palette": palette,
        "grades": {g.value: {"name": g.name, "colour_name": g.colour_name} for g in domain.GRADES},
        "basemap": basemap_config(), "csrf": generate_csrf(),
        "urls": {"zones": url_for("api.enterprise_zones", enterprise_id=ent.id),
                 "layout": url_for("api.layout", enterprise_id=ent.id), "zone": "/api/zones/"},
    }
    text = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return {"json": text, "may_draw": may_draw}


def _paper(allowed: tuple[str, ...]) -> str:
    paper = (request.args.get("paper") or "A4").upper()
    if paper not in allowed:
        raise InvalidParameter("paper", f"可选：{'、'.join(allowed)}")
    return paper


def _download(data: bytes, mimetype: str, name: str) -> Response:
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=False, download_name=name)


@bp.get("/enterprises/<int:enterprise_id>/map.<fmt>")
def enterprise_map(enterprise_id: int, fmt: str) -> Response:
    """企业安全风险四色分布图：PDF 或 300 dpi PNG（?paper=A4|A3）。"""
    if fmt not in ("pdf", "png"):
        raise InvalidParameter("fmt", "可选：pdf、png")
    paper = _paper(tuple(PAPERS))
    data = load_plant_map(get_session(), enterprise_id, scope=current_scope(),
                          upload_dir=current_app.config["UPLOAD_DIR"])
    rendered = render_plant_map(data, style=MapStyle.from_config(current_app.config), paper=paper)
    name = f"{rendered.title}.{fmt}"
    return _download(rendered.pdf if fmt == "pdf" else rendered.png, PDF if fmt == "pdf" else "image/png", name)


def _cards_response(cards: list[cs.Card], name: str) -> Response:
    palette = {int(k): v for k, v in current_app.config["GRADE_COLORS"].items()}
    return _download(cs.cards_pdf(cards, palette=palette, paper=_paper(cs.PAPERS)), PDF, name)


@bp.get("/enterprises/<int:enterprise_id>/cards.pdf")
def cards_pdf(enterprise_id: int) -> Response:
    """企业全部风险告知卡（较大及以上的区域和风险点），一个 PDF（?paper=A4|A5）。"""
    cards = cs.enterprise_cards(get_session(), enterprise_id, scope=current_scope(),
                                hotline=current_app.config["SAFETY_HOTLINE"], url=notice_url(enterprise_id))
    name = f"{cards[0].enterprise_name}风险告知卡.pdf" if cards else "风险告知卡.pdf"
    return _cards_response(cards, name)


@bp.get("/zones/<int:zone_id>/card.pdf")
def zone_card(zone_id: int) -> Response:
    """一个风险区域的风险告知卡。"""
    card = cs.zone_card(get_session(), zone_id, scope=current_scope(),
                        hotline=current_app.config["SAFETY_HOTLINE"], url_for_enterprise=notice_url)
    return _cards_response([card], f"{card.name}风险告知卡.pdf")


@bp.get("/risk-points/<int:risk_point_id>/card.pdf")
def risk_point_card(risk_point_id: int) -> Response:
    """一个风险点的风险告知卡。"""
    card = cs.risk_point_card(get_session(), risk_point_id, scope=current_scope(),
                              hotline=current_app.config["SAFETY_HOTLINE"], url_for_enterprise=notice_url)
    return _cards_response([card], f"{card.name}风险告知卡.pdf")


@bp.get("/map/zones.geojson")
def zones_geojson() -> Any:
    """The enterprises' risk zones in ``bbox`` for the regional map (empty below zoom 16),
    of the enterprises the common filters (region, industry, grade …) keep; ``as_of=YYYY-MM``:
    as of that month's end."""
    f = parse_filters(request.args, max_bbox_area_deg2=current_app.config["MAX_BBOX_AREA_DEG2"])
    if f.bbox is None:
        raise InvalidParameter("bbox", "缺少该参数（west,south,east,north）")
    zoom = parse_int(request.args, "zoom", zq.ZONES_FROM_ZOOM, minimum=0, maximum=22)
    body: dict[str, Any] = {"type": "FeatureCollection", "features": [], "min_zoom": zq.ZONES_FROM_ZOOM}
    if zoom < zq.ZONES_FROM_ZOOM:
        return jsonify(body)
    # half a screen pixel at this zoom, in degrees of latitude
    bbox = f.bbox
    tolerance = 156543.03 * math.cos(math.radians((bbox[1] + bbox[3]) / 2)) / 2 ** zoom / 2 / 111_320
    # as_of=YYYY-MM: the zones drawn by then, with their grades then (the grade history)
    f = dataclasses.replace(f, bbox=None, grades_at=grades_at_arg())
    stmt = zq.zones_in_bbox(bbox, scope=current_scope(), tolerance_deg=tolerance,
                            enterprises=enterprise_clause(f, state_day(f.month)), grades_at=f.grades_at)
    for r in get_session().execute(stmt).mappings():
        props = {k: v for k, v in r.items() if k != "geometry"}
        body["features"].append({"type": "Feature", "id": r["id"], "properties": props,
                                 "geometry": json.loads(r["geometry"])})
    return jsonify(body)

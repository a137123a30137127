"""The map surface: the layered risk map (``/map``, also ``/``) and its data endpoints.

Data reaches the browser by viewport only: enterprise and hazard points come
as vector tiles from the tiles surface; the district choropleth, the region
outlines and the heat points come from the GeoJSON/JSON endpoints below,
each limited to one region or one bbox.  Nothing is embedded in the page.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.blueprints import BlueprintSetupState

from ... import domain
from ...db import get_read_session, get_session, replica_reads
from ...errors import InvalidParameter, NotFound
from ...layers import Layer, class_of, load_layers
from ...models import Region
from ...queries import dual_prevention as dp
from ...queries import indicators as iq
from ...queries import metrics
from ...queries.changes import EVERYTHING
from ...queries.enterprises import SUGGEST_MIN_CHARS, suggest
from ...queries.filters import open_unless_stated, parse_filters, parse_int, parse_point
from ...queries.hazards import hazards_select
from ...queries.heat import heat_points, metres_per_pixel, region_choices, region_shapes
from ...queries.regions import children, get_region, region_refused
from ...queries.scope import region_visible
from ...queries.summary import summaries
from ...services import mapsheet
from ...services.basemap import MBTiles, local_basemap, pmtiles_info, remote_basemap
from ...services.maprender import PAPERS, MapStyle
from ...tokens import pick
from .. import changes
from ..api.common import as_of_arg, grades_at_arg, month_day, state_day
from ..context import current_scope
from ..tiles import response_cache
from .page import build_map, render_parts

bp = Blueprint("map", __name__)

# Heat cells are this many screen pixels wide; more points than this are cut.
HEAT_CELL_PX = 6
HEAT_MAX_POINTS = 20000
# The query names a "show on map" link may carry (the ledger uses the same).
# ``as_of=YYYY-MM``: the map as of that month's end (grades from the grade history).
FILTER_NAMES = ("region", "industry", "grade", "hazard_level", "hazard_state", "overdue", "month", "as_of")
# District metrics of the 双重预防 tasks (queries/dual_prevention.completion_by_region).
TASK_METRICS = ("task_completion_rate",)
# A district without a value (任务完成率 where no record was due) is drawn in this grey.
NO_DATA_COLOR = "#D9D9D9"
# The filters on hazards themselves (the side panel lists an enterprise's hazards by these).
HAZARD_FILTER_NAMES = ("hazard_level", "hazard_state", "hazard_source", "overdue", "month")


@bp.record_once
def _load_layers(state: BlueprintSetupState) -> None:
    """Read and validate ``layers/`` when the app is built: a bad file stops start-up."""
    state.app.extensions["map_layers"] = load_layers(state.app.config["LAYERS_DIR"])


def map_layers(app: Flask | None = None) -> dict[str, Layer]:
    """The validated layer registry of the application."""
    return (app or current_app).extensions["map_layers"]


def _palette() -> dict[int, str]:
    return {int(k): v for k, v in current_app.config["GRADE_COLORS"].items()}


def _as_of(month: dt.date | None) -> dt.date:
    """Counts for a month are as of its last day (today while it is running)."""
    return month_day(month)


def _task_month(month: dt.date | None) -> dt.date:
    """The month whose 任务完成率 the map shows: the ``month`` filter, else the current one."""
    return month or dt.date.today().replace(day=1)


def _completion_by_region(session: Any, parent: str, month: dt.date) -> dict[str, dict[str, Any]]:
    """任务完成率 of ``month`` per child region of ``parent`` (tasks due so far, records done)."""
    rows = session.execute(dp.completion_by_region(
        current_scope(), parent=parent, first_month=month, last_month=month,
        as_of=dt.datetime.now(dt.UTC))).mappings().all()
    return {r["code"]: {"tasks_due": r["due"], "tasks_done": r["done"],
                        "task_completion_rate": metrics.rate(r["done"], r["due"])} for r in rows}


def _zoom() -> int:
    return parse_int(request.args, "zoom", 8, minimum=0, maximum=22)


def _region(session: Any, *, required: bool = False) -> Region | None:
    """The region asked for, else the caller's own region, else the configured
    default, else the top region — only regions the caller may look at."""
    scope = current_scope()
    code = (request.args.get("region") or "").strip()
    if code:
        parse_filters({"region": code}, max_bbox_area_deg2=1)  # format check, names the parameter
        region = get_region(session, code, scope=scope)
        if region is None:
            raise InvalidParameter("region", region_refused(code).user_msg)
        return region
    region = _default_region(session)
    if region is None and required:
        raise InvalidParameter("region", "系统中还没有行政区划")
    return region


def _default_region(session: Any) -> Region | None:
    """The region a map opens on and 重置 returns to: the caller's own region, else the
    configured default, else the top region the caller may see."""
    scope = current_scope()
    region = None
    if scope.region is not None:
        region = get_region(session, scope.region, scope=scope)
    if region is None:
        region = get_region(session, current_app.config["DEFAULT_REGION"], scope=scope)
    if region is None:
        region = session.scalars(
            sa.select(Region).where(region_visible(scope, Region.code))
            .order_by(Region.parent_code.is_not(None), Region.code).limit(1)
        ).first()
    return region


def _view() -> tuple[float, float, int] | None:
    """The page URL's view, ``center=lng,lat`` and ``zoom`` (WGS84), when both are given."""
    center = (request.args.get("center") or "").strip()
    if not center or not request.args.get("zoom"):
        return None
    parts = center.split(",")
    if len(parts) != 2:
        raise InvalidParameter("center", "应为 经度,纬度")
    lng, lat = parse_point({"lng": parts[0], "lat": parts[1]}, "lng", "lat")
    return lng, lat, _zoom()


def _choropleth_layer() -> Layer:
    return next(la for la in map_layers().values() if la.kind == "choropleth")


def _ramp_colors(ramp: list[str], k: int, top: float) -> list[str]:
    """``k`` colours spread over ``ramp`` (one class: the lightest when nothing is counted)."""
    if k <= 0:
        return []
    if k == 1:
        return [ramp[0] if top <= 0 else ramp[-1]]
    return [ramp[round(i * (len(ramp) - 1) / (k - 1))] for i in range(k)]


@bp.get("/map")
@bp.get("/")  # registered first: url_for("map.index") is "/", the home after login
def index() -> Any:
    """The layered risk map; an enterprise user's home (``/``) is his enterprise's page."""
    session = get_session()
    scope = current_scope()
    if scope.enterprise_id is not None and request.path == "/":
        return redirect(url_for("ledger.enterprise_page", enterprise_id=scope.enterprise_id))
    regions = _region_choices(session, scope)
    selected = _region(session)
    default = _default_region(session)
    bounds = None
    if selected is not None:
        r = next((x for x in regions if x["code"] == selected.code), None)
        if r is not None:
            bounds = (r["west"], r["south"], r["east"], r["north"])
    palette = _palette()
    config = {
        "filters": list(FILTER_NAMES),
        "region": selected.code if selected is not None else None,
        "default_region": default.code if default is not None else None,
        "regions": [
            {k: r[k] for k in ("code", "name", "level", "parent_code")}
            | {"bbox": [round(r[k], 5) for k in ("west", "south", "east", "north")]}
            for r in regions
        ],
        "grades": [{"value": g.value, "name": g.name, "colour_name": g.colour_name,
                    "color": palette[g.value]} for g in domain.GRADES],
        "hazard_levels": domain.HAZARD_LEVELS,
        "hazard_states": domain.HAZARD_STATES,
        "industries": {i.code: i.name for i in domain.INDUSTRIES},
        "urls": {"enterprise_api": "/api/enterprises/", "enterprise_page": "/enterprises/",
                 "hazard_page": "/hazards/", "search": url_for("map.search"),
                 "sheet": url_for("map.sheet", fmt="png"),
                 "indicators": url_for("map.indicators"), "panel_hazards": url_for("map.panel_hazards")},
        "max_bbox_area": current_app.config["MAX_BBOX_AREA_DEG2"],
        "attribution": f"风险数据：风险一张图 · {current_app.config['MAP_FOOTER']}",
        "footer": current_app.config["MAP_FOOTER"],
        "basemap": basemap_config(),
    }
    m = build_map(map_layers(), palette=palette, config=config,
                  bounds=bounds, static_url=lambda p: url_for("static", filename=p),
                  static_dir=str(current_app.static_folder), view=_view())
    nonce = current_app.jinja_env.globals.get("csp_nonce")
    return render_template(
        "map.html", parts=render_parts(m, nonce() if callable(nonce) else None), regions=regions, selected=selected,
        industries=domain.INDUSTRIES, grades=domain.GRADES, hazard_levels=domain.HAZARD_LEVELS,
        hazard_states=domain.HAZARD_STATES, palette=palette, footer=current_app.config["MAP_FOOTER"],
    )


def _region_choices(session: Any, scope: Any) -> list[dict[str, Any]]:
    """The region selector's rows with their extents (:func:`~geo_service.queries.heat.region_choices`),
    cached under the boundaries' token: reading the extents of every outline took
    some 12 ms of each page at 129 counties."""
    cache = _summary_cache()
    key = changes.answer_key(("region-choices", scope), changes.read_tokens((EVERYTHING,)))
    rows = cache.get(key)
    if rows is None:
        rows = [dict(r._mapping) for r in session.execute(region_choices(scope=scope))]
        cache.put(key, rows, 256 * len(rows))
    return [dict(r) for r in rows]


@bp.get("/map/districts.geojson")
@replica_reads
def districts() -> Any:
    """The child regions of ``region`` with their numbers, the chosen ``metric``'s class and colour.

    Cached per worker under the change tokens of the region's counties
    (``changes.cached_answer``), and each district's numbers under its own
    counties' tokens: after a write in one county the answer is rebuilt with
    that county's numbers alone counted again.  The 任务完成率 is not behind the
    tokens (inspection records do not move them): coloured by it, the answer is
    built on every request (its district numbers still from the cache)."""
    session = get_read_session()
    scope = current_scope()
    layer = _choropleth_layer()
    metric = (request.args.get("metric") or layer.default_metric or "").strip()
    if metric not in layer.metrics:
        raise InvalidParameter("metric", f"可选：{', '.join(layer.metrics)}")
    filters = parse_filters(request.args, max_bbox_area_deg2=current_app.config["MAX_BBOX_AREA_DEG2"])
    as_of = _as_of(filters.month)
    region = _region(session)
    zoom = _zoom()
    if region is None:
        return jsonify(_district_body(layer, metric, as_of, None, [], {}))
    coverage = changes.cover_region(region.code, scope)
    cache = _summary_cache()

    def build() -> tuple[str, dict[str, int]]:
        snapshot = changes.read_tokens(coverage.selection)  # first: never newer than the numbers
        numbers = _district_numbers(session, region.code, scope, as_of, snapshot, cache)
        task_month = None
        if metric in TASK_METRICS:
            # read from the tallies and the task mix by region: only when the map colours by it
            task_month = _task_month(filters.month)
            for code, tasks in _completion_by_region(session, region.code, task_month).items():
                if code in numbers:
                    numbers[code] = numbers[code] | tasks
        shapes = _region_outlines(session, region.code, scope, zoom, snapshot, cache, with_self=False)
        body = _district_body(layer, metric, as_of, region, [s for s in shapes if s["code"] in numbers], numbers)
        if task_month is not None:
            body["task_month"] = task_month.strftime("%Y-%m")
        return jsonify(body).get_data(as_text=True), snapshot

    if metric in TASK_METRICS:
        return Response(build()[0], mimetype="application/json")
    parts = ("districts", region.code, scope, metric, as_of, metres_per_pixel(zoom))
    return changes.cached_answer(coverage, parts, cache, build, mimetype="application/json")


def _summary_cache() -> Any:
    """This worker's cache of region summaries and district numbers and outlines."""
    return response_cache(current_app, "summary_cache", current_app.config["FEATURE_CACHE_MB"])


def _district_numbers(session: Any, code: str, scope: Any, as_of: dt.date, snapshot: Mapping[str, int],
                      cache: Any) -> dict[str, dict[str, Any]]:
    """The summary of each child region of ``code``, by code: from ``cache`` under the
    tokens of the child's own counties in ``snapshot`` (read before any number), the
    missing ones counted in one :func:`~geo_service.queries.summary.summaries` call and
    stored under those tokens."""
    kids = children(session, code, scope=scope)
    keys = {c: changes.answer_key(("district-numbers", c, scope, as_of),
                                  pick(snapshot, changes.region_selection(c, scope))) for c, _, _ in kids}
    found = {c: cache.get(key) for c, key in keys.items()}
    missing = [k for k in kids if found[k[0]] is None]
    for s in summaries(session, missing, scope=scope, as_of=as_of) if missing else []:
        found[s["code"]] = s
        cache.put(keys[s["code"]], s, 2048)  # a summary is about 2 KB in memory
    return {c: dict(found[c]) for c, _, _ in kids}


def _region_outlines(session: Any, code: str, scope: Any, zoom: int, snapshot: Mapping[str, int], cache: Any,
                     *, with_self: bool) -> list[dict[str, Any]]:
    """The outlines of the children of region ``code`` (and its own with ``with_self``)
    simplified for ``zoom``: rows of :func:`~geo_service.queries.heat.region_shapes` with
    the geometry parsed, cached under the boundaries' token (``'*'``) of ``snapshot``."""
    tolerance = metres_per_pixel(zoom)
    key = changes.answer_key(("outlines", code, with_self, scope, tolerance), pick(snapshot, (EVERYTHING,)))
    rows = cache.get(key)
    if rows is None:
        stmt = region_shapes([code] if with_self else None, parent=code, scope=scope, tolerance_m=tolerance)
        rows = [dict(r._mapping) for r in session.execute(stmt)]
        cache.put(key, rows, sum(len(r["geometry"] or "") for r in rows) + 256 * len(rows))
    return [r | {"geometry": _geometry(r["geometry"])} for r in rows]


def _district_body(layer: Layer, metric: str, as_of: dt.date, region: Region | None,
                   shapes: list[dict[str, Any]], numbers: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The district layer's FeatureCollection: each shape with its numbers, value, class and colour."""
    body: dict[str, Any] = {
        "type": "FeatureCollection", "features": [], "metric": metric,
        "metric_title": layer.metrics[metric], "as_of": as_of.isoformat(), "breaks": [], "colors": [],
        "region": None if region is None else {"code": region.code, "name": region.name, "level": region.level},
    }
    raw = [numbers[s["code"]].get(metric) for s in shapes]
    values = [None if v is None else float(v) for v in raw]
    known = [v for v in values if v is not None]
    breaks = layer.classify(known)
    colors = _ramp_colors(list(layer.colors(_palette())["ramp"]), len(breaks), max(known, default=0))
    for shape, value in zip(shapes, values, strict=True):
        n = numbers[shape["code"]]
        cls = None if value is None else class_of(value, breaks)
        props = {key: n[key] for key in layer.source_def.fields if key in n}
        props.update({"code": shape["code"], "name": shape["name"], "value": value, "class": cls,
                      "color": NO_DATA_COLOR if cls is None else colors[cls],
                      "label": [shape["label_lng"], shape["label_lat"]]})
        body["features"].append({"type": "Feature", "id": shape["code"], "properties": props,
                                 "geometry": shape["geometry"]})
    body["breaks"] = breaks
    body["colors"] = colors
    return body


@bp.get("/map/regions.geojson")
@replica_reads
def regions_geojson() -> Any:
    """The outline of ``region`` and its children, simplified for ``zoom`` (cached per
    worker under the boundaries' token)."""
    session = get_read_session()
    region = _region(session)
    if region is None:
        return jsonify({"type": "FeatureCollection", "features": []})
    scope, zoom = current_scope(), _zoom()
    coverage = changes.cover((EVERYTHING,))
    cache = _summary_cache()

    def build() -> tuple[str, dict[str, int]]:
        snapshot = changes.read_tokens(coverage.selection)
        rows = _region_outlines(session, region.code, scope, zoom, snapshot, cache, with_self=True)
        features = [{
            "type": "Feature", "id": r["code"],
            "properties": {"code": r["code"], "name": r["name"], "level": r["level"],
                           "role": "self" if r["code"] == region.code else "child",
                           "label": [r["label_lng"], r["label_lat"]]},
            "geometry": r["geometry"],
        } for r in rows]
        return jsonify({"type": "FeatureCollection", "features": features}).get_data(as_text=True), snapshot

    parts = ("regions", region.code, scope, metres_per_pixel(zoom))
    return changes.cached_answer(coverage, parts, cache, build, mimetype="application/json")


@bp.get("/map/heat.json")
@replica_reads
def heat() -> Any:
    """Grade-weighted enterprise points in ``bbox`` aggregated per screen cell for ``zoom``
    (``as_of=YYYY-MM``: as of that month's end)."""
    filters = parse_filters(request.args, max_bbox_area_deg2=current_app.config["MAX_BBOX_AREA_DEG2"])
    if filters.bbox is None:
        raise InvalidParameter("bbox", "缺少该参数（west,south,east,north）")
    zoom = _zoom()
    cell_m = metres_per_pixel(zoom) * HEAT_CELL_PX
    # as_of=YYYY-MM: the enterprises and their grades at that month's end, hazards as they stood then
    filters = replace(open_unless_stated(filters), grades_at=grades_at_arg())
    rows = get_read_session().execute(heat_points(
        filters, scope=current_scope(), cell_m=cell_m, as_of=state_day(filters.month), limit=HEAT_MAX_POINTS,
    )).all()
    points = [[round(r.lat, 6), round(r.lng, 6), int(r.weight)] for r in rows]
    return jsonify({"points": points, "max": max((p[2] for p in points), default=0),
                    "cell_m": cell_m, "truncated": len(points) >= HEAT_MAX_POINTS})


def _geometry(text: str | None) -> Any:
    return json.loads(text) if text else None


@bp.get("/map/search.json")
@replica_reads
def search() -> Any:
    """Up to 10 enterprises of the caller's jurisdiction whose name or credit code contains ``q``."""
    term = (request.args.get("q") or "").strip()
    if len(term) > 100:
        raise InvalidParameter("q", "检索词过长（最多 100 字）")
    if len(term) < SUGGEST_MIN_CHARS:
        return jsonify({"results": []})
    palette = _palette()
    rows = get_read_session().execute(suggest(term, scope=current_scope(), limit=10)).all()
    return jsonify({"results": [
        {"id": r.id, "name": r.name, "credit_code": r.credit_code, "grade": r.grade,
         "color": palette.get(r.grade) if r.grade else None, "region": r.region_code,
         "lng": round(r.lng, 6), "lat": round(r.lat, 6)} for r in rows]})


@bp.get("/map/indicators.json")
@replica_reads
def indicators() -> Any:
    """The indicator strip: enterprises by grade, open 重大隐患, overdue hazards and this
    year's 整改率 for ``region`` (default: the caller's) and the map's filters (cached under
    the region's county tokens), and the 任务完成率 of the ``month`` filter's month (else the
    current one) for the region (the enterprise and hazard filters do not apply to it)."""
    session = get_read_session()
    scope = current_scope()
    region = _region(session)
    filters = parse_filters(request.args, max_bbox_area_deg2=current_app.config["MAX_BBOX_AREA_DEG2"])
    if region is not None:
        filters = replace(filters, region=region.code)
    as_of = _as_of(filters.month)
    grades_at = grades_at_arg()
    # The register's counts are cached per worker under the tokens of the region's
    # counties, read before them; the 任务完成率 is not behind the tokens (inspection
    # records do not move them) and is read on every request.
    cache, key = _summary_cache(), None
    if region is not None:
        snapshot = changes.read_tokens(changes.region_selection(region.code, scope))
        key = changes.answer_key(("strip", region.code, scope, filters, grades_at, as_of), snapshot)
    counts = cache.get(key) if key is not None else None
    if counts is None:
        ent = session.execute(iq.enterprise_counts(replace(filters, grades_at=grades_at), scope=scope,
                                                   as_of=as_of)).one()
        hz = session.execute(iq.hazard_counts(filters, scope=scope, as_of=as_of)).one()
        counts = {
            "enterprises": ent.total, "ungraded": ent.ungraded,
            "grades": {str(g.value): getattr(ent, f"grade_{g.value}") for g in domain.GRADES},
            "open_major": hz.open_major, "overdue": hz.overdue,
            "found_this_year": hz.found_this_year, "rectified_this_year": hz.rectified_this_year,
            "rectification_rate": metrics.rate(hz.rectified_this_year, hz.found_this_year),
        }
        if key is not None:
            cache.put(key, counts, 1024)
    task_month = _task_month(filters.month)
    tasks = session.execute(dp.completion_total(
        scope, first_month=task_month, last_month=task_month, as_of=dt.datetime.now(dt.UTC),
        region=region.code if region is not None else None, enterprises=False)).mappings().one()
    return jsonify({
        "region": {"code": region.code, "name": region.name, "level": region.level} if region else None,
        "as_of": as_of.isoformat(), "year": as_of.year, **counts,
        "task_completion": {"month": task_month.strftime("%Y-%m"), "due": tasks["due"], "done": tasks["done"],
                            "rate": metrics.rate(tasks["done"], tasks["due"])},
    })


@bp.get("/map/panel-hazards.json")
@replica_reads
def panel_hazards() -> Any:
    """The side panel's hazards of ``enterprise_id``: those the hazard layer draws under the
    map's hazard filters (its own parameters as defaults, like the layer's tiles)."""
    layer = next(la for la in map_layers().values() if la.source == "hazard_tiles")
    args: dict[str, str] = {k: str(v) for k, v in layer.params.items() if k in HAZARD_FILTER_NAMES}
    args.update({k: v for k in HAZARD_FILTER_NAMES if (v := request.args.get(k, "").strip())})
    enterprise_id = parse_int(request.args, "enterprise_id", 0, minimum=1)
    filters = parse_filters(args, max_bbox_area_deg2=current_app.config["MAX_BBOX_AREA_DEG2"])
    filters = open_unless_stated(replace(filters, enterprise_id=enterprise_id))
    as_of = _as_of(filters.month)
    rows = get_read_session().execute(hazards_select(filters, scope=current_scope(), as_of=as_of)).mappings().all()
    rows = sorted(rows, key=lambda h: (h["level"] != "major", h["deadline"] or dt.date.max, h["id"]))
    return jsonify({"hazards": [
        {"id": h["id"], "level": h["level"], "level_name": domain.HAZARD_LEVELS[h["level"]],
         "state": h["state"], "state_name": domain.HAZARD_STATES[h["state"]], "description": h["description"],
         "deadline": h["deadline"].isoformat() if h["deadline"] else None, "overdue_days": h["overdue_days"]}
        for h in rows]})


SHEET_FORMATS = {"png": "image/png", "pdf": "application/pdf"}


@bp.get("/map/sheet.<fmt>")
def sheet(fmt: str) -> Any:
    """The view as a map sheet (PNG 300 dpi or PDF): the map's filters, ``bbox``, ``zoom``
    and ``layers`` (the names of the layers on), drawn with the return's cartography."""
    if fmt not in SHEET_FORMATS:
        raise NotFound(f"不支持的格式 {fmt}（可选：png、pdf）")
    session = get_session()
    filters = parse_filters(request.args, max_bbox_area_deg2=current_app.config["MAX_BBOX_AREA_DEG2"])
    if filters.bbox is None:
        raise InvalidParameter("bbox", "缺少该参数（west,south,east,north）")
    paper = (request.args.get("paper") or "A4").strip()
    if paper not in PAPERS:
        raise InvalidParameter("paper", f"可选：{'、'.join(PAPERS)}")
    layers = map_layers()
    raw = (request.args.get("layers") or "").strip()
    names = [n.strip() for n in raw.split(",") if n.strip()] if raw else [
        n for n, la in layers.items() if la.visible]
    unknown = [n for n in names if n not in layers]
    if unknown:
        raise InvalidParameter("layers", f"没有图层 {'、'.join(unknown)}（可选：{'、'.join(layers)}）")
    region = _region(session, required=True)
    assert region is not None
    grades_at = grades_at_arg()
    as_of_month = (grades_at - dt.timedelta(days=1)).date().replace(day=1) if grades_at else None
    data = mapsheet.load_sheet(
        session, region=(region.code, region.name),
        filters=replace(filters, region=region.code, grades_at=grades_at),
        layers=mapsheet.sheet_layers(layers, names, _zoom()), scope=current_scope(), as_of=as_of_arg(),
        as_of_month=as_of_month)
    rendered = mapsheet.render_sheet(data, style=MapStyle.from_config(current_app.config, layers=layers),
                                     paper=paper, formats=(fmt,))
    body = rendered.png if fmt == "png" else rendered.pdf
    return send_file(io.BytesIO(body), mimetype=SHEET_FORMATS[fmt], as_attachment=True,
                     download_name=mapsheet.sheet_filename(region.name, dt.date.today(), fmt))


def _local_basemap_file() -> Any:
    """The MBTiles reader or the PMTiles path of ``BASEMAP`` (opened once per app)."""
    local = local_basemap(current_app.config["BASEMAP"])
    if local is None:
        raise NotFound("未配置本地底图文件")
    cache = current_app.extensions.setdefault("local_basemap", {})
    if local.path not in cache:
        cache[local.path] = MBTiles(local.path) if local.kind == "mbtiles" else local.path
    return cache[local.path]


# The vendored scripts each kind of base map is drawn with (static/js/basemap.js uses them).
_BASEMAP_SCRIPTS = {
    ("mbtiles", False): ["vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"],
    ("pmtiles", True): ["vendor/pmtiles/pmtiles.js"],
    ("pmtiles", False): ["vendor/protomaps-leaflet/protomaps-leaflet.js"],
}


def basemap_config() -> dict[str, Any] | None:
    """How every Leaflet map of the service draws ``BASEMAP`` (static/js/basemap.js): the
    web map, the ledger's small maps and the enterprise's plant map alike.

    None: no base map (outlines only, nothing external).  ``kind`` ``xyz``: remote
    templates (a URL or 天地图).  ``mbtiles``/``pmtiles``: the local file this application
    serves (:func:`basemap_tile`, :func:`basemap_pmtiles`), ``raster`` or vector.
    ``scripts``: the vendored files (under ``static/``) it is drawn with.
    """
    settings = current_app.config
    remote = remote_basemap(settings["BASEMAP"], tianditu_key=settings["TIANDITU_KEY"],
                            attribution=settings["BASEMAP_ATTRIBUTION"] or "")
    if remote is not None:
        return {"kind": "xyz", "urls": list(remote.urls), "subdomains": remote.subdomains,
                "attribution": remote.attribution, "max_zoom": remote.max_zoom, "scripts": []}
    if local_basemap(settings["BASEMAP"]) is None:
        return None
    source = _local_basemap_file()
    attribution = settings["BASEMAP_ATTRIBUTION"] or ""
    if isinstance(source, MBTiles):
        spec = {"kind": "mbtiles", "raster": source.raster, "min_zoom": source.min_zoom,
                "max_zoom": source.max_zoom, "attribution": attribution or source.attribution,
                "url": url_for("map.basemap_tile", z=0, x=0, y=0, ext=source.extension)
                .replace("/0/0/0.", "/{z}/{x}/{y}.")}
    else:
        info = pmtiles_info(source)
        spec = {"kind": "pmtiles", "raster": info is None or not info.vector, "url": url_for("map.basemap_pmtiles"),
                "attribution": attribution}
        if info is not None:
            spec.update(min_zoom=info.min_zoom, max_zoom=info.max_zoom)
    spec["scripts"] = _BASEMAP_SCRIPTS.get((spec["kind"], spec["raster"]), [])
    return spec


@bp.get("/map/basemap/<int:z>/<int:x>/<int:y>.<ext>")
def basemap_tile(z: int, x: int, y: int, ext: str) -> Any:
    """One tile of the local MBTiles base map (204 where the file has none)."""
    mbtiles = _local_basemap_file()
    if not isinstance(mbtiles, MBTiles):
        raise NotFound("本地底图不是 MBTiles 文件")
    data = mbtiles.tile(z, x, y)
    headers = {"Cache-Control": "private, max-age=86400"}
    if data is None:
        return Response(status=204, headers=headers)
    resp = Response(data, mimetype=mbtiles.mimetype, headers=headers)
    if not mbtiles.raster and data[:2] == b"\x1f\x8b":
        resp.headers["Content-Encoding"] = "gzip"  # vector MBTiles tiles are usually gzipped
    return resp


@bp.get("/map/basemap.pmtiles")
def basemap_pmtiles() -> Any:
    """The local PMTiles base map, whole, with HTTP Range requests (the browser reads parts)."""
    path = _local_basemap_file()
    if isinstance(path, MBTiles):
        raise NotFound("本地底图不是 PMTiles 文件")
    return send_file(path, mimetype="application/octet-stream", conditional=True, max_age=86400)

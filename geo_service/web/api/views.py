"""The ``/api/`` routes.  Thin: parse, call a query or a service, render."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from flask import Response, current_app, g, request, send_file, url_for

from ... import jobs, registry
from ...db import get_read_session, get_session, replica_reads
from ...errors import InvalidParameter, NotFound
from ...queries import enterprises as eq
from ...queries import hazards as hq
from ...queries import regions as rq
from ...queries import risk_points as rpq
from ...queries import summary as sq
from ...queries.enterprises import count_of
from ...queries.filters import Filters, Page, parse_int, parse_point, parse_radius
from ...services import accounts, exports, register
from ...services import evidence as ev
from .. import changes
from ..context import current_actor, current_scope, record_download
from ..jobqueue import start
from ..tiles import response_cache
from . import bp
from .common import (
    FILE_FORMATS,
    GEOJSON,
    as_of_arg,
    decorate,
    download,
    expected_version,
    feature,
    json_body,
    json_response,
    page_links,
    request_filters,
    request_json,
    request_page,
    with_etag,
)
from .openapi import openapi_document

KINDS = ("enterprises", "risk-points", "hazards")


# --------------------------------------------------------------------------- lists


def _select(kind: str, f: Filters) -> Any:
    return registry.get(kind).statement(f, current_scope(), as_of_arg(), request.args)


def _format() -> str:
    fmt = (request.args.get("format") or request.args.get("f") or "geojson").lower()
    if fmt not in ("geojson", "json") + FILE_FORMATS:
        raise InvalidParameter("format", "可选：geojson、json、csv、xlsx、gpkg、shp")
    return fmt


def _respond_list(kind: str, stmt: Any, *, paged: bool = True, total: int | None = None) -> Response:
    """Render a list statement as GeoJSON, JSON or a download."""
    session = get_read_session()
    fmt = _format()
    download_all = fmt in FILE_FORMATS or request.args.get("download") in ("1", "true")
    page = request_page()  # checked even when a download ignores it: a bad value is never silently dropped
    if download_all and "limit" not in request.args:
        cap = int(current_app.config["MAX_EXPORT_ROWS"])
        page = Page(cap, 0)
    if paged:
        if total is None:
            total = session.execute(count_of(stmt)).scalar_one()
        stmt = stmt.limit(page.limit).offset(page.offset)
    rows = [decorate(kind, r._mapping) for r in session.execute(stmt)]
    if fmt in FILE_FORMATS:
        resp = download(kind, rows, fmt)
        record_download(kind, fmt, len(rows))
        return resp
    if download_all:
        record_download(kind, fmt, len(rows))
    links = page_links(page, total, len(rows)) if paged else [{"rel": "self", "href": request.url}]
    meta = {"total": total if total is not None else len(rows), "numberMatched": total if total is not None
            else len(rows), "numberReturned": len(rows), "limit": page.limit if paged else None,
            "offset": page.offset if paged else 0, "links": links}
    if fmt == "json":
        nxt = next((ln["href"] for ln in links if ln["rel"] == "next"), None)
        return json_response({"items": rows, "next": nxt, **meta})
    body = {"type": "FeatureCollection", "features": [feature(r) for r in rows], **meta}
    resp = json_response(body, mimetype=GEOJSON)
    if request.args.get("download") in ("1", "true"):
        resp.headers["Content-Disposition"] = f'attachment; filename="{kind}-{dt.date.today()}.geojson"'
    return resp


def _list(kind: str, polygon: Any = None) -> Response:
    f = request_filters({"polygon": polygon} if polygon is not None else None)
    args = request.args
    max_r = current_app.config["MAX_RADIUS_M"]
    if kind == "enterprises" and "k" in args:
        if "radius_m" in args:  # never silently ignored
            raise InvalidParameter("radius_m", "k（最近 k 家）与 radius_m（半径）不能同时给出")
        lng, lat = parse_point(args)
        k = parse_int(args, "k", 10, minimum=1, maximum=current_app.config["MAX_PAGE_SIZE"])
        stmt = eq.nearest(f, lng, lat, k, scope=current_scope(), as_of=as_of_arg())
        return _respond_list(kind, stmt, paged=False)
    if kind == "enterprises" and ("radius_m" in args or "lon" in args or "lat" in args):
        lng, lat = parse_point(args)
        radius = parse_radius(args, max_radius_m=max_r)
        stmt = eq.within_radius(f, eq.point_geometry(lng, lat), radius, scope=current_scope(),
                                as_of=as_of_arg())
        return _respond_list(kind, stmt)
    return _respond_list(kind, _select(kind, f))


@bp.get("/enterprises")
@replica_reads
def enterprises():  # type: ignore[no-untyped-def]
    """Enterprises: filters, bbox, radius (lon, lat, radius_m) or k nearest (lon, lat, k)."""
    return _list("enterprises")


@bp.get("/risk-points")
@replica_reads
def risk_points():  # type: ignore[no-untyped-def]
    """Risk points (drawn at their enterprise)."""
    return _list("risk-points")


@bp.get("/hazards")
@replica_reads
def hazards():  # type: ignore[no-untyped-def]
    """Hazards (drawn at their own point, else their enterprise's)."""
    return _list("hazards")


# --------------------------------------------------------------------------- large exports, on the job queue


def _owner() -> str:
    user = g.get("user")
    return str(user.id) if user is not None else "anonymous"


def _export_job(job_id: str) -> jobs.JobStatus:
    """The caller's own export job (another account's is "not found")."""
    job = jobs.get_job(get_session(), job_id)
    if (job is None or job.kind != "export" or job.scope != current_scope()
            or job.params.get("owner") != _owner()):
        raise NotFound("该导出任务不存在或已过期")
    return job


def _export_body(job: jobs.JobStatus) -> dict[str, Any]:
    return {**job.as_dict(), "status_url": url_for("api.export_status", job_id=job.id),
            "download_url": url_for("api.export_download", job_id=job.id)}


@bp.post("/enterprises/exports", defaults={"kind": "enterprises"})
@bp.post("/risk-points/exports", defaults={"kind": "risk-points"})
@bp.post("/hazards/exports", defaults={"kind": "hazards"})
def export_start(kind: str) -> Response:
    """The whole filtered list as a file, built by a job worker (for large lists): 202 and where to poll."""
    fmt = _format()
    if fmt not in exports.FORMATS:
        raise InvalidParameter("format", "可选：geojson、csv、xlsx、gpkg、shp")
    request_filters()  # a bad filter answers 400 now, not as a failed job
    actor = current_actor()
    recorded = jobs.create_job(
        get_session(), "export", scope=current_scope(), by=actor.name,
        params={"collection": kind, "format": fmt, "args": request.args.to_dict(), "as_of": as_of_arg().isoformat(),
                "owner": _owner()})
    return json_response(_export_body(_export_job(start(recorded).id)), 202)


@bp.get("/exports/<job_id>")
def export_status(job_id: str) -> Response:
    """An export job's progress (``state``, ``done``/``total``) and, when done, its download URL."""
    return json_response(_export_body(_export_job(job_id)))


@bp.get("/exports/<job_id>/download")
def export_download(job_id: str) -> Response:
    """The file an export job built (recorded as a download, with the job's filters)."""
    job = _export_job(job_id)
    session = get_session()
    payload = jobs.job_payload(session, job.id) if job.state == "done" else None
    if payload is None:
        raise NotFound("导出尚未完成")
    p = job.params
    accounts.audit_download(session, current_actor(), p["collection"], p["format"], (job.result or {}).get("rows"),
                            p["args"])
    session.commit()
    return send_file(io.BytesIO(payload), mimetype=exports.FORMATS[p["format"]][0], as_attachment=True,
                     download_name=job.filename)


def _posted_polygon() -> Any:
    body = request_json()
    if body is None:
        raise InvalidParameter("polygon", "请求体应为 GeoJSON 面（Polygon/MultiPolygon 或其 Feature）")
    if isinstance(body, dict) and isinstance(body.get("polygon"), dict):
        return body["polygon"]
    return body


@bp.post("/enterprises/search")
def enterprises_search():  # type: ignore[no-untyped-def]
    """Enterprises inside a posted GeoJSON polygon (query-string filters apply too)."""
    return _list("enterprises", _posted_polygon())


@bp.post("/risk-points/search")
def risk_points_search():  # type: ignore[no-untyped-def]
    """Risk points inside a posted GeoJSON polygon."""
    return _list("risk-points", _posted_polygon())


@bp.post("/hazards/search")
def hazards_search():  # type: ignore[no-untyped-def]
    """Hazards inside a posted GeoJSON polygon."""
    return _list("hazards", _posted_polygon())


@bp.get("/enterprises/<int:enterprise_id>/nearby")
@replica_reads
def enterprise_nearby(enterprise_id: int):  # type: ignore[no-untyped-def]
    """Other enterprises within radius_m (default 1000) of an enterprise, nearest first."""
    f = request_filters()
    radius = parse_radius(request.args, max_radius_m=current_app.config["MAX_RADIUS_M"], default=1000.0)
    stmt = eq.around_enterprise(get_read_session(), enterprise_id, f, radius, scope=current_scope(),
                                as_of=as_of_arg())
    return _respond_list("enterprises", stmt)


# --------------------------------------------------------------------------- records


def _enterprise_body(enterprise_id: int) -> dict[str, Any]:
    d = eq.enterprise_detail(get_session(), enterprise_id, scope=current_scope(), as_of=dt.date.today())
    d["links"] = [
        {"rel": "self", "href": url_for("api.enterprise", enterprise_id=enterprise_id)},
        {"rel": "nearby", "href": url_for("api.enterprise_nearby", enterprise_id=enterprise_id)},
        {"rel": "hazards", "href": url_for("api.hazards", enterprise_id=enterprise_id)},
    ]
    for h in d["open_hazards"]:
        h["href"] = url_for("api.hazard", hazard_id=h["id"])
    return d


def _record(body: dict[str, Any], status: int = 200, location: str | None = None) -> Response:
    if request.args.get("format") == "geojson" or request.args.get("f") == "geojson":
        resp = json_response(feature(body), status, mimetype=GEOJSON)
    else:
        resp = json_response(body, status)
    if location:
        resp.headers["Location"] = location
    return with_etag(resp, body["version"])


@bp.get("/enterprises/<int:enterprise_id>")
def enterprise(enterprise_id: int):  # type: ignore[no-untyped-def]
    """One enterprise with its risk points and open hazards (the map popup)."""
    return _record(_enterprise_body(enterprise_id))


@bp.get("/risk-points/<int:risk_point_id>")
def risk_point(risk_point_id: int):  # type: ignore[no-untyped-def]
    """One risk point."""
    session = get_session()
    rp = register.load_risk_point(session, risk_point_id, scope=current_scope())
    row = session.execute(
        rpq.risk_points_select(Filters(), scope=current_scope()).where(rpq.RiskPoint.id == rp.id)
    ).one()
    return _record(decorate("risk-points", row._mapping))


def _hazard_body(hazard_id: int) -> dict[str, Any]:
    d = hq.hazard_detail(get_session(), hazard_id, scope=current_scope(), as_of=dt.date.today())
    for e in d["evidence"]:
        e["href"] = url_for("api.evidence_file", evidence_id=e["id"])
    d["links"] = [
        {"rel": "self", "href": url_for("api.hazard", hazard_id=hazard_id)},
        {"rel": "enterprise", "href": url_for("api.enterprise", enterprise_id=d["enterprise_id"])},
        {"rel": "transition", "href": url_for("api.hazard_transition", hazard_id=hazard_id)},
        {"rel": "evidence", "href": url_for("api.hazard_evidence_upload", hazard_id=hazard_id)},
    ]
    return d


@bp.get("/hazards/<int:hazard_id>")
def hazard(hazard_id: int):  # type: ignore[no-untyped-def]
    """One hazard with its events and evidence."""
    return _record(_hazard_body(hazard_id))


# --------------------------------------------------------------------------- writes


def _datum() -> str:
    datum = request.args.get("datum", "wgs84")
    from ...geo import DATUMS

    if datum not in DATUMS:
        raise InvalidParameter("datum", f"可选：{', '.join(DATUMS)}")
    return datum


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    """The record fields of a JSON body or a GeoJSON Feature (its Point becomes lng/lat)."""
    if body.get("type") == "Feature":
        props = dict(body.get("properties") or {})
        geom = body.get("geometry")
        if geom is not None:
            if not isinstance(geom, dict) or geom.get("type") != "Point" or \
                    not isinstance(geom.get("coordinates"), list) or len(geom["coordinates"]) < 2:
                raise InvalidParameter("geometry", "应为 GeoJSON Point")
            props["lng"], props["lat"] = geom["coordinates"][:2]
        body = props
    fields = {k: v for k, v in body.items() if k not in ("version", "id", "type")}
    _check_scalars(fields)
    return fields


# The one record field whose value is a JSON object (a risk point's LEC/LS parameters).
_OBJECT_FIELDS = ("method_params",)


def _check_scalars(fields: dict[str, Any]) -> None:
    """Refuse an object or array where a field takes text, a number or a date (400 naming it)."""
    for key, value in fields.items():
        if isinstance(value, dict) and key in _OBJECT_FIELDS:
            continue
        if isinstance(value, dict | list):
            kind = "对象" if isinstance(value, dict) else "数组"
            raise InvalidParameter(str(key)[:60], f"应为文本、数字或日期，不能是 JSON {kind}")


@bp.post("/enterprises")
def enterprise_create():  # type: ignore[no-untyped-def]
    """Register an enterprise (JSON fields or a GeoJSON Feature; ?datum=gcj02|bd09 converts)."""
    session = get_session()
    ent = register.create_enterprise(session, _fields(json_body()), current_actor(), scope=current_scope(),
                                     datum=_datum())
    session.commit()
    return _record(_enterprise_body(ent.id), 201, url_for("api.enterprise", enterprise_id=ent.id))


@bp.patch("/enterprises/<int:enterprise_id>")
def enterprise_update(enterprise_id: int):  # type: ignore[no-untyped-def]
    """Change an enterprise; needs its version (body ``version`` or If-Match)."""
    session = get_session()
    body = json_body()
    register.update_enterprise(session, enterprise_id, _fields(body), current_actor(), scope=current_scope(),
                               expected_version=expected_version(body), datum=_datum())
    session.commit()
    return _record(_enterprise_body(enterprise_id))


def _risk_point_created(enterprise_id: int, fields: dict[str, Any]) -> Response:
    session = get_session()
    rp = register.create_risk_point(session, enterprise_id, fields, current_actor(), scope=current_scope())
    session.commit()
    return risk_point_response(rp.id, 201)


def risk_point_response(risk_point_id: int, status: int = 200) -> Response:
    session = get_session()
    row = session.execute(
        rpq.risk_points_select(Filters(), scope=current_scope()).where(rpq.RiskPoint.id == risk_point_id)
    ).one()
    return _record(decorate("risk-points", row._mapping), status,
                   url_for("api.risk_point", risk_point_id=risk_point_id) if status == 201 else None)


def _enterprise_id(fields: dict[str, Any]) -> int:
    raw = fields.pop("enterprise_id", None)
    try:
        return int(raw)
    except (TypeError, ValueError) as err:
        raise InvalidParameter("enterprise_id", "缺少或不是整数") from err


@bp.post("/risk-points")
def risk_point_create():  # type: ignore[no-untyped-def]
    """Add a risk point (``enterprise_id`` in the body); the enterprise's grade follows."""
    fields = _fields(json_body())
    return _risk_point_created(_enterprise_id(fields), fields)


@bp.post("/enterprises/<int:enterprise_id>/risk-points")
def enterprise_risk_point_create(enterprise_id: int):  # type: ignore[no-untyped-def]
    """Add a risk point to this enterprise."""
    return _risk_point_created(enterprise_id, _fields(json_body()))


@bp.patch("/risk-points/<int:risk_point_id>")
def risk_point_update(risk_point_id: int):  # type: ignore[no-untyped-def]
    """Change a risk point; needs its version."""
    session = get_session()
    body = json_body()
    register.update_risk_point(session, risk_point_id, _fields(body), current_actor(), scope=current_scope(),
                               expected_version=expected_version(body))
    session.commit()
    return risk_point_response(risk_point_id)


def _hazard_created(enterprise_id: int, fields: dict[str, Any]) -> Response:
    session = get_session()
    hz = register.create_hazard(session, enterprise_id, fields, current_actor(), scope=current_scope(),
                                datum=_datum())
    session.commit()
    return _record(_hazard_body(hz.id), 201, url_for("api.hazard", hazard_id=hz.id))


@bp.post("/hazards")
def hazard_create():  # type: ignore[no-untyped-def]
    """Register a hazard (``enterprise_id`` in the body); its first event is written."""
    fields = _fields(json_body())
    return _hazard_created(_enterprise_id(fields), fields)


@bp.post("/enterprises/<int:enterprise_id>/hazards")
def enterprise_hazard_create(enterprise_id: int):  # type: ignore[no-untyped-def]
    """Register a hazard on this enterprise."""
    return _hazard_created(enterprise_id, _fields(json_body()))


@bp.patch("/hazards/<int:hazard_id>")
def hazard_update(hazard_id: int):  # type: ignore[no-untyped-def]
    """Change a hazard's fields (never its state); needs its version."""
    session = get_session()
    body = json_body()
    register.update_hazard(session, hazard_id, _fields(body), current_actor(), scope=current_scope(),
                           expected_version=expected_version(body), datum=_datum())
    session.commit()
    return _record(_hazard_body(hazard_id))


@bp.post("/hazards/<int:hazard_id>/transition")
def hazard_transition(hazard_id: int):  # type: ignore[no-untyped-def]
    """Move a hazard along its lifecycle: {to_state, note, fields, version}."""
    session = get_session()
    body = json_body()
    to_state = body.get("to_state")
    if not isinstance(to_state, str) or not to_state:
        raise InvalidParameter("to_state", "缺少目标状态")
    fields = body.get("fields") or {}
    if not isinstance(fields, dict):
        raise InvalidParameter("fields", "应为 JSON 对象")
    _check_scalars(fields)
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise InvalidParameter("note", "应为文本")
    register.transition_hazard(session, hazard_id, to_state, current_actor(), scope=current_scope(),
                               expected_version=expected_version(body), note=note, fields=fields,
                               evidence_for_general=current_app.config["SIGNOFF_EVIDENCE_GENERAL"])
    session.commit()
    return _record(_hazard_body(hazard_id))


# --------------------------------------------------------------------------- evidence


@bp.post("/hazards/<int:hazard_id>/evidence")
def hazard_evidence_upload(hazard_id: int):  # type: ignore[no-untyped-def]
    """Upload a photo or document (multipart ``file``, ``kind``)."""
    upload = request.files.get("file")
    if upload is None:
        raise InvalidParameter("file", "缺少上传文件（multipart 字段 file）")
    session = get_session()
    max_bytes = int(current_app.config["MAX_EVIDENCE_MB"]) * 1024 * 1024
    try:
        row = ev.store_evidence(session, hazard_id, upload.stream, upload.filename or "",
                                request.form.get("kind", "other"), current_actor(), scope=current_scope(),
                                upload_dir=current_app.config["UPLOAD_DIR"], max_bytes=max_bytes)
    finally:
        upload.close()  # a large upload is spooled to a temporary file
    session.commit()
    body = {"id": row.id, "hazard_id": row.hazard_id, "kind": row.kind, "kind_name": ev.KINDS[row.kind],
            "filename": row.filename, "content_type": row.content_type, "size_bytes": row.size_bytes,
            "sha256": row.sha256, "uploaded_by": row.uploaded_by, "uploaded_at": row.uploaded_at,
            "href": url_for("api.evidence_file", evidence_id=row.id)}
    resp = json_response(body, 201)
    resp.headers["Location"] = body["href"]
    return resp


@bp.get("/hazards/<int:hazard_id>/evidence")
def hazard_evidence_list(hazard_id: int):  # type: ignore[no-untyped-def]
    """The evidence files of a hazard."""
    d = _hazard_body(hazard_id)
    return json_response({"items": d["evidence"]})


@bp.get("/evidence/<int:evidence_id>")
def evidence_file(evidence_id: int):  # type: ignore[no-untyped-def]
    """Download an evidence file (its stored bytes, its original name)."""
    row, path = ev.load_evidence(get_session(), evidence_id, scope=current_scope(),
                                 upload_dir=current_app.config["UPLOAD_DIR"])
    resp = send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.filename,
                     etag=row.sha256, max_age=0)
    return resp


# --------------------------------------------------------------------------- regions


@bp.get("/regions")
@replica_reads
def regions():  # type: ignore[no-untyped-def]
    """Regions (``parent``, ``level``, ``bbox``); ``format=geojson`` adds the boundaries."""
    args = request.args
    fmt = (args.get("format") or "json").lower()
    if fmt not in ("json", "geojson"):
        raise InvalidParameter("format", "可选：json、geojson")
    level = args.get("level")
    if level is not None and level not in rq.LEVEL_DEPTH:
        raise InvalidParameter("level", f"可选：{', '.join(rq.LEVEL_DEPTH)}")
    f = request_filters()
    stmt = rq.regions_select(scope=current_scope(), parent=args.get("parent"), level=level, bbox=f.bbox,
                             with_geometry=fmt == "geojson")
    rows = [dict(r._mapping) for r in get_read_session().execute(stmt)]
    if fmt == "json":
        return json_response({"items": rows, "total": len(rows)})
    import json as _json

    feats = [feature(r, id_key="code", geometry=_json.loads(r.pop("geometry"))) for r in rows]
    return json_response({"type": "FeatureCollection", "features": feats}, mimetype=GEOJSON)


@bp.get("/regions/lookup")
@replica_reads
def region_lookup():  # type: ignore[no-untyped-def]
    """Which regions contain a point (lon, lat), deepest first."""
    lng, lat = parse_point(request.args)
    found = rq.lookup(get_read_session(), lng, lat, scope=current_scope())
    return json_response({"lon": lng, "lat": lat, "region": found[0] if found else None, "regions": found})


@bp.get("/regions/<code>")
@replica_reads
def region(code: str):  # type: ignore[no-untyped-def]
    """One region (with its boundary as GeoJSON)."""
    stmt = rq.regions_select(scope=current_scope(), with_geometry=True).where(rq.Region.code == code)
    row = get_read_session().execute(stmt).first()
    if row is None:
        from ...errors import NotFound

        raise NotFound(f"行政区划 {code} 不存在")
    import json as _json

    r = dict(row._mapping)
    return json_response(feature(r, id_key="code", geometry=_json.loads(r.pop("geometry"))), mimetype=GEOJSON)


@bp.get("/regions/<code>/summary")
@replica_reads
def region_summary(code: str):  # type: ignore[no-untyped-def]
    """Counts for a region and each of its children (``as_of`` date, default today)."""
    session, scope, as_of = get_read_session(), current_scope(), as_of_arg()
    with_children = request.args.get("children", "1") not in ("0", "false")
    # Cached per worker under the tokens of the counties below the region
    # (geo_service.tokens): a write in another county leaves it valid.
    coverage = changes.cover_region(code, scope)
    parts = ("summary", code, scope, as_of, with_children)
    cache = response_cache(current_app, "summary_cache", current_app.config["FEATURE_CACHE_MB"])

    def build() -> tuple[str, dict[str, int]]:
        snapshot = changes.read_tokens(coverage.selection)  # first, on the same session: never newer than the counts
        body = sq.region_summary(session, code, scope=scope, as_of=as_of, with_children=with_children)
        body["as_of"] = as_of
        return json_response(body).get_data(as_text=True), snapshot

    return changes.cached_answer(coverage, parts, cache, build, mimetype="application/json")


@bp.get("/regions/<code>/children")
@replica_reads
def region_children(code: str):  # type: ignore[no-untyped-def]
    """The child regions as GeoJSON with their summaries as properties (district heat)."""
    import json as _json

    session, scope, as_of = get_read_session(), current_scope(), as_of_arg()
    kids = {s["code"]: s for s in sq.child_summaries(session, code, scope=scope, as_of=as_of)}
    rows = session.execute(rq.regions_select(scope=current_scope(), parent=code, with_geometry=True)).all()
    feats = []
    for r in rows:
        props = kids.get(r.code) or {}
        feats.append(feature(props, id_key="code", geometry=_json.loads(r.geometry)) | {"id": r.code})
    return json_response({"type": "FeatureCollection", "features": feats, "as_of": as_of}, mimetype=GEOJSON)


# --------------------------------------------------------------------------- description


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """Where everything is."""
    return json_response({
        "title": "风险一张图 数据接口",
        "links": [
            {"rel": "service-desc", "href": url_for("api.openapi"), "type": "application/vnd.oai.openapi+json;version=3.0"},
            {"rel": "enterprises", "href": url_for("api.enterprises")},
            {"rel": "risk-points", "href": url_for("api.risk_points")},
            {"rel": "hazards", "href": url_for("api.hazards")},
            {"rel": "regions", "href": url_for("api.regions")},
            {"rel": "ogc", "href": "/ogc/"},
        ],
    })


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    """The OpenAPI 3 description of this API."""
    return json_response(openapi_document(current_app.config), mimetype="application/vnd.oai.openapi+json;version=3.0")

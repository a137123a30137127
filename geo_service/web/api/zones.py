"""The ``/api/`` routes of the enterprise's own 四色图: risk zones and the plant layout.

Thin: parse, call :mod:`geo_service.services.zones`, render.  Writes need the
record's ``version`` (body or If-Match) except creations.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import Response, current_app, request, send_file, url_for

from ...db import get_session
from ...errors import InvalidParameter, NotFound
from ...queries import zones as zq
from ...services import uploads
from ...services import zones as svc
from ...services.register import load_enterprise
from ..context import current_actor, current_scope
from . import bp
from .common import expected_version, form_version, json_body, json_response, with_etag

MB = 1024 * 1024


def _max_m() -> float:
    return float(current_app.config["ZONE_MAX_DISTANCE_M"])


def _zone_response(zone_id: int, status: int = 200, warnings: list[dict[str, Any]] | None = None) -> Response:
    row = get_session().execute(zq.zones_select(scope=current_scope(), zone_id=zone_id)).mappings().first()
    if row is None:
        raise NotFound(f"风险区域 {zone_id} 不存在")
    body = svc.zone_dict(row)
    body["warnings"] = warnings or []
    resp = with_etag(json_response(body, status), row["version"])
    if status == 201:
        resp.headers["Location"] = url_for("api.zone", zone_id=zone_id)
    return resp


@bp.get("/enterprises/<int:enterprise_id>/zones")
def enterprise_zones(enterprise_id: int):  # type: ignore[no-untyped-def]
    """The enterprise's risk zones (GeoJSON FeatureCollection, each with its risk points), all its
    risk points (``risk_points``, with their ``zone_id``) and its layout (``layout``, null without one)."""
    session, scope = get_session(), current_scope()
    load_enterprise(session, enterprise_id, scope=scope)
    rows = session.execute(zq.zones_select(scope=scope, enterprise_id=enterprise_id)).mappings().all()
    points = session.execute(zq.zone_points_select(enterprise_id, scope=scope)).mappings().all()
    try:
        row, _ = svc.load_layout(session, enterprise_id, scope=scope)
        layout_meta: dict[str, Any] | None = _layout_body(row)
    except NotFound:
        layout_meta = None
    return json_response({"type": "FeatureCollection", "features": [svc.zone_dict(r) for r in rows],
                          "risk_points": [dict(p) for p in points], "layout": layout_meta},
                         mimetype="application/geo+json")


@bp.post("/enterprises/<int:enterprise_id>/zones")
def zone_create(enterprise_id: int):  # type: ignore[no-untyped-def]
    """Draw a zone: {name, geometry (GeoJSON), floor, grade, grade_inherent, grade_residual,
    risk_point_ids, confirm_repair, …}; 422 with the repaired geometry when it was invalid."""
    session = get_session()
    body = json_body()
    w = svc.create_zone(session, enterprise_id, body, current_actor(), scope=current_scope(), max_distance_m=_max_m())
    session.commit()
    return _zone_response(w.zone.id, 201, w.warnings)


@bp.get("/zones/<int:zone_id>")
def zone(zone_id: int):  # type: ignore[no-untyped-def]
    """One risk zone (a GeoJSON Feature; ETag = its version)."""
    return _zone_response(zone_id)


@bp.patch("/zones/<int:zone_id>")
def zone_update(zone_id: int):  # type: ignore[no-untyped-def]
    """Change a zone; needs its version (409 when stale)."""
    session = get_session()
    body = json_body()
    version = expected_version(body)
    fields = {k: v for k, v in body.items() if k not in ("version", "id", "type")}
    w = svc.update_zone(session, zone_id, fields, current_actor(), scope=current_scope(),
                        expected_version=version, max_distance_m=_max_m())
    session.commit()
    return _zone_response(w.zone.id, 200, w.warnings)


@bp.delete("/zones/<int:zone_id>")
def zone_delete(zone_id: int):  # type: ignore[no-untyped-def]
    """Delete a zone; needs its version (body or If-Match)."""
    session = get_session()
    body = request.get_json(silent=True) if request.data else {}
    svc.delete_zone(session, zone_id, current_actor(), scope=current_scope(),
                    expected_version=expected_version(body if isinstance(body, dict) else {}))
    session.commit()
    return Response(status=204)


@bp.post("/enterprises/<int:enterprise_id>/zones/import")
def zones_import(enterprise_id: int):  # type: ignore[no-untyped-def]
    """Import zones (multipart ``file``: GeoJSON, GeoPackage, zipped Shapefile or KML;
    ``skip_bad``, ``dry_run``); 422 with per-feature errors when nothing was written."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidParameter("file", "缺少上传文件（multipart 字段 file）")
    limits = uploads.UploadLimits.from_mb(float(current_app.config["MAX_IMPORT_MB"]))
    flag = lambda name: request.form.get(name) in ("1", "true", "on")  # noqa: E731
    session = get_session()
    with tempfile.TemporaryDirectory(prefix="geo-zones-") as tmp:
        path = Path(tmp) / uploads.safe_filename(upload.filename, "zones")
        try:
            data = upload.stream.read(limits.max_bytes + 1)
        finally:
            upload.close()
        if len(data) > limits.max_bytes:
            raise uploads.UploadTooLarge(f"文件超过导入上限 {limits.max_bytes // MB} MB")
        path.write_bytes(data)
        result = svc.import_zones(session, enterprise_id, path, current_actor(), scope=current_scope(),
                                  max_distance_m=_max_m(), skip_bad=flag("skip_bad"), dry_run=flag("dry_run"))
    if result.written:
        session.commit()
    else:
        session.rollback()
    status = 422 if result.errors and not result.written and not result.dry_run else 200
    return json_response(result.as_dict(), status)


# --------------------------------------------------------------------------- layout


def _layout_body(row: Any) -> dict[str, Any]:
    return svc.layout_dict(row) | {"href": url_for("api.layout_image", enterprise_id=row.enterprise_id,
                                                   v=row.sha256[:12])}


def _layout_response(enterprise_id: int, status: int = 200) -> Response:
    row, _ = svc.load_layout(get_session(), enterprise_id, scope=current_scope())
    return with_etag(json_response(_layout_body(row), status), row.version)


@bp.get("/enterprises/<int:enterprise_id>/layout")
def layout(enterprise_id: int):  # type: ignore[no-untyped-def]
    """The plant layout's metadata and corners (TL, TR, BR, BL lng/lat); 404 without one."""
    return _layout_response(enterprise_id)


@bp.get("/enterprises/<int:enterprise_id>/layout/image")
def layout_image(enterprise_id: int):  # type: ignore[no-untyped-def]
    """The plant layout image (PNG or JPEG; a PDF's first page as PNG)."""
    row, path = svc.load_layout(get_session(), enterprise_id, scope=current_scope(),
                                upload_dir=current_app.config["UPLOAD_DIR"])
    if path is None:
        raise NotFound("平面图文件已丢失")
    return send_file(path, mimetype=row.content_type, etag=row.sha256, max_age=0)


@bp.post("/enterprises/<int:enterprise_id>/layout")
def layout_upload(enterprise_id: int):  # type: ignore[no-untyped-def]
    """Upload (or replace, with ``version``) the plant layout: multipart ``file`` (PNG, JPEG or PDF)."""
    upload = request.files.get("file")
    if upload is None:
        raise InvalidParameter("file", "缺少上传文件（multipart 字段 file）")
    version = form_version()
    session = get_session()
    max_bytes = int(float(current_app.config["MAX_LAYOUT_MB"]) * MB)
    try:
        row = svc.upload_layout(session, enterprise_id, upload.stream, upload.filename or "", current_actor(),
                                scope=current_scope(), upload_dir=current_app.config["UPLOAD_DIR"],
                                max_bytes=max_bytes, max_distance_m=_max_m(), expected_version=version)
    finally:
        upload.close()
    created = row.version == 1
    session.commit()
    return _layout_response(enterprise_id, 201 if created else 200)


@bp.patch("/enterprises/<int:enterprise_id>/layout")
def layout_place(enterprise_id: int):  # type: ignore[no-untyped-def]
    """Place the layout: {corners: 3 (TL, TR, BL) or 4 (TL, TR, BR, BL) [lng, lat], version}
    or {control_points: 3 × {px, lnglat}, version}."""
    session = get_session()
    body = json_body()
    version = expected_version(body)
    fields = {k: v for k, v in body.items() if k != "version"}
    svc.place_layout(session, enterprise_id, fields, current_actor(), scope=current_scope(),
                     expected_version=version, max_distance_m=_max_m())
    session.commit()
    return _layout_response(enterprise_id)


@bp.delete("/enterprises/<int:enterprise_id>/layout")
def layout_delete(enterprise_id: int):  # type: ignore[no-untyped-def]
    """Remove the plant layout; needs its version."""
    session = get_session()
    body = request.get_json(silent=True) if request.data else {}
    svc.delete_layout(session, enterprise_id, current_actor(), scope=current_scope(),
                      expected_version=expected_version(body if isinstance(body, dict) else {}))
    session.commit()
    return Response(status=204)

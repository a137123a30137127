"""Liveness: ``/healthz`` answers 200 only when the database is reachable (and the
read replica, when ``DATABASE_READ_URL`` is set: the map's reads depend on it)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..db import database_ok

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """200 with the database (and the replica, if any) reachable, 503 otherwise."""
    body = {"database": database_ok(current_app.extensions["geo_engine"])}
    replica = current_app.extensions.get("geo_read_engine")
    if replica is not None:
        body["replica"] = database_ok(replica)
    ok = all(body.values())
    return jsonify({"status": "ok" if ok else "degraded", **body}), 200 if ok else 503

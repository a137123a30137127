"""Liveness: ``/healthz`` answers 200 only when the database is reachable."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..db import database_ok

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """200 with the database reachable, 503 otherwise."""
    ok = database_ok(current_app.extensions["geo_engine"])
    return jsonify({"status": "ok" if ok else "degraded", "database": ok}), 200 if ok else 503

"""The data API under ``/api/``: lists (GeoJSON or JSON, paged, filtered,
downloadable), spatial searches, region summaries, the closed-loop writes and
the OpenAPI description (``/api/openapi.json``)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from . import views, zones  # noqa: E402,F401  (registers the routes)
from .common import reject_nul_args  # noqa: E402

bp.before_request(reject_nul_args)

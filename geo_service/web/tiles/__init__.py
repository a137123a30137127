"""Vector tiles: ``/tiles/<layer>/<z>/<x>/<y>.pbf`` for enterprises, hazards and
regions, built in PostGIS, filtered by the common query parameters.

Tiles are never cached on the server: each answer is built from the current
data, so a tile is never stale after a write.  The ETag is a hash of the
tile's bytes, so a browser revalidates (``Cache-Control: no-cache``) and gets
``304 Not Modified`` while nothing changed.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, current_app, request

from ...db import get_session
from ...errors import InvalidParameter, NotFound
from ...queries import tiles as tq
from ...queries.regions import LEVEL_DEPTH
from ..api.common import as_of_arg, request_filters
from ..context import current_scope

bp = Blueprint("tiles", __name__, url_prefix="/tiles")

MVT = "application/vnd.mapbox-vector-tile"


@bp.get("/<layer>/<int:z>/<int:x>/<int:y>.pbf")
def tile(layer: str, z: int, x: int, y: int):  # type: ignore[no-untyped-def]
    """One Mapbox Vector Tile; the MVT layer inside is named like the URL layer."""
    if layer not in tq.LAYERS:
        raise NotFound(f"没有图层 {layer}（可选：{'、'.join(tq.LAYERS)}）")
    if not tq.valid_tile(z, x, y):
        raise InvalidParameter("z/x/y", f"瓦片编号超出范围（0 ≤ z ≤ {tq.MAX_ZOOM}，0 ≤ x、y < 2^z）")
    level = request.args.get("level")
    if level is not None and level not in LEVEL_DEPTH:
        raise InvalidParameter("level", f"可选：{', '.join(LEVEL_DEPTH)}")
    f = request_filters()
    cluster_below = int(current_app.config.get("TILE_CLUSTER_BELOW_ZOOM", 12))
    stmt = tq.tile_select(layer, z, x, y, f, scope=current_scope(), as_of=as_of_arg(),
                          cluster_below=cluster_below, level=level)
    data = bytes(get_session().execute(stmt).scalar_one() or b"")
    etag = hashlib.sha256(data).hexdigest()[:32]
    resp = Response(data, mimetype=MVT)
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "private, no-cache"
    resp.headers["Vary"] = "Cookie, Authorization"
    return resp.make_conditional(request)

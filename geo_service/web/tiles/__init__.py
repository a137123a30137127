"""Vector tiles: ``/tiles/<layer>/<z>/<x>/<y>.pbf`` for enterprises, hazards and
regions, built in PostGIS, filtered by the common query parameters.

A tile is never stale: its ETag and its key in this worker's tile cache
contain the change tokens of the counties whose boxes meet the tile
(:mod:`geo_service.tokens`, migration 0014), which this worker knows from the
notifications pushed to it.  So a browser revalidates (``Cache-Control:
no-cache``) and gets ``304 Not Modified`` without a round trip to the database
while nothing changed there, a tile already built is served from memory, the
first request after a write in one of its counties builds it afresh, and a
write in another county leaves it cached.  A tile built is stored under the
tokens read in the same statement as its data, never under the pushed ones.

With ``DATABASE_READ_URL`` the tile is read from the replica
(:func:`~geo_service.db.get_read_session`), and so are those tokens: the
pushed tokens come from the primary's listener and may be newer than what the
replica has replayed, in which case the lookup misses, the tile is built from
the replica and stored and tagged under the replica's (older) tokens; the
first request after the replica has replayed the write builds it again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from flask import Blueprint, Flask, current_app, request

from ...db import get_read_session, replica_reads
from ...errors import InvalidParameter, NotFound
from ...queries import tiles as tq
from ...queries.changes import TOKEN_KEYS, tokens_column, with_tokens_of_keys
from ...queries.filters import open_unless_stated
from ...queries.regions import LEVEL_DEPTH
from .. import changes
from ..api.common import as_of_arg, grades_at_arg, reject_nul_args, request_filters
from ..context import current_scope

__all__ = ["ResponseCache", "bp", "response_cache"]

bp = Blueprint("tiles", __name__, url_prefix="/tiles")
bp.before_request(reject_nul_args)
# every surface's writes: this worker's next tile, page or summary shows them (geo_service.tokens)
bp.after_app_request(changes.settle_after_write)

MVT = "application/vnd.mapbox-vector-tile"


class ResponseCache:
    """A byte-bounded LRU of built answers (tiles, feature pages), shared by the
    threads of one worker; keys contain the change token, so nothing is evicted
    for being stale: old keys are simply never asked for again."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0  # answers served from the cache (tests, logs)
        self.misses = 0
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self.hits += 1
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: str, data: Any, size: int) -> None:
        if size > self.max_bytes // 8:
            return  # one huge answer must not evict everything
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (data, size)
            self.size += size
            while self.size > self.max_bytes:
                _, (_old, old_size) = self._items.popitem(last=False)
                self.size -= old_size


def response_cache(app: Flask, name: str, megabytes: int) -> ResponseCache:
    """This worker's cache ``name`` (made on first use)."""
    cache = app.extensions.get(name)
    if cache is None:
        cache = app.extensions.setdefault(name, ResponseCache(megabytes * 1024 * 1024))
    return cache


# What the features of each MVT layer carry (TileJSON ``vector_layers``).
TILE_FIELDS: dict[str, dict[str, str]] = {
    "enterprises": {"id": "Number", "name": "String", "grade": "Number", "industry_code": "String", "count": "Number（低缩放级别下网格聚合的企业数）",
                    **{f"count_{g}": f"Number（聚合网格内风险等级为 {g} 的企业数）" for g in (1, 2, 3, 4)}},
    "hazards": {},
    "regions": {},
}
TITLES = {"enterprises": "企业（按风险等级）", "hazards": "事故隐患", "regions": "行政区划"}


def tile_url_template(layer: str, *, ogc: bool = False) -> str:
    """The absolute URL template of ``layer``'s tiles: ``{z}/{x}/{y}``, or OGC API
    Tiles' ``{tileMatrix}/{tileCol}/{tileRow}``."""
    base = request.host_url.rstrip("/") + f"{bp.url_prefix}/{layer}/"
    return base + ("{tileMatrix}/{tileCol}/{tileRow}.pbf" if ogc else "{z}/{x}/{y}.pbf")


@bp.get("/<layer>.json")
def tilejson(layer: str):  # type: ignore[no-untyped-def]
    """TileJSON 3.0 of a vector tile layer, so QGIS and MapLibre add it by URL."""
    if layer not in tq.LAYERS:
        raise NotFound(f"没有图层 {layer}（可选：{'、'.join(tq.LAYERS)}）")
    from ..api.common import json_response

    return json_response({
        "tilejson": "3.0.0", "name": TITLES[layer], "scheme": "xyz", "tiles": [tile_url_template(layer)],
        "minzoom": 0, "maxzoom": tq.MAX_ZOOM, "bounds": [-180, -85.0511287798066, 180, 85.0511287798066],
        "vector_layers": [{"id": layer, "description": TITLES[layer], "minzoom": 0, "maxzoom": tq.MAX_ZOOM,
                           "fields": TILE_FIELDS[layer]}],
    })


@bp.get("/<layer>/<int:z>/<int:x>/<int:y>.pbf")
@replica_reads
def tile(layer: str, z: int, x: int, y: int):  # type: ignore[no-untyped-def]
    """One Mapbox Vector Tile; the MVT layer inside is named like the URL layer."""
    if layer not in tq.LAYERS:
        raise NotFound(f"没有图层 {layer}（可选：{'、'.join(tq.LAYERS)}）")
    if not tq.valid_tile(z, x, y):
        raise InvalidParameter("z/x/y", f"瓦片编号超出范围（0 ≤ z ≤ {tq.MAX_ZOOM}，0 ≤ x、y < 2^z）")
    level = request.args.get("level")
    if level is not None and level not in LEVEL_DEPTH:
        raise InvalidParameter("level", f"可选：{', '.join(LEVEL_DEPTH)}")
    f = open_unless_stated(request_filters())  # the map's tiles: 重大/逾期 mean open hazards
    # as_of=YYYY-MM: the map as of the month's end, with each enterprise's grade then
    f = replace(f, grades_at=grades_at_arg())
    scope, as_of = current_scope(), as_of_arg()
    cluster_below = int(current_app.config["TILE_CLUSTER_BELOW_ZOOM"])
    coverage = changes.cover_tile(z, x, y)
    # Everything the tile's bytes depend on: the request and who asks, then the data's tokens.
    parts = (layer, z, x, y, sorted(request.args.items(multi=True)), scope, as_of, cluster_below)
    cache = response_cache(current_app, "tile_cache", int(current_app.config["TILE_CACHE_MB"]))

    def build() -> tuple[bytes, dict[str, int]]:
        stmt, params = tq.tile_statement(layer, z, x, y, f, scope=scope, as_of=as_of,
                                         cluster_below=cluster_below, level=level)
        # the tokens in the same statement: the same snapshot (on the replica, if any) as the tile's data
        if params and isinstance(coverage.selection, tuple):  # a statement of the zoom: built once
            stmt, params = with_tokens_of_keys(stmt), {**params, TOKEN_KEYS: list(coverage.selection)}
        else:
            stmt = stmt.add_columns(tokens_column(coverage.selection))
        raw, snapshot = get_read_session().execute(stmt, params).one()
        return bytes(raw or b""), snapshot

    return changes.cached_answer(coverage, parts, cache, build, mimetype=MVT)

"""Vector tiles: ``/tiles/<layer>/<z>/<x>/<y>.pbf`` for enterprises, hazards and
regions, built in PostGIS, filtered by the common query parameters.

A tile is never stale: every request first reads the register's change token
(:func:`~geo_service.queries.tiles.data_token_select`, which grows with every
committed change to an enterprise, a hazard or a region), and the tile's ETag
and its key in this worker's tile cache both contain that token.  So a browser
revalidates (``Cache-Control: no-cache``) and gets ``304 Not Modified`` without
the tile being built while nothing changed, a tile already built is served
from memory, and the first request after any write builds it afresh.

Two functions hold the token, and only they (the OGC page cache uses them too):

- :func:`data_token` — the token to *look up* what was already built (ETag,
  cache), one round trip on the database the data comes from (the replica when
  ``DATABASE_READ_URL`` is set);
- :func:`token_with_data` — the token a *newly built* answer is cached and
  tagged under, read in the same transaction as its data (on the replica one
  ``REPEATABLE READ`` snapshot, see ``geo_service.db``).  So an answer is never
  cached under a token newer than the data it was built from, however far the
  replica lags: a lookup with a newer token only misses and builds again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ...db import get_read_session, read_bind, replica_reads
from ...errors import InvalidParameter, NotFound
from ...queries import tiles as tq
from ...queries.filters import open_unless_stated
from ...queries.regions import LEVEL_DEPTH
from ..api.common import as_of_arg, grades_at_arg, reject_nul_args, request_filters
from ..context import current_scope

__all__ = ["ResponseCache", "bp", "data_token", "response_cache", "token_with_data"]

bp = Blueprint("tiles", __name__, url_prefix="/tiles")
bp.before_request(reject_nul_args)

MVT = "application/vnd.mapbox-vector-tile"


class ResponseCache:
    """A byte-bounded LRU of built answers (tiles, feature pages), shared by the
    threads of one worker; keys contain the change token, so nothing is evicted
    for being stale: old keys are simply never asked for again."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
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


def _token_engine(app: Flask, engine: sa.Engine) -> sa.Engine:
    """A small autocommit pool for the change token, without pre-ping: reading the
    token is then one round trip, and the request session (ping, BEGIN, query,
    ROLLBACK) is opened only when a tile has to be built."""
    token_engine = app.extensions.get("tile_token_engine")
    if token_engine is None:
        token_engine = sa.create_engine(
            engine.url, pool_size=4, max_overflow=8, pool_timeout=10, pool_recycle=1800,
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 5, "options": "-c statement_timeout=5000",
                          "application_name": "geo-service-tiles"})
        token_engine = app.extensions.setdefault("tile_token_engine", token_engine)
    return token_engine


def data_token() -> int:
    """The register's change token to look up answers already built, read on the
    database this request's data comes from (see the module docstring)."""
    bind = read_bind()
    if not isinstance(bind, sa.Engine):  # tests: a connection inside the test's transaction
        return token_with_data(get_read_session())
    engine = _token_engine(current_app, bind)
    for attempt in (1, 2):
        try:
            with engine.connect() as conn:
                return int(conn.execute(tq.data_token_select()).scalar_one())
        except DBAPIError as err:
            # a pooled connection the server dropped (restart): retry once on a new one
            if attempt == 2 or not err.connection_invalidated:
                raise
    raise AssertionError("unreachable")


def token_with_data(session: Session) -> int:
    """The change token of the data ``session`` reads, in its transaction: what a
    newly built answer is cached and tagged under (see the module docstring)."""
    return int(session.execute(tq.data_token_select()).scalar_one())


# What the features of each MVT layer carry (TileJSON ``vector_layers``).
TILE_FIELDS: dict[str, dict[str, str]] = {
    "enterprises": {"id": "Number", "name": "String", "grade": "Number", "industry": "String",
                    "industry_code": "String", "count": "Number（低缩放级别下网格聚合的企业数）"},
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
    # Everything the tile's bytes depend on: the data (token), the request and who asks.
    request_key = "|".join(map(str, (layer, z, x, y, sorted(request.args.items(multi=True)), scope, as_of,
                                     cluster_below)))
    key = f"{request_key}|{data_token()}"
    headers = {"Cache-Control": "private, no-cache", "Vary": "Cookie, Authorization"}
    if request.if_none_match.contains(_etag(key)):
        resp = Response(status=304, headers=headers)
        resp.set_etag(_etag(key))
        return resp
    cache = response_cache(current_app, "tile_cache", int(current_app.config["TILE_CACHE_MB"]))
    data = cache.get(key)
    if data is None:
        session = get_read_session()
        key = f"{request_key}|{token_with_data(session)}"  # the token of the data read next
        stmt = tq.tile_select(layer, z, x, y, f, scope=scope, as_of=as_of, cluster_below=cluster_below,
                              level=level)
        data = bytes(session.execute(stmt).scalar_one() or b"")
        cache.put(key, data, len(data))
    resp = Response(data, mimetype=MVT, headers=headers)
    resp.set_etag(_etag(key))
    return resp


def _etag(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]

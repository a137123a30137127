"""The web side of the per-county change tokens (:mod:`geo_service.tokens`):
which keys a request covers, their tokens for looking up a cached answer, and
whether an answer built with the tokens of its snapshot may be stored.

Read the invariant in :mod:`geo_service.tokens`: lookups may use the tokens
pushed to this worker; an answer is stored only under the tokens read with its
data (:func:`storable`, :func:`answer_key`).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from flask import Flask, Response, current_app, request

from ..db import get_read_session
from ..queries.changes import EVERYTHING, Selection, boxes_select, prefix_keys, tokens_select
from ..queries.scope import Scope, region_prefix
from ..queries.tiles import BUFFER, EXTENT
from ..tokens import Boxes, RegionTokens, combine

__all__ = ["AnswerCache", "Coverage", "answer_key", "cached_answer", "cover", "cover_bbox", "cover_region", "cover_tile", "etag_of", "read_tokens",
           "region_selection", "region_tokens", "settle_after_write", "storable", "tile_lnglat_bounds"]

LOGGER = logging.getLogger(__name__)


def settle_after_write(response: Response) -> Response:
    """After a request that may have written (not GET, HEAD or OPTIONS): wait until
    this worker's listener has heard every change committed so far
    (:meth:`~geo_service.tokens.RegionTokens.barrier`), so this worker's next
    answer shows the write.  A failure here is logged, never the request's."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return response
    listener = current_app.extensions.get("region_tokens")
    if listener is None or not isinstance(current_app.extensions["geo_bind"], sa.Engine):
        return response
    try:
        if listener.listening and not listener.barrier(current_app.extensions["geo_engine"]):
            LOGGER.warning("the change-token listener did not confirm a write in time")
    except sa.exc.SQLAlchemyError:
        LOGGER.warning("change-token barrier failed", exc_info=True)
    return response


def region_tokens(app: Flask) -> RegionTokens | None:
    """This worker's listener, started on first use; None when the application is
    bound to a connection (tests inside a transaction: nothing is committed, so
    nothing is notified, and every request reads the tokens)."""
    bind = app.extensions["geo_bind"]
    if not isinstance(bind, sa.Engine):
        return None
    tokens = app.extensions.get("region_tokens")
    if tokens is None:
        # the primary: DATABASE_URL's engine, even when reads go to a replica
        tokens = app.extensions.setdefault("region_tokens", RegionTokens(app.extensions["geo_engine"].url))
    tokens.ensure_started()
    return tokens


@dataclass(frozen=True)
class Coverage:
    """The keys a request covers and their tokens as this worker knows them now."""

    selection: Selection
    tokens: dict[str, int]
    star: int | None = None  # box selections: the '*' token of the boxes they were computed from


def read_tokens(selection: Selection) -> dict[str, int]:
    """The tokens of ``selection`` read through the request's read session: the
    database, and in a view marked ``replica_reads`` the snapshot, its data is read from."""
    return {str(k): int(v) for k, v in get_read_session().execute(tokens_select(selection))}


def _boxes_from_database() -> Boxes:
    """The boxes, read through the request's read session (the listener is not running)."""
    cached: Boxes | None = current_app.extensions.get("region_boxes")
    star = read_tokens((EVERYTHING,)).get(EVERYTHING, 0)
    if cached is None or cached.star != star:
        cached = Boxes.from_rows(get_read_session().execute(boxes_select()))
        current_app.extensions["region_boxes"] = cached
    return cached


def cover(selection: Selection) -> Coverage:
    """The coverage of a region prefix, a tuple of keys, or everything (None)."""
    listener = region_tokens(current_app)
    known = listener.tokens(selection) if listener is not None else None
    return Coverage(selection, known if known is not None else read_tokens(selection))


def region_selection(code: str | None, scope: Scope) -> Selection:
    """The keys an answer over region ``code`` (None: everywhere) as seen by
    ``scope`` depends on: the counties under the narrower of the two prefixes."""
    prefixes = [region_prefix(c) for c in (code, scope.region) if c is not None]
    if not prefixes:
        return None
    longest = max(prefixes, key=len)
    if any(not longest.startswith(p) for p in prefixes):  # disjoint: nothing; any key will do
        longest = prefixes[0]
    return prefix_keys(longest)


def cover_region(code: str | None, scope: Scope) -> Coverage:
    """An answer over region ``code`` (None: everywhere) as seen by ``scope``
    (:func:`region_selection`)."""
    return cover(region_selection(code, scope))


def cover_bbox(west: float, south: float, east: float, north: float) -> Coverage:
    """An answer over a WGS84 box: the counties whose boxes meet it, ``''`` and ``'*'``."""
    listener = region_tokens(current_app)
    boxes = listener.boxes() if listener is not None else None
    known = None
    if boxes is not None and listener is not None:
        selection = boxes.keys_for(west, south, east, north)
        known = listener.tokens(selection)
    if boxes is None or known is None:
        boxes = _boxes_from_database()
        selection = boxes.keys_for(west, south, east, north)
        known = read_tokens(selection)
    return Coverage(selection, known, boxes.star)


def tile_lnglat_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The WGS84 box of tile ``z/x/y`` with the tiles' buffer (``BUFFER``/``EXTENT`` of a side).

    >>> [round(v, 3) for v in tile_lnglat_bounds(0, 0, 0)]
    [-180.0, -85.051, 180.0, 85.051]
    """
    n = 2 ** z
    pad = BUFFER / EXTENT

    def lng(tx: float) -> float:
        return max(-180.0, min(180.0, tx / n * 360.0 - 180.0))

    def lat(ty: float) -> float:
        ty = max(0.0, min(float(n), ty))
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * ty / n))))

    return lng(x - pad), lat(y + 1 + pad), lng(x + 1 + pad), lat(y - pad)


def cover_tile(z: int, x: int, y: int) -> Coverage:
    """The coverage of a vector tile."""
    return cover_bbox(*tile_lnglat_bounds(z, x, y))


def storable(coverage: Coverage, snapshot: Mapping[str, int]) -> bool:
    """Whether an answer read with ``snapshot`` tokens may be stored: a box
    selection only when the boxes it came from are those of the snapshot."""
    return coverage.star is None or int(snapshot.get(EVERYTHING, 0)) == coverage.star


def answer_key(parts: tuple[Any, ...], tokens: Mapping[str, int]) -> str:
    """The cache key of an answer: what it depends on in the request, and the tokens."""
    return "|".join(map(str, parts)) + "|" + combine(tokens)


def etag_of(key: str) -> str:
    """The ETag of an answer stored (or looked up) under ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class AnswerCache(Protocol):
    """What :func:`cached_answer` needs of a cache (``web.tiles.ResponseCache``)."""

    def get(self, key: str) -> Any: ...

    def put(self, key: str, value: Any, size: int) -> None: ...


def cached_answer(coverage: Coverage, parts: tuple[Any, ...], cache: AnswerCache,
                  build: Callable[[], tuple[str | bytes, Mapping[str, int]]], *, mimetype: str) -> Response:
    """The answer to a GET request over ``coverage``, depending on ``parts`` of the request.

    Looked up under the tokens pushed to this worker: a 304 when the client's
    ETag matches, else the cached body.  Otherwise ``build()`` returns the body and
    the tokens read in the same snapshot as its data; it is stored under those
    (:func:`answer_key`) when :func:`storable`, and served without an ETag when not.
    """
    lookup = answer_key(parts, coverage.tokens)
    headers = {"Cache-Control": "private, no-cache", "Vary": "Cookie, Authorization"}
    if request.if_none_match.contains(etag_of(lookup)):
        resp = Response(status=304, headers=headers)
        resp.set_etag(etag_of(lookup))
        return resp
    body = cache.get(lookup)
    etag: str | None = etag_of(lookup)
    if body is None:
        body, snapshot = build()
        if storable(coverage, snapshot):
            key = answer_key(parts, snapshot)
            cache.put(key, body, len(body.encode() if isinstance(body, str) else body))
            etag = etag_of(key)
        else:  # the county boxes changed meanwhile: serve it, keep nothing
            etag = None
    resp = Response(body, mimetype=mimetype, headers=headers)
    if etag is not None:
        resp.set_etag(etag)
    return resp

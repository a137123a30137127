"""OGC API – Features, Part 1 (Core, GeoJSON) at ``/ogc/``.

Collections ``enterprises``, ``risk-points``, ``hazards`` and ``regions``;
``items`` take ``bbox``, ``limit``, ``offset`` and the common filters of the
data API as query parameters.  A ``limit`` above the maximum is lowered to it
(the standard's permission), so generic clients never fail on their default.
Coordinates are CRS84 (lng, lat).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from ... import registry
from ...db import get_read_session, replica_reads
from ...errors import InvalidParameter, NotFound
from ...queries import cql2
from ...queries import regions as rq
from ...queries.changes import EVERYTHING, tokens_column
from ...queries.extents import extent_select
from ...queries.filters import MAX_OFFSET, Filters, parse_page
from ...queries.tiles import LAYERS as TILED
from .. import changes
from ..api.common import GEOJSON, decorate, feature, json_response, reject_nul_args, request_filters
from ..context import current_scope, record_download
from ..tiles import response_cache
from .geojson import count_capped, features_page

bp = Blueprint("ogc", __name__, url_prefix="/ogc")
bp.before_request(reject_nul_args)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
COLLECTIONS = registry.COLLECTIONS
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    # Part 3: filtering with CQL2 (what queries/cql2.py implements)
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    # OGC API – Tiles: tileset metadata of the vector tiles, in WebMercatorQuad
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
]
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
WEB_MERCATOR_QUAD = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
MVT = "application/vnd.mapbox-vector-tile"
SCHEMA_JSON = "application/schema+json"
JSON = "application/json"
COUNT_BEYOND = 10_000  # numberMatched is counted up to this many rows past the page


def _format() -> None:
    f = request.args.get("f")
    if f not in (None, "", "json", "geojson"):
        raise InvalidParameter("f", "只支持 f=json")


def _abs(endpoint: str, **values: Any) -> str:
    return url_for(endpoint, _external=True, **values)


@bp.get("/", strict_slashes=False)
def landing():  # type: ignore[no-untyped-def]
    """Landing page."""
    _format()
    return json_response({
        "title": "风险一张图 OGC API – Features",
        "description": "企业、风险点、事故隐患与行政区划的要素服务",
        "links": [
            {"rel": "self", "type": JSON, "title": "本页", "href": _abs("ogc.landing")},
            {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
             "title": "API 定义", "href": _abs("ogc.api")},
            {"rel": "conformance", "type": JSON, "title": "符合性", "href": _abs("ogc.conformance")},
            {"rel": "data", "type": JSON, "title": "要素集", "href": _abs("ogc.collections")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", "type": JSON, "title": "瓦片矩阵集",
             "href": _abs("ogc.tile_matrix_sets")},
        ],
    })


@bp.get("/conformance")
def conformance():  # type: ignore[no-untyped-def]
    """Conformance classes."""
    _format()
    return json_response({"conformsTo": CONFORMANCE})


def _collection(cid: str) -> dict[str, Any]:
    title, description = COLLECTIONS[cid].title, COLLECTIONS[cid].description
    row = get_read_session().execute(extent_select(cid, scope=current_scope())).one()
    bbox = [float(v) for v in row] if row[0] is not None else [-180.0, -90.0, 180.0, 90.0]
    return {
        "id": cid, "title": title, "description": description, "itemType": "feature",
        "crs": [CRS84], "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [bbox], "crs": CRS84}},
        "links": [
            {"rel": "self", "type": JSON, "href": _abs("ogc.collection", cid=cid)},
            {"rel": "items", "type": GEOJSON, "title": title, "href": _abs("ogc.items", cid=cid)},
            {"rel": QUERYABLES_REL, "type": SCHEMA_JSON, "title": "可查询属性",
             "href": _abs("ogc.queryables", cid=cid)},
            # the rel of the Part 3 drafts, which GDAL ≤ 3.7 looks for
            {"rel": "queryables", "type": JSON, "href": _abs("ogc.queryables", cid=cid)},
        ] + ([{"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "type": JSON, "title": "矢量瓦片",
               "href": _abs("ogc.tilesets", cid=cid)}] if cid in TILED else []),
    }


@bp.get("/collections")
@replica_reads
def collections():  # type: ignore[no-untyped-def]
    """The collections."""
    _format()
    return json_response({
        "links": [{"rel": "self", "type": JSON, "href": _abs("ogc.collections")}],
        "collections": [_collection(cid) for cid in COLLECTIONS],
    })


def _require_collection(cid: str) -> None:
    if cid not in COLLECTIONS:
        raise NotFound(f"没有要素集 {cid}")


@bp.get("/collections/<cid>")
@replica_reads
def collection(cid: str):  # type: ignore[no-untyped-def]
    """One collection."""
    _format()
    _require_collection(cid)
    return json_response(_collection(cid))


def _statement(cid: str, f: Filters) -> Any:
    return COLLECTIONS[cid].statement(f, current_scope(), dt.date.today(), request.args)


def _feature(cid: str, row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    if cid == "regions":
        geometry = json.loads(data.pop("geometry"))
        return feature(data, id_key="code", geometry=geometry)
    return feature(decorate(cid, data))


def _link(rel: str, offset: int | None, limit: int | None, mime: str = GEOJSON) -> dict[str, str]:
    args = request.args.to_dict(flat=True)
    if offset is not None:
        args["offset"] = str(offset)
    if limit is not None:
        args["limit"] = str(limit)
    from urllib.parse import urlencode

    query = urlencode(args)
    return {"rel": rel, "type": mime, "href": request.base_url + (f"?{query}" if query else "")}


@bp.get("/collections/<cid>/items")
@replica_reads
def items(cid: str):  # type: ignore[no-untyped-def]
    """Features of a collection: bbox, limit, offset and the common filters."""
    _format()
    _require_collection(cid)
    max_page = current_app.config["MAX_PAGE_SIZE"]
    limit, offset = parse_page(request.args, max_page_size=max_page, default_limit=10, lower_limit=True)
    if cid == "regions" and request.args.get("level") not in (None, *rq.LEVEL_DEPTH):
        raise InvalidParameter("level", f"可选：{', '.join(rq.LEVEL_DEPTH)}")
    f = request_filters()
    stmt = _statement(cid, f)
    filter_text = request.args.get("filter")
    if filter_text is not None:
        stmt = stmt.where(cql2.filter_clause(filter_text, request.args.get("filter-lang"),
                                             request.args.get("filter-crs"), registry.queryables(cid)))
    elif "filter-lang" in request.args or "filter-crs" in request.args:
        raise InvalidParameter("filter", "给出了 filter-lang 或 filter-crs，却没有 filter")
    # numberMatched is exact up to COUNT_BEYOND rows past this page, else omitted
    # (the standard makes it optional); "next" is known either way.
    cap = offset + limit + COUNT_BEYOND
    # Pages are cached per worker under the change tokens of the counties they cover
    # (geo_service.tokens): a write elsewhere leaves them valid.  Stored under the
    # tokens read with the rows (on the replica, if any), never under the pushed ones.
    scope = current_scope()
    if cid == "regions":  # the outlines alone
        coverage = changes.cover((EVERYTHING,))
    elif f.region is None and scope.region is None and f.bbox is not None:
        coverage = changes.cover_bbox(*f.bbox)
    else:
        coverage = changes.cover_region(f.region, scope)
    parts = (cid, sorted(request.args.items(multi=True)), scope, dt.date.today(), limit, offset, cap)
    cache = response_cache(current_app, "ogc_cache", current_app.config["FEATURE_CACHE_MB"])
    page = cache.get(changes.answer_key(parts, coverage.tokens))
    if page is None:
        session = get_read_session()  # the replica in this marked view (db.replica_reads), tokens too
        if cid == "regions":
            snapshot = changes.read_tokens(coverage.selection)  # first: never newer than the rows
            matched = session.execute(count_capped(stmt, cap)).scalar_one()
            rows = session.execute(stmt.limit(limit).offset(offset)).all()
            page = (matched, len(rows), json.dumps([_feature(cid, r) for r in rows], ensure_ascii=False))
        else:  # the point collections: counted and serialised by the database in one statement
            *page, snapshot = session.execute(
                features_page(stmt, cid, limit=limit, offset=offset, count_cap=cap)
                .add_columns(tokens_column(coverage.selection))).one()
            page = tuple(page)
        if changes.storable(coverage, snapshot):
            cache.put(changes.answer_key(parts, snapshot), page, len(page[2]))
    matched, returned, features = page
    if cid != "regions":  # register data (法定代表人, phones): a GIS client harvests it page by page
        record_download(cid, "ogc", returned)
    exact = matched < cap
    links = [_link("self", offset, limit),
             {**_link("alternate", offset, limit, JSON), "title": "JSON"},
             {"rel": "collection", "type": JSON, "href": _abs("ogc.collection", cid=cid)}]
    if offset + returned < matched:
        links.append(_link("next", offset + limit, limit))
    if offset > 0:
        links.append(_link("prev", max(0, offset - limit), limit))
    rest: dict[str, Any] = {"numberMatched": matched} if exact else {}
    rest.update({
        "numberReturned": returned,
        "timeStamp": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "links": links,
    })
    body = '{"type": "FeatureCollection", "features": ' + features + ", " + json.dumps(rest, ensure_ascii=False)[1:]
    return Response(body, mimetype=GEOJSON)


def _web_mercator_quad() -> dict[str, Any]:
    """The WebMercatorQuad tile matrix set (OGC 17-083r4), zooms 0 … the tiles' maximum."""
    from ...queries.tiles import MAX_ZOOM, WEB_MERCATOR_HALF

    return {
        "id": "WebMercatorQuad", "title": "Google Maps Compatible for the World",
        "uri": WEB_MERCATOR_QUAD, "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "orderedAxes": ["E", "N"], "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": [{
            "id": str(z), "scaleDenominator": 559082264.0287178 / 2 ** z,
            "cellSize": 2 * WEB_MERCATOR_HALF / 256 / 2 ** z, "cornerOfOrigin": "topLeft",
            "pointOfOrigin": [-WEB_MERCATOR_HALF, WEB_MERCATOR_HALF], "tileWidth": 256, "tileHeight": 256,
            "matrixWidth": 2 ** z, "matrixHeight": 2 ** z} for z in range(MAX_ZOOM + 1)],
    }


@bp.get("/tileMatrixSets")
def tile_matrix_sets():  # type: ignore[no-untyped-def]
    """The tile matrix sets of the tiles (WebMercatorQuad)."""
    _format()
    return json_response({"tileMatrixSets": [{
        "id": "WebMercatorQuad", "title": "Google Maps Compatible for the World", "uri": WEB_MERCATOR_QUAD,
        "links": [{"rel": "self", "type": JSON, "href": _abs("ogc.tile_matrix_set", tms="WebMercatorQuad")}]}]})


@bp.get("/tileMatrixSets/<tms>")
def tile_matrix_set(tms: str):  # type: ignore[no-untyped-def]
    """The WebMercatorQuad definition."""
    _format()
    if tms != "WebMercatorQuad":
        raise NotFound(f"没有瓦片矩阵集 {tms}（只有 WebMercatorQuad）")
    return json_response(_web_mercator_quad())


def _tiled(cid: str) -> None:
    _require_collection(cid)
    if cid not in TILED:
        raise NotFound(f"要素集 {cid} 没有矢量瓦片（有：{'、'.join(TILED)}）")


def _tileset(cid: str) -> dict[str, Any]:
    from ..tiles import tile_url_template

    return {
        "title": COLLECTIONS[cid].title, "dataType": "vector", "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": WEB_MERCATOR_QUAD,
        "links": [
            {"rel": "self", "type": JSON, "href": _abs("ogc.tileset", cid=cid, tms="WebMercatorQuad")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": JSON,
             "href": _abs("ogc.tile_matrix_set", tms="WebMercatorQuad")},
            {"rel": "item", "type": MVT, "templated": True, "href": tile_url_template(cid, ogc=True)},
            {"rel": "describedby", "type": "application/vnd.mapbox.tile+json", "title": "TileJSON",
             "href": _abs("tiles.tilejson", layer=cid)},
        ],
        "layers": [{"id": cid, "dataType": "vector", "geometryType": "polygons" if "polygon" in COLLECTIONS[cid].geometry_type else "points"}],
    }


@bp.get("/collections/<cid>/tiles")
def tilesets(cid: str):  # type: ignore[no-untyped-def]
    """The vector tilesets of a collection (one: WebMercatorQuad)."""
    _format()
    _tiled(cid)
    tileset = _tileset(cid)
    return json_response({"tilesets": [{k: tileset[k] for k in ("title", "dataType", "crs", "tileMatrixSetURI")}
                                       | {"links": tileset["links"][:1] + tileset["links"][1:3]}]})


@bp.get("/collections/<cid>/tiles/<tms>")
def tileset(cid: str, tms: str):  # type: ignore[no-untyped-def]
    """Tileset metadata: the tile URL template in WebMercatorQuad (OGC API – Tiles)."""
    _format()
    _tiled(cid)
    if tms != "WebMercatorQuad":
        raise NotFound(f"没有瓦片矩阵集 {tms}（只有 WebMercatorQuad）")
    return json_response(_tileset(cid))


@bp.get("/collections/<cid>/queryables")
def queryables(cid: str):  # type: ignore[no-untyped-def]
    """The properties a filter may name (JSON Schema, OGC API – Features Part 3)."""
    _format()
    _require_collection(cid)
    coll = COLLECTIONS[cid]
    labels = {f.key: f.label for f in coll.fields}
    props: dict[str, Any] = {}
    for name, q in registry.queryables(cid).items():
        if name == "geometry":
            props[name] = {"title": "几何", "format": f"geometry-{coll.geometry_type}",
                           "x-ogc-role": "primary-geometry"}
        else:
            props[name] = {"title": labels.get(name, name), **q.schema}
    body = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _abs("ogc.queryables", cid=cid),
        "type": "object", "title": coll.title, "properties": props, "additionalProperties": False,
        # the list of the Part 3 drafts, read by GDAL ≤ 3.7 (JSON Schema ignores the member)
        "queryables": [{"id": name, "title": p["title"]} for name, p in props.items()],
    }
    accept = request.headers.get("Accept", "")
    return json_response(body, mimetype=SCHEMA_JSON if SCHEMA_JSON in accept else JSON)


@bp.get("/collections/<cid>/items/<fid>")
@replica_reads
def item(cid: str, fid: str):  # type: ignore[no-untyped-def]
    """One feature."""
    _format()
    _require_collection(cid)
    coll = COLLECTIONS[cid]
    key = getattr(coll.model, coll.id_column)
    if coll.id_column == "id":
        if not fid.isdigit() or int(fid) > 2**31 - 1:
            raise NotFound(f"要素 {fid} 不存在")
        stmt = _statement(cid, Filters()).where(key == int(fid))
    else:
        stmt = _statement(cid, Filters()).where(key == fid)
    row = get_read_session().execute(stmt).first()
    if row is None:
        raise NotFound(f"要素 {fid} 不存在")
    body = _feature(cid, row)
    body["links"] = [
        {"rel": "self", "type": GEOJSON, "href": _abs("ogc.item", cid=cid, fid=fid)},
        {"rel": "collection", "type": JSON, "href": _abs("ogc.collection", cid=cid)},
    ]
    return json_response(body, mimetype=GEOJSON)


@bp.get("/api")
def api():  # type: ignore[no-untyped-def]
    """The OpenAPI 3 definition of this OGC API."""
    max_page = current_app.config["MAX_PAGE_SIZE"]
    limit = {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": max_page, "default": 10}}
    offset = {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}}
    bbox = {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
            "schema": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}}
    filters = [
        {"name": "filter", "in": "query", "required": False, "description": "CQL2 过滤条件（属性见 queryables）",
         "schema": {"type": "string"}},
        {"name": "filter-lang", "in": "query", "required": False,
         "description": "cql2-text（默认）、cql2-json；cql-text 为草案名称，与 cql2-text 相同",
         "schema": {"type": "string", "enum": list(cql2.LANGS), "default": "cql2-text"}},
        {"name": "filter-crs", "in": "query", "required": False,
         "schema": {"type": "string", "enum": list(cql2.CRS84_URIS)}},
    ]
    # Paths are relative to the server (…/ogc), as clients build them: /collections/{id}/items.
    paths: dict[str, Any] = {
        "/": {"get": {"operationId": "getLandingPage", "responses": {"200": {"description": "landing"}}}},
        "/conformance": {"get": {"operationId": "getConformance", "responses": {"200": {"description": "conformance"}}}},
        "/collections": {"get": {"operationId": "getCollections", "responses": {"200": {"description": "collections"}}}},
    }
    for cid in COLLECTIONS:
        paths[f"/collections/{cid}"] = {"get": {"operationId": f"describe-{cid}",
                                                "responses": {"200": {"description": cid}}}}
        paths[f"/collections/{cid}/queryables"] = {"get": {"operationId": f"get-{cid}-queryables",
                                                           "responses": {"200": {"description": "queryables"}}}}
        paths[f"/collections/{cid}/items"] = {"get": {
            "operationId": f"get-{cid}-items", "parameters": [limit, offset, bbox, *filters],
            "responses": {"200": {"description": "features", "content": {GEOJSON: {"schema": {"type": "object"}}}},
                          "400": {"description": "参数无效（含无法解析或不支持的过滤条件）"}}}}
        paths[f"/collections/{cid}/items/{{featureId}}"] = {"get": {
            "operationId": f"get-{cid}-item",
            "parameters": [{"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "feature"}}}}
    doc = {"openapi": "3.0.3", "info": {"title": "风险一张图 OGC API – Features", "version": "1.0"},
           "servers": [{"url": _abs("ogc.landing").rstrip("/")}], "paths": paths}
    return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/vnd.oai.openapi+json;version=3.0")

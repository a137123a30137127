"""Shared plumbing of the JSON surfaces (``/api/`` and ``/ogc/``): settings,
filters from the query string, paging links, GeoJSON features, downloads,
JSON bodies and optimistic-lock versions."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from flask import Response, current_app, request

from ...errors import InvalidParameter
from ...geojson import feature, feature_collection, jsonable
from ...queries.dual_prevention import month_bounds, month_end
from ...queries.filters import MAX_INTEGER, Filters, Page, parse_filters, parse_page, parse_polygon
from ...registry import decorate  # the collection's decorations, for the API's and OGC's imports
from ...services import exports

__all__ = [
    "jsonable",
    "json_response",
    "request_filters",
    "request_page",
    "feature",
    "feature_collection",
    "page_links",
    "decorate",
    "json_body",
    "request_json",
    "MAX_JSON_DEPTH",
    "reject_nul_args",
    "expected_version",
    "form_version",
    "with_etag",
    "download",
    "FILE_FORMATS",
    "as_of_arg",
    "grades_at_arg",
    "month_day",
    "state_day",
]

FILE_FORMATS = ("csv", "xlsx", "gpkg", "shp")
# Deepest nesting of arrays and objects a JSON body may have (a GeoJSON
# MultiPolygon needs 4, a Feature holding one 6).
MAX_JSON_DEPTH = 20
GEOJSON = "application/geo+json"


def json_response(body: Any, status: int = 200, mimetype: str = "application/json",
                  headers: Mapping[str, str] | None = None) -> Response:
    resp = Response(json.dumps(jsonable(body), ensure_ascii=False), status=status, mimetype=mimetype)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def request_filters(extra: Mapping[str, Any] | None = None) -> Filters:
    """The common filters of this request (query string; a posted polygon in ``extra``)."""
    f = parse_filters(request.args, max_bbox_area_deg2=current_app.config["MAX_BBOX_AREA_DEG2"])
    if extra and extra.get("polygon") is not None:
        wkt = parse_polygon(extra["polygon"], max_area_deg2=current_app.config["MAX_BBOX_AREA_DEG2"])
        from dataclasses import replace

        f = replace(f, polygon=wkt)
    return f


def request_page(default_limit: int = 100) -> Page:
    return parse_page(request.args, max_page_size=current_app.config["MAX_PAGE_SIZE"],
                      default_limit=default_limit)


_AS_OF_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _as_of_month() -> dt.date | None:
    """The first day of the month of ``as_of=YYYY-MM`` (None for a day or nothing)."""
    raw = (request.args.get("as_of") or "").strip()
    m = _AS_OF_MONTH.fullmatch(raw)
    if m is None:
        return None
    if not 1 <= int(m.group(2)) <= 12:
        raise InvalidParameter("as_of", "月份应为 01–12")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def as_of_arg() -> dt.date:
    """``as_of``: a day (``YYYY-MM-DD``), or a month (``YYYY-MM``: its last day, today at
    most); default today.  Counts, overdue and deadlines are as of this day."""
    raw = (request.args.get("as_of") or "").strip()
    if not raw:
        return dt.date.today()
    month = _as_of_month()
    if month is not None:
        return min(month_bounds(month, month)[1].date() - dt.timedelta(days=1), dt.date.today())
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as err:
        raise InvalidParameter("as_of", "日期格式应为 YYYY-MM-DD（或月份 YYYY-MM）") from err


def grades_at_arg() -> dt.datetime | None:
    """The instant whose grades a map "as of" ``as_of=YYYY-MM`` draws: the end of that month
    (the first instant of the next, China Standard Time); None without a month (grades of now)."""
    month = _as_of_month()
    if month is None:
        return None
    return month_end(month)


def month_day(month: dt.date | None) -> dt.date:
    """The day a month's counts are as of: its last day, today while it runs (None: today)."""
    today = dt.date.today()
    if month is None:
        return today
    return min(month_bounds(month, month)[1].date() - dt.timedelta(days=1), today)


def state_day(month: dt.date | None) -> dt.date:
    """The day whose hazard states and overdue a map layer reads: the ``as_of=YYYY-MM``
    month's last day (today at most) when the map is drawn as of a month, else
    :func:`month_day` of the ``month`` filter."""
    return as_of_arg() if _as_of_month() is not None else month_day(month)


def _url(**overrides: Any) -> str:
    args = request.args.to_dict(flat=True)
    for k, v in overrides.items():
        if v is None:
            args.pop(k, None)
        else:
            args[k] = str(v)
    query = urlencode(args)
    return request.base_url + (f"?{query}" if query else "")


def page_links(page: Page, total: int | None, returned: int, *, geojson_type: str = GEOJSON) -> list[dict[str, str]]:
    """``self``, ``next``, ``prev`` and ``alternate`` links of a paged list."""
    links = [{"rel": "self", "href": _url(), "type": geojson_type}]
    more = (page.offset + returned < total) if total is not None else returned == page.limit
    if more:
        links.append({"rel": "next", "href": _url(offset=page.offset + page.limit, limit=page.limit),
                      "type": geojson_type})
    if page.offset > 0:
        links.append({"rel": "prev", "href": _url(offset=max(0, page.offset - page.limit), limit=page.limit),
                      "type": geojson_type})
    return links


def reject_nul_args() -> None:
    """400 for a query parameter holding a NUL character: PostgreSQL text cannot hold one,
    and the database driver would fail on it (a 500) wherever the value reaches SQL."""
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise InvalidParameter(name.replace("\x00", "") or "query", "不能含空字符（NUL）")


def _has_nul(data: Any) -> bool:
    stack = [data]
    while stack:  # iterative: a deep document cannot exhaust the stack here
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar: 0).

    >>> _depth(1), _depth([]), _depth({"a": [[1], 2]})
    (0, 1, 3)
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def request_json() -> Any:
    """The request body as JSON, None when it is not JSON (or not valid JSON).

    A body nested deeper than :data:`MAX_JSON_DEPTH` is refused (400) before
    anything reads it; so is one too deep for the parser itself.
    """
    if not request.is_json:
        return None
    raw = request.get_data(cache=True)
    too_deep = InvalidParameter("body", f"JSON 嵌套层数不能超过 {MAX_JSON_DEPTH} 层")
    try:
        data = json.loads(raw)
    except RecursionError as err:
        raise too_deep from err
    except ValueError:  # not JSON, or not UTF-8
        return None
    if _depth(data) > MAX_JSON_DEPTH:
        raise too_deep
    return data


def json_body() -> dict[str, Any]:
    """The request's JSON object (400 naming ``body`` otherwise)."""
    data = request_json()
    if not isinstance(data, dict):
        raise InvalidParameter("body", "请求体应为 JSON 对象（Content-Type: application/json）")
    if _has_nul(data):
        raise InvalidParameter("body", "文字中不能含空字符（NUL，\\u0000）")
    return data


def expected_version(body: Mapping[str, Any]) -> int:
    """The client's version: ``version`` in the body (a JSON integer, not
    ``"1"``, ``1.5`` or ``true``), else the ``If-Match`` ETag (``"v3"``)."""
    raw = body.get("version")
    if raw is None and request.headers.get("If-Match"):
        tag = request.headers["If-Match"].strip().removeprefix("W/").strip('"').removeprefix("v")
        if not re.fullmatch(r"[0-9]{1,10}", tag):
            raise InvalidParameter("version", f"If-Match 应为记录的 ETag（如 \"v3\"），实为 {tag[:20]!r}")
        raw = int(tag)
    if raw is None:
        raise InvalidParameter("version", "缺少版本号：请在请求体中给出 version，或使用 If-Match 头")
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidParameter("version", f"版本号应为 JSON 整数，实为 {json.dumps(raw, ensure_ascii=False)[:40]}")
    if not 1 <= raw <= MAX_INTEGER:
        raise InvalidParameter("version", f"版本号应在 1 到 {MAX_INTEGER} 之间")
    return raw


def form_version() -> int | None:
    """The client's version on a multipart form (``version`` as decimal text),
    else the ``If-Match`` ETag; None when neither is given (a creation)."""
    raw = request.form.get("version")
    if raw is None:
        return expected_version({}) if request.headers.get("If-Match") else None
    if not re.fullmatch(r"[0-9]{1,10}", raw.strip()):
        raise InvalidParameter("version", f"版本号应为整数，实为 {raw[:20]!r}")
    return expected_version({"version": int(raw)})


def with_etag(resp: Response, version: int) -> Response:
    """The record's optimistic-lock version as its ETag (``"v3"``), for If-Match."""
    resp.headers["ETag"] = f'"v{version}"'
    return resp


def download(kind: str, rows: Sequence[Mapping[str, Any]], fmt: str) -> Response:
    """A filtered list as a file (CSV with BOM, XLSX, GeoPackage or zipped Shapefile)."""
    warnings: list[str] = []
    data, mimetype, ext = exports.export_rows(kind, [decorate(kind, r) for r in rows], fmt, warnings)
    filename = f"{kind}-{dt.date.today().isoformat()}.{ext}"
    resp = Response(data, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if warnings:
        # The Chinese text is in the archive (导出警告.txt); a header carries ASCII only.
        resp.headers["Warning"] = ('299 geo-service "text longer than the Shapefile limit of 254 bytes was '
                                   'truncated (see the archive); download format=gpkg for the full text"')
        resp.headers["X-Export-Warnings"] = quote("；".join(warnings))
    return resp

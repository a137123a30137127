"""GeoJSON features of list rows, built in one place.

A row is a mapping with ``lng``/``lat`` (WGS84 degrees) or a given geometry;
every other member becomes a property, made JSON-ready by :func:`jsonable`.
The API, the OGC single items and the GeoJSON download use :func:`feature`;
the OGC ``items`` pages build the same members in SQL
(:mod:`geo_service.web.ogc.geojson`), for speed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

__all__ = ["jsonable", "feature", "feature_collection"]


def jsonable(value: Any) -> Any:
    """Dates as ISO 8601, decimals as floats, containers recursively.

    >>> jsonable({"d": dt.date(2026, 3, 15), "n": [Decimal("12.50")]})
    {'d': '2026-03-15', 'n': [12.5]}
    """
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def feature(row: Mapping[str, Any], *, id_key: str = "id", geometry: Any = None) -> dict[str, Any]:
    """A GeoJSON Feature; the point from ``lng``/``lat`` unless ``geometry`` is given.

    >>> feature({"id": 7, "name": "厂", "lng": 103.25, "lat": 23.5})["geometry"]
    {'type': 'Point', 'coordinates': [103.25, 23.5]}
    """
    props = {k: v for k, v in row.items() if k not in ("lng", "lat", "geometry")}
    if geometry is None and row.get("lng") is not None:
        geometry = {"type": "Point", "coordinates": [row["lng"], row["lat"]]}
    return {"type": "Feature", "id": row.get(id_key), "geometry": geometry, "properties": jsonable(props)}


def feature_collection(rows: Iterable[Mapping[str, Any]], **members: Any) -> dict[str, Any]:
    """A FeatureCollection of :func:`feature` per row, with further top-level ``members``."""
    return {"type": "FeatureCollection", "features": [feature(r) for r in rows], **members}

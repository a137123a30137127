"""Pure geographic and code helpers: credit codes, Chinese datums, bounds.

Coordinates are ``(lng, lat)`` in that order everywhere in this module.
"""

from __future__ import annotations

from typing import Literal

import prcoords
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = [
    "CREDIT_CHARSET",
    "credit_check_char",
    "credit_code_valid",
    "credit_code_problem",
    "Datum",
    "DATUMS",
    "to_wgs84",
    "geometry_to_wgs84",
    "in_china",
    "CHINA_BOUNDS",
]

# GB 32100-2015: 31 characters, no I, O, S, V, Z.
CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CHARSET)}


def credit_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters.

    >>> credit_check_char("91350100M000100Y4")
    '3'
    """
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    c = 31 - total % 31
    return CREDIT_CHARSET[0 if c == 31 else c]


def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a valid 统一社会信用代码, or None if it is.

    >>> credit_code_problem("91350100M000100Y43") is None
    True
    >>> credit_code_problem("91350100M000100Y44")
    '校验位错误（应为 3）'
    """
    if len(code) != 18:
        return f"长度应为18位，实为{len(code)}位"
    bad = sorted({c for c in code if c not in _CREDIT_VALUE})
    if bad:
        return "含有非法字符：" + "".join(bad)
    if not code[2:8].isdigit():
        return "第3–8位应为登记管理机关行政区划码"
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        return f"校验位错误（应为 {expected}）"
    return None


def credit_code_valid(code: str) -> bool:
    """Whether ``code`` is a valid 统一社会信用代码 (GB 32100-2015)."""
    return credit_code_problem(code) is None


Datum = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]
DATUMS: dict[str, str] = {
    "wgs84": "WGS84（GPS、天地图）",
    "cgcs2000": "CGCS2000（国家大地坐标系，与WGS84差异为厘米级）",
    "gcj02": "GCJ-02（高德、腾讯）",
    "bd09": "BD-09（百度）",
}

# A generous box around China (lng/lat degrees), for the "outside China" check.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)


def in_china(lng: float, lat: float) -> bool:
    """Whether a point lies within China's bounding box (a coarse sanity check).

    >>> in_china(103.38, 23.36), in_china(2.35, 48.86)
    (True, False)
    """
    west, south, east, north = CHINA_BOUNDS
    return west <= lng <= east and south <= lat <= north


def to_wgs84(lng: float, lat: float, datum: str) -> tuple[float, float]:
    """Convert one ``(lng, lat)`` from ``datum`` to WGS84.

    GCJ-02 and BD-09 are inverted with prcoords' iterative ("bored") method,
    which is exact to well under a centimetre; CGCS2000 is taken as WGS84.

    >>> lng, lat = to_wgs84(116.403981, 39.915292, "bd09")   # 天安门, 百度坐标
    >>> round(lng, 3), round(lat, 3)
    (116.391, 39.908)
    """
    if datum in ("wgs84", "cgcs2000"):
        return lng, lat
    if datum == "gcj02":
        c = prcoords.gcj_wgs_bored(prcoords.Coords(lat, lng))
    elif datum == "bd09":
        c = prcoords.bd_wgs_bored(prcoords.Coords(lat, lng))
    else:
        raise ValueError(f"unknown datum {datum!r}")
    return c.lon, c.lat


def geometry_to_wgs84(geom: BaseGeometry, datum: str) -> BaseGeometry:
    """Convert every vertex of a shapely geometry from ``datum`` to WGS84."""
    if datum in ("wgs84", "cgcs2000"):
        return geom

    def _convert(coords):  # type: ignore[no-untyped-def]
        out = coords.copy()
        for i, (lng, lat) in enumerate(coords):
            out[i] = to_wgs84(float(lng), float(lat), datum)
        return out

    return shapely.transform(geom, _convert)

"""Small builders shared by the hand-made test worlds."""

from __future__ import annotations

from geo_service.geo import CREDIT_CHARSET, credit_check_char


def credit_code(n: int, region: str = "532501") -> str:
    """A valid 统一社会信用代码 registered in ``region``, numbered ``n``."""
    body = "91" + region + "".join(CREDIT_CHARSET[(n // 31**i) % 31] for i in range(8, -1, -1))
    return body + credit_check_char(body)


def box(w: float, s: float, e: float, n: float) -> str:
    """An EWKT MultiPolygon for the lng/lat box west, south, east, north."""
    return f"SRID=4326;MULTIPOLYGON((({w} {s},{e} {s},{e} {n},{w} {n},{w} {s})))"

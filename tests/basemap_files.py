"""Small base map files built by the tests themselves: an MBTiles file of solid
PNG tiles over a lng/lat box (SQLite is only the MBTiles container format)."""

from __future__ import annotations

import io
import math
import sqlite3
from pathlib import Path

from PIL import Image


def tile_range(west: float, south: float, east: float, north: float, z: int) -> tuple[range, range]:
    """The XYZ columns and rows of zoom ``z`` covering the box (WGS84 degrees)."""
    def x(lng: float) -> int:
        return int((lng + 180) / 360 * 2 ** z)

    def y(lat: float) -> int:
        r = math.radians(lat)
        return int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * 2 ** z)

    return range(x(west), x(east) + 1), range(y(north), y(south) + 1)


def make_mbtiles(path: Path, colour: tuple[int, int, int], box: tuple[float, float, float, float],
                 zooms: range) -> int:
    """Write an MBTiles file of ``colour`` PNG tiles covering ``box`` at ``zooms``; the tile count."""
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(buf, "PNG")
    png = buf.getvalue()
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE metadata (name text, value text)")
        db.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", [
            ("name", "测试底图"), ("format", "png"), ("minzoom", str(zooms.start)), ("maxzoom", str(zooms.stop - 1)),
            ("attribution", "测试底图"), ("bounds", ",".join(map(str, box)))])
        n = 0
        for z in zooms:
            cols, rows = tile_range(*box, z)
            for x in cols:
                for y in rows:
                    db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2 ** z - 1 - y, png))
                    n += 1
        db.commit()
    finally:
        db.close()
    return n

"""Small base map files built by the tests themselves: an MBTiles file of solid
PNG tiles over a lng/lat box (SQLite is only the MBTiles container format), and
a vector PMTiles archive of land, water, a road and a place name."""

from __future__ import annotations

import gzip
import io
import math
import sqlite3
from pathlib import Path

import mapbox_vector_tile
import shapely
from PIL import Image
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from shapely.geometry import LineString, Point
from shapely.geometry import box as shape_box


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


_HALF = 20037508.342789244  # half the Web Mercator world, metres


def _mercator(lng: float, lat: float) -> tuple[float, float]:
    return lng * _HALF / 180, math.log(math.tan(math.radians(90 + lat) / 2)) * _HALF / math.pi


def _tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """West, south, east, north of XYZ tile ``z/x/y`` in Web Mercator metres."""
    size = 2 * _HALF / 2 ** z
    return -_HALF + x * size, _HALF - (y + 1) * size, -_HALF + (x + 1) * size, _HALF - y * size


def make_vector_pmtiles(path: Path, box: tuple[float, float, float, float], water: tuple[float, float, float, float],
                        zooms: range) -> int:
    """Write a vector (MVT, gzip) PMTiles archive over ``box`` (WGS84) in the Protomaps
    basemap schema: an ``earth`` polygon over every tile, a ``water`` polygon over the
    ``water`` box, a ``roads`` line across it a quarter of its height from its south
    edge and a ``places`` point on that line; the tile count."""
    w, s, e, n = box
    water_m = shape_box(*_mercator(water[0], water[1]), *_mercator(water[2], water[3]))
    mid = water[1] + (water[3] - water[1]) / 4
    road_m = LineString([_mercator(w, mid), _mercator(e, mid)])
    place_m = Point(_mercator((w + e) / 2, mid))
    tiles = []
    for z in zooms:
        cols, rows = tile_range(w, s, e, n, z)
        for x in cols:
            for y in rows:
                bounds = _tile_bounds(z, x, y)
                square = shape_box(*bounds)
                layers = [{"name": "earth", "features": [{"geometry": square, "properties": {"kind": "earth"}}]}]
                if square.intersects(water_m):
                    layers.append({"name": "water", "features": [
                        {"geometry": square.intersection(water_m), "properties": {"kind": "water"}}]})
                if square.intersects(road_m):
                    layers.append({"name": "roads", "features": [
                        {"geometry": square.intersection(road_m), "properties": {"kind": "major_road"}}]})
                if square.intersects(place_m):
                    layers.append({"name": "places", "features": [
                        {"geometry": place_m, "properties": {"name": "测试镇", "kind": "locality"}}]})
                for layer in layers:  # to tile units, 0–4096 from the south-west corner (encode flips y)
                    for feat in layer["features"]:
                        feat["geometry"] = shapely.transform(feat["geometry"], lambda c, b=bounds: (
                            (c - (b[0], b[1])) / (b[2] - b[0], b[3] - b[1]) * 4096).round())
                data = mapbox_vector_tile.encode(layers)
                tiles.append((zxy_to_tileid(z, x, y), gzip.compress(data, mtime=0)))
    with path.open("wb") as f:
        writer = Writer(f)
        for tile_id, data in sorted(tiles):
            writer.write_tile(tile_id, data)
        writer.finalize({
            "tile_type": TileType.MVT, "tile_compression": Compression.GZIP,
            "min_lon_e7": int(w * 1e7), "min_lat_e7": int(s * 1e7), "max_lon_e7": int(e * 1e7),
            "max_lat_e7": int(n * 1e7), "center_zoom": zooms.start, "center_lon_e7": int((w + e) / 2 * 1e7),
            "center_lat_e7": int((s + n) / 2 * 1e7),
        }, {"name": "测试矢量底图", "vector_layers": [{"id": k, "fields": {}} for k in ("earth", "water", "roads",
                                                                                      "places")]})
    return len(tiles)

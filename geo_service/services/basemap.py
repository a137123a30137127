"""An offline base map from a local tile file: MBTiles (raster or vector) or PMTiles.

``BASEMAP`` may name a local ``.mbtiles`` or ``.pmtiles`` file instead of a
tile URL, so that an office without internet still has a base map.  The
application serves it itself: an MBTiles file tile by tile (its SQLite
``tiles`` table; SQLite is only the file format of the tile container here,
never the application's database), a PMTiles file as a whole with HTTP Range
requests, read in the browser by the vendored ``pmtiles`` library (raster
tiles) or drawn by the vendored ``protomaps-leaflet`` (vector tiles, when the
file's header says MVT: :func:`pmtiles_info`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from pmtiles.tile import MagicNumberNotFound, SpecVersionUnsupported, TileType, deserialize_header

__all__ = ["LocalBasemap", "local_basemap", "MBTiles", "PMTilesInfo", "pmtiles_info", "RemoteBasemap",
           "remote_basemap", "TIANDITU_URL", "TILE_TYPES"]

LOGGER = logging.getLogger(__name__)
# The fixed-size header at the start of every PMTiles (v3) archive.
PMTILES_HEADER_BYTES = 127

# MBTiles ``format`` → (file extension, MIME type, raster?)
TILE_TYPES: dict[str, tuple[str, str, bool]] = {
    "png": ("png", "image/png", True),
    "jpg": ("jpg", "image/jpeg", True),
    "jpeg": ("jpg", "image/jpeg", True),
    "webp": ("webp", "image/webp", True),
    "pbf": ("pbf", "application/x-protobuf", False),
    "mvt": ("pbf", "application/x-protobuf", False),
}


# 天地图 WMTS in Web Mercator (``_w``) as an XYZ template: ``{layer}`` vec/cva, ``{key}`` the tk.
TIANDITU_URL = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}")


@dataclass(frozen=True)
class RemoteBasemap:
    """XYZ tile templates fetched by the browser from elsewhere (a URL template or 天地图)."""

    urls: tuple[str, ...]
    subdomains: str
    attribution: str
    max_zoom: int = 18


def remote_basemap(setting: str | None, *, tianditu_key: str = "", attribution: str = "") -> RemoteBasemap | None:
    """The remote base map ``BASEMAP`` names: 天地图 (vec + cva labels) or an XYZ URL
    template; None for ``none`` or a local file (:func:`local_basemap`).

    >>> remote_basemap("tianditu", tianditu_key="k").urls[1].startswith("https://t{s}.tianditu.gov.cn/cva_w/")
    True
    >>> remote_basemap("none"), remote_basemap("/srv/maps/yunnan.pmtiles")
    (None, None)
    """
    value = (setting or "").strip()
    if value in ("", "none") or local_basemap(value) is not None:
        return None
    if value == "tianditu":
        return RemoteBasemap(tuple(TIANDITU_URL.format(layer=layer, key=tianditu_key) for layer in ("vec", "cva")),
                             "01234567", attribution or "天地图")
    return RemoteBasemap((value,), "abc", attribution or "底图", 19)


@dataclass(frozen=True)
class LocalBasemap:
    """A local tile file named by ``BASEMAP``: its kind (``mbtiles``/``pmtiles``) and path."""

    kind: str
    path: Path


def local_basemap(setting: str | None) -> LocalBasemap | None:
    """The local file ``BASEMAP`` names, or None for a URL, ``tianditu`` or ``none``.

    >>> local_basemap("/srv/maps/yunnan.mbtiles").kind, local_basemap("none")
    ('mbtiles', None)
    """
    value = (setting or "").strip()
    for kind in ("mbtiles", "pmtiles"):
        if value.lower().endswith("." + kind) and "://" not in value:
            return LocalBasemap(kind, Path(value))
    return None


class MBTiles:
    """Read-only access to an MBTiles file (tiles in the TMS row order of the spec)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"底图文件不存在：{path}")
        self.path = path
        self._local = threading.local()
        meta = dict(self._db().execute("SELECT name, value FROM metadata").fetchall())
        fmt = (meta.get("format") or "png").lower()
        if fmt not in TILE_TYPES:
            raise ValueError(f"不支持的 MBTiles 瓦片格式 {fmt}")
        self.format = fmt
        self.extension, self.mimetype, self.raster = TILE_TYPES[fmt]
        self.name = meta.get("name") or path.stem
        self.attribution = meta.get("attribution") or ""
        self.min_zoom = int(meta.get("minzoom") or 0)
        self.max_zoom = int(meta.get("maxzoom") or 18)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.db = db
        return db

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile ``z/x/y`` (XYZ, as Leaflet asks), or None when the file has none."""
        if not (0 <= z <= 30 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
            return None
        row = self._db().execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, 2 ** z - 1 - y),
        ).fetchone()
        return bytes(row[0]) if row else None


@dataclass(frozen=True)
class PMTilesInfo:
    """What the header of a PMTiles archive says about its tiles."""

    tile_type: str  # mvt, png, jpeg, webp, avif …
    min_zoom: int
    max_zoom: int

    @property
    def vector(self) -> bool:
        return self.tile_type == "mvt"


def pmtiles_info(path: Path) -> PMTilesInfo | None:
    """The header of the PMTiles (v3) archive at ``path``; None when it has none (logged)."""
    with path.open("rb") as f:
        head = f.read(PMTILES_HEADER_BYTES)
    try:
        header = deserialize_header(head) if len(head) == PMTILES_HEADER_BYTES else None
    except (MagicNumberNotFound, SpecVersionUnsupported, UnicodeDecodeError, ValueError):
        header = None
    if header is None:
        LOGGER.warning("%s has no PMTiles v3 header: drawn as raster tiles", path)
        return None
    tile_type: TileType = header["tile_type"]
    return PMTilesInfo(tile_type=tile_type.name.lower(), min_zoom=header["min_zoom"], max_zoom=header["max_zoom"])

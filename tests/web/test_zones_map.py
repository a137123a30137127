"""The enterprises' 四色图 on the regional map: the zones layer's GeoJSON from zoom 16,
and the enterprise tiles leaving out an enterprise with zones from tile zoom 15
(the map draws 512-px tiles of zoom z − 1, so from map zoom 16).

World: ``tests/services/test_zones.py``'s plants; 测试化工1厂 (103.5, 23.5) has the
zone 罐区 with its 较大 risk point 液氯储罐, 测试化工2厂 (103.8, 23.8) has none.
"""

from __future__ import annotations

import math

import mapbox_vector_tile
from services.test_zones import plant, square  # noqa: F401  (the fixture)

from geo_service.domain import Actor
from geo_service.layers import layers_dir, load_layers
from geo_service.queries.scope import ALL
from geo_service.queries.zones import ZONES_FROM_ZOOM
from geo_service.services import zones

ADMIN = Actor("管理员", None, "admin")
BBOX = "103.49,23.49,103.52,23.52"


def tile_of(lng: float, lat: float, z: int) -> str:
    n = 2 ** z
    x = int((lng + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return f"{z}/{x}/{y}"


def names_in_tile(client, lng: float, lat: float, z: int) -> list[str]:  # type: ignore[no-untyped-def]
    data = client.get(f"/tiles/enterprises/{tile_of(lng, lat, z)}.pbf").data
    layers = mapbox_vector_tile.decode(data)
    return sorted(f["properties"].get("name", "") for layer in layers.values() for f in layer["features"])


def test_the_zones_layer_starts_where_the_points_stop():
    layer = load_layers(layers_dir())["risk_zones"]
    assert layer.min_zoom == ZONES_FROM_ZOOM and layer.kind == "zones"


def test_zones_geojson_from_zoom_16_with_the_zone_s_risk_points(client, session, plant):  # noqa: F811
    zones.create_zone(session, plant["chem"], {"name": "罐区", "geometry": square(103.501, 23.501),
                                               "risk_point_ids": [plant["tank"]]}, ADMIN, scope=ALL, max_distance_m=2000)
    session.commit()
    assert client.get(f"/map/zones.geojson?bbox={BBOX}&zoom=15").get_json()["features"] == []
    features = client.get(f"/map/zones.geojson?bbox={BBOX}&zoom=17").get_json()["features"]
    assert len(features) == 1
    p = features[0]["properties"]
    assert (p["name"], p["grade"], p["enterprise_id"], p["enterprise_name"]) == ("罐区", 2, plant["chem"], "测试化工1厂")
    assert p["risk_points"] == [{"name": "液氯储罐", "grade": 2}]
    # the map's filters apply: another industry has no zones here
    assert client.get(f"/map/zones.geojson?bbox={BBOX}&zoom=17&industry=coal").get_json()["features"] == []
    assert client.get("/map/zones.geojson?zoom=17").status_code == 400

    # the plant's point leaves the enterprise tiles from tile zoom 15; the other plant stays
    assert names_in_tile(client, 103.5, 23.5, 14) == ["测试化工1厂"]
    assert names_in_tile(client, 103.5, 23.5, 15) == []
    assert names_in_tile(client, 103.8, 23.8, 15) == ["测试化工2厂"]

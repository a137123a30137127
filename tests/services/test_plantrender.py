"""The printed enterprise map: the layout image where it was placed, the zones in their
grade colours, the title, legend counts and footer as text in the PDF.

World: the plant at (103.5, 23.5).  Its layout (400 × 200 px, white, a black
40 × 40 px block in its middle) is placed by its four corners on
103.499–103.501°E × 23.4995–23.5005°N, so the black block lies on the plant's
point.  A 红 zone is the square 103.5015–103.5025°E × 23.5005–23.5015°N
(north-east of the layout), a 蓝 zone 103.4975–103.4985°E × 23.4985–23.4995°N.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader
from pyproj import Transformer

from geo_service.config import Config
from geo_service.domain import Actor
from geo_service.queries.scope import ALL
from geo_service.services import plantrender as pr
from geo_service.services import zones
from geo_service.services.maprender import MapStyle
from services.test_zones import plant, square  # noqa: F401  (the fixture)

ADMIN = Actor("管理员", None, "admin")


@pytest.fixture
def style(tmp_path):
    return MapStyle.from_config(Config(var_dir=tmp_path))


def layout_png() -> bytes:
    img = Image.new("RGB", (400, 200), "white")
    img.paste((0, 0, 0), (180, 80, 220, 120))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def pixel_at(m, lng: float, lat: float, crs: str) -> np.ndarray:
    """The PNG pixel (RGB) of a lng/lat on the rendered map."""
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lng, lat)
    west, south, east, north = m.extent
    left, top, right, bottom = m.frame_px
    px = left + (x - west) / (east - west) * (right - left)
    py = top + (north - y) / (north - south) * (bottom - top)
    im = np.asarray(Image.open(io.BytesIO(m.png)).convert("RGB"))
    return im[int(round(py)), int(round(px))].astype(int)


def blend(hex_colour: str, alpha: float, under=(255, 255, 255)) -> np.ndarray:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return np.round(alpha * rgb + (1 - alpha) * np.array(under)).astype(int)


def test_the_printed_map_shows_the_layout_and_the_zones_in_their_colours(session, plant, style, tmp_path):  # noqa: F811
    zones.upload_layout(session, plant["chem"], io.BytesIO(layout_png()), "平面图.png", ADMIN, scope=ALL,
                        upload_dir=tmp_path, max_bytes=10**7, max_distance_m=2000)
    zones.place_layout(session, plant["chem"], {"corners": [[103.499, 23.5005], [103.501, 23.5005],
                                                            [103.501, 23.4995], [103.499, 23.4995]]},
                       ADMIN, scope=ALL, expected_version=1, max_distance_m=2000)
    zones.create_zone(session, plant["chem"], {"name": "液氯罐区", "grade": 1, "geometry": square(103.5015, 23.5005)},
                      ADMIN, scope=ALL, max_distance_m=2000)
    zones.create_zone(session, plant["chem"], {"name": "仓库", "grade": 4, "geometry": square(103.4975, 23.4985)},
                      ADMIN, scope=ALL, max_distance_m=2000)
    data = pr.load_plant_map(session, plant["chem"], scope=ALL, upload_dir=tmp_path)
    m = pr.render_plant_map(data, style=style, paper="A4")

    red, blue = style.grade_colour(1), style.grade_colour(4)
    assert red == "#E60012" and blue == "#1E6FD9"
    # a zone's middle (away from its label) has its grade colour over the white page
    got = pixel_at(m, 103.5018, 23.5008, data.crs)
    assert np.abs(got - blend(red, pr.ZONE_FILL_ALPHA)).max() <= 6, got
    got = pixel_at(m, 103.4978, 23.4988, data.crs)
    assert np.abs(got - blend(blue, pr.ZONE_FILL_ALPHA)).max() <= 6, got
    # the layout's black block (103.4999–103.5001°E × 23.4999–23.5001°N) is where it was placed, white around it
    assert pixel_at(m, 103.50007, 23.50007, data.crs).max() <= 40
    assert pixel_at(m, 103.4993, 23.5002, data.crs).min() >= 235

    im = Image.open(io.BytesIO(m.png))
    assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert im.size in ((2480, 3508), (3508, 2480))
    assert m.title == "测试化工1厂安全风险四色分布图"
    shots = Path("/tmp/geo-service-screenshots")  # kept for a person to look at, like the browser's
    shots.mkdir(parents=True, exist_ok=True)
    (shots / "plant-map-print.png").write_bytes(m.png)
    # the zone labels carry a white halo (drawn as paths); the rest is text in the PDF
    text = PdfReader(io.BytesIO(m.pdf)).pages[0].extract_text()
    for expected in ("测试化工1厂安全风险四色分布图", "重大风险（红）区域 1 处", "低风险（蓝）区域 1 处",
                     "较大风险（橙）区域 0 处", "内部用图", "北", "制图日期"):
        assert expected in text.replace("  ", " "), expected


def test_a3_and_an_enterprise_without_zones(session, plant, style, tmp_path):  # noqa: F811
    data = pr.load_plant_map(session, plant["chem"], scope=ALL, upload_dir=tmp_path)
    m = pr.render_plant_map(data, style=style, paper="A3")
    page = PdfReader(io.BytesIO(m.pdf)).pages[0]
    assert sorted((round(float(page.mediabox.width)), round(float(page.mediabox.height)))) == [842, 1191]
    assert "风险区域：0 处" in page.extract_text()

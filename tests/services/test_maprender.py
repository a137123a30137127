"""Printed maps: page size, DPI, not blank, the four grade colours where the register has them.

The register is the one of ``test_statistics`` (current grades: A 红, B 红, C 红
(煤气柜 assessed in November), E 蓝, F 橙, D ungraded — no 黄 enterprise).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib import font_manager
from PIL import Image
from pypdf import PdfReader
from pyproj import Geod

from geo_service.config import Config
from geo_service.models import Region
from geo_service.queries import metrics
from geo_service.queries.scope import ALL
from geo_service.services import maprender as mr
from services.test_statistics import box, build_register

OCT = metrics.period(2026, 10)


@pytest.fixture
def style(tmp_path):
    return mr.MapStyle.from_config(Config(var_dir=tmp_path))


def pixels_of(png: bytes, frame: tuple[int, int, int, int] | None = None) -> np.ndarray:
    im = Image.open(io.BytesIO(png)).convert("RGB")
    if frame:
        im = im.crop(frame)
    return np.asarray(im)


def count_colour(pixels: np.ndarray, hex_colour: str, tol: int = 6) -> int:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels.astype(int) - rgb).max(axis=2) <= tol).sum())


def test_a4_png_at_300_dpi_and_pdf_page(session, style):
    build_register(session)
    data = mr.load_map_data(session, "532501", OCT, scope=ALL)
    m = mr.render_map(data, "risk", style=style, unit="个旧市应急管理局")
    # 个旧市 is twice as tall as wide → portrait A4: 210 × 297 mm at 300 dpi
    assert m.orientation == "portrait"
    im = Image.open(io.BytesIO(m.png))
    assert im.size == (2480, 3508) == m.size_px
    assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    page = PdfReader(io.BytesIO(m.pdf)).pages[0]
    assert float(page.mediabox.width) == pytest.approx(595.3, abs=1)
    assert float(page.mediabox.height) == pytest.approx(841.9, abs=1)
    assert m.title == "个旧市安全风险四色分布图（2026年10月）"
    # the title, unit and footer are real text in the vector PDF
    text = PdfReader(io.BytesIO(m.pdf)).pages[0].extract_text()
    assert "个旧市安全风险四色分布图（2026年10月）" in text
    assert "填报单位：个旧市应急管理局" in text and "内部用图" in text
    # the legend counts what the register has: A 红 and E 蓝 in 个旧市, D ungraded
    assert "重大风险（红）  1 家" in text and "低风险（蓝）  1 家" in text


def test_a3_portrait_and_landscape_by_the_region_shape(session, style):
    build_register(session)
    session.add(Region(code="532600", name="文山州", level="prefecture", geom=box(104, 23, 106, 24)))
    session.flush()
    wide = mr.render_map(mr.load_map_data(session, "532600", OCT, scope=ALL), "hazard", style=style,
                         paper="A3")
    # 2° × 1° → landscape A3: 420 × 297 mm
    assert wide.orientation == "landscape" and wide.size_px == (4961, 3508)
    page = PdfReader(io.BytesIO(wide.pdf)).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx((1190.6, 841.9), abs=1)
    tall = mr.render_map(mr.load_map_data(session, "532501", OCT, scope=ALL), "risk", style=style, paper="A3")
    assert tall.orientation == "portrait" and tall.size_px == (3508, 4961)


def test_grade_colours_in_the_map_frame_exactly_where_the_register_has_them(session, style):
    build_register(session)
    m = mr.render_map(mr.load_map_data(session, "532500", OCT, scope=ALL), "risk", style=style)
    px = pixels_of(m.png, m.frame_px)
    palette = Config().GRADE_COLORS
    # 红: A, B, C; 橙: F; 蓝: E — each a dot of ~30 px across at 300 dpi
    for grade in (1, 2, 4):
        assert count_colour(px, palette[grade]) > 100, grade
    # no enterprise is 黄 (grade 3): not one yellow pixel inside the map frame
    assert count_colour(px, palette[3]) == 0
    # the legend (outside the frame) still shows all four
    whole = pixels_of(m.png)
    assert count_colour(whole, palette[3]) > 20
    # not blank: the region is filled and outlined
    assert (px.min(axis=2) < 250).mean() > 0.3


def test_county_map_shows_only_its_own_enterprises(session, style):
    build_register(session)
    m = mr.render_map(mr.load_map_data(session, "532501", OCT, scope=ALL), "risk", style=style)
    px = pixels_of(m.png, m.frame_px)
    palette = Config().GRADE_COLORS
    # 个旧市 has A (红) and E (蓝); F (橙) is in 开远市
    assert count_colour(px, palette[1]) > 100 and count_colour(px, palette[4]) > 100
    assert count_colour(px, palette[2]) == 0 and count_colour(px, palette[3]) == 0


def test_hazard_map_marks_major_hazards_in_the_hazard_layer_colour(session, style):
    build_register(session)
    data = mr.load_map_data(session, "532500", OCT, scope=ALL)
    # major hazards known at October's end this year: h1 (signed off in January), h2, h3, h4, h5
    assert len(data.hazards) == 5
    assert sum(1 for h in data.hazards if h["rectified"]) == 2  # h1, h3 (h4 verified in November)
    assert sum(1 for h in data.hazards if h["overdue"]) == 1  # h2
    m = mr.render_map(data, "hazard", style=style)
    px = pixels_of(m.png, m.frame_px)
    assert count_colour(px, style.major_hazard_colour) > 100
    assert count_colour(px, Config().GRADE_COLORS[1]) == 0  # the hazard map does not colour by grade


def test_projection_is_in_metres(session):
    reg = build_register(session)
    data = mr.load_map_data(session, "532500", OCT, scope=ALL)
    pts = {e[0]: (e[3], e[4]) for e in data.enterprises}
    (ax, ay), (bx, by) = pts[reg.ent["A"].id], pts[reg.ent["B"].id]
    # A (103.25, 23.50) to B (103.70, 23.60): the ellipsoidal distance, within 0.1 %
    geodesic = Geod(ellps="GRS80").inv(103.25, 23.50, 103.70, 23.60)[2]
    assert ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 == pytest.approx(geodesic, rel=1e-3)


def test_county_map_renders_on_a4_portrait(session, style):
    # How long it takes is measured by the benchmark (bench/run.py, goal < 3 s), not here.
    build_register(session)
    m = mr.render_map(mr.load_map_data(session, "532501", OCT, scope=ALL), "risk", style=style)
    # a county taller than wide → A4 portrait: 210 × 297 mm at 300 dpi
    assert m.paper == "A4" and m.orientation == "portrait" and m.size_px == (2480, 3508)
    page = PdfReader(io.BytesIO(m.pdf)).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx((595.3, 841.9), abs=1)


def test_missing_cjk_font_fails_clearly(monkeypatch):
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [])
    with pytest.raises(mr.MapRenderError, match="Noto Sans CJK"):
        mr.cjk_font()


def test_unknown_paper_is_refused(session, style):
    build_register(session)
    data = mr.load_map_data(session, "532501", OCT, scope=ALL)
    with pytest.raises(mr.MapRenderError, match="纸张"):
        mr.render_map(data, "risk", style=style, paper="B5")

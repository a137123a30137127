"""The map sheet of the view (``/map/sheet.png``, "导出图片"): the return's cartography.

Counted by hand from the table of ``browser/map_world.py``: in 红河州 (532500)
红 a (个旧), e (开远); 橙 b (个旧); 黄 c, g (开远); 蓝 d (开远); f ungraded (蒙自).
Open hazards: a_major (overdue), a_general, d_general (overdue), e_major;
c_closed is closed.  个旧市 (532501, 103.0–103.3 E) holds a and b only.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from urllib.parse import unquote

import numpy as np
import pytest
from browser.map_world import build
from PIL import Image
from pypdf import PdfReader

from geo_service.config import Config
from geo_service.domain import GRADE_BY_VALUE
from geo_service.layers import layers_dir, load_layers
from geo_service.queries.filters import Filters
from geo_service.queries.scope import ALL, Scope
from geo_service.services import accounts, mapsheet
from geo_service.services.maprender import MapStyle

PASSWORD = "correct-horse-9"
ENTERPRISES = "enterprises"  # the one enterprise layer, coloured by grade
WHOLE = "bbox=102.5,22.9,104.5,24.1"  # the prefecture and a margin, wider than high


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    return build(session)


def _get(client, query: str, fmt: str = "png"):  # type: ignore[no-untyped-def]
    resp = client.get(f"/map/sheet.{fmt}?{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp


def _filename(resp) -> str:  # type: ignore[no-untyped-def]
    m = re.search(r"filename\*=UTF-8''([^;]+)", resp.headers["Content-Disposition"])
    assert m, resp.headers["Content-Disposition"]
    return unquote(m.group(1))


def _png(resp) -> Image.Image:  # type: ignore[no-untyped-def]
    assert resp.mimetype == "image/png"
    img = Image.open(io.BytesIO(resp.data))
    img.load()
    return img


def _count(img: Image.Image, hex_colour: str, tol: int = 6) -> int:
    px = np.asarray(img.convert("RGB")).astype(int)
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(px - rgb).max(axis=2) <= tol).sum())


def test_the_sheet_carries_title_filters_legend_and_the_enterprises(client, world):  # type: ignore[no-untyped-def]
    query = f"region=532500&{WHOLE}&zoom=9&layers={ENTERPRISES},hazards,regions"
    resp = _get(client, query)
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert _filename(resp) == f"风险地图-红河州-{dt.date.today().isoformat()}.png"
    img = _png(resp)
    # A4 landscape (the view is wider than high) at 300 dpi
    assert img.size == (3508, 2480)
    assert img.info["Title"] == "红河州安全风险分布图"
    legend = img.info["Description"]
    assert "筛选：无筛选条件（全部企业）" in legend
    for line in ("重大风险（红）  2 家", "较大风险（橙）  1 家", "一般风险（黄）  2 家", "低风险（蓝）  1 家",
                 "重大隐患  2 处", "一般隐患  2 处", "其中逾期  2 处", "红河州界线", "下级行政区划界线"):
        assert line in legend.splitlines(), legend
    # not blank: the four grade colours are drawn (markers and legend swatches)
    for g in (1, 2, 3, 4):
        assert _count(img, GRADE_BY_VALUE[g].default_hex) > 50, g
    # the PDF of the same sheet has the words as text
    text = PdfReader(io.BytesIO(_get(client, query, "pdf").data)).pages[0].extract_text()
    for words in ("红河州安全风险分布图", "图\u3000例", "重大风险（红）", "内部用图",
                  "北", "制图日期", "图层：企业（按风险等级）"):
        assert words in text, words


def test_the_filters_in_words_and_only_what_they_leave(client, world):  # type: ignore[no-untyped-def]
    img = _png(_get(client, f"region=532500&{WHOLE}&zoom=9&layers={ENTERPRISES},hazards"
                            "&industry=hazchem&grade=1&hazard_level=major"))
    legend = img.info["Description"].splitlines()
    assert legend[0] == "筛选：行业：危险化学品；风险等级：红；隐患级别：重大隐患；隐患状态：全部未销号"
    # a is the one 红 hazchem enterprise with an open 重大隐患; the grades the filter
    # leaves out (switched off in the map's legend) are not in the sheet's legend
    assert "重大风险（红）  1 家" in legend and not any(line.startswith("较大风险") for line in legend)
    assert "重大隐患  1 处" in legend and "一般隐患  0 处" in legend and "其中逾期  1 处" in legend
    # the orange of b is nowhere on the sheet
    assert _count(img, GRADE_BY_VALUE[2].default_hex) == 0
    assert _count(img, GRADE_BY_VALUE[1].default_hex) > 50


def test_hazards_are_drawn_from_the_layers_zoom_on(client, world):  # type: ignore[no-untyped-def]
    low = _png(_get(client, f"region=532500&{WHOLE}&zoom=8&layers={ENTERPRISES},hazards")).info["Description"]
    assert "重大隐患" not in low  # the hazard layer starts at zoom 9, as on the map
    assert "重大风险（红）  2 家" in low.splitlines()


def test_a_county_regulator_draws_only_his_county(app, client, session, world):  # type: ignore[no-untyped-def]
    app.config["LOGIN_REQUIRED"] = True
    accounts.create_user(session, "gejiu", PASSWORD, "regulator", region_code="532501")
    session.commit()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": "gejiu", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    # the whole prefecture's bbox, but only 个旧市 (a 红, b 橙) is his
    resp = _get(client, f"{WHOLE}&zoom=9&layers={ENTERPRISES},hazards")
    assert _filename(resp).startswith("风险地图-个旧市-")
    legend = _png(resp).info["Description"].splitlines()
    assert "重大风险（红）  1 家" in legend and "较大风险（橙）  1 家" in legend
    assert "一般风险（黄）  0 家" in legend and "低风险（蓝）  0 家" in legend
    assert "重大隐患  1 处" in legend and "一般隐患  1 处" in legend
    refused = client.get(f"/map/sheet.png?region=532502&{WHOLE}")  # 开远市, his neighbour
    assert refused.status_code == 400 and "无权查看" in refused.get_data(as_text=True)


def test_the_data_function_counts_only_the_callers_enterprises(session, world, tmp_path):  # type: ignore[no-untyped-def]
    layers = load_layers(layers_dir())
    drawn = mapsheet.sheet_layers(layers, [ENTERPRISES, "hazards"], 12)
    f = Filters(region="532500", bbox=(102.9, 22.9, 104.1, 24.1))
    everyone = mapsheet.load_sheet(session, region=("532500", "红河州"), filters=f, layers=drawn, scope=ALL,
                                   as_of=dt.date.today())
    assert [everyone.enterprise_count(g) for g in (1, 2, 3, 4)] == [2, 1, 2, 1]
    # the three counties are named on the sheet (labels drawn with a halo are paths in the PDF)
    style = MapStyle.from_config(Config(var_dir=tmp_path), layers=layers)
    rendered = mapsheet.render_sheet(everyone, style=style)
    assert len(rendered.label_boxes) == 3 and rendered.callouts == []
    gejiu = mapsheet.load_sheet(session, region=("532500", "红河州"), filters=f, layers=drawn,
                                scope=Scope(region="532501"), as_of=dt.date.today())
    assert [gejiu.enterprise_count(g) for g in (1, 2, 3, 4)] == [1, 1, 0, 0]
    assert gejiu.hazard_count() == 2  # a_major, a_general
    # every mark of his sheet lies west of 开远市 (103.3 E), in the sheet's metres
    centre_lng = (102.9 + 104.1) / 2
    assert all(x < (103.3 - centre_lng) * 102_000 for marks in gejiu.enterprises.values() for _, x, _ in marks)


def test_a_huge_view_draws_grid_cells_with_exact_counts(session, world, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(mapsheet, "GRID_CELLS", 1)  # one cell over the whole bbox
    layers = load_layers(layers_dir())
    data = mapsheet.load_sheet(session, region=("532500", "红河州"),
                               filters=Filters(region="532500", bbox=(102.9, 22.9, 104.1, 24.1)),
                               layers=mapsheet.sheet_layers(layers, [ENTERPRISES], 8), scope=ALL,
                               as_of=dt.date.today())
    assert {g: [n for n, _, _ in marks] for g, marks in data.enterprises.items()} == {1: [2], 2: [1], 3: [2], 4: [1]}


@pytest.mark.parametrize(("query", "parameter", "words"), [
    ("region=532500&zoom=9", "bbox", "缺少该参数"),
    ("region=532500&bbox=104,23,103,24", "bbox", "范围颠倒"),
    (f"region=532500&{WHOLE}&layers=enterprises,nothing", "layers", "没有图层 nothing"),
    (f"region=532500&{WHOLE}&paper=B5", "paper", "可选：A4、A3"),
    (f"region=532500&{WHOLE}&grade=紫", "grade", "未知风险等级"),
    (f"region=532500&{WHOLE}&zoom=99", "zoom", "不能大于 22"),
])
def test_bad_parameters_answer_400_in_chinese(client, world, query, parameter, words):  # type: ignore[no-untyped-def]
    resp = client.get("/map/sheet.png?" + query, headers={"Accept": "application/json"})
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["parameter"] == parameter and words in body["message"], body

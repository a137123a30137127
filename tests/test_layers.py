"""The layer definitions in ``layers/`` and their loader."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from geo_service.domain import GRADES
from geo_service.layers import (
    SOURCES,
    LayerError,
    class_breaks,
    class_of,
    layers_dir,
    load_layer,
    load_layers,
    resolve_color,
)

GOOD = """
name = "enterprises_red"
title = "红色企业（重大风险）"
source = "enterprise_tiles"
id_field = "id"
geom_field = "geom"
min_zoom = 0
max_zoom = 22
[params]
grade = 1
[style]
color = "grade:1"
[popup_fields]
name = "企业名称"
[legend]
label = "重大风险"
"""


def write(tmp_path: Path, text: str, name: str = "layer.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_project_layers_load_and_cover_the_issue() -> None:
    layers = load_layers(layers_dir())
    # ONE enterprise layer (one set of tiles), coloured by grade from the palette
    # (a reference, not a hex), with a legend entry per grade naming its colour.
    enterprise = [la for la in layers.values() if la.source == "enterprise_tiles"]
    assert len(enterprise) == 1 and enterprise[0].grade is None
    layer = enterprise[0]
    assert layer.style.color_by == "grade"
    for grade in GRADES:
        assert layer.style.colors[str(grade.value)] == f"grade:{grade.value}"
        label = layer.legend.labels[str(grade.value)]
        assert grade.name in label and grade.colour_name in label
    kinds = sorted(la.kind for la in layers.values())
    assert kinds.count("vector_tiles") == 2 and {"choropleth", "heat", "outlines"} <= set(kinds)
    district = next(la for la in layers.values() if la.kind == "choropleth")
    assert set(district.metrics) == {"weighted_risk", "major_risk_enterprises", "open_major_hazards",
                                     "overdue_hazards", "task_completion_rate"}
    hazards = layers["hazards"]
    assert set(hazards.style.colors) == {"major", "general"}
    assert hazards.style.colors["major"] != hazards.style.colors["general"]
    assert hazards.style.highlight_by == "overdue"


def test_palette_setting_recolours_every_layer() -> None:
    layers = load_layers(layers_dir())
    palette = {1: "#110000", 2: "#220000", 3: "#330000", 4: "#440000"}
    enterprises = layers["enterprises"].client_spec(palette)
    assert enterprises["style"]["colors"] == {"1": "#110000", "2": "#220000", "3": "#330000", "4": "#440000"}
    assert enterprises["legend"]["labels"][0] == ["1", "重大风险（红）"]
    heat = layers["risk_heat"].client_spec(palette)
    # The heat gradient runs from 蓝 to 红 in the configured palette.
    stops = sorted(heat["style"]["gradient"].items(), key=lambda kv: float(kv[0]))
    assert [c for _, c in stops] == ["#440000", "#330000", "#220000", "#110000"]


def test_good_file_loads(tmp_path: Path) -> None:
    layer = load_layer(write(tmp_path, GOOD))
    assert layer.name == "enterprises_red" and layer.grade == 1
    assert layer.popup_fields == {"name": "企业名称"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("source = \"enterprise_tiles\"", "source = \"nowhere\""), "source 无效：未知数据源 'nowhere'"),
        (("id_field = \"id\"", "id_field = \"pk\""), "id_field 无效：数据源 enterprise_tiles 没有字段 'pk'"),
        (("name = \"企业名称\"", "phone = \"电话\""), "popup_fields.phone 无效"),
        (("max_zoom = 22", "max_zoom = 23"), "max_zoom 无效：缩放级别应为 0–22"),
        (("min_zoom = 0", "min_zoom = -1"), "min_zoom 无效"),
        (("color = \"grade:1\"", "color = \"#E60012\""), "style.color 无效：#E60012 是红色等级颜色，请写作 grade:1"),
        (("color = \"grade:1\"", "color = \"grade:7\""), "style.color 无效"),
        (("color = \"grade:1\"", "color = \"red\""), "style.color 无效"),
        (("color = \"grade:1\"", "colour = \"grade:1\""), "style 无效：未知项 colour"),
        (("grade = 1", "grade = 5"), "params.grade 无效"),
        (("[legend]\nlabel = \"重大风险\"", ""), "legend 无效"),
        (("title = \"红色企业（重大风险）\"", "title = \"\""), "title 无效"),
        (("geom_field = \"geom\"", "geom_field = \"the_geom\""), "geom_field 无效"),
        (("name = \"enterprises_red\"", "name = \"Red Layer\""), "name 无效"),
        # a legend entry per value only for a value the layer colours
        (("label = \"重大风险\"", "label = \"重大风险\"\nlabels = { \"1\" = \"红\" }"), "legend.labels.1 无效"),
    ],
)
def test_bad_file_is_rejected_with_a_clear_error(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(LayerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_layer(path)


def test_legend_labels_follow_the_colours(tmp_path: Path) -> None:
    text = GOOD.replace('color = "grade:1"', 'color_by = "grade"\ncolors = { "1" = "grade:1", "2" = "grade:2" }')
    layer = load_layer(write(tmp_path, text.replace('label = "重大风险"',
                                                     'label = "等级"\nlabels = { "2" = "较大", "1" = "重大" }')))
    assert layer.legend.labels == {"2": "较大", "1": "重大"}
    assert layer.client_spec({1: "#110000", 2: "#220000"})["legend"]["labels"] == [["2", "较大"], ["1", "重大"]]
    bad = text.replace('label = "重大风险"', 'label = "等级"\nlabels = { "3" = "一般" }')
    with pytest.raises(LayerError, match="legend.labels.3 无效：应为 style.colors 中的一项"):
        load_layer(write(tmp_path, bad, "bad.toml"))


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="layer.toml 不是有效的 TOML"):
        load_layer(write(tmp_path, "name = "))


def test_duplicate_names_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="中没有图层定义"):
        load_layers(tmp_path)
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, GOOD.replace("红色企业（重大风险）", "另一个"), "b.toml")
    with pytest.raises(LayerError, match="b.toml 的 name 无效：与 .*a.toml 重名"):
        load_layers(tmp_path)


def test_bad_layer_stops_app_start(tmp_path: Path, database_url: str) -> None:
    from geo_service import create_app
    from geo_service.config import TestConfig

    write(tmp_path, GOOD.replace("max_zoom = 22", "max_zoom = 30"), "bad.toml")
    config = TestConfig(database_url, tmp_path / "var")
    config.LAYERS_DIR = tmp_path  # type: ignore[attr-defined]
    with pytest.raises(LayerError, match="bad.toml 的 max_zoom 无效"):
        create_app(config)


def test_choropleth_needs_metrics_and_ramp(tmp_path: Path) -> None:
    text = """
        name = "d"
        title = "区域"
        source = "district_heat"
        id_field = "code"
        geom_field = "geom"
        [style]
        ramp = ["#FFF5EB", "#7F2704"]
        [legend]
        label = "区域"
    """
    with pytest.raises(LayerError, match="需要 metrics 和 style.ramp"):
        load_layer(write(tmp_path, text))
    ok = load_layer(write(tmp_path, text + '[metrics]\nweighted_risk = "风险加权值"\n'))
    assert ok.default_metric == "weighted_risk"
    with pytest.raises(LayerError, match="metrics.nope 无效"):
        load_layer(write(tmp_path, text + '[metrics]\nnope = "x"\n'))


def test_every_source_has_its_id_and_geometry() -> None:
    for name, src in SOURCES.items():
        assert src.fields and src.geom_field == "geom", name


def test_resolve_color() -> None:
    assert resolve_color("grade:3", {3: "#ABCDEF"}) == "#ABCDEF"
    assert resolve_color("#123456", {}) == "#123456"


@pytest.mark.parametrize(
    ("values", "k", "expected"),
    [
        ([], 5, []),
        ([3, 3, 3], 5, [3.0]),                     # all equal → one class
        ([0, 7, 9], 5, [0.0, 7.0, 9.0]),           # fewer distinct values than k → one class each
        ([1, 2, 3, 20, 21, 22], 2, [3.0, 22.0]),   # two clear clusters
    ],
)
def test_class_breaks(values: list[float], k: int, expected: list[float]) -> None:
    breaks = class_breaks(values, k)
    assert breaks == expected
    assert breaks == sorted(breaks)
    for v in values:
        i = class_of(v, breaks)
        assert v <= breaks[i] and (i == 0 or v > breaks[i - 1])


def test_class_breaks_many_values_monotonic() -> None:
    values = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    breaks = class_breaks(values, 5)
    assert len(breaks) == 5
    assert all(a < b for a, b in zip(breaks, breaks[1:], strict=False))
    assert breaks[-1] == 89

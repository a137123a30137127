"""The typed map-layer definition, its loader and registry.

Every layer of the map is one small TOML file in ``layers/`` (data only).  The
loader turns each into a frozen :class:`Layer` and validates the whole set at
start-up — unique names, known sources, fields that the source really has,
zooms within 0–22, colours that are either a reference to the one grade
palette (``"grade:1"`` … ``"grade:4"``) or a hex colour that is *not* a grade
colour — and raises :class:`LayerError` naming the file and the key.

The same definitions drive the web map (:meth:`Layer.client_spec`), its legend
and the printed maps of the monthly return (:func:`resolve_color`,
:meth:`Layer.classify`).

Example layer file (one layer coloured by a field, with a legend entry per value)::

    name = "enterprises"
    title = "企业（按风险等级）"
    source = "enterprise_tiles"
    id_field = "id"
    geom_field = "geom"
    order = 10
    [style]
    color_by = "grade"
    colors = { "1" = "grade:1", "2" = "grade:2" }
    [popup_fields]
    name = "企业名称"
    [legend]
    label = "企业风险等级"
    labels = { "1" = "重大风险（红）", "2" = "较大风险（橙）" }
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .domain import GRADE_BY_VALUE, GRADES

__all__ = [
    "LayerError",
    "Source",
    "SOURCES",
    "Style",
    "Legend",
    "Layer",
    "load_layer",
    "load_layers",
    "resolve_color",
    "class_breaks",
    "layers_dir",
]

MIN_ZOOM, MAX_ZOOM = 0, 22
_HEX_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
_GRADE_REF_RE = re.compile(r"^grade:([1-4])$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class LayerError(ValueError):
    """A layer file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Source:
    """Where a layer's features come from and which properties they carry.

    ``kind`` is how the browser reads it: ``vector_tiles`` (Mapbox Vector
    Tiles, ``{z}/{x}/{y}`` in ``url``), ``choropleth`` and ``outlines``
    (GeoJSON for a region and zoom), ``heat`` (weighted points in a bbox),
    ``zones`` (the enterprises' risk zones, GeoJSON polygons in a bbox).
    """

    kind: str
    url: str
    fields: tuple[str, ...]
    geom_field: str = "geom"
    source_layer: str | None = None  # the MVT layer name inside a tile
    title: str = ""


# The sources a layer may name.  Tiles are served by the tiles surface
# (``/tiles/<layer>/{z}/{x}/{y}.pbf``, each honouring the common filters); an
# aggregated low-zoom feature has ``count`` > 1.  The GeoJSON and heat sources
# are the map surface's own endpoints.
SOURCES: dict[str, Source] = {
    "enterprise_tiles": Source(
        "vector_tiles", "/tiles/enterprises/{z}/{x}/{y}.pbf",
        ("id", "name", "grade", "industry", "count"),
        source_layer="enterprises", title="企业矢量切片",
    ),
    "hazard_tiles": Source(
        "vector_tiles", "/tiles/hazards/{z}/{x}/{y}.pbf",
        ("id", "enterprise_id", "enterprise_name", "level", "state", "overdue", "overdue_days",
         "deadline", "description", "count"),
        source_layer="hazards", title="隐患矢量切片",
    ),
    "district_heat": Source(
        "choropleth", "/map/districts.geojson",
        ("code", "name", "enterprises", "weighted_risk", "major_risk_enterprises",
         "open_major_hazards", "overdue_hazards", "task_completion_rate", "tasks_due", "tasks_done",
         "value", "class"),
        title="下级区划统计",
    ),
    "risk_heat": Source("heat", "/map/heat.json", ("weight", "count"), title="按等级加权的企业点"),
    "region_outlines": Source(
        "outlines", "/map/regions.geojson", ("code", "name", "level", "role"), title="行政区划边界",
    ),
    # The enterprises' own 四色图: their risk zones in a bbox, from ZONES_FROM_ZOOM on.
    "risk_zones": Source(
        "zones", "/map/zones.geojson",
        ("id", "enterprise_id", "enterprise_name", "name", "floor", "grade", "risk_points"),
        title="企业风险区域",
    ),
}


def resolve_color(value: str, palette: Mapping[int, str]) -> str:
    """A colour of a layer file as hex: ``"grade:N"`` reads the grade palette.

    >>> resolve_color("grade:2", {2: "#FF8C00"}), resolve_color("#334455", {})
    ('#FF8C00', '#334455')
    """
    m = _GRADE_REF_RE.match(value)
    if m:
        return palette[int(m.group(1))]
    return value


def class_breaks(values: Iterable[float], k: int = 5) -> list[float]:
    """Upper bounds of at most ``k`` classes (Fisher–Jenks natural breaks, jenkspy).

    Robust to few or equal values: ``k`` is lowered to the number of distinct
    values; the last break is the maximum; an empty input has no breaks.
    Class ``i`` holds the values in ``(breaks[i-1], breaks[i]]`` (the first
    from the minimum).  (jenkspy is a small C extension; mapclassify gave the
    same breaks but brought scipy and scikit-learn, ~110 MB, into every worker.)

    >>> class_breaks([0, 0, 0])
    [0.0]
    >>> class_breaks([1, 2, 10, 11], k=2)
    [2.0, 11.0]
    >>> class_breaks([1, 2, 3, 10, 11, 12, 30], k=3)
    [3.0, 12.0, 30.0]
    """
    import jenkspy

    data = [float(v) for v in values]
    if not data:
        return []
    distinct = sorted(set(data))
    k = max(1, min(k, len(distinct)))
    if k == 1:
        return [distinct[-1]]
    if k == len(distinct):
        return distinct
    # jenks_breaks gives the minimum, then the upper bound of each class
    return [float(b) for b in jenkspy.jenks_breaks(data, n_classes=k)[1:]]


def class_of(value: float, breaks: list[float]) -> int:
    """Index of the class ``value`` falls in (see :func:`class_breaks`).

    >>> class_of(2, [2.0, 11.0]), class_of(3, [2.0, 11.0])
    (0, 1)
    """
    for i, upper in enumerate(breaks):
        if value <= upper:
            return i
    return max(len(breaks) - 1, 0)


@dataclass(frozen=True)
class Style:
    """How a layer draws.  Colours are ``"grade:N"`` or ``#rrggbb``."""

    color: str | None = None
    stroke_color: str | None = None
    weight: float = 1.0
    opacity: float = 1.0
    fill_opacity: float = 0.8
    radius: float = 5.0
    color_by: str | None = None  # a field whose value picks a colour from ``colors``
    colors: Mapping[str, str] = field(default_factory=dict)
    highlight_by: str | None = None  # a boolean field; true features get ``highlight_color``
    highlight_color: str | None = None
    ramp: tuple[str, ...] = ()  # class colours of a choropleth, low to high
    gradient: Mapping[str, str] = field(default_factory=dict)  # heat: stop (0–1) → colour
    label_field: str | None = None
    scheme_k: int = 5  # at most this many classes


@dataclass(frozen=True)
class Legend:
    label: str
    symbol: str = "circle"  # circle | triangle | line | fill | ramp | gradient
    note: str = ""
    # A layer coloured by a field (``style.color_by``): the entry of each value of ``style.colors``.
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Layer:
    """One map layer as declared in ``layers/<name>.toml``."""

    name: str
    title: str
    source: str
    id_field: str
    geom_field: str
    style: Style
    legend: Legend
    popup_fields: Mapping[str, str] = field(default_factory=dict)
    min_zoom: int = MIN_ZOOM
    max_zoom: int = MAX_ZOOM
    order: int = 100
    visible: bool = True
    params: Mapping[str, str | int] = field(default_factory=dict)
    metrics: Mapping[str, str] = field(default_factory=dict)  # choropleth: field → Chinese
    default_metric: str | None = None
    path: Path | None = None

    @property
    def source_def(self) -> Source:
        return SOURCES[self.source]

    @property
    def kind(self) -> str:
        return self.source_def.kind

    @property
    def grade(self) -> int | None:
        """The grade a per-grade layer shows (its ``params.grade``)."""
        value = self.params.get("grade")
        return int(value) if value is not None else None

    def colors(self, palette: Mapping[int, str]) -> dict[str, Any]:
        """Every colour of the style resolved to hex against ``palette``."""
        s = self.style
        return {
            "color": resolve_color(s.color, palette) if s.color else None,
            "stroke_color": resolve_color(s.stroke_color, palette) if s.stroke_color else None,
            "colors": {k: resolve_color(v, palette) for k, v in s.colors.items()},
            "highlight_color": resolve_color(s.highlight_color, palette) if s.highlight_color else None,
            "ramp": [resolve_color(c, palette) for c in s.ramp],
            "gradient": {k: resolve_color(v, palette) for k, v in s.gradient.items()},
        }

    def classify(self, values: Iterable[float]) -> list[float]:
        """Class breaks of a choropleth for ``values`` (at most as many classes as ramp colours)."""
        k = min(self.style.scheme_k, len(self.style.ramp) or self.style.scheme_k)
        return class_breaks(values, k)

    def client_spec(self, palette: Mapping[int, str]) -> dict[str, Any]:
        """What the browser needs to draw this layer (JSON-serialisable)."""
        src = self.source_def
        s = self.style
        return {
            "name": self.name,
            "title": self.title,
            "order": self.order,
            "kind": src.kind,
            "url": src.url,
            "source_layer": src.source_layer,
            "id_field": self.id_field,
            "params": dict(self.params),
            "min_zoom": self.min_zoom,
            "max_zoom": self.max_zoom,
            "visible": self.visible,
            # Lists of pairs: JSON objects lose their order on the way (sorted keys).
            "popup_fields": [[k, v] for k, v in self.popup_fields.items()],
            "metrics": [[k, v] for k, v in self.metrics.items()],
            "default_metric": self.default_metric,
            "legend": {"label": self.legend.label, "symbol": self.legend.symbol, "note": self.legend.note,
                       # pairs in the order of the file (see popup_fields)
                       "labels": [[k, v] for k, v in self.legend.labels.items()]},
            "style": {
                "weight": s.weight, "opacity": s.opacity, "fill_opacity": s.fill_opacity,
                "radius": s.radius, "color_by": s.color_by, "highlight_by": s.highlight_by,
                "label_field": s.label_field, **self.colors(palette),
            },
        }


# --- loading and validation -------------------------------------------------

_GRADE_HEXES = {g.default_hex.upper(): g for g in GRADES}
_LAYER_KEYS = {"name", "title", "source", "id_field", "geom_field", "style", "legend",
               "popup_fields", "min_zoom", "max_zoom", "order", "visible", "params",
               "metrics", "default_metric"}
_STYLE_KEYS = set(Style.__dataclass_fields__)
_COLOR_KEYS = ("color", "stroke_color", "highlight_color")


def _fail(path: Path, key: str, reason: str) -> LayerError:
    return LayerError(f"图层定义 {path.name} 的 {key} 无效：{reason}")


def _color(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(path, key, "颜色应为字符串")
    if _GRADE_REF_RE.match(value):
        return value
    if not _HEX_RE.match(value):
        raise _fail(path, key, f"颜色 {value!r} 应为 grade:1…grade:4 或 #rrggbb")
    grade = _GRADE_HEXES.get(value.upper())
    if grade is not None:
        # The palette is a setting (GRADE_COLORS); a literal would not follow it.
        raise _fail(path, key, f"{value} 是{grade.colour_name}色等级颜色，请写作 grade:{grade.value}")
    return value


def _str(path: Path, data: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _fail(path, key, "缺少该项")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, "应为非空字符串")
    return value


def _number(path: Path, key: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(path, key, "应为数字")
    if not lo <= value <= hi:
        raise _fail(path, key, f"应在 {lo:g} 到 {hi:g} 之间")
    return float(value)


def _style(path: Path, raw: Any, fields: tuple[str, ...]) -> Style:
    if not isinstance(raw, dict):
        raise _fail(path, "style", "应为表")
    unknown = set(raw) - _STYLE_KEYS
    if unknown:
        raise _fail(path, "style", f"未知项 {', '.join(sorted(unknown))}")
    kw: dict[str, Any] = {}
    for key in _COLOR_KEYS:
        if key in raw:
            kw[key] = _color(path, f"style.{key}", raw[key])
    for key, (lo, hi) in {"weight": (0, 20), "opacity": (0, 1), "fill_opacity": (0, 1),
                          "radius": (0, 100)}.items():
        if key in raw:
            kw[key] = _number(path, f"style.{key}", raw[key], lo, hi)
    if "scheme_k" in raw:
        kw["scheme_k"] = int(_number(path, "style.scheme_k", raw["scheme_k"], 1, 9))
    for key in ("color_by", "highlight_by", "label_field"):
        if key in raw:
            value = _str(path, raw, key)
            if value not in fields:
                raise _fail(path, f"style.{key}", f"数据源没有字段 {value!r}（可用：{', '.join(fields)}）")
            kw[key] = value
    if "colors" in raw:
        if not isinstance(raw["colors"], dict):
            raise _fail(path, "style.colors", "应为表")
        kw["colors"] = {str(k): _color(path, f"style.colors.{k}", v) for k, v in raw["colors"].items()}
        if "color_by" not in kw:
            raise _fail(path, "style.colors", "需要同时给出 color_by")
    if "ramp" in raw:
        if not isinstance(raw["ramp"], list) or not raw["ramp"]:
            raise _fail(path, "style.ramp", "应为颜色列表")
        kw["ramp"] = tuple(_color(path, "style.ramp", c) for c in raw["ramp"])
    if "gradient" in raw:
        if not isinstance(raw["gradient"], dict) or not raw["gradient"]:
            raise _fail(path, "style.gradient", "应为 0–1 → 颜色 的表")
        gradient = {}
        for stop, colour in raw["gradient"].items():
            try:
                position = float(stop)
            except ValueError as err:
                raise _fail(path, "style.gradient", f"位置 {stop!r} 不是数字") from err
            if not 0 <= position <= 1:
                raise _fail(path, "style.gradient", f"位置 {stop} 应在 0 到 1 之间")
            gradient[str(stop)] = _color(path, f"style.gradient.{stop}", colour)
        kw["gradient"] = gradient
    return Style(**kw)


def load_layer(path: Path) -> Layer:
    """Read and validate one layer file (raises :class:`LayerError`)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise LayerError(f"图层定义 {path.name} 不是有效的 TOML：{err}") from err
    unknown = set(data) - _LAYER_KEYS
    if unknown:
        raise _fail(path, "（顶层）", f"未知项 {', '.join(sorted(unknown))}")

    name = _str(path, data, "name")
    assert name is not None
    if not _NAME_RE.match(name):
        raise _fail(path, "name", "只能用小写字母、数字和下划线，且以字母开头")
    title = _str(path, data, "title")
    source = _str(path, data, "source")
    if source not in SOURCES:
        raise _fail(path, "source", f"未知数据源 {source!r}（可用：{', '.join(SOURCES)}）")
    src = SOURCES[source]
    id_field = _str(path, data, "id_field")
    if id_field not in src.fields:
        raise _fail(path, "id_field", f"数据源 {source} 没有字段 {id_field!r}")
    geom_field = _str(path, data, "geom_field")
    if geom_field != src.geom_field:
        raise _fail(path, "geom_field", f"数据源 {source} 的几何字段是 {src.geom_field!r}")

    popup = data.get("popup_fields", {})
    if not isinstance(popup, dict):
        raise _fail(path, "popup_fields", "应为 字段 → 中文标签 的表")
    for column, label in popup.items():
        if column not in src.fields:
            raise _fail(path, f"popup_fields.{column}", f"数据源 {source} 没有该字段")
        if not isinstance(label, str) or not label:
            raise _fail(path, f"popup_fields.{column}", "标签应为非空字符串")

    zooms = {}
    for key, default in (("min_zoom", MIN_ZOOM), ("max_zoom", MAX_ZOOM)):
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not MIN_ZOOM <= value <= MAX_ZOOM:
            raise _fail(path, key, f"缩放级别应为 {MIN_ZOOM}–{MAX_ZOOM} 的整数")
        zooms[key] = value
    if zooms["min_zoom"] > zooms["max_zoom"]:
        raise _fail(path, "min_zoom", "不能大于 max_zoom")

    style = _style(path, data.get("style", {}), src.fields)
    legend_raw = data.get("legend")
    if not isinstance(legend_raw, dict):
        raise _fail(path, "legend", "缺少图例（[legend] label = …）")
    labels = legend_raw.get("labels", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) and v for v in labels.values()):
        raise _fail(path, "legend.labels", "应为 取值 → 中文图例 的表")
    for value in labels:
        if value not in style.colors:
            raise _fail(path, f"legend.labels.{value}", "应为 style.colors 中的一项")
    legend = Legend(
        label=_str(path, legend_raw, "label") or "",
        symbol=_str(path, legend_raw, "symbol", required=False) or "circle",
        note=_str(path, legend_raw, "note", required=False) or "",
        labels={str(k): v for k, v in labels.items()},
    )

    params = data.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, str | int) for v in params.values()):
        raise _fail(path, "params", "应为 参数 → 取值 的表")
    if "grade" in params and params["grade"] not in GRADE_BY_VALUE:
        raise _fail(path, "params.grade", "风险等级应为 1–4")

    metrics = data.get("metrics", {})
    if not isinstance(metrics, dict):
        raise _fail(path, "metrics", "应为 字段 → 中文名称 的表")
    for column in metrics:
        if column not in src.fields:
            raise _fail(path, f"metrics.{column}", f"数据源 {source} 没有该字段")
    default_metric = _str(path, data, "default_metric", required=False)
    if default_metric is not None and default_metric not in metrics:
        raise _fail(path, "default_metric", "应为 metrics 中的一项")
    if src.kind == "choropleth" and (not metrics or not style.ramp):
        raise _fail(path, "metrics", "分级设色图层需要 metrics 和 style.ramp")

    visible = data.get("visible", True)
    if not isinstance(visible, bool):
        raise _fail(path, "visible", "应为 true 或 false")
    order = data.get("order", 100)
    if isinstance(order, bool) or not isinstance(order, int):
        raise _fail(path, "order", "应为整数")

    return Layer(
        name=name, title=title or "", source=source, id_field=id_field or "",
        geom_field=geom_field or "", style=style, legend=legend, popup_fields=dict(popup),
        min_zoom=zooms["min_zoom"], max_zoom=zooms["max_zoom"], order=order, visible=visible,
        params=dict(params), metrics=dict(metrics),
        default_metric=default_metric or (next(iter(metrics)) if metrics else None), path=path,
    )


def load_layers(directory: Path) -> dict[str, Layer]:
    """Every ``*.toml`` in ``directory``, validated, ordered by ``order`` then name.

    Raises :class:`LayerError` on the first bad file, on duplicate names and
    on an empty directory.
    """
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise LayerError(f"图层目录 {directory} 中没有图层定义（*.toml）")
    layers: dict[str, Layer] = {}
    for path in paths:
        layer = load_layer(path)
        if layer.name in layers:
            raise _fail(path, "name", f"与 {layers[layer.name].path} 重名")
        layers[layer.name] = layer
    titles: dict[str, str] = {}
    for layer in layers.values():
        if layer.title in titles:
            raise LayerError(f"图层 {layer.name} 与 {titles[layer.title]} 标题相同：{layer.title}")
        titles[layer.title] = layer.name
    return dict(sorted(layers.items(), key=lambda kv: (kv[1].order, kv[0])))


def layers_dir() -> Path:
    """The project's ``layers/`` directory."""
    from .config import project_root

    return project_root() / "layers"

"""Print-ready maps of the monthly return, rendered server-side with matplotlib.

Three maps for a region and a month:

* ``risk`` — 安全风险四色分布图: enterprises by grade in the four colours, the
  重大隐患 still open at the month's end marked;
* ``hazard`` — 重大事故隐患分布图: the year's 重大隐患 (open, overdue, rectified);
* ``changes`` — 环比变化图: what moved during the month, per child region.

Each map has the region outline with its child regions named, a legend (in
a panel of its own, outside the map frame), the title, 填报单位, the date, a
north arrow, a scale bar and the configured footer (``MAP_FOOTER``: 审图号 or
内部用图).  Layer colours, titles and legend labels come from the layer
registry (``layers/*.toml`` via :mod:`geo_service.layers`), the grade palette
from ``Config().GRADE_COLORS``, so the web map and the printed map share one
definition.  Markers are drawn opaque (a print has no layer transparency).

Coordinates are projected in PostGIS to a transverse Mercator centred on the
region (metres; see :func:`geo_service.queries.returns.local_crs`), so north
is up and the scale bar is true.  Output is PNG at 300 dpi and vector PDF, A4
or A3, portrait or landscape by the region's shape.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import shapely
from matplotlib import font_manager, patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import FigureCanvasPdf
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon, Rectangle
from matplotlib.transforms import offset_copy
from pyproj import Geod, Transformer
from sqlalchemy.orm import Session

from ..domain import GRADE_BY_VALUE, GRADES
from ..errors import GeoServiceError, NotFound
from ..layers import Layer, load_layers, resolve_color
from ..models import MapExport
from ..queries import metrics
from ..queries import returns as q
from ..queries.dual_prevention import month_end
from ..queries.scope import Scope

__all__ = [
    "DPI",
    "PAPERS",
    "KINDS",
    "MapRenderError",
    "MapStyle",
    "MapData",
    "RenderedMap",
    "cjk_font",
    "load_map_data",
    "grade_counts",
    "render_map",
    "record_export",
    "map_title",
    "Page",
    "new_page",
    "draw_title",
    "draw_legend",
    "draw_footer",
    "draw_map_furniture",
    "finish_page",
    "draw_polygons",
]

LOGGER = logging.getLogger(__name__)

DPI = 300
PAPERS: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}  # mm, portrait
KINDS: dict[str, str] = {"risk": "安全风险四色分布图", "hazard": "重大事故隐患分布图", "changes": "环比变化图"}
MM_PER_INCH = 25.4
_GEOD = Geod(ellps="GRS80")

# Colours that are neither grade colours nor layer colours: the paper itself.
_REGION_FILL = "#F4F4EF"
_PARENT_EDGE = "#222222"
_UNGRADED = "#9E9E9E"
_LABEL = "#333333"
_CLOSED = "#2E7D32"
# Millimetres between two lines of the sub-title (at A4 scale).
_SUB_LINE_MM = 5.0


class MapRenderError(GeoServiceError):
    """A map cannot be drawn (e.g. the CJK font is missing)."""

    code = "map_render_error"
    user_msg = "地图生成失败"


def cjk_font() -> font_manager.FontProperties:
    """Noto Sans CJK SC (fonts-noto-cjk); :class:`MapRenderError` when it is not installed."""
    for family in ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC"):
        for entry in font_manager.fontManager.ttflist:
            if entry.name == family:
                return font_manager.FontProperties(family=family)
    raise MapRenderError("地图生成失败：未安装中文字体 Noto Sans CJK（请安装 fonts-noto-cjk）",
                         detail="font 'Noto Sans CJK' not found by matplotlib.font_manager")


@dataclass(frozen=True)
class MapStyle:
    """What a map is drawn with: the grade palette, the layer registry and the footer."""

    palette: Mapping[int, str]
    layers: Mapping[str, Layer]
    footer: str = "内部用图"

    @classmethod
    def from_config(cls, config: Any, layers: Mapping[str, Layer] | None = None) -> MapStyle:
        """From a :class:`~geo_service.config.Config` (or ``app.config``-like mapping)."""
        settings = config if isinstance(config, Mapping) else config.as_flask()
        return cls(palette=dict(settings["GRADE_COLORS"]), layers=layers or load_layers(settings["LAYERS_DIR"]),
                   footer=settings["MAP_FOOTER"] or "")

    @property
    def enterprise_layer(self) -> Layer:
        """The enterprise layer, coloured by grade (``layers/enterprises.toml``)."""
        return self._layer_of("enterprise_tiles")

    def _layer_of(self, source: str) -> Layer:
        for layer in self.layers.values():
            if layer.source == source:
                return layer
        raise MapRenderError(detail=f"no layer with source {source} in the layer registry")

    @property
    def hazard_layer(self) -> Layer:
        return self._layer_of("hazard_tiles")

    @property
    def region_layer(self) -> Layer:
        return self._layer_of("region_outlines")

    def grade_colour(self, grade: int) -> str:
        return resolve_color(self.enterprise_layer.style.colors.get(str(grade), f"grade:{grade}"), self.palette)

    def grade_label(self, grade: int) -> str:
        """The enterprise layer's legend entry of ``grade`` ("重大风险（红）")."""
        g = GRADE_BY_VALUE[grade]
        return self.enterprise_layer.legend.labels.get(str(grade)) or f"{g.name}（{g.colour_name}）"

    @property
    def major_hazard_colour(self) -> str:
        colours = self.hazard_layer.colors(self.palette)
        return colours["colors"].get("major") or colours["color"] or "#7B1FA2"

    @property
    def overdue_colour(self) -> str:
        return self.hazard_layer.colors(self.palette)["highlight_color"] or "#111111"

    @property
    def region_edge(self) -> str:
        return self.region_layer.colors(self.palette)["stroke_color"] or "#34495E"


@dataclass
class MapData:
    """Everything a map of one region and month shows, in the local projection (metres)."""

    code: str
    name: str
    period: metrics.Period
    crs: str
    parent: Any  # shapely geometry
    children: list[tuple[str, str, Any, tuple[float, float]]]  # code, name, geometry, label point
    enterprises: list[tuple[int, str, int | None, float, float]]  # id, name, grade, x, y
    hazards: list[dict[str, Any]]  # x, y, rectified, found_in_month, overdue, supervised
    changes: dict[str, dict[str, int]] = field(default_factory=dict)  # child code → counts
    change_points: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return tuple(self.parent.bounds)  # type: ignore[return-value]


def load_map_data(session: Session, code: str, period: metrics.Period, *, scope: Scope,
                  changes: Mapping[str, Mapping[str, int]] | None = None,
                  as_of_month: bool = False) -> MapData:
    """Read what the maps of region ``code`` for ``period`` show (one query per layer).

    ``as_of_month``: the enterprises drawn with their grades at the end of the
    period's month, from the grade history (so October's 四色图 stays October's),
    instead of today's.

    ``changes`` (child code → month counts, from the return's numbers) labels
    the child regions of the ``changes`` map.
    """
    centre = session.execute(q.region_centre(code)).first()
    if centre is None:
        raise NotFound(f"行政区划 {code} 不存在")
    crs = q.local_crs(centre.lng, centre.lat)
    env = session.execute(q.region_envelope(code)).one()
    width_m = _GEOD.inv(env.xmin, centre.lat, env.xmax, centre.lat)[2]
    height_m = _GEOD.inv(centre.lng, env.ymin, centre.lng, env.ymax)[2]
    # a tolerance below half a printed point on A3 (~0.15 mm at ≥1:1 500 000)
    tolerance_m = max(width_m, height_m) / 3000.0

    parent = None
    name = code
    children = []
    for r in session.execute(q.region_outlines(code, crs=crs, tolerance_m=tolerance_m)):
        geom = shapely.from_wkb(bytes(r.wkb))
        if r.is_parent:
            parent, name = geom, r.name
        else:
            children.append((r.code, r.name, geom, (r.label_x, r.label_y)))
    to_local = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    grades_at = month_end(period.month_start) if as_of_month else None
    rows = session.execute(q.enterprise_points(code, scope=scope, grades_at=grades_at)).all()
    xs, ys = to_local.transform([r.lng for r in rows], [r.lat for r in rows])
    enterprises = [(r.id, r.name, r.grade, float(x), float(y)) for r, x, y in zip(rows, xs, ys, strict=True)]
    hazards = []
    rows = session.execute(q.major_hazard_points(code, scope=scope, period=period)).all()
    xs, ys = to_local.transform([r.lng for r in rows], [r.lat for r in rows])
    for r, x, y in zip(rows, xs, ys, strict=True):
        hazards.append({**r._mapping, "x": float(x), "y": float(y)})
    points: dict[str, list[tuple[float, float]]] = {}
    rows = session.execute(q.change_points(code, scope=scope, period=period)).all()
    xs, ys = to_local.transform([r.lng for r in rows], [r.lat for r in rows])
    for r, x, y in zip(rows, xs, ys, strict=True):
        points.setdefault(r.what, []).append((float(x), float(y)))
    return MapData(code=code, name=name, period=period, crs=crs, parent=parent, children=children,
                   enterprises=enterprises, hazards=hazards,
                   changes={k: dict(v) for k, v in (changes or {}).items()}, change_points=points)


def grade_counts(data: MapData) -> dict[int | None, int]:
    """Enterprises per grade that the 四色图 of ``data`` draws (and its legend counts);
    ``None``: ungraded.  Every grade is a key, with 0 when none."""
    counts: dict[int | None, int] = {g.value: 0 for g in GRADES}
    counts[None] = 0
    for e in data.enterprises:
        counts[e[2]] = counts.get(e[2], 0) + 1
    return counts


@dataclass(frozen=True)
class RenderedMap:
    """A rendered map: PNG (300 dpi) and PDF bytes and where the map frame lies in the PNG."""

    kind: str
    title: str
    paper: str
    orientation: str  # portrait | landscape
    png: bytes
    pdf: bytes
    size_px: tuple[int, int]
    frame_px: tuple[int, int, int, int]  # left, top, right, bottom of the map frame in the PNG
    seconds: float
    # west, south, east, north of the map frame in the map's projected metres
    extent: tuple[float, float, float, float] | None = None
    # Pixel boxes (x0, y0, x1, y1, origin bottom-left) of every label drawn in the
    # frame, the callout list's included; the labels moved to that list.
    label_boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    callouts: list[str] = field(default_factory=list)


def map_title(name: str, kind: str, period: metrics.Period) -> str:
    """``红河州安全风险四色分布图（2026年10月）``.

    >>> map_title("红河州", "hazard", metrics.period(2026, 10))
    '红河州重大事故隐患分布图（2026年10月）'
    """
    return f"{name}{KINDS[kind]}（{period.label}）"


def _nice_length(max_m: float) -> float:
    """The largest 1/2/5×10ⁿ metres not above ``max_m``.

    >>> _nice_length(23_456), _nice_length(1_999), _nice_length(730)
    (20000.0, 1000.0, 500.0)
    """
    exp = math.floor(math.log10(max_m))
    for m in (5, 2, 1):
        if m * 10**exp <= max_m:
            return float(m * 10**exp)
    return float(10**exp)


def _length_label(m: float) -> str:
    return f"{m / 1000:g} 千米" if m >= 1000 else f"{m:g} 米"


def _paper(paper: str, bounds: tuple[float, float, float, float]) -> tuple[float, float, str]:
    """Page width and height (mm) and orientation for the region's shape."""
    if paper not in PAPERS:
        raise MapRenderError(f"不支持的纸张 {paper}（可选 A4、A3）")
    short, long_ = PAPERS[paper]
    w = bounds[2] - bounds[0]
    h = bounds[3] - bounds[1]
    if w > h * 1.1:
        return long_, short, "landscape"
    return short, long_, "portrait"


def _fig_inches(mm: float) -> float:
    # The pixel size is truncated by the renderer: aim a hair above the
    # rounded pixel count so that 210 mm gives 2480 px and 297 mm 3508 px.
    px = round(mm / MM_PER_INCH * DPI)
    return (px + 0.01) / DPI


def draw_polygons(ax: Any, geom: Any, **kw: Any) -> None:
    polys = getattr(geom, "geoms", [geom])
    for poly in polys:
        if poly.is_empty:
            continue
        ax.add_patch(Polygon(list(poly.exterior.coords), closed=True, **kw))
        for ring in poly.interiors:
            ax.add_patch(Polygon(list(ring.coords), closed=True, facecolor="white",
                                 edgecolor=kw.get("edgecolor", "none"), linewidth=kw.get("linewidth", 0.5)))


def _north_arrow(ax: Any, font: Any) -> None:
    x, y, s = 0.94, 0.90, 0.035
    ax.add_patch(Polygon([(x, y + s), (x - s * 0.45, y - s * 0.6), (x, y - s * 0.25)], closed=True,
                         transform=ax.transAxes, facecolor="black", edgecolor="black", lw=0.6, zorder=20))
    ax.add_patch(Polygon([(x, y + s), (x + s * 0.45, y - s * 0.6), (x, y - s * 0.25)], closed=True,
                         transform=ax.transAxes, facecolor="white", edgecolor="black", lw=0.6, zorder=20))
    ax.text(x, y + s * 1.15, "北", transform=ax.transAxes, ha="center", va="bottom",
            fontproperties=font, fontsize=11, zorder=20)


def _scale_bar(ax: Any, font: Any, span_m: float) -> None:
    """A two-segment scale bar in the lower right (data units are metres)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length(span_m / 4.0)
    right = x1 - (x1 - x0) * 0.04
    left = right - length
    base = y0 + (y1 - y0) * 0.04
    h = (y1 - y0) * 0.008
    ax.add_patch(Rectangle((left - length * 0.08, base - h * 1.5), length * 1.16, h * 6.5,
                           facecolor="white", edgecolor="none", alpha=1, zorder=19))
    ax.add_patch(Rectangle((left, base), length / 2, h, facecolor="black", edgecolor="black", lw=0.6, zorder=20))
    ax.add_patch(Rectangle((left + length / 2, base), length / 2, h, facecolor="white", edgecolor="black",
                           lw=0.6, zorder=20))
    for xv, label in ((left, "0"), (left + length / 2, _length_label(length / 2).split(" ")[0]),
                      (right, _length_label(length))):
        ax.text(xv, base + h * 1.6, label, ha="center", va="bottom", fontproperties=font, fontsize=7,
                zorder=21)


@dataclass
class Page:
    """A printed map's page: the figure, its map frame (``ax``, data units are metres)
    and the layout in millimetres.  Made by :func:`new_page`; the district maps and
    the enterprise maps (:mod:`.plantrender`) draw on it with the same pieces."""

    fig: Any
    ax: Any
    paper: str
    orientation: str
    w_mm: float
    h_mm: float
    margin: float
    scale: float
    map_bottom: float
    map_w: float
    map_h: float
    legend_w: float
    legend_h: float
    footer_h: float
    span_m: float  # the frame's width in metres
    font: Any
    bold: Any
    started: float


def new_page(paper: str, bounds: tuple[float, float, float, float], *, pad: float = 1.1,
             legend_w_mm: float = 62.0, legend_h_mm: float = 46.0, min_span_m: float = 1000.0,
             title_lines: int = 1) -> Page:
    """A blank page for ``bounds`` (local metres): A4 or A3, portrait or landscape by their
    shape, the map frame fitted to the bounds padded by ``pad`` at equal x/y scale, and
    room for the title (with ``title_lines`` lines of sub-title), the legend panel (beside
    the frame in landscape, below in portrait) and the footer."""
    started = time.perf_counter()
    font = cjk_font()
    bold = font.copy()
    bold.set_weight("bold")
    w_mm, h_mm, orientation = _paper(paper, bounds)
    scale = 1.0 if paper == "A4" else 1.3
    fig = Figure(figsize=(_fig_inches(w_mm), _fig_inches(h_mm)), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)

    margin, title_h, footer_h = 10.0, (24.0 + _SUB_LINE_MM * (title_lines - 1)) * scale, 12.0
    if orientation == "landscape":
        legend_w, legend_h = legend_w_mm * scale, 0.0
    else:
        legend_w, legend_h = 0.0, legend_h_mm * scale
    map_left, map_bottom = margin, margin + footer_h + legend_h
    map_w = w_mm - 2 * margin - legend_w - (4.0 if legend_w else 0.0)
    map_h = h_mm - map_bottom - margin - title_h
    ax = fig.add_axes((map_left / w_mm, map_bottom / h_mm, map_w / w_mm, map_h / h_mm))
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(1.0)

    # data limits: the bounds padded, widened to the frame's aspect (equal scale in x and y)
    x0, y0, x1, y1 = bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    dw, dh = (x1 - x0) * pad or min_span_m, (y1 - y0) * pad or min_span_m
    frame_aspect = map_w / map_h
    if dw / dh > frame_aspect:
        dh = dw / frame_aspect
    else:
        dw = dh * frame_aspect
    ax.set_xlim(cx - dw / 2, cx + dw / 2)
    ax.set_ylim(cy - dh / 2, cy + dh / 2)
    ax.set_aspect("equal", adjustable="box")
    return Page(fig=fig, ax=ax, paper=paper, orientation=orientation, w_mm=w_mm, h_mm=h_mm, margin=margin,
                scale=scale, map_bottom=map_bottom, map_w=map_w, map_h=map_h, legend_w=legend_w,
                legend_h=legend_h, footer_h=footer_h, span_m=dw, font=font, bold=bold, started=started)


def draw_title(page: Page, title: str, sub: Sequence[str], lines: Sequence[str] = ()) -> None:
    """The title and, below it, the sub-title items (填报单位, 制图日期 …) and then
    ``lines``, one per line (the page made with ``title_lines`` = 1 + their number)."""
    fig, s = page.fig, page.scale
    fig.text(0.5, 1 - (page.margin + 9 * s) / page.h_mm, title, ha="center", va="center",
             fontproperties=page.bold, fontsize=18 * s)
    for i, text in enumerate(["　　".join(sub), *lines]):
        fig.text(0.5, 1 - (page.margin + (19 + _SUB_LINE_MM * i) * s) / page.h_mm, text, ha="center",
                 va="center", fontproperties=page.font, fontsize=9 * s)


def draw_legend(page: Page, handles: list[Any]) -> None:
    """The legend panel, outside the map frame."""
    fig, w_mm, h_mm = page.fig, page.w_mm, page.h_mm
    if page.orientation == "landscape":
        lax = fig.add_axes(((w_mm - page.margin - page.legend_w) / w_mm, page.map_bottom / h_mm,
                            page.legend_w / w_mm, page.map_h / h_mm))
        loc, ncol = "upper left", 1
    else:
        lax = fig.add_axes((page.margin / w_mm, (page.margin + page.footer_h) / h_mm,
                            (w_mm - 2 * page.margin) / w_mm, (page.legend_h - 4) / h_mm))
        loc, ncol = "upper left", 2
    lax.axis("off")
    lax.legend(handles=handles, loc=loc, ncol=ncol, frameon=True, title="图　例", prop=page.font.copy(),
               title_fontproperties=page.bold, fontsize=9 * page.scale, borderpad=0.8, labelspacing=0.8,
               edgecolor="#555555", fancybox=False)
    for text in lax.get_legend().get_texts():
        text.set_fontsize(9 * page.scale)


def draw_footer(page: Page, footer: str, note: str) -> None:
    """The footer line (``MAP_FOOTER``: 审图号 or 内部用图) on the left, ``note`` on the right."""
    fig, s = page.fig, page.scale
    y = (page.margin + 4) / page.h_mm
    fig.text(page.margin / page.w_mm, y, footer or "", ha="left", va="center", fontproperties=page.font,
             fontsize=9 * s)
    fig.text(1 - page.margin / page.w_mm, y, note, ha="right", va="center", fontproperties=page.font,
             fontsize=7 * s, color="#555555")


def draw_map_furniture(page: Page) -> None:
    """The north arrow and the scale bar inside the map frame."""
    _north_arrow(page.ax, page.bold)
    _scale_bar(page.ax, page.font, page.span_m)


def finish_page(page: Page, kind: str, title: str, metadata: Mapping[str, str] | None = None,
                formats: Sequence[str] = ("png", "pdf")) -> RenderedMap:
    """The page as PNG (300 dpi) and vector PDF, with where the map frame lies in the PNG.

    ``metadata``: more PNG text chunks (``Description`` …) beside the ``Title``;
    ``formats``: leave one out and its bytes are empty (it is not drawn)."""
    fig, ax = page.fig, page.ax
    png = io.BytesIO()
    # zlib level 1: the PNG encoder was 40 % of a county map's time at the default level
    fig.savefig(png, format="png", dpi=DPI, facecolor="white",
                metadata={"Title": title, "Software": None, **(metadata or {})},
                pil_kwargs={"compress_level": 1})
    width, height = fig.canvas.get_width_height()
    bbox = ax.get_window_extent()
    frame = (int(math.ceil(bbox.x0)), int(math.ceil(height - bbox.y1)),
             int(math.floor(bbox.x1)), int(math.floor(height - bbox.y0)))
    pdf = io.BytesIO()
    if "pdf" in formats:
        FigureCanvasPdf(fig).print_pdf(pdf, metadata={"Title": title, "Creator": "风险一张图"})
    seconds = time.perf_counter() - page.started
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return RenderedMap(kind=kind, title=title, paper=page.paper, orientation=page.orientation, png=png.getvalue(),
                       pdf=pdf.getvalue(), size_px=(width, height), frame_px=frame, seconds=seconds,
                       extent=(x0, y0, x1, y1))


# Where a label may go around its point, in multiples of its own width and height.
_LABEL_OFFSETS = ((0, 0), (0, 0.8), (0, -0.8), (0.65, 0), (-0.65, 0), (0.55, 0.7), (-0.55, 0.7),
                  (0.55, -0.7), (-0.55, -0.7), (0, 1.6), (0, -1.6), (1.2, 0), (-1.2, 0))
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def _mark(n: int) -> str:
    """The callout mark of the ``n``-th label moved to the list (from 0): ①…⑳, then (21)…"""
    return _CIRCLED[n] if n < len(_CIRCLED) else f"({n + 1})"


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float], pad: float) -> bool:
    return not (a[2] + pad <= b[0] or b[2] + pad <= a[0] or a[3] + pad <= b[1] or b[3] + pad <= a[1])


def place_labels(fig: Any, ax: Any, labels: Sequence[tuple[str, tuple[float, float]]], *, font: Any,
                 size: float) -> tuple[list[tuple[float, float, float, float]], list[str]]:
    """Draw ``(text, (x, y))`` labels (data units) so that no two boxes intersect.

    Each label tries its point, then positions around it (:data:`_LABEL_OFFSETS`);
    one that fits nowhere inside the frame becomes a circled number at its
    point and its text goes to a callout list in the frame's upper-left
    corner.  Returns the pixel boxes of everything drawn (the list's
    included) and the texts moved to the list.
    """
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    bounds = (frame.x0, frame.y0, frame.x1, frame.y1)
    effects = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    pad = 2.0  # pixels between two labels

    def fits(box: tuple[float, float, float, float], taken: list[tuple[float, float, float, float]]) -> bool:
        inside = box[0] >= bounds[0] and box[1] >= bounds[1] and box[2] <= bounds[2] and box[3] <= bounds[3]
        return inside and not any(_overlaps(box, t, pad) for t in taken)

    def settle(artist: Any, w_pt: float, h_pt: float, taken: list[tuple[float, float, float, float]]) -> bool:
        """Move ``artist`` to the first offset (in multiples of ``w_pt`` × ``h_pt``) where it
        fits, taking its box; remove it when none does."""
        for fx, fy in _LABEL_OFFSETS:
            artist.set_transform(offset_copy(ax.transData, fig=fig, x=fx * w_pt, y=fy * h_pt, units="points"))
            e = artist.get_window_extent(renderer)
            box = (e.x0, e.y0, e.x1, e.y1)
            if fits(box, taken):
                taken.append(box)
                return True
        artist.remove()
        return False

    def attempt(reserved: list[tuple[float, float, float, float]]) -> tuple[list[Any], list[Any], list[int]]:
        taken = list(reserved)
        drawn, numbers, failed = [], [], []
        for i, (text, (x, y)) in enumerate(labels):
            artist = ax.text(x, y, text, ha="center", va="center", fontproperties=font, fontsize=size,
                             color=_LABEL, zorder=9, linespacing=1.2, fontweight="bold", path_effects=effects)
            ext = artist.get_window_extent(renderer)
            w_pt, h_pt = ext.width * 72 / fig.dpi, ext.height * 72 / fig.dpi
            if settle(artist, w_pt, h_pt, taken):
                drawn.append(artist)
            else:
                failed.append(i)
        for n, i in enumerate(failed):
            x, y = labels[i][1]
            artist = ax.text(x, y, _mark(n), ha="center", va="center", fontproperties=font, fontsize=size,
                             color=_LABEL, zorder=9, fontweight="bold", path_effects=effects)
            if settle(artist, size, size, taken):
                numbers.append(artist)
        return drawn, numbers, failed

    reserved: list[tuple[float, float, float, float]] = []
    listing = None
    for _ in range(4):
        drawn, numbers, failed = attempt(reserved)
        if not failed:
            break
        callouts = [_mark(n) + " " + labels[i][0].replace("\n", " ")
                    for n, i in enumerate(failed)]
        if listing is not None:
            listing.remove()
        listing = ax.text(0.01, 0.99, "\n".join(callouts), transform=ax.transAxes, ha="left", va="top",
                          fontproperties=font, fontsize=size * 0.8, color=_LABEL, zorder=10, linespacing=1.3,
                          bbox={"facecolor": "white", "edgecolor": "#888888", "linewidth": 0.5, "pad": 3})
        e = listing.get_window_extent(renderer)
        wanted = [(e.x0, e.y0, e.x1, e.y1)]
        if wanted == reserved:
            break
        for artist in drawn + numbers:
            artist.remove()
        reserved = wanted
    boxes = []
    for artist in drawn + numbers:
        e = artist.get_window_extent(renderer)
        boxes.append((e.x0, e.y0, e.x1, e.y1))
    if failed and listing is not None:
        e = listing.get_window_extent(renderer)
        boxes.append((e.x0, e.y0, e.x1, e.y1))
        texts = [labels[i][0].replace("\n", " ") for i in failed]
    else:
        if listing is not None:
            listing.remove()
        texts = []
    return boxes, texts


def _legend_handles(data: MapData, kind: str, style: MapStyle) -> list[Any]:
    handles: list[Any] = []
    hz = style.major_hazard_colour
    if kind in ("risk", "hazard"):
        if kind == "risk":
            counts = grade_counts(data)
            for g in GRADES:
                n = counts[g.value]
                handles.append(Line2D([], [], ls="", marker="o", ms=8, mfc=style.grade_colour(g.value),
                                      mec="white", label=f"{style.grade_label(g.value)}  {n} 家"))
            handles.append(Line2D([], [], ls="", marker="o", ms=5, mfc="white", mec=_UNGRADED,
                                  label=f"未评级企业  {counts[None]} 家"))
            open_ = [h for h in data.hazards if not h["rectified"]]
            handles.append(Line2D([], [], ls="", marker="^", ms=8, mfc=hz, mec="white",
                                  label=f"重大隐患（未销号）  {len(open_)} 处"))
        else:
            handles.append(Line2D([], [], ls="", marker="o", ms=4, mfc=_UNGRADED, mec="none",
                                  label=f"企业  {len(data.enterprises)} 家"))
            open_ = [h for h in data.hazards if not h["rectified"] and not h["overdue"]]
            late = [h for h in data.hazards if not h["rectified"] and h["overdue"]]
            done = [h for h in data.hazards if h["rectified"]]
            sup = [h for h in data.hazards if h["supervised"] and not h["rectified"]]
            handles.append(Line2D([], [], ls="", marker="^", ms=9, mfc=hz, mec="white",
                                  label=f"重大隐患（未销号、未逾期）  {len(open_)} 处"))
            handles.append(Line2D([], [], ls="", marker="^", ms=9, mfc=hz, mec=style.overdue_colour, mew=2,
                                  label=f"重大隐患（逾期）  {len(late)} 处"))
            handles.append(Line2D([], [], ls="", marker="^", ms=9, mfc="white", mec=hz, mew=1.2,
                                  label=f"重大隐患（本年已销号）  {len(done)} 处"))
            handles.append(Line2D([], [], ls="", marker="*", ms=6, mfc="black", mec="none",
                                  label=f"其中挂牌督办（未销号）  {len(sup)} 处"))
    else:
        counts = {k: len(v) for k, v in data.change_points.items()}
        handles += [
            Line2D([], [], ls="", marker="*", ms=11, mfc=style.grade_colour(1), mec="black", mew=0.4,
                   label=f"本月新增重大风险  {counts.get('new_major_risk', 0)} 处"),
            Line2D([], [], ls="", marker="^", ms=9, mfc=hz, mec="white",
                   label=f"本月新发现隐患  {counts.get('opened', 0)} 项"),
            Line2D([], [], ls="", marker="o", ms=8, mfc="white", mec=_CLOSED, mew=1.6,
                   label=f"本月验收销号  {counts.get('closed', 0)} 项"),
            Line2D([], [], ls="", marker="x", ms=8, mec=style.overdue_colour, mew=1.8,
                   label=f"本月新增逾期  {counts.get('went_overdue', 0)} 项"),
        ]
    handles.append(Line2D([], [], color=_PARENT_EDGE, lw=1.6, label=f"{data.name}界线"))
    if data.children:
        handles.append(Line2D([], [], color=style.region_edge, lw=0.8, ls="--", label="下级行政区划界线"))
    handles.append(Patch(facecolor=_REGION_FILL, edgecolor="none", label="辖区"))
    return handles


def render_map(data: MapData, kind: str, *, style: MapStyle, unit: str = "",
               made_on: dt.date | None = None, data_as_of: str = "", paper: str = "A4") -> RenderedMap:
    """Draw one map and return its PNG (300 dpi) and PDF.

    Parameters
    ----------
    kind
        ``risk``, ``hazard`` or ``changes`` (see :data:`KINDS`).
    unit, made_on, data_as_of
        填报单位, the map's date and the register's as-of time, printed on it.
    paper
        ``A4`` or ``A3``; the orientation follows the region's shape.
    """
    if kind not in KINDS:
        raise MapRenderError(f"未知地图类型 {kind}")
    if data.parent is None:
        raise MapRenderError(f"行政区划 {data.code} 没有边界，无法制图")
    made_on = made_on or dt.date.today()
    title = map_title(data.name, kind, data.period)
    page = new_page(paper, data.bounds)
    fig, ax, font, scale = page.fig, page.ax, page.font, page.scale

    draw_polygons(ax, data.parent, facecolor=_REGION_FILL, edgecolor="none", zorder=1)
    for _, _, geom, _ in data.children:
        draw_polygons(ax, geom, facecolor="none", edgecolor=style.region_edge, linewidth=0.6,
                       linestyle="--", zorder=2)
    draw_polygons(ax, data.parent, facecolor="none", edgecolor=_PARENT_EDGE, linewidth=1.4, zorder=3)
    label_size = 9 * scale if len(data.children) <= 20 else 6.5 * scale
    labels = []
    for code, name, _, point in data.children:
        text = name
        if kind == "changes":
            c = data.changes.get(code, {})
            text = (f"{name}\n新增重大风险{c.get('new_major_risks', 0)} 新发现隐患{c.get('opened', 0)}"
                    f"\n销号{c.get('closed', 0)} 新增逾期{c.get('went_overdue', 0)}")
        labels.append((text, point))
    label_boxes, callouts = place_labels(fig, ax, labels, font=font, size=label_size)

    def shifted(dx_pt: float, dy_pt: float) -> Any:
        # a hazard sits at its enterprise: draw it beside the enterprise's dot, not on it
        return offset_copy(ax.transData, fig=fig, x=dx_pt, y=dy_pt, units="points")

    ms = 6.5 * scale
    hz = style.major_hazard_colour
    if kind == "risk":
        ungraded = [e for e in data.enterprises if e[2] is None]
        if ungraded:
            ax.plot([e[3] for e in ungraded], [e[4] for e in ungraded], ls="", marker="o", ms=ms * 0.6,
                    mfc="white", mec=_UNGRADED, mew=0.6, zorder=4)
        # low grades first so that 红 is drawn on top
        for g in sorted(GRADES, key=lambda g: -g.value):
            pts = [e for e in data.enterprises if e[2] == g.value]
            if pts:
                layer = style.enterprise_layer
                ax.plot([e[3] for e in pts], [e[4] for e in pts], ls="", marker="o", ms=ms,
                        mfc=style.grade_colour(g.value), mec=layer.style.stroke_color or "white",
                        mew=0.4, zorder=5 + (4 - g.value) * 0.1)
        open_ = [h for h in data.hazards if not h["rectified"]]
        if open_:
            ax.plot([h["x"] for h in open_], [h["y"] for h in open_], ls="", marker="^", ms=ms * 0.8,
                    mfc=hz, mec="white", mew=0.4, zorder=7, transform=shifted(ms * 0.7, ms * 0.7))
    elif kind == "hazard":
        if data.enterprises:
            ax.plot([e[3] for e in data.enterprises], [e[4] for e in data.enterprises], ls="", marker="o",
                    ms=ms * 0.45, mfc=_UNGRADED, mec="none", zorder=4)
        done = [h for h in data.hazards if h["rectified"]]
        open_ = [h for h in data.hazards if not h["rectified"] and not h["overdue"]]
        late = [h for h in data.hazards if not h["rectified"] and h["overdue"]]
        sup = [h for h in data.hazards if h["supervised"] and not h["rectified"]]
        if done:
            ax.plot([h["x"] for h in done], [h["y"] for h in done], ls="", marker="^", ms=ms * 1.1,
                    mfc="white", mec=hz, mew=1.0, zorder=5)
        if open_:
            ax.plot([h["x"] for h in open_], [h["y"] for h in open_], ls="", marker="^", ms=ms * 1.2,
                    mfc=hz, mec="white", mew=0.5, zorder=6)
        if late:
            ax.plot([h["x"] for h in late], [h["y"] for h in late], ls="", marker="^", ms=ms * 1.2,
                    mfc=hz, mec=style.overdue_colour, mew=1.6, zorder=7)
        if sup:
            ax.plot([h["x"] for h in sup], [h["y"] for h in sup], ls="", marker="*", ms=ms * 0.7,
                    mfc="black", mec="white", mew=0.3, zorder=8, transform=shifted(ms * 0.9, ms * 0.9))
    else:
        pts = data.change_points
        if pts.get("new_major_risk"):
            xs, ys = zip(*pts["new_major_risk"], strict=True)
            ax.plot(xs, ys, ls="", marker="*", ms=ms * 1.5, mfc=style.grade_colour(1), mec="black",
                    mew=0.4, zorder=7)
        if pts.get("opened"):
            xs, ys = zip(*pts["opened"], strict=True)
            ax.plot(xs, ys, ls="", marker="^", ms=ms, mfc=hz, mec="white", mew=0.4, zorder=6,
                    transform=shifted(ms * 0.8, ms * 0.8))
        if pts.get("closed"):
            xs, ys = zip(*pts["closed"], strict=True)
            ax.plot(xs, ys, ls="", marker="o", ms=ms * 1.1, mfc="none", mec=_CLOSED, mew=1.4, zorder=6,
                    transform=shifted(ms * 0.8, -ms * 0.8))
        if pts.get("went_overdue"):
            xs, ys = zip(*pts["went_overdue"], strict=True)
            ax.plot(xs, ys, ls="", marker="x", ms=ms, mec=style.overdue_colour, mew=1.6, zorder=8,
                    transform=shifted(-ms * 0.8, -ms * 0.8))

    draw_map_furniture(page)
    sub = [f"填报单位：{unit or '　　　　'}", f"制图日期：{made_on.year}年{made_on.month}月{made_on.day}日"]
    if data_as_of:
        sub.append(f"数据截至：{data_as_of}")
    draw_title(page, title, sub)
    draw_legend(page, _legend_handles(data, kind, style))
    draw_footer(page, style.footer, "坐标系：CGCS2000 / 横轴墨卡托（中央经线随辖区）　数据来源：风险一张图登记库")
    rendered = replace(finish_page(page, kind, title), label_boxes=label_boxes, callouts=callouts)
    LOGGER.info("rendered %s %s on %s %s in %.2f s", data.code, kind, paper, page.orientation, rendered.seconds)
    return rendered


def record_export(session: Session, code: str, period: metrics.Period, kind: str,
                  fmts: Sequence[str] = ("png", "pdf"), *, by: str | None = None) -> None:
    """Record that the service produced region ``code``'s map for ``period`` (form 000 item 14).

    Only ``risk`` and ``hazard`` maps are the "电子图" the form counts.
    """
    if kind not in ("risk", "hazard"):
        return
    session.add_all([MapExport(region_code=code, period=period.month_start, kind=kind, fmt=fmt,
                               created_by=by) for fmt in fmts])
    session.flush()

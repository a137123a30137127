"""The map sheet of the web map's view (``/map/sheet.png``): "导出图片" as a printed map.

The sheet is drawn with the page pieces of the monthly return's maps
(:mod:`.maprender`: :func:`~.maprender.new_page`, title, legend, scale bar,
north arrow, footer, label placement), so the view's export and the return
share one cartography.  It shows what the web map shows for the same URL:
the enterprise layer's grades that are shown (the grade filter: the legend's
toggles), the open hazards (from the hazard
layer's zoom on), the region and its child regions with their names, read
with the map's own filters (:func:`~geo_service.queries.filters.open_unless_stated`)
and the caller's scope.  Points are grouped in a grid of
:data:`GRID_CELLS` cells across the bbox (:mod:`geo_service.queries.sheet`),
so a province at low zoom draws a few thousand marks; the legend counts are
exact.

:func:`filters_in_words` is the one wording of the map's filters in Chinese.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import shapely
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import offset_copy
from pyproj import Transformer
from sqlalchemy.orm import Session

from .. import domain
from ..layers import Layer
from ..queries import sheet as sq
from ..queries.filters import Filters, open_unless_stated, parse_filters
from ..queries.returns import local_crs
from ..queries.scope import Scope
from .maprender import (
    MapStyle,
    RenderedMap,
    draw_footer,
    draw_legend,
    draw_map_furniture,
    draw_polygons,
    draw_title,
    finish_page,
    new_page,
    place_labels,
)

__all__ = ["GRID_CELLS", "SheetData", "filters_in_words", "hazard_filters", "layer_grades", "load_sheet",
           "render_sheet", "sheet_filename", "sheet_title", "sheet_layers"]

LOGGER = logging.getLogger(__name__)

# Grid cells across the bbox's wider side: about one marker wide on an A4 sheet.
GRID_CELLS = 120
# The paper of a district map, from maprender (kept equal: one cartography).
_REGION_FILL = "#F4F4EF"
_PARENT_EDGE = "#222222"
# The layer sources a sheet can draw.
_DRAWN_SOURCES = ("enterprise_tiles", "hazard_tiles", "region_outlines")


def filters_in_words(f: Filters, as_of_month: dt.date | None = None) -> str:
    """The map's filters in Chinese words, as a sheet prints them (the region is in the title).

    ``f`` as the user set them (before :func:`open_unless_stated`, so that an unset
    hazard state reads 全部未销号); ``as_of_month``: the map "as of" that month.

    >>> filters_in_words(Filters())
    '无筛选条件（全部企业）'
    >>> filters_in_words(Filters(industry="hazchem", grade=(1, 2), hazard_level="major"))
    '行业：危险化学品；风险等级：红、橙；隐患级别：重大隐患；隐患状态：全部未销号'
    >>> filters_in_words(Filters(overdue=True, hazard_state=("registered",), month=dt.date(2026, 5, 1)),
    ...                  dt.date(2026, 4, 1))
    '隐患状态：已登记；只看逾期隐患；月份：2026-05；风险等级截至：2026-04 月末'
    """
    parts = []
    if f.industry:
        parts.append("行业：" + domain.INDUSTRY_BY_CODE[f.industry].name)
    if f.grade:
        parts.append("风险等级：" + "、".join(domain.GRADE_BY_VALUE[g].colour_name for g in f.grade))
    if f.hazard_level:
        parts.append("隐患级别：" + domain.HAZARD_LEVELS[f.hazard_level])
    if f.hazard_level or f.overdue is not None or f.hazard_state:
        states = "、".join(domain.HAZARD_STATES[s] for s in f.hazard_state) if f.hazard_state else "全部未销号"
        parts.append("隐患状态：" + states)
    if f.overdue is True:
        parts.append("只看逾期隐患")
    elif f.overdue is False:
        parts.append("不含逾期隐患")
    if f.month:
        parts.append(f"月份：{f.month:%Y-%m}")
    if as_of_month:
        parts.append(f"风险等级截至：{as_of_month:%Y-%m} 月末")
    return "；".join(parts) if parts else "无筛选条件（全部企业）"


def hazard_filters(f: Filters, layer: Layer) -> Filters:
    """The hazard layer's filters: the user's, with the layer's own parameters as the
    defaults of the hazard fields the user left unset (as the browser asks for its tiles),
    read the map's way (:func:`open_unless_stated`)."""
    defaults = parse_filters({k: str(v) for k, v in layer.params.items()}, max_bbox_area_deg2=math.inf)
    merged = f
    for fl in fields(Filters):
        mine, theirs = getattr(f, fl.name), getattr(defaults, fl.name)
        if mine in (None, ()) and theirs not in (None, ()):
            merged = replace(merged, **{fl.name: theirs})
    return open_unless_stated(merged)


def layer_grades(layer: Layer, f: Filters) -> list[int]:
    """The grades an enterprise layer draws under filters ``f``: its classes (the values of
    its colour field when coloured by grade, else its own ``params.grade``, else all),
    less those the grade filter leaves out, as the map's legend toggles do.

    >>> from geo_service.layers import layers_dir, load_layers
    >>> layer = load_layers(layers_dir())["enterprises"]
    >>> layer_grades(layer, Filters()), layer_grades(layer, Filters(grade=(1, 3)))
    ([1, 2, 3, 4], [1, 3])
    """
    if layer.grade is not None:
        own = [layer.grade]
    elif layer.style.color_by == "grade" and layer.style.colors:
        own = sorted(int(v) for v in layer.style.colors)
    else:
        own = [g.value for g in domain.GRADES]
    return [g for g in own if not f.grade or g in f.grade]


def sheet_layers(layers: Mapping[str, Layer], names: Sequence[str], zoom: int) -> list[Layer]:
    """The layers of ``names`` (on in the map) that a sheet at ``zoom`` draws, in the map's order."""
    return sorted((la for n in names if (la := layers[n]).source in _DRAWN_SOURCES
                   and la.min_zoom <= zoom <= la.max_zoom), key=lambda la: la.order)


def sheet_title(region_name: str) -> str:
    """The sheet's title: the region's name and what it is.

    >>> sheet_title("红河州")
    '红河州安全风险分布图'
    """
    return f"{region_name}安全风险分布图"


def sheet_filename(region_name: str, day: dt.date, fmt: str = "png") -> str:
    """The downloaded file's name: the region's name, not its code, and the day.

    >>> sheet_filename("红河州", dt.date(2026, 11, 30))
    '风险地图-红河州-2026-11-30.png'
    """
    return f"风险地图-{region_name}-{day.isoformat()}.{fmt}"


@dataclass
class SheetData:
    """What one sheet shows, in its local projection (metres)."""

    region_code: str
    region_name: str
    bbox: tuple[float, float, float, float]  # west, south, east, north (EPSG:4326)
    crs: str
    bounds: tuple[float, float, float, float]  # the bbox in the local projection
    layers: list[Layer]
    words: str  # the filters in words
    parent: Any = None  # shapely geometry, clipped to the bbox
    children: list[tuple[str, str, Any, tuple[float, float] | None]] = field(default_factory=list)
    # the grades drawn (:func:`layer_grades`), 红 first
    grades: list[int] = field(default_factory=list)
    # grade → [(n, x, y)]: enterprises per grid cell
    enterprises: dict[int, list[tuple[int, float, float]]] = field(default_factory=dict)
    # (level, overdue) → [(n, x, y)]
    hazards: dict[tuple[str, bool], list[tuple[int, float, float]]] = field(default_factory=dict)

    def enterprise_count(self, grade: int) -> int:
        return sum(n for n, _, _ in self.enterprises.get(grade, []))

    def hazard_count(self, level: str | None = None, overdue: bool | None = None) -> int:
        return sum(n for (lv, od), marks in self.hazards.items() for n, _, _ in marks
                   if (level is None or lv == level) and (overdue is None or od == overdue))


def load_sheet(session: Session, *, region: tuple[str, str], filters: Filters, layers: Sequence[Layer],
               scope: Scope, as_of: dt.date, as_of_month: dt.date | None = None) -> SheetData:
    """Read what the sheet of ``filters.bbox`` (required) shows.

    Parameters
    ----------
    region
        ``(code, name)`` of the map's region, already checked visible to the caller.
    filters
        The map's filters as the user set them, with ``bbox`` (EPSG:4326) and ``grades_at``.
    layers
        The layers drawn (:func:`sheet_layers`).
    as_of
        The day "overdue" is judged on.
    """
    bbox = filters.bbox
    if bbox is None:
        raise ValueError("a sheet needs a bbox")
    west, south, east, north = bbox
    crs = local_crs((west + east) / 2, (south + north) / 2)
    to_local = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    edge = [i / 8 for i in range(9)]
    xs, ys = to_local.transform([west + (east - west) * t for t in edge] * 2 + [west] * 9 + [east] * 9,
                                [south] * 9 + [north] * 9 + [south + (north - south) * t for t in edge] * 2)
    bounds = (min(xs), min(ys), max(xs), max(ys))
    data = SheetData(region_code=region[0], region_name=region[1], bbox=bbox, crs=crs, bounds=bounds,
                     layers=list(layers), words=filters_in_words(filters, as_of_month))
    tolerance_m = max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / 3000.0
    for r in session.execute(sq.region_parts(region[0], bbox, crs=crs, tolerance_m=tolerance_m)):
        geom = shapely.from_wkb(bytes(r.wkb))
        label = (r.label_x, r.label_y) if r.label_x is not None else None
        if r.is_parent:
            data.parent = geom
        else:
            data.children.append((r.code, r.name, geom, label))

    side = max(east - west, north - south) / GRID_CELLS
    cell = (side, side)
    enterprise_filters = open_unless_stated(filters)
    grades = sorted({g for la in layers if la.source == "enterprise_tiles" for g in layer_grades(la, filters)})
    data.grades = grades
    if grades:
        rows = session.execute(sq.enterprise_marks(enterprise_filters, scope=scope, as_of=as_of,
                                                   grades=grades, cell=cell)).all()
        px, py = to_local.transform([r.lng for r in rows], [r.lat for r in rows])
        for r, x, y in zip(rows, px, py, strict=True):
            data.enterprises.setdefault(r.grade, []).append((r.n, float(x), float(y)))
    hazard_layer = next((la for la in layers if la.source == "hazard_tiles"), None)
    if hazard_layer is not None:
        rows = session.execute(sq.hazard_marks(hazard_filters(filters, hazard_layer), scope=scope, as_of=as_of,
                                               cell=cell)).all()
        px, py = to_local.transform([r.lng for r in rows], [r.lat for r in rows])
        for r, x, y in zip(rows, px, py, strict=True):
            data.hazards.setdefault((r.level, bool(r.overdue)), []).append((r.n, float(x), float(y)))
    return data


def _marker_size(base: float, n: int) -> float:
    """A cell of ``n`` enterprises is drawn a little larger than one (at most 2.2 ×)."""
    return base * min(2.2, 1 + 0.25 * math.log2(n)) if n > 1 else base


def _legend(data: SheetData, style: MapStyle) -> list[Any]:
    handles: list[Any] = []
    for la in data.layers:
        if la.source == "enterprise_tiles":
            # the grades drawn only: not those switched off in the map's legend (the grade filter)
            for g in data.grades:
                handles.append(Line2D([], [], ls="", marker="o", ms=8, mfc=style.grade_colour(g), mec="white",
                                      label=f"{style.grade_label(g)}  {data.enterprise_count(g)} 家"))
        elif la.source == "hazard_tiles":
            colours = la.colors(style.palette)
            for level, name in domain.HAZARD_LEVELS.items():
                colour = colours["colors"].get(level) or colours["color"] or "#7B1FA2"
                handles.append(Line2D([], [], ls="", marker="^", ms=8, mfc=colour, mec="white",
                                      label=f"{name}  {data.hazard_count(level)} 处"))
            handles.append(Line2D([], [], ls="", marker="^", ms=8, mfc="white",
                                  mec=colours["highlight_color"] or "#111111", mew=2,
                                  label=f"其中逾期  {data.hazard_count(overdue=True)} 处"))
    if any(n > 1 for marks in [*data.enterprises.values(), *data.hazards.values()] for n, _, _ in marks):
        handles.append(Line2D([], [], ls="", marker="o", ms=11, mfc="white", mec="#555555",
                              label="较大符号：相邻多个合并"))
    handles.append(Line2D([], [], color=_PARENT_EDGE, lw=1.6, label=f"{data.region_name}界线"))
    if data.children:
        handles.append(Line2D([], [], color=style.region_edge, lw=0.8, ls="--", label="下级行政区划界线"))
    handles.append(Patch(facecolor=_REGION_FILL, edgecolor="none", label="辖区"))
    return handles


def render_sheet(data: SheetData, *, style: MapStyle, made_on: dt.date | None = None,
                 paper: str = "A4", formats: Sequence[str] = ("png", "pdf")) -> RenderedMap:
    """Draw the sheet: PNG (300 dpi; its ``Description`` text chunk holds the filters in
    words and the legend, one entry a line) and PDF (``formats`` without it: none)."""
    made_on = made_on or dt.date.today()
    title = sheet_title(data.region_name)
    page = new_page(paper, data.bounds, pad=1.0, title_lines=2)
    fig, ax, font, scale = page.fig, page.ax, page.font, page.scale
    ax.set_facecolor("white")
    if data.parent is not None:
        draw_polygons(ax, data.parent, facecolor=_REGION_FILL, edgecolor="none", zorder=1)
    for _, _, geom, _ in data.children:
        draw_polygons(ax, geom, facecolor="none", edgecolor=style.region_edge, linewidth=0.6, linestyle="--",
                      zorder=2)
    if data.parent is not None:
        draw_polygons(ax, data.parent, facecolor="none", edgecolor=_PARENT_EDGE, linewidth=1.4, zorder=3)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    labels = [(name, point) for _, name, _, point in data.children
              if point is not None and x0 <= point[0] <= x1 and y0 <= point[1] <= y1]
    label_boxes, callouts = place_labels(fig, ax, labels, font=font,
                                         size=(9 if len(labels) <= 20 else 6.5) * scale)

    ms = 6.5 * scale  # marker size in points, as on the return's maps

    def sizes(marks: list[tuple[int, float, float]], base: float) -> list[float]:
        return [_marker_size(base, n) ** 2 for n, _, _ in marks]  # scatter sizes are points²

    stroke = style.enterprise_layer.style.stroke_color or "white"
    for g in sorted(data.grades, reverse=True):  # low grades first: 红 on top
        marks = data.enterprises.get(g, [])
        if marks:
            ax.scatter([m[1] for m in marks], [m[2] for m in marks], s=sizes(marks, ms), marker="o",
                       c=style.grade_colour(g), edgecolors=stroke, linewidths=0.4, zorder=5 + (4 - g) * 0.1)
    hazard_layer = next((la for la in data.layers if la.source == "hazard_tiles"), None)
    if hazard_layer is not None:
        colours = hazard_layer.colors(style.palette)
        for (level, overdue), marks in sorted(data.hazards.items(), key=lambda kv: (kv[0][0] == "major", kv[0][1])):
            # beside the enterprise's dot, not on it: 重大 to the upper right, 一般 to the upper left
            beside = offset_copy(ax.transData, fig=fig, x=ms * (0.7 if level == "major" else -0.7), y=ms * 0.7,
                                 units="points")
            colour = colours["colors"].get(level) or colours["color"] or "#7B1FA2"
            edge = (colours["highlight_color"] or "#111111") if overdue else "white"
            ax.scatter([m[1] for m in marks], [m[2] for m in marks], s=sizes(marks, ms * 0.85), marker="^",
                       c=colour, edgecolors=edge, linewidths=1.4 if overdue else 0.4,
                       zorder=7 + (level == "major") * 0.1 + overdue * 0.05, transform=beside)

    draw_map_furniture(page)
    titles = "、".join(la.title for la in data.layers) or "仅行政区划"
    draw_title(page, title, [f"图层：{titles}", f"制图日期：{made_on.year}年{made_on.month}月{made_on.day}日"],
               [f"筛选：{data.words}"])
    handles = _legend(data, style)
    draw_legend(page, handles)
    draw_footer(page, style.footer, "坐标系：CGCS2000 / 横轴墨卡托（中央经线过图幅中心）　数据来源：风险一张图登记库")
    legend_text = "\n".join(h.get_label() for h in handles)
    rendered = finish_page(page, "sheet", title, metadata={"Description": f"筛选：{data.words}\n{legend_text}"},
                           formats=formats)
    LOGGER.info("rendered the sheet of %s (%s) on %s %s in %.2f s", data.region_code, data.bbox, paper,
                page.orientation, rendered.seconds)
    return replace(rendered, label_boxes=label_boxes, callouts=callouts)

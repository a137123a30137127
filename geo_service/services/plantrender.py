"""The printed enterprise map: <企业名称>安全风险四色分布图.

The plant layout image (厂区平面图, placed by its georeference) under the risk
zones filled in their grade colours, each zone labelled with its name and
grade, the legend with the number of zones per grade, the north arrow, the
scale bar, the title, the date and the footer line (``MAP_FOOTER``).  The
page, its title block, legend panel, north arrow, scale bar, footer and output
are the district maps' (:mod:`.maprender`): one cartography for both.

Zones are projected in PostGIS to a transverse Mercator centred on the
enterprise (metres); the layout image is drawn through the affine transform
fitted from its control points (pixels → the same metres), so it lies under
the zones where it was placed on the web map.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from matplotlib import patheffects
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import Affine2D
from pyproj import Transformer
from sqlalchemy.orm import Session

from ..domain import GRADE_BY_VALUE, GRADES
from ..errors import NotFound
from ..queries import zones as zq
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
)
from .register import load_enterprise
from .zones import affine_fit, load_layout

__all__ = ["ZONE_FILL_ALPHA", "PlantMapData", "load_plant_map", "render_plant_map", "plant_map_title"]

LOGGER = logging.getLogger(__name__)

# Zones are filled in their grade colour at this opacity, so the layout shows through.
ZONE_FILL_ALPHA = 0.6
_UNGRADED = "#9E9E9E"
_EDGE = "#222222"
_EMPTY_SPAN_M = 300.0  # the frame around an enterprise without zones or layout


@dataclass
class PlantMapData:
    """What an enterprise's map shows, in its local projection (metres)."""

    enterprise_id: int
    name: str
    crs: str
    point: tuple[float, float]
    zones: list[tuple[str, str | None, int | None, Any, tuple[float, float]]]  # name, floor, grade, geom, label
    layout_image: Any | None  # an RGB(A) array
    layout_matrix: np.ndarray | None  # 3 × 3, image pixel → local metres

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        geoms = [z[3] for z in self.zones]
        if self.layout_image is not None and self.layout_matrix is not None:
            h, w = self.layout_image.shape[:2]
            corners = [self.layout_matrix @ np.array([x, y, 1.0]) for x, y in ((0, 0), (w, 0), (w, h), (0, h))]
            geoms.append(shapely.Polygon([(c[0], c[1]) for c in corners]))
        geoms.append(shapely.Point(self.point))
        x0, y0, x1, y1 = shapely.GeometryCollection(geoms).bounds
        if x1 - x0 < 1 and y1 - y0 < 1:
            half = _EMPTY_SPAN_M / 2
            return (x0 - half, y0 - half, x1 + half, y1 + half)
        return (x0, y0, x1, y1)


def plant_map_title(name: str) -> str:
    """``<企业名称>安全风险四色分布图``.

    >>> plant_map_title("红河化工有限公司")
    '红河化工有限公司安全风险四色分布图'
    """
    return f"{name}安全风险四色分布图"


def load_plant_map(session: Session, enterprise_id: int, *, scope: Scope, upload_dir: Path) -> PlantMapData:
    """Read the enterprise's zones and layout (in the caller's scope) for printing."""
    from PIL import Image

    ent = load_enterprise(session, enterprise_id, scope=scope)
    lng, lat = to_shape(ent.geom).coords[0]
    crs = local_crs(lng, lat)
    zones = []
    for r in session.execute(zq.zones_local(ent.id, crs, scope=scope)):
        zones.append((r.name, r.floor, r.grade, shapely.from_wkb(bytes(r.wkb)), (r.label_x, r.label_y)))
    image = matrix = None
    try:
        layout, path = load_layout(session, ent.id, scope=scope, upload_dir=upload_dir)
    except NotFound:
        layout, path = None, None
    if layout is not None and path is not None:
        with Image.open(path) as img:
            image = np.asarray(img.convert("RGB"))
        to_local = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        world = [to_local.transform(*c["lnglat"]) for c in layout.control_points]
        m = affine_fit([c["px"] for c in layout.control_points], world)
        # the stored control points are for the stored image size
        sx, sy = image.shape[1] / layout.width_px, image.shape[0] / layout.height_px
        matrix = np.vstack([m, [0.0, 0.0, 1.0]]) @ np.diag([1 / sx, 1 / sy, 1.0])
    return PlantMapData(enterprise_id=ent.id, name=ent.name, crs=crs, point=(0.0, 0.0), zones=zones,
                        layout_image=image, layout_matrix=matrix)


def _legend_handles(data: PlantMapData, style: MapStyle) -> list[Any]:
    handles: list[Any] = []
    for g in GRADES:
        n = sum(1 for z in data.zones if z[2] == g.value)
        handles.append(Patch(facecolor=style.grade_colour(g.value), edgecolor=_EDGE, alpha=ZONE_FILL_ALPHA,
                             label=f"{g.name}（{g.colour_name}）区域  {n} 处"))
    n0 = sum(1 for z in data.zones if z[2] is None)
    if n0:
        handles.append(Patch(facecolor=_UNGRADED, edgecolor=_EDGE, alpha=ZONE_FILL_ALPHA,
                             label=f"未评级区域  {n0} 处"))
    handles.append(Line2D([], [], ls="", marker="o", ms=7, mfc="white", mec="black", mew=1.5, label="企业位置"))
    if data.layout_image is not None:
        handles.append(Patch(facecolor="white", edgecolor="#777777", label="厂区平面图"))
    return handles


def render_plant_map(data: PlantMapData, *, style: MapStyle, paper: str = "A4",
                     made_on: dt.date | None = None) -> RenderedMap:
    """Draw the enterprise's 四色图 and return its PNG (300 dpi) and PDF (A4 or A3)."""
    made_on = made_on or dt.date.today()
    title = plant_map_title(data.name)
    page = new_page(paper, data.bounds, pad=1.15, legend_w_mm=70.0, legend_h_mm=40.0, min_span_m=_EMPTY_SPAN_M)
    ax, font, scale = page.ax, page.font, page.scale
    ax.set_facecolor("white")
    if data.layout_image is not None and data.layout_matrix is not None:
        h, w = data.layout_image.shape[:2]
        ax.imshow(data.layout_image, extent=(0, w, h, 0), origin="upper", interpolation="bilinear", zorder=1,
                  transform=Affine2D(data.layout_matrix) + ax.transData)
    # low grades first so that 红 is drawn on top
    for _name, _floor, grade, geom, _ in sorted(data.zones, key=lambda z: -(z[2] or 5)):
        colour = style.grade_colour(grade) if grade else _UNGRADED
        draw_polygons(ax, geom, facecolor=colour, alpha=ZONE_FILL_ALPHA, edgecolor="none", zorder=3)
        draw_polygons(ax, geom, facecolor="none", edgecolor=_EDGE, linewidth=0.8, zorder=4)
    for name, floor, grade, _geom, (lx, ly) in data.zones:
        g = GRADE_BY_VALUE.get(grade) if grade else None
        label = f"{name}{f'（{floor}）' if floor else ''}\n{g.colour_name + '·' + g.name if g else '未评级'}"
        ax.text(lx, ly, label, ha="center", va="center", fontproperties=font, fontsize=8 * scale, zorder=8,
                linespacing=1.15, color="#111111",
                path_effects=[patheffects.withStroke(linewidth=2.2, foreground="white")])
    ax.plot([data.point[0]], [data.point[1]], ls="", marker="o", ms=6 * scale, mfc="white", mec="black", mew=1.5,
            zorder=9)
    draw_map_furniture(page)
    draw_title(page, title, [f"制图日期：{made_on.year}年{made_on.month}月{made_on.day}日",
                             f"风险区域：{len(data.zones)} 处"])
    draw_legend(page, _legend_handles(data, style))
    draw_footer(page, style.footer, "坐标系：CGCS2000 / 横轴墨卡托（中央经线过企业位置）　数据来源：风险一张图登记库")
    rendered = finish_page(page, "plant", title)
    LOGGER.info("rendered the map of enterprise %s on %s %s in %.2f s", data.enterprise_id, paper,
                page.orientation, rendered.seconds)
    return rendered

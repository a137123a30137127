"""Mapbox Vector Tiles built in PostGIS (``ST_TileEnvelope``, ``ST_AsMVTGeom``,
``ST_AsMVT`` in CTEs, after pygeoapi's ``mvt_postgresql`` provider).

Tiles are Web Mercator (EPSG:3857) ``z/x/y`` in the XYZ scheme; the data are
EPSG:4326, so the tile envelope is transformed to 4326 once and the GiST
indexes on ``geom`` select the candidates with ``&&``.  The MVT layer name
inside each tile equals the URL layer.  Every layer honours the common
:class:`~geo_service.queries.filters.Filters` and the caller's scope.

Properties
----------
enterprises
    ``id``, ``name``, ``grade``, ``industry_code``, ``count`` (1): what the naive
    ``ST_AsMVT`` query carries, plus ``count``, which the map reads.  With ``Filters.grades_at`` (the map "as of" a month) ``grade`` is the
    enterprise's grade then, from the grade history, and enterprises registered
    after that instant are left out.  From tile zoom ``ZONES_FROM_ZOOM`` − 1 an enterprise with risk zones
    is left out (the map draws its zones).  Below ``cluster_below`` the enterprises of each grid cell
    (``CLUSTER_CELLS`` × ``CLUSTER_CELLS`` per tile, aligned to tile edges so a
    cell never straddles two tiles) become one point at their centroid with
    ``count`` = n, ``grade`` = the highest grade (lowest value) in the
    cell and ``count_1`` … ``count_4`` the enterprises of each grade (so a
    map that switches grades off client-side can recount and recolour the
    cell without a new request; unrated enterprises count in ``count`` only);
    ``id``, ``name`` and ``industry_code`` only when n = 1.
hazards
    ``id``, ``enterprise_id``, ``enterprise_name``, ``level``, ``state``,
    ``overdue`` (bool), ``overdue_days``, ``deadline`` (ISO date text),
    ``description`` (first 60 characters), ``count`` (1), at ``hazard.loc``
    (its own point, else its enterprise's; kept by triggers).  Below
    ``cluster_below`` grouped into the same grid cells as the enterprises:
    ``count`` = n, ``level`` = major if any is, ``overdue`` if any is, the
    other properties only when n = 1 — hazards up to zoom 12 (``HAZARD_CLUSTER_BELOW``); at
    zooms 8–12 for open states filtered at most by region and level, read
    from the maintained ``hazard_cell``.
regions
    ``code``, ``name``, ``level``, ``parent_code``; outlines simplified to
    one tile pixel.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select

from .. import domain
from ..domain import GRADES
from ..models import Enterprise, Hazard, Region, RiskZone
from . import metrics
from .filters import (
    Filters,
    enterprise_clause,
    enterprise_grade,
    hazard_clause,
    hazard_filters_set,
    hazard_location,
)
from .scope import Scope, enterprise_scope, region_clause
from .zones import ZONES_FROM_ZOOM

__all__ = [
    "AGG_MAX_ZOOM",
    "CLUSTER_CELLS",
    "EXTENT",
    "LAYERS",
    "tile_select",
    "tile_statement",
    "tile_size_m",
    "valid_tile",
]

LAYERS = ("enterprises", "hazards", "regions")
EXTENT = 4096
BUFFER = 64
CLUSTER_CELLS = 16  # per tile side: one cell is 16 screen pixels on a 256-pixel tile
WEB_MERCATOR_HALF = 20037508.342789244
MAX_ZOOM = 24
# enterprise_cell (migration 0003) holds the cells of zooms 0..AGG_MAX_ZOOM.
AGG_MAX_ZOOM = 11

_cell = sa.table(
    "enterprise_cell",
    *(sa.column(c) for c in ("z", "cx", "cy", "n", "sum_mx", "sum_my", "sum_id")),
    sa.column("region_code", sa.String), sa.column("industry_code", sa.String), sa.column("grade", sa.SmallInteger),
)


def valid_tile(z: int, x: int, y: int) -> bool:
    """Whether ``z/x/y`` names a tile of the XYZ pyramid.

    >>> valid_tile(0, 0, 0), valid_tile(3, 7, 7), valid_tile(3, 8, 0), valid_tile(-1, 0, 0)
    (True, True, False, False)
    """
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z


def tile_size_m(z: int) -> float:
    """The side of a zoom-``z`` tile in Web Mercator metres.

    >>> round(tile_size_m(0))
    40075017
    """
    return 2 * WEB_MERCATOR_HALF / 2 ** z


# x and y of a tile are the named parameters TILE_X and TILE_Y of its statement, so
# that one statement serves every tile of a zoom (:func:`tile_statement`).
TILE_X, TILE_Y = "tile_x", "tile_y"


def _xy(x: int, y: int) -> tuple[Any, Any]:
    return sa.bindparam(TILE_X, x, type_=sa.Integer), sa.bindparam(TILE_Y, y, type_=sa.Integer)


def _bounds(z: int, x: int, y: int) -> Any:
    """CTE: the tile envelope (3857) and the same envelope with its buffer in 4326."""
    world = sa.func.ST_MakeEnvelope(-WEB_MERCATOR_HALF, -WEB_MERCATOR_HALF, WEB_MERCATOR_HALF,
                                    WEB_MERCATOR_HALF, 3857)
    bx, by = _xy(x, y)
    env = sa.func.ST_TileEnvelope(z, bx, by)
    buffered = sa.func.ST_TileEnvelope(z, bx, by, world, BUFFER / EXTENT)
    return sa.select(
        env.label("env"),
        sa.func.ST_Transform(buffered, 4326).label("env4326"),
        sa.func.ST_Transform(env, 4326).label("exact4326"),
    ).cte("bounds")


def _mvt(rows: Any, layer: str) -> Select[Any]:
    return (
        sa.select(sa.func.coalesce(sa.func.ST_AsMVT(sa.literal_column(rows.name), layer, EXTENT, "geom"),
                                   sa.literal(b"", sa.LargeBinary)))
        .select_from(rows)
        .where(rows.c.geom.is_not(None))
    )


def _mvt_geom(geom_3857: Any, bounds: Any) -> Any:
    return sa.func.ST_AsMVTGeom(geom_3857, bounds.c.env, EXTENT, BUFFER, True, type_=sa.LargeBinary)


def _enterprises(z: int, x: int, y: int, f: Filters, scope: Scope, as_of: dt.date,
                 cluster_below: int) -> Select[Any]:
    bounds = _bounds(z, x, y)
    where = [enterprise_clause(f, as_of), enterprise_scope(scope)]
    grade = enterprise_grade(f).label("grade")
    if f.grades_at is not None:
        # the map as of a past month: enterprises registered since are not on it yet
        where.append(Enterprise.created_at <= f.grades_at)
    if z >= ZONES_FROM_ZOOM - 1:
        # An enterprise with a drawn 四色图 shows its zones there instead (layers/risk_zones.toml);
        # the web map draws 512-px tiles, each the z−1 tile, so the tile zoom is one less.
        drawn = sa.true() if f.grades_at is None else RiskZone.created_at <= f.grades_at  # drawn by then
        where.append(~sa.exists().where(RiskZone.enterprise_id == Enterprise.id, drawn))
    if z >= cluster_below:
        rows = (
            sa.select(
                _mvt_geom(sa.func.ST_Transform(Enterprise.geom, 3857), bounds).label("geom"),
                Enterprise.id, Enterprise.name, grade, Enterprise.industry_code,
                sa.literal(1).label("count"),
            )
            .select_from(Enterprise).join(bounds, sa.true())
            .where(Enterprise.geom.op("&&")(bounds.c.env4326), *where)
            .cte("mvtgeom")
        )
        return _mvt(rows, "enterprises")
    # Each enterprise belongs to the one tile its point lies in (no buffer), so
    # a cell is counted once; cells are aligned to the tile edges.
    if z <= AGG_MAX_ZOOM and _aggregates_serve(f, scope):
        return _enterprise_cells(z, x, y, f, scope)
    cell = tile_size_m(z) / CLUSTER_CELLS
    mx, my = _mercator(Enterprise.geom)
    pts = (
        sa.select(mx.label("mx"), my.label("my"), Enterprise.id, Enterprise.name, grade,
                  Enterprise.industry_code)
        .select_from(Enterprise).join(bounds, sa.true())
        .where(Enterprise.geom.op("&&")(bounds.c.exact4326),
               sa.func.ST_Intersects(Enterprise.geom, bounds.c.exact4326), *where)
        .cte("pts")
    )
    n = sa.func.count()
    one = n == 1
    centre = sa.func.ST_SetSRID(sa.func.ST_MakePoint(sa.func.avg(pts.c.mx), sa.func.avg(pts.c.my)), 3857)
    rows = (
        sa.select(
            _mvt_geom(centre, bounds).label("geom"),
            sa.case((one, sa.func.min(pts.c.id))).label("id"),
            sa.case((one, sa.func.min(pts.c.name))).label("name"),
            sa.func.min(pts.c.grade).label("grade"),
            sa.case((one, sa.func.min(pts.c.industry_code))).label("industry_code"),
            n.label("count"),
            *(sa.func.count().filter(pts.c.grade == g.value).label(f"count_{g.value}") for g in GRADES),
        )
        .select_from(pts).join(bounds, sa.true())
        .group_by(sa.func.floor(pts.c.mx / cell), sa.func.floor(pts.c.my / cell), bounds.c.env)
        .cte("mvtgeom")
    )
    return _mvt(rows, "enterprises")


def _aggregates_serve(f: Filters, scope: Scope) -> bool:
    """Whether ``enterprise_cell`` can answer: only region, industry and today's grade filter it."""
    return (scope.enterprise_id is None and f.enterprise_id is None and f.bbox is None and f.q is None
            and f.polygon is None and f.grades_at is None and not hazard_filters_set(f))


def _cell_tile_where(c: Any, z: int, x: int, y: int, *regions: str | None) -> list[Any]:
    """The rows of a maintained cell table (``enterprise_cell``, ``hazard_cell``)
    inside tile ``z/x/y``, under each of ``regions`` (None: no limit)."""
    bx, by = _xy(x, y)
    return [
        c.z == z,
        # CLUSTER_CELLS = 16 = 2^4 cells per tile side (ix_enterprise_cell_tile, covering since
        # migration 0021: an index-only scan; ix_hazard_cell_tile)
        c.cx.op(">>")(4) == bx,
        c.cy.op(">>")(4) == by,
        *(region_clause(c.region_code, r) for r in regions),
    ]


def _cells_cte(c: Any, where: list[Any], *columns: Any) -> Any:
    """The CTE ``cells`` of a maintained cell table: per cell with members, their
    count ``n``, mean point ``mx``/``my``, ``columns``, and ``sid``, the id of a
    cell's only member (a sum of many ids would overflow an integer)."""
    n = sa.func.sum(c.n)
    return (
        sa.select(
            n.label("n"),
            (sa.func.sum(c.sum_mx) / n).label("mx"),
            (sa.func.sum(c.sum_my) / n).label("my"),
            *columns,
            sa.case((n == 1, sa.cast(sa.func.sum(c.sum_id), sa.Integer))).label("sid"),
        )
        .where(*where)
        .group_by(c.cx, c.cy)
        .having(n > 0)
        .cte("cells")
    )


def _enterprise_cells(z: int, x: int, y: int, f: Filters, scope: Scope) -> Select[Any]:
    """The clustered enterprise tile read from the maintained cells: a tile is
    16 × 16 cells of its zoom, so no enterprise row is read except a cell's only one."""
    bounds = _bounds(z, x, y)
    c = _cell.c
    where = _cell_tile_where(c, z, x, y, f.region, scope.region)
    if f.industry is not None:
        where.append(sa.or_(c.industry_code == f.industry, c.industry_code.like(f.industry + ".%")))
    if f.grade:
        where.append(c.grade.in_(f.grade))
    cells = _cells_cte(
        c, where,
        sa.func.min(sa.func.nullif(c.grade, 0)).label("grade"),
        *(sa.func.coalesce(sa.func.sum(c.n).filter(c.grade == g.value), 0).label(f"n{g.value}") for g in GRADES),
    )
    one = cells.c.n == 1
    centre = sa.func.ST_SetSRID(sa.func.ST_MakePoint(cells.c.mx, cells.c.my), 3857)
    rows = (
        sa.select(
            _mvt_geom(centre, bounds).label("geom"),
            sa.case((one, cells.c.sid)).label("id"),
            sa.case((one, Enterprise.name)).label("name"),
            cells.c.grade,
            sa.case((one, Enterprise.industry_code)).label("industry_code"),
            cells.c.n.label("count"),
            *(cells.c[f"n{g.value}"].label(f"count_{g.value}") for g in GRADES),
        )
        .select_from(cells)
        .outerjoin(Enterprise, sa.and_(one, Enterprise.id == cells.c.sid))
        .join(bounds, sa.true())
        .cte("mvtgeom")
    )
    return _mvt(rows, "enterprises")


def _mercator(geom: Any) -> tuple[Any, Any]:
    """Spherical Web Mercator metres of a WGS84 point, by arithmetic (cheaper than ST_Transform)."""
    lng, lat = sa.func.ST_X(geom), sa.func.ST_Y(geom)
    mx = lng * (WEB_MERCATOR_HALF / 180.0)
    my = sa.func.ln(sa.func.tan(sa.func.radians(90.0 + lat) / 2.0)) * (WEB_MERCATOR_HALF / math.pi)
    return mx, my


# hazard_cell (migration 0015) holds the open hazards' cells of these zooms: the map's
# hazard layer starts at map zoom 9, drawn with 512-pixel tiles of zoom 8; hazards are
# grouped into cells below HAZARD_CLUSTER_BELOW (or the enterprises' cluster zoom, if
# higher): a z12 tile of 昆明 holds thousands of open hazards (250 KB of raw points).
# From tile zoom 13 (map zoom 14, where one enterprise is told from its neighbour and
# clicked) each hazard is its own mark beside its enterprise.
HAZARD_CELL_MIN_ZOOM = 8
HAZARD_CELL_MAX_ZOOM = 12
HAZARD_CLUSTER_BELOW = HAZARD_CELL_MAX_ZOOM + 1

_hcell = sa.table(
    "hazard_cell",
    *(sa.column(c) for c in ("z", "cx", "cy", "n", "sum_mx", "sum_my", "sum_id")),
    sa.column("region_code", sa.String), sa.column("level", sa.String), sa.column("state", sa.String),
    sa.column("min_deadline", sa.Date),
)


def _hazard_cells_serve(z: int, f: Filters, scope: Scope) -> bool:
    """Whether ``hazard_cell`` can answer: open states chosen, only region, level and state filter."""
    return (HAZARD_CELL_MIN_ZOOM <= z <= HAZARD_CELL_MAX_ZOOM and bool(f.hazard_state)
            and set(f.hazard_state) <= set(domain.OPEN_STATES)
            and scope.enterprise_id is None and f.enterprise_id is None and f.bbox is None and f.q is None
            and f.polygon is None and f.grades_at is None and f.industry is None and not f.grade
            and f.hazard_source is None and f.overdue is None and f.month is None
            and f.found_from is None and f.found_to is None)


def _hazards(z: int, x: int, y: int, f: Filters, scope: Scope, as_of: dt.date,
             cluster_below: int) -> Select[Any]:
    from .hazards import overdue_days, overdue_flag

    bounds = _bounds(z, x, y)
    if z < max(cluster_below, HAZARD_CLUSTER_BELOW):
        if _hazard_cells_serve(z, f, scope):
            return _hazard_cells_agg(z, x, y, f, scope, as_of, bounds)
        return _hazard_cells(z, f, scope, as_of, bounds)
    # hazard.loc (its own point or its enterprise's) through its GiST index
    location = hazard_location()
    rows = (
        sa.select(
            _mvt_geom(sa.func.ST_Transform(location, 3857), bounds).label("geom"),
            Hazard.id, Hazard.enterprise_id, Enterprise.name.label("enterprise_name"), Hazard.level,
            Hazard.state, overdue_flag(as_of).label("overdue"), overdue_days(as_of).label("overdue_days"),
            sa.func.to_char(Hazard.deadline, "YYYY-MM-DD").label("deadline"),
            sa.func.left(Hazard.description, 60).label("description"), sa.literal(1).label("count"),
        )
        .select_from(Hazard).join(Enterprise, Enterprise.id == Hazard.enterprise_id).join(bounds, sa.true())
        .where(location.op("&&")(bounds.c.env4326), hazard_clause(f, as_of), enterprise_scope(scope))
        .cte("mvtgeom")
    )
    return _mvt(rows, "hazards")


def _hazard_cells(z: int, f: Filters, scope: Scope, as_of: dt.date, bounds: Any) -> Select[Any]:
    """Hazards grouped into the tile's grid cells, like the enterprises: a
    province's open hazards at low zoom are tens of thousands of points.
    ``count`` = n, ``level`` major if any is, ``overdue`` if any is; the other
    properties only when n = 1.  Read from the register: for the filters
    ``hazard_cell`` cannot answer (:func:`_hazard_cells_serve`)."""
    from .hazards import overdue_days, overdue_flag

    location = hazard_location()
    mx, my = _mercator(location)
    pts = (
        sa.select(
            mx.label("mx"), my.label("my"), Hazard.id, Hazard.enterprise_id,
            Enterprise.name.label("enterprise_name"), Hazard.level, Hazard.state,
            overdue_flag(as_of).label("overdue"), overdue_days(as_of).label("overdue_days"),
            sa.func.to_char(Hazard.deadline, "YYYY-MM-DD").label("deadline"),
            sa.func.left(Hazard.description, 60).label("description"),
        )
        .select_from(Hazard).join(Enterprise, Enterprise.id == Hazard.enterprise_id).join(bounds, sa.true())
        .where(location.op("&&")(bounds.c.exact4326), sa.func.ST_Intersects(location, bounds.c.exact4326),
               hazard_clause(f, as_of), enterprise_scope(scope))
        .cte("pts")
    )
    cell = tile_size_m(z) / CLUSTER_CELLS
    n = sa.func.count()
    one = n == 1

    def only(col: Any) -> Any:
        return sa.case((one, sa.func.min(col)))

    centre = sa.func.ST_SetSRID(sa.func.ST_MakePoint(sa.func.avg(pts.c.mx), sa.func.avg(pts.c.my)), 3857)
    rows = (
        sa.select(
            _mvt_geom(centre, bounds).label("geom"),
            only(pts.c.id).label("id"), only(pts.c.enterprise_id).label("enterprise_id"),
            only(pts.c.enterprise_name).label("enterprise_name"),
            sa.case((sa.func.bool_or(pts.c.level == "major"), "major"), else_="general").label("level"),
            only(pts.c.state).label("state"), sa.func.bool_or(pts.c.overdue).label("overdue"),
            only(pts.c.overdue_days).label("overdue_days"), only(pts.c.deadline).label("deadline"),
            only(pts.c.description).label("description"), n.label("count"),
        )
        .select_from(pts).join(bounds, sa.true())
        .group_by(sa.func.floor(pts.c.mx / cell), sa.func.floor(pts.c.my / cell), bounds.c.env)
        .cte("mvtgeom")
    )
    return _mvt(rows, "hazards")


def _hazard_cells_agg(z: int, x: int, y: int, f: Filters, scope: Scope, as_of: dt.date,
                      bounds: Any) -> Select[Any]:
    """The clustered hazard tile read from the maintained cells (``hazard_cell``):
    the same properties as :func:`_hazard_cells`; a cell's only hazard is read
    from the register for its own properties.  "Overdue" is
    :func:`metrics.overdue_on` applied to each cell's earliest deadline per state."""
    from .hazards import overdue_days

    c = _hcell.c
    where = [*_cell_tile_where(c, z, x, y, f.region, scope.region), c.state.in_(f.hazard_state)]
    if f.hazard_level is not None:
        where.append(c.level == f.hazard_level)
    cells = _cells_cte(
        c, where,
        sa.func.bool_or(c.level == domain.MAJOR_LEVEL).label("major"),
        sa.func.coalesce(sa.func.bool_or(metrics.overdue_on(as_of, c.state, c.min_deadline)), False)
        .label("overdue"),
    )
    one = cells.c.n == 1

    def only(col: Any) -> Any:
        return sa.case((one, col))

    centre = sa.func.ST_SetSRID(sa.func.ST_MakePoint(cells.c.mx, cells.c.my), 3857)
    rows = (
        sa.select(
            _mvt_geom(centre, bounds).label("geom"),
            only(cells.c.sid).label("id"), only(Hazard.enterprise_id).label("enterprise_id"),
            only(Enterprise.name).label("enterprise_name"),
            sa.case((cells.c.major, domain.MAJOR_LEVEL), else_="general").label("level"),
            only(Hazard.state).label("state"), cells.c.overdue,
            only(overdue_days(as_of)).label("overdue_days"),
            only(sa.func.to_char(Hazard.deadline, "YYYY-MM-DD")).label("deadline"),
            only(sa.func.left(Hazard.description, 60)).label("description"), cells.c.n.label("count"),
        )
        .select_from(cells)
        .outerjoin(Hazard, sa.and_(one, Hazard.id == cells.c.sid))
        .outerjoin(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .join(bounds, sa.true())
        .cte("mvtgeom")
    )
    return _mvt(rows, "hazards")


def _regions(z: int, x: int, y: int, f: Filters, scope: Scope, level: str | None) -> Select[Any]:
    bounds = _bounds(z, x, y)
    # One tile pixel, simplified in degrees before projecting: ST_Simplify on the
    # WGS84 outline is ~25× cheaper than ST_SimplifyPreserveTopology after
    # ST_Transform (measured on the 云南 county outlines: 620 ms → 24 ms a z8 tile).
    # A Web Mercator metre is cos(lat) / 111,319.49 degrees of latitude (the finer axis).
    n = 2 ** z
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n))))
    pixel_deg = tile_size_m(z) / EXTENT * math.cos(math.radians(lat)) / 111319.49
    # Clipped to the buffered tile first: at high zoom a tile holds a sliver of a county.
    clipped = sa.func.ST_ClipByBox2D(Region.geom, sa.func.Box2D(bounds.c.env4326))
    geom = sa.func.ST_Transform(sa.func.ST_Simplify(clipped, pixel_deg, True), 3857)
    where: list[Any] = [Region.geom.op("&&")(bounds.c.env4326), region_clause(Region.code, f.region)]
    if scope.region is not None:
        where.append(region_clause(Region.code, scope.region))
    if level is not None:
        where.append(Region.level == level)
    rows = (
        sa.select(_mvt_geom(geom, bounds).label("geom"), Region.code, Region.name, Region.level,
                  Region.parent_code)
        .select_from(Region).join(bounds, sa.true())
        .where(*where)
        .cte("mvtgeom")
    )
    return _mvt(rows, "regions")


def tile_select(layer: str, z: int, x: int, y: int, f: Filters, *, scope: Scope, as_of: dt.date,
                cluster_below: int = 12, level: str | None = None) -> Select[Any]:
    """One statement returning the tile's bytes (empty bytes when nothing is in it).

    Parameters
    ----------
    layer
        ``enterprises``, ``hazards`` or ``regions``; also the MVT layer name.
    z, x, y
        XYZ tile address (check with :func:`valid_tile`).
    cluster_below
        Enterprises are aggregated into grid cells below this zoom.
    level
        Regions only: one level (``county`` …).
    """
    if layer == "enterprises":
        return _enterprises(z, x, y, f, scope, as_of, cluster_below)
    if layer == "hazards":
        return _hazards(z, x, y, f, scope, as_of, cluster_below)
    if layer == "regions":
        return _regions(z, x, y, f, scope, level)
    raise ValueError(f"unknown tile layer {layer!r}")



@functools.lru_cache(maxsize=64)
def _statement_of_zoom(layer: str, z: int, f: Filters, scope: Scope, as_of: dt.date, cluster_below: int,
                       level: str | None) -> Select[Any]:
    return tile_select(layer, z, 0, 0, f, scope=scope, as_of=as_of, cluster_below=cluster_below, level=level)


def tile_statement(layer: str, z: int, x: int, y: int, f: Filters, *, scope: Scope, as_of: dt.date,
                   cluster_below: int = 12, level: str | None = None) -> tuple[Select[Any], dict[str, Any]]:
    """:func:`tile_select` and the parameters to execute it with.

    The statement of a layer, zoom, filters, scope and day is built once per
    process and serves each of its tiles, whose ``x`` and ``y`` are the
    parameters; building it anew (SQLAlchemy constructs and their cache key) was
    a third of a raw-point tile request's time in Python.  The last 64 are
    kept (a statement with its tokens column holds ~125 KB).  The region outlines
    (simplified by the tile's latitude) are built per tile."""
    if layer == "regions":
        return tile_select(layer, z, x, y, f, scope=scope, as_of=as_of, cluster_below=cluster_below,
                           level=level), {}
    return _statement_of_zoom(layer, z, f, scope, as_of, cluster_below, level), {TILE_X: x, TILE_Y: y}

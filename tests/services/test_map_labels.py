"""Printed map labels never collide: on 红河州's 13 counties (the bundled real
boundaries) the county names, and the 环比变化图's three-line labels, are
placed so that no two label boxes intersect; a label that fits nowhere goes
to the callout list, and every county is either labelled or listed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from geo_service.config import Config
from geo_service.queries import metrics
from geo_service.services import demo
from geo_service.services import maprender as mr


@pytest.fixture
def style(tmp_path):  # type: ignore[no-untyped-def]
    return mr.MapStyle.from_config(Config(var_dir=tmp_path))


def _honghe(kind: str) -> mr.MapData:
    records = demo.regions()
    parent = next(r for r in records if r.level == "prefecture")
    counties = [r for r in records if r.parent_code == parent.code]
    assert len(counties) == 13
    c = parent.geom.centroid
    crs = f"+proj=tmerc +lat_0={c.y} +lon_0={c.x} +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    def to_local(g):  # type: ignore[no-untyped-def]
        return shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))

    children = []
    changes = {}
    for n, r in enumerate(counties):
        g = to_local(r.geom)
        p = shapely.point_on_surface(g)
        children.append((r.code, r.name, g, (p.x, p.y)))
        changes[r.code] = {"new_major_risks": n % 3, "opened": 10 + n, "closed": n, "went_overdue": n % 2}
    return mr.MapData(code=parent.code, name=parent.name, period=metrics.period(2026, 10), crs=crs,
                      parent=to_local(parent.geom), children=children, enterprises=[], hazards=[],
                      changes=changes if kind == "changes" else {}, change_points={})


def _disjoint(boxes) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    return [(i, j) for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2)
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]


@pytest.mark.parametrize("kind", ["risk", "changes"])
def test_no_two_label_boxes_intersect_on_honghe(kind, style):  # type: ignore[no-untyped-def]
    data = _honghe(kind)
    rendered = mr.render_map(data, kind, style=style)
    boxes = rendered.label_boxes
    assert boxes, "no labels drawn"
    assert _disjoint(boxes) == []
    # every county is on the map or in the callout list
    listed = " ".join(rendered.callouts)
    drawn = len(boxes) - (1 if rendered.callouts else 0)  # the list's own box
    assert drawn == len(data.children)  # a label, or a number standing for one
    assert all(any(c.startswith(name) for _, name, _, _ in data.children) for c in rendered.callouts)
    assert len(set(rendered.callouts)) == len(rendered.callouts) and listed.count("县") + listed.count("市") >= 0
    w, h = rendered.size_px
    left, top, right, bottom = rendered.frame_px
    for x0, y0, x1, y1 in boxes:  # inside the map frame (boxes have their origin bottom-left)
        assert left - 1 <= x0 and x1 <= right + 1 and h - bottom - 1 <= y0 and y1 <= h - top + 1


def test_labels_that_fit_nowhere_go_to_the_callout_list(style):  # type: ignore[no-untyped-def]
    data = _honghe("changes")
    # every county labelled at the same spot (蒙自市's): most cannot be placed there
    spot = data.children[0][3]
    data.children = [(code, name, geom, spot) for code, name, geom, _ in data.children]
    rendered = mr.render_map(data, "changes", style=style)
    assert rendered.callouts, "every label fitted around one point?"
    assert _disjoint(rendered.label_boxes) == []
    # the boxes are the labels placed, the numbers standing for listed ones and the list itself;
    # placed + listed = 13 counties
    assert len(rendered.callouts) >= len(data.children) - (len(rendered.label_boxes) - 1)
    names = [c.split(" ")[0] for c in rendered.callouts]
    assert set(names) < {name for _, name, _, _ in data.children}

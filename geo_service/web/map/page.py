"""The folium map of the page: local assets only, the layers built by the map's modules.

folium draws the page shell: the Leaflet map (vendored Leaflet instead of its
CDN set); the base map, remote or a local file, is drawn by
``static/js/basemap.js`` from ``config["basemap"]`` (the same script as the
ledger's small maps and the plant map).  folium has no class for vector
tiles, choropleths served by bbox or heat points fetched per viewport, so the
layers of ``layers/*.toml`` are handed to the browser as specs
(:meth:`~geo_service.layers.Layer.client_spec`) in the page's one global,
``window.RiskMap = {map, config}``; the ES modules under ``static/js/map/``
(deferred, so they run after folium's inline script) build every layer, the
layer control, the legend and the tools from it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import folium
from folium.elements import JSCSSMixin
from folium.template import Template

from ...layers import Layer

__all__ = ["build_map", "module_imports", "render_parts"]

# Classic scripts (Leaflet plugins, globals), loaded after Leaflet and before
# the modules: then the scripts the base map needs (``config["basemap"]["scripts"]``:
# pmtiles or protomaps-leaflet only for a PMTiles file) and js/basemap.js, which
# sets window.RiskBasemap, which the modules call.
_VENDOR_JS = (
    "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
    "vendor/leaflet.heat/leaflet-heat.js",
)
_BASEMAP_JS = "js/basemap.js"
# ES modules, run in this order after the page is parsed: extra layer kinds
# register before the entry module builds the layers.
_MODULES = ("js/map-zones.js", "js/map/main.js")
_VENDOR_CSS = ("css/map.css",)
# A static import of one of our modules: ``import … from './x.js';`` or ``import './x.js';``.
_IMPORT_RE = re.compile(r"^import\s+(?:[^;]*?\sfrom\s*)?'(\.{1,2}/[^']+)'", re.M)


@functools.cache
def module_imports(static_dir: str, entries: tuple[str, ...] = _MODULES) -> tuple[str, ...]:
    """Every ES module the ``entries`` (paths under ``static_dir``) import, directly
    or through another, as paths under ``static_dir``, in the order first met.

    The page names them all as ``<link rel="modulepreload">``: the browser then
    fetches them at once instead of one level of the import chain after the other
    (10 modules in three round trips before the map's first data request).
    """
    root = Path(static_dir).resolve()
    seen: list[str] = []
    todo = list(entries)
    while todo:
        rel = todo.pop(0)
        text = (root / rel).read_text(encoding="utf-8")
        for spec in _IMPORT_RE.findall(text):
            dep = (root / rel).parent.joinpath(spec).resolve().relative_to(root).as_posix()
            if dep not in seen and dep not in entries:
                seen.append(dep)
                todo.append(dep)
    return tuple(seen)


class RiskMapInit(JSCSSMixin):
    """Loads the plugins and the map's modules, and hands the map and the page
    configuration (with every layer's spec) to them in ``window.RiskMap``."""

    _template = Template("""
        {% macro header(this, kwargs) %}
        {% for src in this.modules %}<script type="module" src="{{ src }}"></script>
        {% endfor %}
        {% for src in this.preloads %}<link rel="modulepreload" href="{{ src }}">
        {% endfor %}
        {% endmacro %}
        {% macro script(this, kwargs) %}
        window.RiskMap = {map: {{ this._parent.get_name() }}, config: {{ this.config|tojson }}};
        {% endmacro %}
    """)

    def __init__(self, config: Mapping[str, Any], static_url: Any, static_dir: str):
        super().__init__()
        self._name = "RiskMapInit"
        self.config = dict(config)
        self.modules = [static_url(p) for p in _MODULES]
        self.preloads = [static_url(p) for p in module_imports(static_dir)]
        basemap = self.config.get("basemap") or {}
        scripts = [*_VENDOR_JS, *(p for p in basemap.get("scripts", []) if p not in _VENDOR_JS), _BASEMAP_JS]
        self.default_js = [(f"risk_js_{i}", static_url(p)) for i, p in enumerate(scripts)]
        self.default_css = [(f"risk_css_{i}", static_url(p)) for i, p in enumerate(_VENDOR_CSS)]


def build_map(layers: Mapping[str, Layer], *, palette: Mapping[int, str], config: Mapping[str, Any],
              bounds: tuple[float, float, float, float] | None, static_url: Any, static_dir: str,
              view: tuple[float, float, int] | None = None) -> folium.Map:
    """The folium map with the configuration the map's modules build the layers from
    (the base map is drawn by them from ``config["basemap"]``).

    ``view`` is ``(lng, lat, zoom)`` from the page URL (WGS84); without it
    ``bounds``, ``(west, south, east, north)`` in WGS84, is fitted first;
    ``static_url(path)`` makes the URL of a file under ``static/``, the folder ``static_dir``.
    """
    lng, lat, zoom = view if view is not None else (103.0, 25.0, 7)
    m = folium.Map(location=[lat, lng], zoom_start=zoom, tiles=None, control_scale=False,
                   prefer_canvas=True, max_zoom=19)
    # Offline: the vendored Leaflet instead of folium's CDN set.
    m.default_js = [("leaflet", static_url("vendor/leaflet/leaflet.js"))]
    m.default_css = [("leaflet_css", static_url("vendor/leaflet/leaflet.css"))]
    config = dict(config)
    if bounds is not None and view is None:
        # Fitted by the map's modules without animation: a zoom animation still running
        # would undo a view set right after (a link's "在地图上定位").
        west, south, east, north = bounds
        config["fit_bounds"] = [[south, west], [north, east]]
    # In the order of the layer control (load_layers sorts by ``order``).
    config["layers"] = [layer.client_spec(palette) for layer in layers.values()]
    RiskMapInit(config, static_url, static_dir).add_to(m)
    return m


def render_parts(m: folium.Map, nonce: str | None = None) -> dict[str, str]:
    """The map's head, body and script, to embed in a page of our own.

    ``nonce`` is the page's Content-Security-Policy nonce, put on folium's
    inline scripts (the script part is wrapped by the page template).
    """
    root = m.get_root()
    root.render()
    head = root.header.render()
    if nonce:
        head = head.replace("<script>", f'<script nonce="{nonce}">')
    return {"head": head, "body": root.html.render(), "script": root.script.render(), "nonce": nonce or ""}

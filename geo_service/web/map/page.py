"""The folium map of the page: local assets only, one folium layer per layer file.

folium has no class for vector tiles, choropleths served by bbox or heat
points fetched per viewport, so each :class:`~geo_service.layers.Layer`
becomes a :class:`RiskLayer` (a folium ``Layer`` whose script asks
``static/js/map.js`` to build it); folium's own ``LayerControl`` then lists
them under their Chinese titles.  folium's CDN defaults (jQuery, Bootstrap,
Font Awesome, awesome-markers) are replaced by the vendored Leaflet alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer as FoliumLayer
from folium.template import Template

from ...layers import Layer

__all__ = ["build_map", "render_parts"]

_VENDOR_JS = (
    "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
    "vendor/leaflet.heat/leaflet-heat.js",
    "vendor/pmtiles/pmtiles.js",
    "vendor/protomaps-leaflet/protomaps-leaflet.js",
    "js/basemap.js",
    "js/map-core.js",
    "js/map.js",
    "js/map-zones.js",
)
_VENDOR_CSS = ("css/map.css",)


class RiskMapInit(JSCSSMixin):
    """Loads the plugins and ``map.js`` (after Leaflet) and hands the page
    configuration to ``RiskMap.init`` before any layer is built."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        RiskMap.init({{ this._parent.get_name() }}, {{ this.config|tojson }});
        {% endmacro %}
    """)

    def __init__(self, config: Mapping[str, Any], static_url: Any):
        super().__init__()
        self._name = "RiskMapInit"
        self.config = dict(config)
        self.default_js = [(f"risk_js_{i}", static_url(p)) for i, p in enumerate(_VENDOR_JS)]
        self.default_css = [(f"risk_css_{i}", static_url(p)) for i, p in enumerate(_VENDOR_CSS)]


class RiskLayer(FoliumLayer):
    """One layer file drawn by ``RiskMap.layer`` (vector tiles, choropleth, heat or outlines)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = RiskMap.layer({{ this._parent.get_name() }}, {{ this.spec|tojson }});
        {% endmacro %}
    """)

    def __init__(self, layer: Layer, palette: Mapping[int, str]):
        super().__init__(name=layer.title, overlay=True, control=True, show=layer.visible)
        self._name = "RiskLayer"
        self.spec = layer.client_spec(palette)


class RiskMapReady(MacroElement):
    """Wires the filters, legend, panel and export once the layer control exists."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        RiskMap.ready({{ this._parent.get_name() }}, {{ this.control.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, control: folium.LayerControl):
        super().__init__()
        self._name = "RiskMapReady"
        self.control = control


def build_map(layers: Mapping[str, Layer], *, palette: Mapping[int, str], config: Mapping[str, Any],
              bounds: tuple[float, float, float, float] | None, static_url: Any, view: tuple[float, float, int] | None = None) -> folium.Map:
    """The folium map with every layer, a layer control and the page wiring (the base map
    is drawn by ``RiskMap.init`` from ``config["basemap"]``).

    ``view`` is ``(lng, lat, zoom)`` from the page URL (WGS84); without it
    ``bounds``, ``(west, south, east, north)`` in WGS84, is fitted first;
    ``static_url(path)`` makes the URL of a file under ``static/``.
    """
    lng, lat, zoom = view if view is not None else (103.0, 25.0, 7)
    m = folium.Map(location=[lat, lng], zoom_start=zoom, tiles=None, control_scale=False,
                   prefer_canvas=True, max_zoom=19)
    # Offline: the vendored Leaflet instead of folium's CDN set.
    m.default_js = [("leaflet", static_url("vendor/leaflet/leaflet.js"))]
    m.default_css = [("leaflet_css", static_url("vendor/leaflet/leaflet.css"))]
    config = dict(config)
    if bounds is not None and view is None:
        # Fitted by RiskMap.init without animation: a zoom animation still running
        # would undo a view set right after (a link's "在地图上定位").
        west, south, east, north = bounds
        config["fit_bounds"] = [[south, west], [north, east]]
    RiskMapInit(config, static_url).add_to(m)
    for layer in layers.values():
        RiskLayer(layer, palette).add_to(m)
    control = folium.LayerControl(position="topright", collapsed=False, autoZIndex=False)
    control.add_to(m)
    RiskMapReady(control).add_to(m)
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

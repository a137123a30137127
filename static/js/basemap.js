/* 风险一张图 — the base map of every Leaflet map of the service (the web map,
 * the ledger's small maps, the enterprise's plant map), drawn as the server's
 * basemap_config() describes it (geo_service/web/map/__init__.py):
 *   xyz      remote XYZ templates (a URL or 天地图 vec + cva);
 *   mbtiles  the local file served tile by tile: raster, or vector drawn by VectorGrid;
 *   pmtiles  the local archive read with HTTP Range requests: raster by the vendored
 *            pmtiles library, vector (MVT) by the vendored protomaps-leaflet.
 * Sets window.RiskBasemap.  Loaded after Leaflet and the scripts the spec lists. */
(function (root) {
  'use strict';

  // The plain light style of a vector base map: land, water, roads and place names.
  var STYLE = { land: '#f2efe9', water: '#a8cce0', road: '#c9bfae', text: '#4a4a4a', fill: '#ece8df',
                edge: '#b8b0a2' };

  // protomaps-leaflet rules for both common schemas: Protomaps' basemap (earth,
  // water, roads, places) and OpenMapTiles' (water, transportation, place).
  function vectorRules() {
    var P = root.protomapsL;
    var water = new P.PolygonSymbolizer({ fill: STYLE.water });
    var road = new P.LineSymbolizer({ color: STYLE.road, width: function (z) { return z < 10 ? 0.8 : 1.6; } });
    var place = new P.CenteredTextSymbolizer({ labelProps: ['name:zh', 'name'], fill: STYLE.text,
                                               stroke: '#ffffff', width: 2, font: '12px sans-serif' });
    return {
      paint: [{ dataLayer: 'earth', symbolizer: new P.PolygonSymbolizer({ fill: STYLE.land }) },
              { dataLayer: 'water', symbolizer: water },
              { dataLayer: 'roads', symbolizer: road },
              { dataLayer: 'transportation', symbolizer: road }],
      label: [{ dataLayer: 'places', symbolizer: place }, { dataLayer: 'place', symbolizer: place }],
    };
  }

  // Add base map ``b`` to ``map`` under every other layer; the layer (null without one).
  function add(map, b, maxZoom) {
    if (!b) { return null; }
    var top = maxZoom || 19;
    var opts = { attribution: b.attribution || '', maxZoom: top, maxNativeZoom: b.max_zoom || 18,
                 minZoom: 0, pane: 'tilePane', zIndex: 0 };
    var layer;
    if (b.kind === 'xyz') {
      layer = L.layerGroup(b.urls.map(function (url) {
        return L.tileLayer(url, { subdomains: b.subdomains, attribution: b.attribution || '', maxZoom: top,
                                  maxNativeZoom: b.max_zoom || 18 });
      }));
    } else if (b.kind === 'pmtiles' && !b.raster) {
      var rules = vectorRules();
      layer = root.protomapsL.leafletLayer({ url: b.url, paintRules: rules.paint, labelRules: rules.label,
                                             backgroundColor: STYLE.land, maxDataZoom: b.max_zoom || 15,
                                             attribution: b.attribution || '', maxZoom: top, pane: 'tilePane',
                                             zIndex: 0 });
    } else if (b.kind === 'pmtiles') {
      layer = root.pmtiles.leafletRasterLayer(new root.pmtiles.PMTiles(b.url), opts);
    } else if (b.raster) {
      layer = L.tileLayer(b.url, opts);
    } else {
      var style = { fill: true, fillColor: STYLE.fill, fillOpacity: 1, color: STYLE.edge, weight: 0.6 };
      opts.vectorTileLayerStyles = new Proxy({}, { get: function () { return style; } });
      opts.rendererFactory = L.canvas.tile;
      opts.interactive = false;
      layer = L.vectorGrid.protobuf(b.url, opts);
    }
    layer.addTo(map);
    return layer;
  }

  root.RiskBasemap = { add: add, STYLE: STYLE };
})(window);

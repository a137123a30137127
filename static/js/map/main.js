/* 风险一张图 — the layered risk map: the entry module.
 *
 * The page (geo_service/web/map/page.py) creates the Leaflet map with folium
 * and hands it over in its one global, before any module runs (module
 * scripts are deferred):
 *
 *     window.RiskMap = { map: <L.Map>, config: {…, layers: [layer spec, …]} }
 *
 * This module then builds every layer of layers/*.toml from its spec, the
 * layer control, the legend and the tools, and adds ``state`` to that object
 * (for the browser tests and the console).  Other modules define extra layer
 * kinds with registerKind (static/js/map-zones.js), loaded before this one.
 *
 * The modules, by job:
 *   state.js           the shared state, DOM and fetch helpers
 *   leaflet-private.js every use of a private member of Leaflet or a plugin
 *   layers.js          the layers and what the pointer finds on them
 *   filters.js         the filter form, the URL, refreshing the layers
 *   legend.js          the legend and the layer control's zoom notes
 *   panel.js           the enterprise side panel
 *   search.js          search, locate, ?focus=
 *   indicators.js      the indicator strip and the breadcrumb
 *   export.js          导出图片 (exportSheet)
 *   ../map-core.js     the pure functions, unit-tested by Node
 */

import { S, layerList } from './state.js';
import { readUrl, wireFilters, writeUrl } from './filters.js';
import { buildLayer, wirePointer } from './layers.js';
import { addLegend, updateLegend, zoomNotes } from './legend.js';
import { hidePanel } from './panel.js';
import { clearFound, focusFromUrl, searchBox } from './search.js';
import { updateCrumbs, updateIndicators } from './indicators.js';
import { exportSheet } from './export.js';

const L = window.L;

// Narrow screens: the filters and the legend are drawers opened from the toolbar.
function drawers() {
  const page = document.getElementById('rm-page');
  const filters = document.getElementById('rm-filters');
  const openFilters = document.getElementById('rm-open-filters');
  const openLegend = document.getElementById('rm-open-legend');
  if (!page || !filters || !openFilters || !openLegend) { return; }
  function setFilters(open) {
    filters.classList.toggle('rm-open', open);
    openFilters.setAttribute('aria-expanded', String(open));
  }
  openFilters.addEventListener('click', function () { setFilters(!filters.classList.contains('rm-open')); });
  document.getElementById('rm-filters-close').addEventListener('click', function () { setFilters(false); });
  openLegend.addEventListener('click', function () {
    const open = !page.classList.contains('rm-legend-open');
    page.classList.toggle('rm-legend-open', open);
    openLegend.setAttribute('aria-expanded', String(open));
  });
}

// A region with no districts below it (a county) has nothing for the district
// layer to colour: the risk density heat is its default instead.
function leafDefaults(map) {
  const region = S.filters.region;
  const hasChildren = S.cfg.regions.some(function (r) { return r.parent_code === region; });
  if (hasChildren || new URLSearchParams(window.location.search).has('layers')) { return; }
  layerList().forEach(function (layer) {
    if (layer.spec.kind === 'choropleth' && map.hasLayer(layer)) { map.removeLayer(layer); }
    if (layer.spec.kind === 'heat' && !map.hasLayer(layer)) { map.addLayer(layer); }
  });
}

// The map itself: panes, scale, attribution, the base map, the first view.
function setUp(map, cfg) {
  map.createPane('rm-points').style.zIndex = 450;
  map.createPane('rm-hazards').style.zIndex = 460;
  map.attributionControl.setPrefix('Leaflet');
  L.control.scale({ metric: true, imperial: false }).addTo(map);  // metres only
  map.attributionControl.addAttribution(cfg.attribution);
  // the base map (static/js/basemap.js, a classic script loaded before the
  // modules): remote XYZ / 天地图 or the local file the server serves
  if (cfg.basemap) { S.basemap = window.RiskBasemap.add(map, cfg.basemap); }
  // Fit the selected region at once (no animation: see page.py).
  if (cfg.fit_bounds) { map.fitBounds(cfg.fit_bounds, { animate: false }); }
}

// Every layer of the page, on the map when visible, listed in the layer control.
function addLayers(map, specs) {
  const overlays = {};
  specs.forEach(function (spec) {
    const layer = buildLayer(map, spec);
    if (spec.visible) { layer.addTo(map); }
    overlays[spec.title] = layer;
  });
  S.control = L.control.layers({}, overlays, { position: 'topright', collapsed: false, autoZIndex: false });
  S.control.addTo(map);
}

function start(page) {
  const map = page.map;
  S.map = map;
  S.cfg = page.config;
  readUrl();
  setUp(map, S.cfg);
  addLayers(map, S.cfg.layers);
  leafDefaults(map);
  addLegend(map);
  wirePointer(map);
  map.on('zoomend', function () {
    layerList().forEach(function (layer) {
      const kind = layer.spec.kind;
      if (kind === 'choropleth' || kind === 'outlines') { layer.refresh(); }
    });
  });
  wireFilters(function () { clearFound(); hidePanel(); });
  const exportButton = document.getElementById('rm-export');
  if (exportButton) { exportButton.addEventListener('click', exportSheet); }
  document.getElementById('rm-panel-close').addEventListener('click', function () {
    hidePanel();
    S.focus = null;
    writeUrl();
  });
  // The strip above the map changes height with its contents: keep Leaflet's size right.
  if (window.ResizeObserver) {
    new ResizeObserver(function () { map.invalidateSize({ animate: false }); }).observe(map.getContainer());
  }
  drawers();
  zoomNotes();
  map.on('zoomend overlayadd overlayremove', zoomNotes);
  searchBox();
  updateIndicators();
  updateCrumbs();
  focusFromUrl();
  map.on('moveend', writeUrl);
  updateLegend();
  page.state = S;
}

start(window.RiskMap);

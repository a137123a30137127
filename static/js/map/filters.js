/* The filters and the URL: the filter form, the URL query that holds the
 * filters and the view (so a view can be shared), and refreshing every layer
 * when they change. */

import * as Core from '../map-core.js';
import { S, layerList, regionByCode, status } from './state.js';
import { mapLoaded } from './leaflet-private.js';
import { updateLegend } from './legend.js';
import { updateCrumbs, updateIndicators } from './indicators.js';

export function readUrl() {
  const st = Core.readState(window.location.search, S.cfg.filters, S.cfg.region);
  S.filters = st.filters;
  S.metric = st.metric;
  S.focus = st.focus;
  S.hasView = st.hasView;
}

// The view (centre and zoom) is written to the URL too, so a shared link opens where it was.
export function writeUrl() {
  let view = null;
  if (S.map && mapLoaded(S.map)) {
    const c = S.map.getCenter();
    view = { lng: c.lng, lat: c.lat, zoom: S.map.getZoom() };
  }
  window.history.replaceState(null, '', window.location.pathname + Core.stateQuery(S.filters, S.metric, view, S.focus));
}

function formToFilters(form) {
  const f = {};
  const data = new FormData(form);
  S.cfg.filters.forEach(function (name) {
    const values = data.getAll(name).filter(function (v) { return v !== ''; });
    if (values.length) { f[name] = values.join(','); }
  });
  return f;
}

export function filtersToForm(form) {
  Array.prototype.forEach.call(form.elements, function (input) {
    if (!input.name || S.cfg.filters.indexOf(input.name) < 0) { return; }
    const value = S.filters[input.name] || '';
    if (input.type === 'checkbox') {
      input.checked = value.split(',').indexOf(input.value) >= 0;
    } else {
      input.value = value;
    }
  });
}

// A layer's request parameters under the current filters.
export function layerParams(spec) { return Core.layerParams(spec, S.filters); }

export function refreshAll() {
  status('');
  layerList().forEach(function (layer) { layer.refresh(); });
  updateLegend();
  updateIndicators();
  updateCrumbs();
}

// The legend's toggles: show ``shown`` of a coloured layer's classes (the
// enterprises' grades), kept as the filter on its colour field, in the form
// and the URL like any filter.
export function showClasses(spec, shown) {
  const value = Core.classFilter(spec, shown);
  if (value) { S.filters[spec.style.color_by] = value; } else { delete S.filters[spec.style.color_by]; }
  const form = document.getElementById('rm-filter-form');
  if (form) { filtersToForm(form); }
  writeUrl();
  refreshAll();
}

export function zoomToRegion(code, animate) {
  const r = regionByCode(code);
  if (r && r.bbox) {
    S.map.fitBounds([[r.bbox[1], r.bbox[0]], [r.bbox[3], r.bbox[2]]], { animate: animate !== false });
  }
}

// Drill down (a district click) or back up (the breadcrumb) to a region.
export function setRegion(code) {
  if (!code || code === S.filters.region) { return; }
  S.filters.region = code;
  const select = document.getElementById('rm-region');
  if (select) { select.value = code; }
  zoomToRegion(code, false);
  writeUrl();
  refreshAll();
}

// The filter form, the district metric and 重置; ``onReset`` clears what other modules show.
export function wireFilters(onReset) {
  const form = document.getElementById('rm-filter-form');
  const metricSelect = document.getElementById('rm-metric');
  const district = layerList().filter(function (l) { return l.spec.kind === 'choropleth'; })[0];
  if (district && metricSelect) {
    district.spec.metrics.forEach(function (pair) {
      const option = document.createElement('option');
      option.value = pair[0];
      option.textContent = pair[1];
      metricSelect.appendChild(option);
    });
    metricSelect.value = S.metric || district.spec.default_metric;
    metricSelect.addEventListener('change', function () {
      S.metric = metricSelect.value;
      writeUrl();
      district.refresh();
    });
  }
  if (!form) { return; }
  filtersToForm(form);
  form.addEventListener('change', function (ev) {
    if (ev.target === metricSelect) { return; }
    const before = S.filters.region;
    S.filters = formToFilters(form);
    writeUrl();
    if (S.filters.region && S.filters.region !== before) { zoomToRegion(S.filters.region); }
    refreshAll();
  });
  form.addEventListener('submit', function (ev) { ev.preventDefault(); });
  document.getElementById('rm-reset').addEventListener('click', function () {
    S.filters = S.cfg.default_region ? { region: S.cfg.default_region } : {};
    S.metric = null;
    S.focus = null;
    onReset();
    filtersToForm(form);
    if (metricSelect && district) { metricSelect.value = district.spec.default_metric; }
    writeUrl();
    zoomToRegion(S.filters.region);
    refreshAll();
  });
}

/* The map page's one state, shared by its modules, and the small DOM and
 * fetch helpers they all use. */

export const S = {
  map: null, cfg: null, control: null, legend: null,
  layers: {},          // name -> Leaflet layer (with .spec and .refresh())
  filters: {},         // filter name -> string value (as in the URL)
  metric: null,        // choropleth metric
  focus: null,         // the enterprise in focus (?focus=)
  hasView: false,      // whether the URL fixed the view
  choropleth: null,    // last district answer (breaks, colours)
  indicators: null,    // last indicator answer
  hoverDistrict: null, // the tooltip content of the district under the pointer
  basemap: null,       // the base map layer (static/js/basemap.js)
  lastSheet: null,     // the last downloaded sheet: {url, filename}
};

// Layer kinds defined by other modules (static/js/map-zones.js): kind -> function (map, spec).
export const kinds = {};

export function registerKind(kind, make) { kinds[kind] = make; }

export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (k) {
    if (k === 'text') { node.textContent = attrs[k]; }
    else if (k === 'className') { node.className = attrs[k]; }
    else if (k === 'style') { node.setAttribute('style', attrs[k]); }
    else { node.setAttribute(k, attrs[k]); }
  });
  (children || []).forEach(function (c) {
    if (c === null || c === undefined || c === false) { return; }
    node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  });
  return node;
}

export function truthy(v) { return v === true || v === 1 || v === 'true' || v === 't' || v === '1'; }

export function status(text, isError) {
  const node = document.getElementById('rm-status');
  if (!node) { return; }
  node.textContent = text || '';
  node.className = 'rm-status' + (isError ? ' rm-error' : '') + (text ? ' rm-show' : '');
}

export function getJSON(url) {
  return fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin', priority: 'high' })
    .then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { throw new Error(body.message || ('请求失败（' + r.status + '）')); }
        return body;
      });
    });
}

export function gradeOf(value) {
  const v = value && typeof value === 'object' ? value.value : value;
  return S.cfg.grades.filter(function (g) { return g.value === Number(v); })[0] || null;
}

export function regionByCode(code) {
  return S.cfg.regions.filter(function (r) { return r.code === code; })[0] || null;
}

// The layers in the order of the layer control.
export function layerList() {
  return Object.keys(S.layers).map(function (n) { return S.layers[n]; });
}

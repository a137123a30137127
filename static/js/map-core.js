/* 风险一张图 — the map's pure functions: URL state, filter → query string,
 * class-break labels.  No DOM, no Leaflet: an ES module
 * imported by the map's modules (static/js/map/) and unit-tested by Node's
 * test runner (tests/js/map-core.test.js, run by `make test`).
 */

// A number as shown on the map: one decimal at most, grouped the Chinese way; "—" for nothing.
export function fmt(n) {
  if (n === null || n === undefined || n === '') { return '—'; }
  var v = Number(n);
  return isFinite(v) ? (Math.round(v * 10) / 10).toLocaleString('zh-CN') : String(n);
}

// "?a=1&b=2" from an object, leaving out empty values; "" when nothing is left.
export function query(obj) {
  var q = new URLSearchParams();
  Object.keys(obj).forEach(function (k) {
    if (obj[k] !== null && obj[k] !== undefined && obj[k] !== '') { q.set(k, obj[k]); }
  });
  var s = q.toString();
  return s ? '?' + s : '';
}

// The map's state from a page URL's query string: the filters (repeated names
// joined by commas), the district metric, the enterprise in focus and whether
// the URL fixes the view (centre and zoom).
export function readState(search, filterNames, defaultRegion) {
  var q = new URLSearchParams(search);
  var filters = {};
  filterNames.forEach(function (name) {
    var v = q.getAll(name).filter(function (x) { return x !== ''; }).join(',');
    if (v) { filters[name] = v; }
  });
  if (!filters.region && defaultRegion) { filters.region = defaultRegion; }
  return {
    filters: filters,
    metric: q.get('metric') || null,
    focus: q.get('focus') || null,
    hasView: !!(q.get('center') && q.get('zoom')),
  };
}

// The page URL's query string for a state; ``view`` is {lng, lat, zoom} or null.
export function stateQuery(filters, metric, view, focus) {
  var obj = {};
  Object.keys(filters).forEach(function (k) { obj[k] = filters[k]; });
  obj.metric = metric;
  if (view) {
    obj.center = view.lng.toFixed(5) + ',' + view.lat.toFixed(5);
    obj.zoom = view.zoom;
  }
  obj.focus = focus;
  return query(obj);
}

// A layer's request parameters: its own parameters are defaults and a filter
// the user set wins, except, for vector tiles, the filter on the field the
// layer is coloured by (the enterprises' grade): the layer shows and hides
// those classes itself (see visibleClass), so its tiles do not change with it.
export function layerParams(spec, filters) {
  const p = {};
  const colorBy = spec.kind === 'vector_tiles' && spec.style ? spec.style.color_by : null;
  Object.keys(spec.params || {}).forEach(function (k) { p[k] = spec.params[k]; });
  Object.keys(filters).forEach(function (k) {
    if (k !== colorBy) { p[k] = filters[k]; }
  });
  return p;
}

// A coloured layer's classes (values of its colour field) in order of
// precedence: its legend entries' order, else its colours'.  The first class
// of a cell that holds several is the one drawn (红 before 蓝).
export function classOrder(spec) {
  const labels = (spec.legend && spec.legend.labels) || [];
  return labels.length ? labels.map(function (pair) { return pair[0]; }) : Object.keys(spec.style.colors || {});
}

// The classes the filters let a coloured layer show: the filter on its colour
// field when set, else all of them.
export function shownClasses(spec, filters) {
  const all = classOrder(spec);
  const value = filters[spec.style.color_by];
  if (!value) { return all; }
  const chosen = String(value).split(',');
  return all.filter(function (c) { return chosen.indexOf(c) >= 0; });
}

// What a point of a coloured layer draws with the ``shown`` classes: its class
// and how many it stands for, or null when none of it is shown.  An
// aggregated cell carries ``count_<class>`` for each class; a single point
// (or a layer without them) has its class in the colour field and ``count``.
export function visibleClass(props, spec, shown) {
  const order = classOrder(spec);
  const perClass = order.some(function (c) { return props['count_' + c] !== undefined; });
  if (!perClass) {
    const value = String(props[spec.style.color_by]);
    return shown.indexOf(value) >= 0 ? { value: value, count: Number(props.count) || 1 } : null;
  }
  let first = null, count = 0;
  order.forEach(function (c) {
    const n = Number(props['count_' + c]) || 0;
    if (n > 0 && shown.indexOf(c) >= 0) {
      count += n;
      if (first === null) { first = c; }
    }
  });
  return first === null ? null : { value: first, count: count };
}

// The filter value that shows ``shown`` of a coloured layer's classes: none
// (the filter unset) when all are shown.
export function classFilter(spec, shown) {
  const order = classOrder(spec);
  const kept = order.filter(function (c) { return shown.indexOf(c) >= 0; });
  return kept.length === order.length ? null : kept.join(',');
}

// Legend labels of class breaks (upper bounds, ascending).  Integer breaks
// give integer ranges that never share a value: "≤ 5", "6 – 8", "9 – 12".
export function classLabels(breaks) {
  var integer = breaks.every(function (b) { return Number.isInteger(Number(b)); });
  return breaks.map(function (b, i) {
    if (i === 0) { return '≤ ' + fmt(b); }
    var lo = Number(breaks[i - 1]);
    if (integer) { return lo + 1 === Number(b) ? fmt(b) : fmt(lo + 1) + ' – ' + fmt(b); }
    return '> ' + fmt(lo) + ' – ' + fmt(b);
  });
}


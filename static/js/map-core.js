/* 风险一张图 — the map's pure functions: URL state, filter → query string,
 * class-break labels.  No DOM, no Leaflet: unit-tested by Node's test runner
 * (tests/js/map-core.test.js, run by `make test`).  In the page this file is
 * loaded before map.js and sets window.RiskMapCore; under Node it is a
 * CommonJS module.
 */
(function (root, factory) {
  'use strict';
  var core = factory();
  if (typeof module === 'object' && module.exports) { module.exports = core; } else { root.RiskMapCore = core; }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  // A number as shown on the map: one decimal at most, grouped the Chinese way; "—" for nothing.
  function fmt(n) {
    if (n === null || n === undefined || n === '') { return '—'; }
    var v = Number(n);
    return isFinite(v) ? (Math.round(v * 10) / 10).toLocaleString('zh-CN') : String(n);
  }

  // "?a=1&b=2" from an object, leaving out empty values; "" when nothing is left.
  function query(obj) {
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
  function readState(search, filterNames, defaultRegion) {
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
  function stateQuery(filters, metric, view, focus) {
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
  // the user set wins, except that a per-grade layer keeps its grade.
  function layerParams(spec, filters) {
    var p = {};
    Object.keys(spec.params || {}).forEach(function (k) { p[k] = spec.params[k]; });
    Object.keys(filters).forEach(function (k) {
      if (k === 'grade' && spec.params && spec.params.grade !== undefined) { return; }
      p[k] = filters[k];
    });
    return p;
  }

  // Whether the grade filter leaves a per-grade layer out.
  function gradeExcluded(spec, filters) {
    if (!spec.params || spec.params.grade === undefined || !filters.grade) { return false; }
    return String(filters.grade).split(',').indexOf(String(spec.params.grade)) < 0;
  }

  // Legend labels of class breaks (upper bounds, ascending).  Integer breaks
  // give integer ranges that never share a value: "≤ 5", "6 – 8", "9 – 12".
  function classLabels(breaks) {
    var integer = breaks.every(function (b) { return Number.isInteger(Number(b)); });
    return breaks.map(function (b, i) {
      if (i === 0) { return '≤ ' + fmt(b); }
      var lo = Number(breaks[i - 1]);
      if (integer) { return lo + 1 === Number(b) ? fmt(b) : fmt(lo + 1) + ' – ' + fmt(b); }
      return '> ' + fmt(lo) + ' – ' + fmt(b);
    });
  }

  return { fmt: fmt, query: query, readState: readState, stateQuery: stateQuery, layerParams: layerParams,
           gradeExcluded: gradeExcluded, classLabels: classLabels };
});

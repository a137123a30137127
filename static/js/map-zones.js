/* The enterprises' own 四色图 on the regional map: a layer kind "zones" for
 * the map's modules (static/js/map/), an ES module loaded before
 * static/js/map/main.js.  From the layer's min_zoom (16) the risk zones
 * in view are fetched as GeoJSON (/map/zones.geojson, the map's filters
 * applied) and filled in their grade colours; the enterprise tiles leave out
 * an enterprise with zones there.  Clicking a zone opens the enterprise panel
 * with the zone and its risk points on top. */
import { query } from './map-core.js';
import { S, el, gradeOf, registerKind } from './map/state.js';
import { showEnterprise } from './map/panel.js';

const L = window.L;

function zoneBlock(p) {
  const g = gradeOf(p.grade);
  const items = (p.risk_points || []).map(function (rp) {
    const rg = gradeOf(rp.grade);
    return el('li', {}, [el('span', { className: 'rm-badge', style: 'background:' + (rg ? rg.color : '#999'),
                                      text: rg ? rg.colour_name : '—' }), ' ' + rp.name]);
  });
  return el('div', { className: 'rm-zone', 'data-zone-id': String(p.id) }, [
    el('h3', { text: '风险区域：' + p.name + (p.floor ? '（' + p.floor + '）' : '') }),
    el('p', {}, [el('span', { className: 'rm-badge rm-grade-badge', style: 'background:' + (g ? g.color : '#999'),
                              text: g ? g.colour_name + '·' + g.name : '未评级' })]),
    el('h3', { text: '区域内风险点（' + items.length + '）' }),
    items.length ? el('ul', { className: 'rm-list' }, items) : el('p', { className: 'rm-muted', text: '无' }),
  ]);
}

function openZone(p) {
  showEnterprise(p.enterprise_id).then(function (e) {
    if (!e) { return; }
    const body = document.getElementById('rm-panel-body');
    const view = body.firstChild;
    if (view && view.firstChild) { view.insertBefore(zoneBlock(p), view.firstChild.nextSibling); }
  });
}

// Whether a ring ([LatLng]) holds the point (ray casting in lng/lat: zones are small).
function inRing(ring, p) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i], b = ring[j];
    if ((a.lat > p.lat) !== (b.lat > p.lat) &&
        p.lng < (b.lng - a.lng) * (p.lat - a.lat) / (b.lat - a.lat) + a.lng) { inside = !inside; }
  }
  return inside;
}

// A polygon's lat/lngs: [ring…] or [[ring…]…] (multi); holes are rings 1…n of a polygon.
function inPolygon(latlngs, p) {
  if (latlngs.length && Array.isArray(latlngs[0][0])) {
    return latlngs.some(function (poly) { return inPolygon(poly, p); });
  }
  if (!inRing(latlngs[0], p)) { return false; }
  return !latlngs.slice(1).some(function (hole) { return inRing(hole, p); });
}

registerKind('zones', function (map, spec) {
  const s = spec.style;
  const layer = L.geoJSON(null, {
    style: function (f) {
      return { color: s.stroke_color || '#333333', weight: s.weight, opacity: s.opacity,
               fillColor: s.colors[String(f.properties.grade)] || '#9E9E9E', fillOpacity: s.fill_opacity };
    },
    onEachFeature: function (f, l) {
      const g = gradeOf(f.properties.grade);
      l.bindTooltip(f.properties.enterprise_name + ' · ' + f.properties.name + '（' + (g ? g.colour_name + '·' + g.name : '未评级') + '）',
                    { sticky: true });
    },
  });
  // A zone is found under any map click (the point and hazard tiles may lie
  // above it), after the points' own handler (layers.js): showEnterprise shows the last call's answer.
  map.on('click', function (e) {
    if (!map.hasLayer(layer)) { return; }
    const hit = layer.getLayers().filter(function (l) {
      return l.getBounds().contains(e.latlng) && inPolygon(l.getLatLngs(), e.latlng);
    }).pop();  // the last drawn: the highest grade
    if (hit) { window.setTimeout(function () { openZone(hit.feature.properties); }, 0); }
  });
  let seq = 0;
  layer.refresh = function () {
    if (!map.hasLayer(layer)) { return; }
    const mine = ++seq;
    if (map.getZoom() < spec.min_zoom) { layer.clearLayers(); return; }
    const b = map.getBounds();
    // Every filter as it is (the grade filter here is the enterprises' grade, not the zones' colour).
    const params = Object.assign({}, S.filters, {
      bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(','),
      zoom: String(Math.round(map.getZoom())),
    });
    fetch(spec.url + query(params), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : { features: [] }; })
      .then(function (data) {
        if (mine !== seq) { return; }
        layer.clearLayers();
        layer.addData(data);
      });
  };
  layer.on('add', function () { layer.refresh(); });
  map.on('moveend', function () { layer.refresh(); });
  return layer;
});

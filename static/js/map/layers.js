/* The layers: vector tiles of points (enterprises, hazards) drawn on canvas,
 * the district choropleth, region outlines, the risk heat, a local base map;
 * and what the pointer finds on them (hover tips, clicks). */

import { classOrder, fmt, query, shownClasses, visibleClass } from '../map-core.js';
import { S, el, getJSON, gradeOf, kinds, layerList, status, truthy } from './state.js';
import { drawnPoints, flatHeat, hiddenStyle, pointTile, rankedProtobuf, restyle, tileZoom } from './leaflet-private.js';
import { layerParams, setRegion } from './filters.js';
import { showEnterprise } from './panel.js';
import { updateLegend } from './legend.js';

const L = window.L;

// --- points on canvas tiles ------------------------------------------------

// Features drawn in rank order, the most urgent last (on top): the first
// class of the layer's colours (红 before 蓝, see classOrder), 重大 hazards,
// then the highlighted (overdue).
function featureRank(spec) {
  const s = spec.style, order = s.color_by ? classOrder(spec) : [];
  return function (props) {
    let r = 0;
    if (s.color_by) {
      const shown = visibleClass(props, spec, order);
      if (shown) { r += order.length - order.indexOf(shown.value); }
    }
    if (s.color_by === 'level' && props.level === 'major') { r += 2; }
    if (s.highlight_by && truthy(props[s.highlight_by])) { r += 10; }
    return r;
  };
}

function countLabel(n) { return n > 1 ? (n >= 10000 ? Math.round(n / 1000) + '千' : String(n)) : ''; }

function radiusOf(s, count) { return count > 1 ? Math.min(26, s.radius + 8 * Math.log10(count)) : s.radius; }

// A point's style: a layer coloured by a field draws each point in its
// class's colour, with the count its shown classes leave (a class the
// filters switch off is kept undrawn, so showing it again needs no request).
function pointStyle(spec) {
  const s = spec.style;
  const shape = spec.legend.symbol === 'triangle' ? 'triangle' : 'circle';
  return function (props) {
    let count = Number(props.count) || 1;
    let fill = s.color;
    if (s.color_by) {
      const shown = visibleClass(props, spec, shownClasses(spec, S.filters));
      if (!shown) { return hiddenStyle(radiusOf(s, count)); }
      fill = s.colors[shown.value];
      count = shown.count;
    }
    const highlighted = s.highlight_by && truthy(props[s.highlight_by]);
    return {
      radius: radiusOf(s, count), shape: shape, fill: true, fillColor: fill, fillOpacity: s.fill_opacity,
      stroke: true, color: highlighted ? s.highlight_color : (s.stroke_color || fill),
      weight: highlighted ? 3 : s.weight, opacity: s.opacity, label: countLabel(count),
      count: count,
    };
  };
}

function vectorLayer(map, spec) {
  const style = pointStyle(spec);
  // Any MVT layer name inside the tile is drawn with this layer's style.
  const styles = new Proxy({}, { get: function () { return style; } });
  const url = function () { return spec.url + query(layerParams(spec)); };
  let seq = 0, current = url();
  const layer = rankedProtobuf(current, {
    rendererFactory: pointTile,
    featureRank: featureRank(spec),
    // Clicks are hit-tested by the map (see onMapClick): a canvas tile that
    // listened itself would hide the layers beneath it from the pointer.
    interactive: false,
    getFeatureId: function () { return ++seq; },  // keeps each tile's features for hit-testing
    vectorTileLayerStyles: styles,
    pane: spec.source_layer === 'hazards' ? 'rm-hazards' : 'rm-points',
    zIndex: 1000 - spec.order,  // the first layer of the control is drawn on top
    tileSize: 512,
    minZoom: Math.max(spec.min_zoom, 1),
    maxZoom: spec.max_zoom,
    maxNativeZoom: Math.min(spec.max_zoom, 19),
    // Region outlines and district numbers first, then the points.
    fetchOptions: { credentials: 'same-origin', priority: 'low' },
  });
  // New tiles when the filters change what they hold; else (the grades shown)
  // the tiles already loaded are drawn again.
  layer.refresh = function () {
    const next = url();
    if (next !== current) {
      current = next;
      layer.setUrl(next);
    } else {
      restyle(layer, style);
    }
  };
  return layer;
}

// The feature of a vector layer drawn under a container point, or null.
function hitTest(layer, containerPoint) {
  const map = S.map, tz = tileZoom(layer);
  if (tz === undefined) { return null; }
  const size = layer.getTileSize();
  const pixel = map.project(map.containerPointToLatLng(containerPoint), tz);
  const scale = map.getZoomScale(map.getZoom(), tz);
  const coords = L.point(Math.floor(pixel.x / size.x), Math.floor(pixel.y / size.y));
  coords.z = tz;
  const local = pixel.subtract(coords.scaleBy(size));
  let best = null, bestDistance = Infinity;
  drawnPoints(layer, coords).forEach(function (d) {
    const distance = d.at.distanceTo(local) * scale;  // in screen pixels
    if (distance <= d.radius + 3 && distance < bestDistance) { best = d.feature; bestDistance = distance; }
  });
  return best;
}

// The point under a container point: {layer, feature}, or null.
export function featureAt(containerPoint) {
  // Hazards are drawn above enterprises, so they are tried first.
  const layers = layerList().filter(function (l) {
    return l.spec.kind === 'vector_tiles' && S.map.hasLayer(l);
  }).sort(function (a, b) {
    return (b.spec.source_layer === 'hazards') - (a.spec.source_layer === 'hazards');
  });
  for (let i = 0; i < layers.length; i++) {
    const hit = hitTest(layers[i], containerPoint);
    if (hit) { return { layer: layers[i], feature: hit }; }
  }
  return null;
}

// How many a drawn point stands for (of a cell: what the shown classes leave).
function drawnCount(feature) {
  return Number(feature.options.count) || Number((feature.properties || {}).count) || 1;
}

function onMapClick(e) {
  const hit = featureAt(e.containerPoint);
  if (!hit) { return; }
  const spec = hit.layer.spec, props = hit.feature.properties || {};
  if (drawnCount(hit.feature) > 1) {
    S.map.setView(e.latlng, Math.min(S.map.getZoom() + 2, S.map.getMaxZoom()));
    return;
  }
  let id = props.enterprise_id;
  if (id === undefined && spec.source_layer === 'enterprises') { id = props[spec.id_field]; }
  if (id !== undefined && id !== null) { showEnterprise(id); }
}

// One hover tooltip: over a point the enterprise (or hazard) under it, else
// the district's figures.
let hoverTip = null;

function showTip(latlng, content) {
  if (!hoverTip) {
    hoverTip = L.tooltip({ direction: 'top', offset: [0, -10], className: 'rm-hover-tip', opacity: 0.95 });
  }
  hoverTip.setLatLng(latlng).setContent(content);
  if (!S.map.hasLayer(hoverTip)) { S.map.openTooltip(hoverTip); }
}

function hideTip() {
  if (hoverTip && S.map.hasLayer(hoverTip)) { S.map.closeTooltip(hoverTip); }
}

function pointTip(hit) {
  const p = hit.feature.properties || {}, n = drawnCount(hit.feature);
  const hazard = hit.layer.spec.source_layer === 'hazards';
  if (n > 1) {
    return el('div', { className: 'rm-tip-point' }, [
      el('strong', { text: n + (hazard ? ' 条隐患' : ' 家企业') }), el('div', { className: 'rm-muted', text: '点击放大' })]);
  }
  if (hazard) {
    return el('div', { className: 'rm-tip-point' }, [
      el('strong', { text: p.enterprise_name || '' }),
      el('div', { text: (S.cfg.hazard_levels[p.level] || '') + '：' + (p.description || '') }),
      el('div', { className: 'rm-muted', text: (S.cfg.hazard_states[p.state] || '') +
                  (Number(p.overdue_days) > 0 ? ' · 逾期 ' + p.overdue_days + ' 天' : '') }),
    ]);
  }
  const g = gradeOf(p.grade);
  return el('div', { className: 'rm-tip-point' }, [
    el('strong', { text: p.name || '' }),
    el('div', {}, [el('span', { className: 'rm-badge', style: 'background:' + (g ? g.color : '#999'),
                                text: g ? g.colour_name + '·' + g.name : '未定级' })]),
  ]);
}

function onMapMove(e) {
  const hit = featureAt(e.containerPoint);
  S.map.getContainer().style.cursor = hit ? 'pointer' : '';
  if (hit) { showTip(e.latlng, pointTip(hit)); }
  else if (S.hoverDistrict) { showTip(e.latlng, S.hoverDistrict); }
  else { hideTip(); }
}

// Clicks and hover over the points (hit-tested here, see vectorLayer).
export function wirePointer(map) {
  map.on('click', onMapClick);
  map.on('mousemove', L.Util.throttle(onMapMove, 60));
  map.on('mouseout', function () { S.hoverDistrict = null; hideTip(); });
}

// --- GeoJSON layers: choropleth and outlines --------------------------------

function choroplethLayer(map, spec) {
  const s = spec.style;
  const layer = L.geoJSON(null, {
    style: function (f) {
      return { color: s.stroke_color, weight: s.weight, opacity: s.opacity,
               fillColor: f.properties.color, fillOpacity: s.fill_opacity };
    },
    onEachFeature: function (f, l) {
      const p = f.properties;
      const metric = S.metric || spec.default_metric;
      // (a field the endpoint computes only for its own metric is absent otherwise)
      const rows = spec.popup_fields.filter(function (pair) {
        return pair[0] !== 'name' && p[pair[0]] !== undefined;
      }).map(function (pair) {
        return el('tr', pair[0] === metric ? { className: 'rm-em' } : {},
                  [el('th', { text: pair[1] }), el('td', { text: fmt(p[pair[0]]) })]);
      });
      const tip = el('div', { className: 'rm-tip-district' },
                     [el('strong', { text: p.name || '' }), el('table', { className: 'rm-tip' }, rows)]);
      l.on('mouseover', function () { S.hoverDistrict = tip; });
      l.on('mouseout', function () { if (S.hoverDistrict === tip) { S.hoverDistrict = null; hideTip(); } });
      // A click on a district (not on a point drawn over it) drills down to it.
      l.on('click', function (ev) {
        if (featureAt(ev.containerPoint)) { return; }
        setRegion(p.code);
      });
    },
  });
  let seq = 0;
  layer.refresh = function () {
    if (!map.hasLayer(layer)) { return; }
    const mine = ++seq;
    const params = { region: S.filters.region, month: S.filters.month, metric: S.metric || spec.default_metric,
                     zoom: map.getZoom() };
    getJSON(spec.url + query(params)).then(function (data) {
      if (mine !== seq) { return; }
      layer.clearLayers();
      layer.addData(data);
      layer.bringToBack();
      S.choropleth = data;
      updateLegend();
    }).catch(function (err) { status('区域热度加载失败：' + err.message, true); });
  };
  layer.on('add', function () { layer.refresh(); });
  layer.on('remove', function () { S.choropleth = null; updateLegend(); });
  return layer;
}

function outlineLayer(map, spec) {
  const s = spec.style;
  const group = L.layerGroup();
  let seq = 0;
  group.refresh = function () {
    if (!map.hasLayer(group)) { return; }
    const mine = ++seq;
    getJSON(spec.url + query({ region: S.filters.region, zoom: map.getZoom() })).then(function (data) {
      if (mine !== seq) { return; }
      group.clearLayers();
      L.geoJSON(data, {
        interactive: false,
        style: function (f) {
          return { color: s.stroke_color, weight: f.properties.role === 'self' ? s.weight * 2 : s.weight,
                   opacity: s.opacity, fill: false };
        },
      }).addTo(group);
      data.features.forEach(function (f) {
        const p = f.properties;
        if (!p.label || (p.role === 'self' && data.features.length > 1)) { return; }
        L.marker([p.label[1], p.label[0]], {
          interactive: false, keyboard: false,
          icon: L.divIcon({ className: 'rm-region-label', html: '', iconSize: null }),
        }).addTo(group).getElement().appendChild(el('span', { text: p.name }));
      });
    }).catch(function (err) { status('行政区划加载失败：' + err.message, true); });
  };
  group.on('add', function () { group.refresh(); });
  return group;
}

// --- heat --------------------------------------------------------------------

function heatLayer(map, spec) {
  const s = spec.style;
  const layer = flatHeat([], {
    radius: s.radius, blur: Math.round(s.radius * 0.8), minOpacity: 0.25 * s.opacity,
    gradient: s.gradient, max: 1,
  });
  let seq = 0;
  layer.refresh = function () {
    if (!map.hasLayer(layer)) { return; }
    const b = map.getBounds();
    const west = Math.max(b.getWest(), -180), east = Math.min(b.getEast(), 180);
    const south = Math.max(b.getSouth(), -85), north = Math.min(b.getNorth(), 85);
    if ((east - west) * (north - south) > S.cfg.max_bbox_area) {
      layer.setLatLngs([]);
      status('请放大地图查看风险密度热力图');
      return;
    }
    const mine = ++seq;
    const params = layerParams(spec);
    params.bbox = [west, south, east, north].map(function (v) { return v.toFixed(5); }).join(',');
    params.zoom = map.getZoom();
    getJSON(spec.url + query(params)).then(function (data) {
      if (mine !== seq || !map.hasLayer(layer)) { return; }
      layer.setOptions({ max: Math.max(data.max, 1) });
      layer.setLatLngs(data.points);
    }).catch(function (err) { status('热力图加载失败：' + err.message, true); });
  };
  layer.on('add', function () { layer.refresh(); });
  map.on('moveend', function () { layer.refresh(); });
  return layer;
}

// --- the layers of a page ------------------------------------------------------

const MAKERS = { vector_tiles: vectorLayer, choropleth: choroplethLayer, outlines: outlineLayer, heat: heatLayer };

// The Leaflet layer of one layer spec (from layers/<name>.toml), kept in S.layers.
export function buildLayer(map, spec) {
  const make = MAKERS[spec.kind] || kinds[spec.kind];
  if (!make) { throw new Error('未知图层类型：' + spec.kind); }
  const layer = make(map, spec);
  layer.spec = spec;
  S.layers[spec.name] = layer;
  return layer;
}

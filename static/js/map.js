/* 风险一张图 — the layered risk map.
 *
 * The page (folium) calls RiskMap.init(map, config), then RiskMap.layer(map,
 * spec) once per layer file in layers/, then RiskMap.ready(map, control).
 * Every layer reads its data by viewport: vector tiles, or GeoJSON/JSON for
 * one region or one bbox.  The filters live in the URL query so a view can be
 * shared; every layer is refreshed when they change.
 */
(function () {
  'use strict';

  var RM = {};
  window.RiskMap = RM;
  // Layer kinds defined by other scripts (static/js/map-zones.js): kind -> function (map, spec).
  RM.kinds = {};

  var S = {
    map: null, cfg: null, control: null, legend: null,
    layers: {},          // name -> Leaflet layer (with .spec and .refresh())
    filters: {},         // filter name -> string value (as in the URL)
    metric: null,        // choropleth metric
    choropleth: null,    // last district answer (breaks, colours)
  };

  // --- small helpers -------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') { node.textContent = attrs[k]; }
      else if (k === 'className') { node.className = attrs[k]; }
      else if (k === 'style') { node.setAttribute('style', attrs[k]); }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) { return; }
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  var Core = window.RiskMapCore;
  var fmt = Core.fmt, query = Core.query, classLabels = Core.classLabels;

  RM.classLabels = classLabels;

  function truthy(v) { return v === true || v === 1 || v === 'true' || v === 't' || v === '1'; }

  function status(text, isError) {
    var node = document.getElementById('rm-status');
    if (!node) { return; }
    node.textContent = text || '';
    node.className = 'rm-status' + (isError ? ' rm-error' : '') + (text ? ' rm-show' : '');
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin', priority: 'high' })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) { throw new Error(body.message || ('请求失败（' + r.status + '）')); }
          return body;
        });
      });
  }

  function gradeOf(value) {
    var v = value && typeof value === 'object' ? value.value : value;
    return S.cfg.grades.filter(function (g) { return g.value === Number(v); })[0] || null;
  }

  // --- the filters and the URL ---------------------------------------------

  function readUrl() {
    var st = Core.readState(window.location.search, S.cfg.filters, S.cfg.region);
    S.filters = st.filters;
    S.metric = st.metric;
    S.focus = st.focus;
    S.hasView = st.hasView;
  }

  // The view (centre and zoom) is written to the URL too, so a shared link opens where it was.
  function writeUrl() {
    var view = null;
    if (S.map && mapLoaded(S.map)) {
      var c = S.map.getCenter();
      view = { lng: c.lng, lat: c.lat, zoom: S.map.getZoom() };
    }
    window.history.replaceState(null, '', window.location.pathname + Core.stateQuery(S.filters, S.metric, view, S.focus));
  }

  function formToFilters(form) {
    var f = {};
    var data = new FormData(form);
    S.cfg.filters.forEach(function (name) {
      var values = data.getAll(name).filter(function (v) { return v !== ''; });
      if (values.length) { f[name] = values.join(','); }
    });
    return f;
  }

  function filtersToForm(form) {
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || S.cfg.filters.indexOf(input.name) < 0) { return; }
      var value = S.filters[input.name] || '';
      if (input.type === 'checkbox') {
        input.checked = value.split(',').indexOf(input.value) >= 0;
      } else {
        input.value = value;
      }
    });
  }

  function layerParams(spec) { return Core.layerParams(spec, S.filters); }

  function gradeExcluded(spec) { return Core.gradeExcluded(spec, S.filters); }

  // --- private members of the plugins: in this one place only ---------------
  //
  // Read from Leaflet 1.9.4, Leaflet.VectorGrid 1.3.0 and Leaflet.heat 0.2.0
  // (the versions pinned in package.json and vendored in static/vendor).
  // Everything below that starts with "_" belongs to them; re-check each use
  // when upgrading.  The rest of this file uses only their public API and the
  // names defined here.

  // A hazard triangle sits up and to the right of its point, like a badge,
  // so that the enterprise circle under it stays visible.
  var BADGE = L.point(7, -7);

  // Canvas tiles that write the count in an aggregated cell's circle and draw
  // triangles for hazards.
  var PointTile = L.Canvas.Tile.extend({
    _updateCircle: function (layer) {
      if (!this._drawing || layer._empty()) { return; }
      var ctx = this._ctx, p = layer._point, r = Math.max(Math.round(layer._radius), 1);
      if (layer.options.shape === 'triangle') {
        p = p.add(BADGE);
        ctx.beginPath();
        ctx.moveTo(p.x, p.y - r * 1.2);
        ctx.lineTo(p.x + r * 1.1, p.y + r * 0.8);
        ctx.lineTo(p.x - r * 1.1, p.y + r * 0.8);
        ctx.closePath();
        this._fillStroke(ctx, layer);
      } else {
        L.Canvas.Tile.prototype._updateCircle.call(this, layer);
      }
      var n = layer.properties && Number(layer.properties.count);
      if (n > 1) {
        var label = n >= 10000 ? Math.round(n / 1000) + '千' : String(n);
        ctx.save();
        ctx.font = 'bold 11px sans-serif';
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        ctx.lineWidth = 3;
        ctx.strokeStyle = 'rgba(0,0,0,0.55)';
        ctx.fillStyle = '#ffffff';
        ctx.strokeText(label, p.x, p.y);
        ctx.fillText(label, p.x, p.y);
        ctx.restore();
      }
    }
  });
  function pointTile(coords, size, options) { return new PointTile(coords, size, options); }

  // Protobuf tiles shown 512 px wide (one z-1 tile of the 256-px pyramid each:
  // a quarter of the requests) whose features are drawn in rank order (the
  // most urgent last, on top).
  var RankedProtobuf = L.VectorGrid.Protobuf.extend({
    _getVectorTilePromise: function (coords, tileBounds) {
      var rank = this.options.featureRank;
      var parent = L.point(coords.x, coords.y);
      parent.z = coords.z - 1;
      return L.VectorGrid.Protobuf.prototype._getVectorTilePromise.call(this, parent, tileBounds)
        .then(function (tile) {
          Object.keys(tile.layers || {}).forEach(function (name) {
            var feats = tile.layers[name].features;
            if (feats && rank) { feats.sort(function (a, b) { return rank(a.properties) - rank(b.properties); }); }
          });
          return tile;
        });
    }
  });

  // Leaflet.heat fades intensities by 2^(maxZoom - zoom); the server already
  // sums weights per screen cell, so draw as if at the maximum zoom.  (Its
  // options.maxZoom cannot be used: the layer control reads it as the
  // layer's zoom range.)
  var FlatHeat = L.HeatLayer.extend({
    _redraw: function () {
      if (!this._map) { return; }
      var saved = this.options.maxZoom;
      this.options.maxZoom = this._map.getZoom();
      L.HeatLayer.prototype._redraw.call(this);
      this.options.maxZoom = saved;
    },
    redraw: function () {
      return this._map ? L.HeatLayer.prototype.redraw.call(this) : this;
    },
  });

  // The drawn point features of a vector layer's tile at tile zoom, with their
  // tile-pixel position and radius (VectorGrid keeps them per tile renderer).
  function drawnPoints(layer, coords) {
    var renderer = layer._vectorTiles && layer._vectorTiles[layer._tileCoordsToKey(coords)];
    if (!renderer || !renderer._features) { return []; }
    return Object.keys(renderer._features).map(function (id) {
      var f = renderer._features[id].feature;
      if (!f._point) { return null; }
      var at = f.options && f.options.shape === 'triangle' ? f._point.add(BADGE) : f._point;
      return { feature: f, at: at, radius: f._radius || 5 };
    }).filter(Boolean);
  }

  // The zoom of a grid layer's current tiles (undefined before the first).
  function tileZoom(layer) { return layer._tileZoom; }

  function mapLoaded(map) { return !!map._loaded; }

  // --- rendering of points on canvas tiles ---------------------------------

  function featureRank(spec) {
    var s = spec.style;
    return function (props) {
      var r = 0;
      if (s.color_by && s.colors) { r += Object.keys(s.colors).indexOf(String(props[s.color_by])) < 0 ? 0 : 1; }
      if (s.color_by === 'level' && props.level === 'major') { r += 2; }
      if (s.highlight_by && truthy(props[s.highlight_by])) { r += 4; }
      return r;
    };
  }

  function pointStyle(spec) {
    var s = spec.style;
    var shape = spec.legend.symbol === 'triangle' ? 'triangle' : 'circle';
    return function (props) {
      var count = Number(props.count) || 1;
      var fill = s.color;
      if (s.color_by) { fill = s.colors[props[s.color_by]] || fill || '#777777'; }
      var highlighted = s.highlight_by && truthy(props[s.highlight_by]);
      var radius = count > 1 ? Math.min(26, s.radius + 8 * Math.log10(count)) : s.radius;
      return {
        radius: radius, shape: shape, fill: true, fillColor: fill, fillOpacity: s.fill_opacity,
        stroke: true, color: highlighted ? s.highlight_color : (s.stroke_color || fill),
        weight: highlighted ? 3 : s.weight, opacity: s.opacity,
      };
    };
  }

  function vectorLayer(map, spec) {
    var style = pointStyle(spec);
    // Any MVT layer name inside the tile is drawn with this layer's style.
    var styles = new Proxy({}, { get: function () { return style; } });
    var url = function () { return spec.url + query(layerParams(spec)); };
    var seq = 0;
    var layer = new RankedProtobuf(url(), {
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
    layer.refresh = function () {
      layer.setUrl(url());
      if (gradeExcluded(spec) && map.hasLayer(layer)) { map.removeLayer(layer); }
    };
    return layer;
  }

  // The feature of a vector layer drawn under a container point, or null.
  function hitTest(layer, containerPoint) {
    var map = S.map, tz = tileZoom(layer);
    if (tz === undefined) { return null; }
    var size = layer.getTileSize();
    var pixel = map.project(map.containerPointToLatLng(containerPoint), tz);
    var scale = map.getZoomScale(map.getZoom(), tz);
    var coords = L.point(Math.floor(pixel.x / size.x), Math.floor(pixel.y / size.y));
    coords.z = tz;
    var local = pixel.subtract(coords.scaleBy(size));
    var best = null, bestDistance = Infinity;
    drawnPoints(layer, coords).forEach(function (d) {
      var distance = d.at.distanceTo(local) * scale;  // in screen pixels
      if (distance <= d.radius + 3 && distance < bestDistance) { best = d.feature; bestDistance = distance; }
    });
    return best;
  }

  function featureAt(containerPoint) {
    // Hazards are drawn above enterprises, so they are tried first.
    var names = Object.keys(S.layers).filter(function (n) {
      return S.layers[n].spec.kind === 'vector_tiles' && S.map.hasLayer(S.layers[n]);
    }).sort(function (a, b) {
      return (S.layers[b].spec.source_layer === 'hazards') - (S.layers[a].spec.source_layer === 'hazards');
    });
    for (var i = 0; i < names.length; i++) {
      var hit = hitTest(S.layers[names[i]], containerPoint);
      if (hit) { return { layer: S.layers[names[i]], feature: hit }; }
    }
    return null;
  }



  function onMapClick(e) {
    var hit = featureAt(e.containerPoint);
    if (!hit) { return; }
    var spec = hit.layer.spec, props = hit.feature.properties || {};
    if (Number(props.count) > 1) {
      S.map.setView(e.latlng, Math.min(S.map.getZoom() + 2, S.map.getMaxZoom()));
      return;
    }
    var id = props.enterprise_id;
    if (id === undefined && spec.source_layer === 'enterprises') { id = props[spec.id_field]; }
    if (id !== undefined && id !== null) { showEnterprise(id); }
  }

  // One hover tooltip: over a point the enterprise (or hazard) under it, else
  // the district's figures.
  var hoverTip = null;

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
    var p = hit.feature.properties || {}, n = Number(p.count) || 1;
    var hazard = hit.layer.spec.source_layer === 'hazards';
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
    var g = gradeOf(p.grade);
    return el('div', { className: 'rm-tip-point' }, [
      el('strong', { text: p.name || '' }),
      el('div', {}, [el('span', { className: 'rm-badge', style: 'background:' + (g ? g.color : '#999'),
                                  text: g ? g.colour_name + '·' + g.name : '未定级' })]),
    ]);
  }

  function onMapMove(e) {
    var hit = featureAt(e.containerPoint);
    S.map.getContainer().style.cursor = hit ? 'pointer' : '';
    if (hit) { showTip(e.latlng, pointTip(hit)); }
    else if (S.hoverDistrict) { showTip(e.latlng, S.hoverDistrict); }
    else { hideTip(); }
  }

  // --- GeoJSON layers: choropleth and outlines ------------------------------

  function choroplethLayer(map, spec) {
    var s = spec.style;
    var layer = L.geoJSON(null, {
      style: function (f) {
        return { color: s.stroke_color, weight: s.weight, opacity: s.opacity,
                 fillColor: f.properties.color, fillOpacity: s.fill_opacity };
      },
      onEachFeature: function (f, l) {
        var p = f.properties;
        var metric = S.metric || spec.default_metric;
        // (a field the endpoint computes only for its own metric is absent otherwise)
        var rows = spec.popup_fields.filter(function (pair) {
          return pair[0] !== 'name' && p[pair[0]] !== undefined;
        }).map(function (pair) {
          return el('tr', pair[0] === metric ? { className: 'rm-em' } : {},
                    [el('th', { text: pair[1] }), el('td', { text: fmt(p[pair[0]]) })]);
        });
        var tip = el('div', { className: 'rm-tip-district' },
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
    var seq = 0;
    layer.refresh = function () {
      if (!map.hasLayer(layer)) { return; }
      var mine = ++seq;
      var params = { region: S.filters.region, month: S.filters.month, metric: S.metric || spec.default_metric,
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
    var s = spec.style;
    var group = L.layerGroup();
    var seq = 0;
    group.refresh = function () {
      if (!map.hasLayer(group)) { return; }
      var mine = ++seq;
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
          var p = f.properties;
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

  // --- heat ----------------------------------------------------------------

  function heatLayer(map, spec) {
    var s = spec.style;
    var layer = new FlatHeat([], {
      radius: s.radius, blur: Math.round(s.radius * 0.8), minOpacity: 0.25 * s.opacity,
      gradient: s.gradient, max: 1,
    });
    var seq = 0;
    layer.refresh = function () {
      if (!map.hasLayer(layer)) { return; }
      var b = map.getBounds();
      var west = Math.max(b.getWest(), -180), east = Math.min(b.getEast(), 180);
      var south = Math.max(b.getSouth(), -85), north = Math.min(b.getNorth(), 85);
      if ((east - west) * (north - south) > S.cfg.max_bbox_area) {
        layer.setLatLngs([]);
        status('请放大地图查看风险密度热力图');
        return;
      }
      var mine = ++seq;
      var params = layerParams(spec);
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

  // --- the enterprise panel ------------------------------------------------

  // The filters on hazards themselves: the panel lists the enterprise's hazards by these.
  var HAZARD_FILTERS = ['hazard_level', 'hazard_state', 'overdue', 'month'];

  function showEnterprise(id) {
    var panel = document.getElementById('rm-panel');
    var body = document.getElementById('rm-panel-body');
    panel.hidden = false;
    body.replaceChildren(el('p', { className: 'rm-muted', text: '正在加载企业信息…' }));
    var mine = S.panelSeq = (S.panelSeq || 0) + 1;  // only the last click's answer is shown
    var hq = { enterprise_id: id };
    HAZARD_FILTERS.forEach(function (k) { if (S.filters[k]) { hq[k] = S.filters[k]; } });
    return Promise.all([
      getJSON(S.cfg.urls.enterprise_api + encodeURIComponent(id)),
      getJSON(S.cfg.urls.panel_hazards + query(hq)),
    ]).then(function (both) {
      if (mine !== S.panelSeq) { return null; }
      var e = both[0];
      e.open_hazards = both[1].hazards;
      e.hazards_filtered = HAZARD_FILTERS.some(function (k) { return !!S.filters[k]; });
      body.replaceChildren(enterpriseView(id, e));
      return e;
    }).catch(function (err) {
      body.replaceChildren(el('p', { className: 'rm-error', text: '企业信息加载失败：' + err.message }));
    });
  }

  function enterpriseView(id, e) {
    var g = gradeOf(e.grade);
    var industry = e.industry && typeof e.industry === 'object' ? e.industry.name
      : (e.industry_name || e.industry || e.industry_code || '');
    var dl = el('dl', { className: 'rm-facts' });
    [['统一社会信用代码', e.credit_code], ['行业领域', industry],
     ['地址', e.address], ['法定代表人', e.legal_rep], ['联系电话', e.contact_phone]]
      .forEach(function (row) {
        dl.appendChild(el('dt', { text: row[0] }));
        dl.appendChild(el('dd', { text: row[1] || '—' }));
      });
    var points = (e.risk_points || []).map(function (rp) {
      var rg = gradeOf(rp.grade);
      return el('li', {}, [
        el('span', { className: 'rm-badge', style: 'background:' + (rg ? rg.color : '#999'),
                     text: rg ? rg.colour_name : '—' }),
        ' ' + (rp.name || ''),
        rp.accident_type ? el('span', { className: 'rm-muted', text: '（' + rp.accident_type + '）' }) : null,
      ]);
    });
    var hazards = (e.open_hazards || []).map(function (h) {
      var major = h.level === 'major';
      var overdue = Number(h.overdue_days) > 0;
      return el('li', { className: 'rm-hazard' + (major ? ' rm-major' : '') + (overdue ? ' rm-overdue' : '') }, [
        el('span', { className: 'rm-level', text: h.level_name || S.cfg.hazard_levels[h.level] || h.level }),
        ' ',
        el('a', { className: 'rm-desc', href: S.cfg.urls.hazard_page + encodeURIComponent(h.id),
                  text: h.description || '' }),
        el('div', { className: 'rm-muted' }, [
          '整改期限：' + (h.deadline || '未定') + ' · 状态：' + (h.state_name || S.cfg.hazard_states[h.state] || h.state),
          overdue ? el('strong', { className: 'rm-overdue-days', text: ' · 逾期 ' + h.overdue_days + ' 天' }) : null,
        ]),
      ]);
    });
    return el('div', { className: 'rm-enterprise' }, [
      el('h2', { text: e.name || '' }),
      el('p', {}, [el('span', {
        className: 'rm-badge rm-grade-badge', style: 'background:' + (g ? g.color : '#999'),
        text: g ? g.colour_name + '·' + g.name : '未定级',
      })]),
      dl,
      el('h3', { text: '风险点（' + points.length + '）' }),
      points.length ? el('ul', { className: 'rm-list' }, points) : el('p', { className: 'rm-muted', text: '无' }),
      el('h3', { text: (e.hazards_filtered ? '符合筛选的隐患（' : '未销号隐患（') + hazards.length + '）' }),
      hazards.length ? el('ul', { className: 'rm-list rm-hazards' }, hazards)
        : el('p', { className: 'rm-muted', text: e.hazards_filtered ? '无符合筛选的隐患' : '无未销号隐患' }),
      el('p', {}, [el('a', { href: S.cfg.urls.enterprise_page + encodeURIComponent(id), text: '查看企业详情 →' })]),
    ]);
  }

  // --- legend --------------------------------------------------------------

  var SVG = 'http://www.w3.org/2000/svg';  // the SVG namespace name, never fetched

  function swatch(fill, symbol, stroke, strokeWidth) {
    if (symbol === 'circle' || symbol === 'triangle') {
      var svg = document.createElementNS(SVG, 'svg');
      svg.setAttribute('width', '14');
      svg.setAttribute('height', '14');
      svg.setAttribute('class', 'rm-sym-svg');
      var shape = document.createElementNS(SVG, symbol === 'circle' ? 'circle' : 'polygon');
      if (symbol === 'circle') {
        shape.setAttribute('cx', '7'); shape.setAttribute('cy', '7'); shape.setAttribute('r', '5.5');
      } else {
        shape.setAttribute('points', '7,1.5 13,12.5 1,12.5');
      }
      shape.setAttribute('fill', fill);
      shape.setAttribute('stroke', stroke || '#ffffff');
      shape.setAttribute('stroke-width', String(strokeWidth || 1));
      svg.appendChild(shape);
      return svg;
    }
    return el('span', { className: 'rm-sym rm-sym-' + symbol, style: 'background:' + fill });
  }

  function updateLegend() {
    if (!S.legend) { return; }
    var box = S.legend.getContainer();
    var items = [el('div', { className: 'rm-legend-title', text: '图例' })];
    Object.keys(S.layers).forEach(function (name) {
      var layer = S.layers[name], spec = layer.spec, st = spec.style;
      if (!S.map.hasLayer(layer)) { return; }
      if (spec.kind === 'vector_tiles' && st.color) {
        items.push(el('div', {}, [swatch(st.color, 'circle'), spec.legend.label]));
      } else if (spec.kind === 'vector_tiles') {
        Object.keys(st.colors).forEach(function (k) {
          items.push(el('div', {}, [swatch(st.colors[k], spec.legend.symbol), S.cfg.hazard_levels[k] || k]));
        });
        if (st.highlight_color) {
          items.push(el('div', {}, [swatch('#ffffff', spec.legend.symbol, st.highlight_color, 2.5), '逾期隐患']));
        }
      } else if (spec.kind === 'choropleth' && S.choropleth) {
        var d = S.choropleth;
        items.push(el('div', { className: 'rm-legend-sub', text: spec.title + '：' + d.metric_title }));
        classLabels(d.breaks).forEach(function (text, i) {
          items.push(el('div', {}, [swatch(d.colors[i], 'fill'), text]));
        });
        if (!d.features.length) { items.push(el('div', { className: 'rm-muted', text: '无下级区划边界' })); }
      } else if (spec.kind === 'heat') {
        var stops = Object.keys(st.gradient).sort(function (a, b) { return a - b; });
        var css = 'linear-gradient(to right,' + stops.map(function (k) { return st.gradient[k]; }).join(',') + ')';
        items.push(el('div', {}, [el('span', { className: 'rm-sym rm-sym-gradient', style: 'background:' + css }),
                                  spec.legend.label]));
      } else if (spec.kind === 'outlines') {
        items.push(el('div', {}, [el('span', { className: 'rm-sym rm-sym-line',
                                                style: 'border-color:' + st.stroke_color }), spec.legend.label]));
      }
    });
    box.replaceChildren.apply(box, items);
  }

  // --- export --------------------------------------------------------------

  // "导出图片" downloads the view as a map sheet the server draws with the printed
  // return's cartography (/map/sheet.png: title with the region's name, layers
  // and date, the filters in words, legend, scale bar, north arrow, footer).
  function exportSheet() {
    var b = S.map.getBounds();
    var params = {};
    Object.keys(S.filters).forEach(function (k) { params[k] = S.filters[k]; });
    params.bbox = [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90), Math.min(b.getEast(), 180),
                   Math.min(b.getNorth(), 90)].map(function (v) { return v.toFixed(5); }).join(',');
    params.zoom = S.map.getZoom();
    params.layers = Object.keys(S.layers).filter(function (n) { return S.map.hasLayer(S.layers[n]); }).join(',');
    var url = S.cfg.urls.sheet + query(params);
    status('正在生成地图…');
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          throw new Error(body.message || ('HTTP ' + r.status));
        });
      }
      var m = /filename\*=UTF-8''([^;]+)/.exec(r.headers.get('Content-Disposition') || '');
      var name = m ? decodeURIComponent(m[1]) : 'map.png';
      return r.blob().then(function (blob) {
        var href = URL.createObjectURL(blob);
        var a = el('a', { href: href, download: name });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(href); }, 10000);
        S.lastSheet = { url: url, filename: name };
        status('');
      });
    }).catch(function (err) { status('导出失败：' + (err && err.message ? err.message : err), true); });
  }
  RM.exportSheet = exportSheet;

  // --- the entry points ----------------------------------------------------

  RM.init = function (map, cfg) {
    S.map = map;
    S.cfg = cfg;
    readUrl();
    map.createPane('rm-points').style.zIndex = 450;
    map.createPane('rm-hazards').style.zIndex = 460;
    map.attributionControl.setPrefix('Leaflet');
    L.control.scale({ metric: true, imperial: false }).addTo(map);  // metres only
    map.attributionControl.addAttribution(cfg.attribution);
    // the base map (static/js/basemap.js): remote XYZ or the local file the server serves
    if (cfg.basemap) { S.basemap = window.RiskBasemap.add(map, cfg.basemap); }
    // Fit the selected region at once (no animation: see page.py).
    if (cfg.fit_bounds) { map.fitBounds(cfg.fit_bounds, { animate: false }); }
  };

  RM.layer = function (map, spec) {
    var make = { vector_tiles: vectorLayer, choropleth: choroplethLayer, outlines: outlineLayer, heat: heatLayer };
    var layer = (make[spec.kind] || RM.kinds[spec.kind])(map, spec);
    layer.spec = spec;
    S.layers[spec.name] = layer;
    if (gradeExcluded(spec)) { spec.visible = false; }
    return layer;
  };

  function zoomToRegion(code, animate) {
    var r = S.cfg.regions.filter(function (x) { return x.code === code; })[0];
    if (r && r.bbox) {
      S.map.fitBounds([[r.bbox[1], r.bbox[0]], [r.bbox[3], r.bbox[2]]], { animate: animate !== false });
    }
  }

  function refreshAll() {
    status('');
    Object.keys(S.layers).forEach(function (name) {
      var layer = S.layers[name];
      if (gradeExcluded(layer.spec)) {
        if (S.map.hasLayer(layer)) { S.map.removeLayer(layer); layer._rmFilteredOut = true; }
      } else if (layer._rmFilteredOut || (S.filters.grade && layer.spec.params &&
                                          layer.spec.params.grade !== undefined)) {
        // Back on when the grade filter lets it in again (or names it).
        layer._rmFilteredOut = false;
        if (!S.map.hasLayer(layer)) { S.map.addLayer(layer); }
      }
      layer.refresh();
    });
    updateLegend();
    updateIndicators();
    updateCrumbs();
  }

  // --- indicators, breadcrumb and drill-down --------------------------------

  var indicatorSeq = 0;

  function indicatorItem(label, value, className, swatchColor) {
    return el('li', className ? { className: className } : {}, [
      swatchColor ? el('span', { className: 'rm-swatch', style: 'background:' + swatchColor }) : null,
      label, el('span', { className: 'rm-n', text: value === null || value === undefined ? '—' : String(value) }),
    ]);
  }

  function updateIndicators() {
    var box = document.getElementById('rm-indicators');
    if (!box) { return; }
    var mine = ++indicatorSeq;
    getJSON(S.cfg.urls.indicators + query(S.filters)).then(function (d) {
      if (mine !== indicatorSeq) { return; }
      S.indicators = d;
      var items = [indicatorItem('企业', d.enterprises, 'rm-ind-enterprises')];
      S.cfg.grades.forEach(function (g) {
        items.push(indicatorItem(g.colour_name, d.grades[String(g.value)], 'rm-ind-grade-' + g.value, g.color));
      });
      items.push(indicatorItem('未销号重大隐患', d.open_major, 'rm-ind-open-major' + (d.open_major ? ' rm-alert' : '')));
      items.push(indicatorItem('逾期隐患', d.overdue, 'rm-ind-overdue' + (d.overdue ? ' rm-alert' : '')));
      items.push(indicatorItem(d.year + '年整改率',
                               d.rectification_rate === null ? null : d.rectification_rate + '%', 'rm-ind-rate'));
      if (d.task_completion) {
        var tc = d.task_completion;
        items.push(indicatorItem(Number(tc.month.slice(5)) + '月任务完成率',
                                 tc.rate === null ? null : tc.rate + '%', 'rm-ind-task-rate'));
      }
      box.replaceChildren.apply(box, items);
    }).catch(function (err) { status('指标加载失败：' + err.message, true); });
  }

  function regionByCode(code) {
    return S.cfg.regions.filter(function (r) { return r.code === code; })[0] || null;
  }

  // The chain from the top region the caller may see down to the current one.
  function updateCrumbs() {
    var nav = document.getElementById('rm-crumbs');
    if (!nav) { return; }
    var chain = [], r = regionByCode(S.filters.region);
    while (r) { chain.unshift(r); r = r.parent_code ? regionByCode(r.parent_code) : null; }
    var items = [];
    chain.forEach(function (x, i) {
      if (i) { items.push(el('span', { className: 'rm-sep', text: '›' })); }
      if (i === chain.length - 1) {
        items.push(el('span', { className: 'rm-here', 'aria-current': 'page', text: x.name }));
      } else {
        var b = el('button', { type: 'button', 'data-region': x.code, text: x.name, title: '返回' + x.name });
        b.addEventListener('click', function () { setRegion(x.code); });
        items.push(b);
      }
    });
    nav.replaceChildren.apply(nav, items);
  }

  function setRegion(code) {
    if (!code || code === S.filters.region) { return; }
    S.filters.region = code;
    var select = document.getElementById('rm-region');
    if (select) { select.value = code; }
    zoomToRegion(code, false);
    writeUrl();
    refreshAll();
  }
  RM.setRegion = setRegion;

  // --- find and go ---------------------------------------------------------

  var found = null;  // the marker of the enterprise last located

  function locate(e, zoom) {
    var latlng = L.latLng(e.lat, e.lng);
    S.map.setView(latlng, Math.max(zoom || 16, S.map.getZoom()), { animate: false });
    if (found) { S.map.removeLayer(found); }
    found = L.circleMarker(latlng, { radius: 14, color: '#00B8D4', weight: 3, fill: false, interactive: false,
                                     className: 'rm-found' }).addTo(S.map);
    S.focus = String(e.id);
    writeUrl();
    showEnterprise(e.id);
  }
  RM.locate = locate;

  function searchBox() {
    var input = document.getElementById('rm-search-input');
    var list = document.getElementById('rm-search-list');
    if (!input || !list) { return; }
    L.DomEvent.disableClickPropagation(document.getElementById('rm-search'));
    var results = [], active = -1, seq = 0, timer = null;
    function close() { list.hidden = true; input.setAttribute('aria-expanded', 'false'); active = -1; }
    function choose(i) {
      var r = results[i];
      if (!r) { return; }
      input.value = r.name;
      close();
      locate(r);
    }
    function mark() {
      Array.prototype.forEach.call(list.children, function (li, i) {
        li.setAttribute('aria-selected', String(i === active));
      });
    }
    function render(data) {
      results = data.results || [];
      list.replaceChildren();
      results.forEach(function (r, i) {
        var li = el('li', { role: 'option', id: 'rm-search-' + i, 'aria-selected': 'false' }, [
          el('span', { className: 'rm-swatch', style: 'background:' + (r.color || '#999') }),
          el('span', { className: 'rm-search-name', text: r.name }),
          el('span', { className: 'rm-muted', text: r.credit_code }),
        ]);
        li.addEventListener('mousedown', function (ev) { ev.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      if (!results.length) {
        list.appendChild(el('li', { className: 'rm-muted', text: '管辖范围内没有匹配的企业' }));
      }
      list.hidden = false;
      input.setAttribute('aria-expanded', 'true');
      active = -1;
    }
    input.addEventListener('input', function () {
      clearTimeout(timer);
      var term = input.value.trim();
      if (term.length < 2) { close(); return; }
      timer = setTimeout(function () {
        var mine = ++seq;
        getJSON(S.cfg.urls.search + query({ q: term })).then(function (data) {
          if (mine === seq) { render(data); }
        }).catch(function (err) { status('搜索失败：' + err.message, true); });
      }, 200);
    });
    input.addEventListener('keydown', function (ev) {
      if (list.hidden) { return; }
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        ev.preventDefault();
        var n = results.length;
        if (!n) { return; }
        active = ev.key === 'ArrowDown' ? (active + 1) % n : (active - 1 + n) % n;
        mark();
      } else if (ev.key === 'Enter') {
        ev.preventDefault();
        choose(active < 0 ? 0 : active);
      } else if (ev.key === 'Escape') {
        close();
      }
    });
    input.addEventListener('blur', function () { setTimeout(close, 150); });
  }

  // A link with ?focus=<enterprise id> ("在地图上定位") opens on that enterprise.
  function focusFromUrl() {
    if (!S.focus) { return; }
    if (S.hasView) { showEnterprise(S.focus); return; }
    getJSON(S.cfg.urls.enterprise_api + encodeURIComponent(S.focus)).then(function (e) {
      locate({ id: S.focus, lng: e.lng, lat: e.lat });
    }).catch(function (err) { status('企业定位失败：' + err.message, true); });
  }

  // Narrow screens: the filters and the legend are drawers opened from the toolbar.
  function drawers() {
    var page = document.getElementById('rm-page');
    var filters = document.getElementById('rm-filters');
    var openFilters = document.getElementById('rm-open-filters');
    var openLegend = document.getElementById('rm-open-legend');
    if (!page || !filters || !openFilters || !openLegend) { return; }
    function setFilters(open) {
      filters.classList.toggle('rm-open', open);
      openFilters.setAttribute('aria-expanded', String(open));
    }
    openFilters.addEventListener('click', function () { setFilters(!filters.classList.contains('rm-open')); });
    document.getElementById('rm-filters-close').addEventListener('click', function () { setFilters(false); });
    openLegend.addEventListener('click', function () {
      var open = !page.classList.contains('rm-legend-open');
      page.classList.toggle('rm-legend-open', open);
      openLegend.setAttribute('aria-expanded', String(open));
    });
  }

  // A layer greyed out in the layer control says from which zoom it shows.
  function zoomNotes() {
    var zoom = S.map.getZoom();
    Array.prototype.forEach.call(document.querySelectorAll('.leaflet-control-layers-overlays label'), function (label) {
      var title = label.querySelector('span > span') || label.querySelector('span');
      if (!title) { return; }
      var name = (title.getAttribute('data-title') || title.textContent).trim();
      title.setAttribute('data-title', name);
      var spec = Object.keys(S.layers).map(function (n) { return S.layers[n].spec; })
        .filter(function (sp) { return sp.title === name; })[0];
      var note = label.querySelector('.rm-zoom-note');
      var hidden = spec && zoom < spec.min_zoom;
      if (hidden && !note) {
        note = el('span', { className: 'rm-zoom-note', text: '（放大到第 ' + spec.min_zoom + ' 级显示）' });
        label.appendChild(note);
      } else if (!hidden && note) {
        note.remove();
      }
    });
  }

  // A region with no districts below it (a county) has nothing for the district
  // layer to colour: the risk density heat is its default instead.
  function leafDefaults(map) {
    var region = S.filters.region;
    var hasChildren = S.cfg.regions.some(function (r) { return r.parent_code === region; });
    if (hasChildren || new URLSearchParams(window.location.search).has('layers')) { return; }
    Object.keys(S.layers).forEach(function (name) {
      var layer = S.layers[name];
      if (layer.spec.kind === 'choropleth' && map.hasLayer(layer)) { map.removeLayer(layer); }
      if (layer.spec.kind === 'heat' && !map.hasLayer(layer)) { map.addLayer(layer); }
    });
  }

  RM.ready = function (map, control) {
    S.control = control;
    leafDefaults(map);
    // Remove grade layers the URL's grade filter excludes.
    Object.keys(S.layers).forEach(function (name) {
      var layer = S.layers[name];
      if (gradeExcluded(layer.spec) && map.hasLayer(layer)) { map.removeLayer(layer); layer._rmFilteredOut = true; }
    });

    S.legend = L.control({ position: 'bottomright' });
    S.legend.onAdd = function () {
      var div = L.DomUtil.create('div', 'rm-legend leaflet-bar');
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    S.legend.addTo(map);
    map.on('overlayadd overlayremove', updateLegend);
    map.on('click', onMapClick);
    map.on('mousemove', L.Util.throttle(onMapMove, 60));
    map.on('mouseout', function () { S.hoverDistrict = null; hideTip(); });
    map.on('zoomend', function () {
      Object.keys(S.layers).forEach(function (name) {
        var kind = S.layers[name].spec.kind;
        if (kind === 'choropleth' || kind === 'outlines') { S.layers[name].refresh(); }
      });
    });

    var form = document.getElementById('rm-filter-form');
    var metricSelect = document.getElementById('rm-metric');
    var district = Object.keys(S.layers).map(function (n) { return S.layers[n]; })
      .filter(function (l) { return l.spec.kind === 'choropleth'; })[0];
    if (district && metricSelect) {
      district.spec.metrics.forEach(function (pair) {
        metricSelect.appendChild(el('option', { value: pair[0], text: pair[1] }));
      });
      metricSelect.value = S.metric || district.spec.default_metric;
      metricSelect.addEventListener('change', function () {
        S.metric = metricSelect.value;
        writeUrl();
        district.refresh();
      });
    }
    if (form) {
      filtersToForm(form);
      form.addEventListener('change', function (ev) {
        if (ev.target === metricSelect) { return; }
        var before = S.filters.region;
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
        if (found) { S.map.removeLayer(found); found = null; }
        document.getElementById('rm-panel').hidden = true;
        filtersToForm(form);
        if (metricSelect && district) { metricSelect.value = district.spec.default_metric; }
        writeUrl();
        zoomToRegion(S.filters.region);
        refreshAll();
      });
      document.getElementById('rm-export').addEventListener('click', exportSheet);
    }
    document.getElementById('rm-panel-close').addEventListener('click', function () {
      document.getElementById('rm-panel').hidden = true;
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
  };

  RM.state = S;
  RM.showEnterprise = showEnterprise;
})();

/* The private members of Leaflet and its plugins: in this one module only.
 *
 * Read from Leaflet 1.9.4, Leaflet.VectorGrid 1.3.0 and Leaflet.heat 0.2.0,
 * the versions pinned in package.json and vendored in static/vendor (each
 * folder's VERSION file).
 * Everything here that starts with "_" belongs to them: re-check each use
 * when upgrading one of them.  The other modules of the map use only the
 * libraries' public API and the names exported here.
 */

const L = window.L;

// A hazard triangle sits up and to the right of its point, like a badge, so
// that the enterprise circle under it stays visible.
const BADGE = L.point(7, -7);

// Whether a feature's style hides it (see hiddenStyle): it is kept, undrawn,
// so that showing it again needs no new request.
function isHidden(options) { return !!(options && options.hidden); }

// The style of a feature kept but not drawn (a grade switched off in the legend).
export function hiddenStyle(radius) {
  return { hidden: true, radius: radius, fill: false, stroke: false };
}

// Canvas tiles that write the count in an aggregated cell's circle and draw
// triangles for hazards.  (L.Canvas.Tile is VectorGrid's; _updateCircle,
// _drawing, _ctx, _fillStroke are L.Canvas's; _point, _radius, _empty the
// circle marker's.)
const PointTile = L.Canvas.Tile.extend({
  _updateCircle: function (layer) {
    if (!this._drawing || layer._empty() || isHidden(layer.options)) { return; }
    const ctx = this._ctx, r = Math.max(Math.round(layer._radius), 1);
    let p = layer._point;
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
    const label = layer.options.label;
    if (label) {
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
  },
});

// The renderer factory of point tiles (VectorGrid's rendererFactory option).
export function pointTile(coords, size, options) { return new PointTile(coords, size, options); }

// Protobuf tiles shown 512 px wide (one z-1 tile of the 256-px pyramid each:
// a quarter of the requests) whose features are drawn in rank order (the
// most urgent last, on top).  (_getVectorTilePromise is the method a
// VectorGrid subclass must define.)
const RankedProtobuf = L.VectorGrid.Protobuf.extend({
  _getVectorTilePromise: function (coords, tileBounds) {
    const rank = this.options.featureRank;
    const parent = L.point(coords.x, coords.y);
    parent.z = coords.z - 1;
    return L.VectorGrid.Protobuf.prototype._getVectorTilePromise.call(this, parent, tileBounds)
      .then(function (tile) {
        Object.keys(tile.layers || {}).forEach(function (name) {
          const feats = tile.layers[name].features;
          if (feats && rank) { feats.sort(function (a, b) { return rank(a.properties) - rank(b.properties); }); }
        });
        return tile;
      });
  },
});

export function rankedProtobuf(url, options) { return new RankedProtobuf(url, options); }

// Leaflet.heat fades intensities by 2^(maxZoom - zoom); the server already
// sums weights per screen cell, so draw as if at the maximum zoom.  (Its
// options.maxZoom cannot be used: the layer control reads it as the layer's
// zoom range.)  (_redraw and _map are Leaflet.heat's and L.Layer's.)
const FlatHeat = L.HeatLayer.extend({
  _redraw: function () {
    if (!this._map) { return; }
    const saved = this.options.maxZoom;
    this.options.maxZoom = this._map.getZoom();
    L.HeatLayer.prototype._redraw.call(this);
    this.options.maxZoom = saved;
  },
  redraw: function () {
    return this._map ? L.HeatLayer.prototype.redraw.call(this) : this;
  },
});

export function flatHeat(latlngs, options) { return new FlatHeat(latlngs, options); }

// The points a heat layer holds (Leaflet.heat keeps them in _latlngs).
export function heatPoints(layer) { return layer._latlngs || []; }

// The tile renderers a VectorGrid keeps (with getFeatureId set): key -> renderer.
function renderers(layer) { return layer._vectorTiles || {}; }

// The features a tile renderer holds: [{feature, layerName}].
function tileFeatures(renderer) {
  const features = renderer._features || {};
  return Object.keys(features).map(function (id) { return features[id]; });
}

// The drawn point features of a vector layer's tile at tile zoom, with their
// tile-pixel position and radius (VectorGrid keeps them per tile renderer).
export function drawnPoints(layer, coords) {
  const renderer = renderers(layer)[layer._tileCoordsToKey(coords)];
  if (!renderer) { return []; }
  return tileFeatures(renderer).map(function (data) {
    const f = data.feature;
    if (!f._point || isHidden(f.options)) { return null; }
    const at = f.options && f.options.shape === 'triangle' ? f._point.add(BADGE) : f._point;
    return { feature: f, at: at, radius: f._radius || 5 };
  }).filter(Boolean);
}

// Every feature a vector layer has drawn in its current tiles: [{feature, options}]
// (for the legend's counts and the browser tests' checks of the colours drawn).
export function loadedFeatures(layer) {
  const out = [];
  Object.keys(renderers(layer)).forEach(function (key) {
    tileFeatures(renderers(layer)[key]).forEach(function (data) {
      out.push({ properties: data.feature.properties, options: data.feature.options });
    });
  });
  return out;
}

// Apply a vector layer's style function again to the features already loaded
// and redraw each tile whole, without requesting the tiles again.  (Like
// VectorGrid's setFeatureStyle, which sets a symbolizer's options, but for
// every feature; a whole-tile redraw (L.Canvas's _redraw with no
// _redrawBounds) also clears a circle that shrank or was hidden.)
export function restyle(layer, style) {
  const all = renderers(layer);
  Object.keys(all).forEach(function (key) {
    const renderer = all[key], z = renderer.getCoord().z;
    tileFeatures(renderer).forEach(function (data) {
      const f = data.feature;
      f.options = L.extend({}, L.Path.prototype.options, style(f.properties, z));
      f._radius = f.options.radius || f._radius;
      f._updateBounds();
    });
    if (renderer._map) {
      if (renderer._redrawRequest) { L.Util.cancelAnimFrame(renderer._redrawRequest); }
      renderer._redrawBounds = null;
      renderer._redraw();
    }
  });
}

// The zoom of a grid layer's current tiles (undefined before the first).
export function tileZoom(layer) { return layer._tileZoom; }

// Whether the map has its view set (centre and zoom), so getCenter() may be called.
export function mapLoaded(map) { return !!map._loaded; }

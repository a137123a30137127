/* The legend of what is drawn, and the notes in the layer control on layers
 * that show only from a zoom on. */

import { classLabels, shownClasses } from '../map-core.js';
import { S, el, layerList } from './state.js';
import { showClasses } from './filters.js';

const L = window.L;
const SVG = 'http://www.w3.org/2000/svg';  // the SVG namespace name, never fetched

export function swatch(fill, symbol, stroke, strokeWidth) {
  if (symbol === 'circle' || symbol === 'triangle') {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('width', '14');
    svg.setAttribute('height', '14');
    svg.setAttribute('class', 'rm-sym-svg');
    const shape = document.createElementNS(SVG, symbol === 'circle' ? 'circle' : 'polygon');
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

// The legend control (bottom right), redrawn by updateLegend.
export function addLegend(map) {
  S.legend = L.control({ position: 'bottomright' });
  S.legend.onAdd = function () {
    const div = L.DomUtil.create('div', 'rm-legend leaflet-bar');
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  S.legend.addTo(map);
  map.on('overlayadd overlayremove', updateLegend);
}

export function updateLegend() {
  if (!S.legend) { return; }
  const box = S.legend.getContainer();
  const items = [el('div', { className: 'rm-legend-title', text: '图例' })];
  layerList().forEach(function (layer) {
    const spec = layer.spec, st = spec.style;
    if (!S.map.hasLayer(layer)) { return; }
    if (spec.kind === 'vector_tiles' && spec.legend.labels.length) {
      items.push(el('div', { className: 'rm-legend-sub', text: spec.legend.label }));
      classToggles(spec).forEach(function (b) { items.push(b); });
    } else if (spec.kind === 'vector_tiles' && st.color) {
      items.push(el('div', {}, [swatch(st.color, 'circle'), spec.legend.label]));
    } else if (spec.kind === 'vector_tiles') {
      Object.keys(st.colors).forEach(function (k) {
        items.push(el('div', {}, [swatch(st.colors[k], spec.legend.symbol), S.cfg.hazard_levels[k] || k]));
      });
      if (st.highlight_color) {
        items.push(el('div', {}, [swatch('#ffffff', spec.legend.symbol, st.highlight_color, 2.5), '逾期隐患']));
      }
    } else if (spec.kind === 'choropleth' && S.choropleth) {
      const d = S.choropleth;
      items.push(el('div', { className: 'rm-legend-sub', text: spec.title + '：' + d.metric_title }));
      classLabels(d.breaks).forEach(function (text, i) {
        items.push(el('div', {}, [swatch(d.colors[i], 'fill'), text]));
      });
      if (!d.features.length) { items.push(el('div', { className: 'rm-muted', text: '无下级区划边界' })); }
    } else if (spec.kind === 'heat') {
      const stops = Object.keys(st.gradient).sort(function (a, b) { return a - b; });
      const css = 'linear-gradient(to right,' + stops.map(function (k) { return st.gradient[k]; }).join(',') + ')';
      items.push(el('div', {}, [el('span', { className: 'rm-sym rm-sym-gradient', style: 'background:' + css }),
                                spec.legend.label]));
    } else if (spec.kind === 'outlines') {
      items.push(el('div', {}, [el('span', { className: 'rm-sym rm-sym-line',
                                              style: 'border-color:' + st.stroke_color }), spec.legend.label]));
    }
  });
  box.replaceChildren.apply(box, items);
}

// A coloured layer's legend entries (the enterprises' grades) are toggles: a
// click hides or shows that class on the map without a new request (it is
// the grade filter, so the form, the URL and the other layers follow).  The
// last class shown cannot be switched off.
function classToggles(spec) {
  const shown = shownClasses(spec, S.filters);
  return spec.legend.labels.map(function (pair) {
    const value = pair[0], on = shown.indexOf(value) >= 0;
    const button = el('button', {
      type: 'button', className: 'rm-legend-toggle' + (on ? '' : ' rm-legend-off'),
      'aria-pressed': String(on), 'data-value': value, title: (on ? '隐藏' : '显示') + pair[1],
    }, [swatch(spec.style.colors[value], spec.legend.symbol), pair[1]]);
    button.addEventListener('click', function () {
      const next = on ? shown.filter(function (c) { return c !== value; }) : shown.concat([value]);
      if (next.length) { showClasses(spec, next); }
    });
    return button;
  });
}

// A layer greyed out in the layer control says from which zoom it shows.
export function zoomNotes() {
  const zoom = S.map.getZoom();
  Array.prototype.forEach.call(document.querySelectorAll('.leaflet-control-layers-overlays label'), function (label) {
    const title = label.querySelector('span > span') || label.querySelector('span');
    if (!title) { return; }
    const name = (title.getAttribute('data-title') || title.textContent).trim();
    title.setAttribute('data-title', name);
    const spec = layerList().map(function (l) { return l.spec; })
      .filter(function (sp) { return sp.title === name; })[0];
    let note = label.querySelector('.rm-zoom-note');
    const hidden = spec && zoom < spec.min_zoom;
    if (hidden && !note) {
      note = el('span', { className: 'rm-zoom-note', text: '（放大到第 ' + spec.min_zoom + ' 级显示）' });
      label.appendChild(note);
    } else if (!hidden && note) {
      note.remove();
    }
  });
}

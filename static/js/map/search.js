/* Find and go: the search box (an enterprise's name or credit code, within
 * the caller's jurisdiction), locating an enterprise on the map, and a link's
 * ?focus=<enterprise id> ("在地图上定位"). */

import { query } from '../map-core.js';
import { S, el, getJSON, status } from './state.js';
import { writeUrl } from './filters.js';
import { showEnterprise } from './panel.js';

const L = window.L;

let found = null;  // the marker of the enterprise last located

export function clearFound() {
  if (found) { S.map.removeLayer(found); found = null; }
}

// Centre the map on an enterprise ({id, lng, lat}), mark it and open its panel.
export function locate(e, zoom) {
  const latlng = L.latLng(e.lat, e.lng);
  S.map.setView(latlng, Math.max(zoom || 16, S.map.getZoom()), { animate: false });
  clearFound();
  found = L.circleMarker(latlng, { radius: 14, color: '#00B8D4', weight: 3, fill: false, interactive: false,
                                   className: 'rm-found' }).addTo(S.map);
  S.focus = String(e.id);
  writeUrl();
  showEnterprise(e.id);
}

export function searchBox() {
  const input = document.getElementById('rm-search-input');
  const list = document.getElementById('rm-search-list');
  if (!input || !list) { return; }
  L.DomEvent.disableClickPropagation(document.getElementById('rm-search'));
  let results = [], active = -1, seq = 0, timer = null;
  function close() { list.hidden = true; input.setAttribute('aria-expanded', 'false'); active = -1; }
  function choose(i) {
    const r = results[i];
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
      const li = el('li', { role: 'option', id: 'rm-search-' + i, 'aria-selected': 'false' }, [
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
    const term = input.value.trim();
    if (term.length < 2) { close(); return; }
    timer = setTimeout(function () {
      const mine = ++seq;
      getJSON(S.cfg.urls.search + query({ q: term })).then(function (data) {
        if (mine === seq) { render(data); }
      }).catch(function (err) { status('搜索失败：' + err.message, true); });
    }, 200);
  });
  input.addEventListener('keydown', function (ev) {
    if (list.hidden) { return; }
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      const n = results.length;
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
export function focusFromUrl() {
  if (!S.focus) { return; }
  if (S.hasView) { showEnterprise(S.focus); return; }
  getJSON(S.cfg.urls.enterprise_api + encodeURIComponent(S.focus)).then(function (e) {
    locate({ id: S.focus, lng: e.lng, lat: e.lat });
  }).catch(function (err) { status('企业定位失败：' + err.message, true); });
}

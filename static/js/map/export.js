/* "导出图片": the current view as a map sheet the server draws.  exportSheet()
 * is the one entry point (the 导出图片 button calls it). */

import { query } from '../map-core.js';
import { S, el, layerList, status } from './state.js';

// "导出图片" downloads the view as a map sheet the server draws with the printed
// return's cartography (/map/sheet.png: title with the region's name, layers
// and date, the filters in words, legend, scale bar, north arrow, footer).
// The filters include the grade classes the legend switched off (the grade
// filter), so the sheet shows what the map shows.
export function exportSheet() {
  const b = S.map.getBounds();
  const params = {};
  Object.keys(S.filters).forEach(function (k) { params[k] = S.filters[k]; });
  params.bbox = [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90), Math.min(b.getEast(), 180),
                 Math.min(b.getNorth(), 90)].map(function (v) { return v.toFixed(5); }).join(',');
  params.zoom = S.map.getZoom();
  params.layers = layerList().filter(function (l) { return S.map.hasLayer(l); })
    .map(function (l) { return l.spec.name; }).join(',');
  const url = S.cfg.urls.sheet + query(params);
  status('正在生成地图…');
  fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(function (r) {
    if (!r.ok) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        throw new Error(body.message || ('HTTP ' + r.status));
      });
    }
    const m = /filename\*=UTF-8''([^;]+)/.exec(r.headers.get('Content-Disposition') || '');
    const name = m ? decodeURIComponent(m[1]) : 'map.png';
    return r.blob().then(function (blob) {
      const href = URL.createObjectURL(blob);
      const a = el('a', { href: href, download: name });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(href); }, 10000);
      S.lastSheet = { url: url, filename: name };
      status('');
    });
  }).catch(function (err) { status('导出失败：' + (err && err.message ? err.message : err), true); });
}

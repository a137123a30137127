/* "导出图片": the current view as a map sheet.  exportSheet() is the one entry
 * point (the 导出图片 button calls it). */

import { filtersInWords, niceScale } from '../map-core.js';
import { S, el, layerList, regionByCode, status } from './state.js';

// "导出图片" makes a map sheet, not a screenshot: a title (region name, layers,
// date), the filters in words, the map, its legend, a scale bar, a north
// arrow and the footer line, drawn on one canvas.
function loadImage(src) {
  return new Promise(function (resolve, reject) {
    const img = new Image();
    img.onload = function () { resolve(img); };
    img.onerror = function () { reject(new Error('图片生成失败')); };
    img.src = src;
  });
}

function sheetTexts() {
  const region = regionByCode(S.filters.region);
  const layers = layerList()
    .filter(function (l) { return S.map.hasLayer(l); })
    .sort(function (x, y) { return x.spec.order - y.spec.order; })
    .map(function (l) { return l.spec.title; });
  const grades = {};
  S.cfg.grades.forEach(function (g) { grades[g.value] = g.colour_name; });
  const date = new Date();
  const stamp = date.getFullYear() + '-' + String(date.getMonth() + 1).padStart(2, '0') + '-' +
    String(date.getDate()).padStart(2, '0');
  const name = region ? region.name : '全部区域';
  return {
    region: name,
    title: name + '安全风险分布图',
    subtitle: '图层：' + layers.join('、') + '　　制图日期：' + stamp,
    filters: '筛选：' + filtersInWords(S.filters, { industries: S.cfg.industries, grades: grades,
                                                        hazard_levels: S.cfg.hazard_levels,
                                                        hazard_states: S.cfg.hazard_states }),
    footer: S.cfg.footer || '',
    filename: '风险地图-' + name + '-' + stamp + '.png',
  };
}

function drawNorthArrow(ctx, x, y) {
  ctx.save();
  ctx.fillStyle = '#1f2d3d';
  ctx.strokeStyle = '#1f2d3d';
  ctx.lineWidth = 1.5;
  ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 11, y + 34); ctx.lineTo(x, y + 26); ctx.closePath(); ctx.fill();
  ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x - 11, y + 34); ctx.lineTo(x, y + 26); ctx.closePath(); ctx.stroke();
  ctx.font = 'bold 14px sans-serif';
  ctx.textAlign = 'center';
  ctx.fillText('北', x, y + 52);
  ctx.restore();
}

function drawScaleBar(ctx, x, y) {
  const size = S.map.getSize(), mid = size.y / 2;
  const metresPerPixel = S.map.distance(S.map.containerPointToLatLng([0, mid]),
                                      S.map.containerPointToLatLng([100, mid])) / 100;
  const scale = niceScale(metresPerPixel, 140);
  ctx.save();
  ctx.fillStyle = '#1f2d3d';
  ctx.fillRect(x, y, scale.px / 2, 5);
  ctx.strokeStyle = '#1f2d3d';
  ctx.strokeRect(x, y, scale.px, 5);
  ctx.font = '12px sans-serif';
  ctx.textAlign = 'left';
  ctx.fillText('0', x - 3, y + 20);
  ctx.textAlign = 'center';
  ctx.fillText(scale.label, x + scale.px, y + 20);
  ctx.restore();
  return scale;
}

export function exportSheet() {
  const node = S.map.getContainer();
  const legend = S.legend && S.legend.getContainer();
  status('正在生成图片…');
  const texts = sheetTexts();
  const skip = ['leaflet-control-zoom', 'leaflet-control-layers', 'rm-legend', 'leaflet-control-scale',
              'leaflet-control-attribution'];
  const mapImage = window.htmlToImage.toPng(node, {
    backgroundColor: '#eef1f4',
    filter: function (n) { return !(n.classList && skip.some(function (c) { return n.classList.contains(c); })); },
  });
  // The sheet's legend shows what is drawn: not the classes switched off.
  const legendImage = legend ? window.htmlToImage.toPng(legend, {
    backgroundColor: '#ffffff',
    filter: function (n) { return !(n.classList && n.classList.contains('rm-legend-off')); },
  }) : Promise.resolve(null);
  Promise.all([mapImage, legendImage]).then(function (urls) {
    return Promise.all([loadImage(urls[0]), urls[1] ? loadImage(urls[1]) : null]);
  }).then(function (imgs) {
    const map = imgs[0], leg = imgs[1];
    const margin = 24, head = 92, foot = 40;
    const canvas = document.createElement('canvas');
    canvas.width = map.width + 2 * margin;
    canvas.height = head + map.height + foot;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = '#1f2d3d';
    ctx.textAlign = 'center';
    ctx.font = 'bold 24px sans-serif';
    ctx.fillText(texts.title, canvas.width / 2, 34);
    ctx.font = '13px sans-serif';
    ctx.fillText(texts.subtitle, canvas.width / 2, 58);
    ctx.fillText(texts.filters, canvas.width / 2, 78);
    ctx.drawImage(map, margin, head);
    ctx.strokeStyle = '#34495e';
    ctx.lineWidth = 1;
    ctx.strokeRect(margin + 0.5, head + 0.5, map.width - 1, map.height - 1);
    let legendBox = null;
    if (leg) {
      legendBox = [margin + map.width - leg.width - 10, head + map.height - leg.height - 10, leg.width, leg.height];
      ctx.drawImage(leg, legendBox[0], legendBox[1]);
      ctx.strokeRect(legendBox[0] + 0.5, legendBox[1] + 0.5, leg.width - 1, leg.height - 1);
    }
    drawNorthArrow(ctx, margin + 34, head + 16);
    const scale = drawScaleBar(ctx, margin + 16, head + map.height - 34);
    ctx.fillStyle = '#555';
    ctx.font = '12px sans-serif';
    ctx.textAlign = 'left';
    ctx.fillText(texts.footer, margin, head + map.height + 26);
    ctx.textAlign = 'right';
    ctx.fillText('风险一张图', canvas.width - margin, head + map.height + 26);
    S.lastSheet = { texts: texts, mapOffset: [margin, head], mapSize: [map.width, map.height],
                    legendBox: legendBox, scale: scale, size: [canvas.width, canvas.height] };
    const a = el('a', { href: canvas.toDataURL('image/png'), download: texts.filename });
    document.body.appendChild(a);
    a.click();
    a.remove();
    status('');
  }).catch(function (err) { status('导出失败：' + (err && err.message ? err.message : err), true); });
}

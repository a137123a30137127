/* The strip above the map: the indicators of the current region and filters,
 * and the breadcrumb of regions that leads back up after a drill-down. */

import { query } from '../map-core.js';
import { S, el, getJSON, regionByCode, status } from './state.js';
import { setRegion } from './filters.js';

let indicatorSeq = 0;

function indicatorItem(label, value, className, swatchColor) {
  return el('li', className ? { className: className } : {}, [
    swatchColor ? el('span', { className: 'rm-swatch', style: 'background:' + swatchColor }) : null,
    label, el('span', { className: 'rm-n', text: value === null || value === undefined ? '—' : String(value) }),
  ]);
}

export function updateIndicators() {
  const box = document.getElementById('rm-indicators');
  if (!box) { return; }
  const mine = ++indicatorSeq;
  getJSON(S.cfg.urls.indicators + query(S.filters)).then(function (d) {
    if (mine !== indicatorSeq) { return; }
    S.indicators = d;
    const items = [indicatorItem('企业', d.enterprises, 'rm-ind-enterprises')];
    S.cfg.grades.forEach(function (g) {
      items.push(indicatorItem(g.colour_name, d.grades[String(g.value)], 'rm-ind-grade-' + g.value, g.color));
    });
    items.push(indicatorItem('未销号重大隐患', d.open_major, 'rm-ind-open-major' + (d.open_major ? ' rm-alert' : '')));
    items.push(indicatorItem('逾期隐患', d.overdue, 'rm-ind-overdue' + (d.overdue ? ' rm-alert' : '')));
    items.push(indicatorItem(d.year + '年整改率',
                             d.rectification_rate === null ? null : d.rectification_rate + '%', 'rm-ind-rate'));
    if (d.task_completion) {
      const tc = d.task_completion;
      items.push(indicatorItem(Number(tc.month.slice(5)) + '月任务完成率',
                               tc.rate === null ? null : tc.rate + '%', 'rm-ind-task-rate'));
    }
    box.replaceChildren.apply(box, items);
  }).catch(function (err) { status('指标加载失败：' + err.message, true); });
}

// The chain from the top region the caller may see down to the current one.
export function updateCrumbs() {
  const nav = document.getElementById('rm-crumbs');
  if (!nav) { return; }
  const chain = [];
  let r = regionByCode(S.filters.region);
  while (r) { chain.unshift(r); r = r.parent_code ? regionByCode(r.parent_code) : null; }
  const items = [];
  chain.forEach(function (x, i) {
    if (i) { items.push(el('span', { className: 'rm-sep', text: '›' })); }
    if (i === chain.length - 1) {
      items.push(el('span', { className: 'rm-here', 'aria-current': 'page', text: x.name }));
    } else {
      const b = el('button', { type: 'button', 'data-region': x.code, text: x.name, title: '返回' + x.name });
      b.addEventListener('click', function () { setRegion(x.code); });
      items.push(b);
    }
  });
  nav.replaceChildren.apply(nav, items);
}

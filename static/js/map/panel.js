/* The side panel: an enterprise's facts, risk points and the hazards that
 * match the filters, each linking to its page. */

import { query } from '../map-core.js';
import { S, el, getJSON, gradeOf } from './state.js';

// The filters on hazards themselves: the panel lists the enterprise's hazards by these.
const HAZARD_FILTERS = ['hazard_level', 'hazard_state', 'overdue', 'month'];

let panelSeq = 0;  // only the last click's answer is shown

// Open the panel on enterprise ``id``; resolves to its data (null when a later call won).
export function showEnterprise(id) {
  const panel = document.getElementById('rm-panel');
  const body = document.getElementById('rm-panel-body');
  panel.hidden = false;
  body.replaceChildren(el('p', { className: 'rm-muted', text: '正在加载企业信息…' }));
  const mine = ++panelSeq;
  const hq = { enterprise_id: id };
  HAZARD_FILTERS.forEach(function (k) { if (S.filters[k]) { hq[k] = S.filters[k]; } });
  return Promise.all([
    getJSON(S.cfg.urls.enterprise_api + encodeURIComponent(id)),
    getJSON(S.cfg.urls.panel_hazards + query(hq)),
  ]).then(function (both) {
    if (mine !== panelSeq) { return null; }
    const e = both[0];
    e.open_hazards = both[1].hazards;
    e.hazards_filtered = HAZARD_FILTERS.some(function (k) { return !!S.filters[k]; });
    body.replaceChildren(enterpriseView(id, e));
    return e;
  }).catch(function (err) {
    body.replaceChildren(el('p', { className: 'rm-error', text: '企业信息加载失败：' + err.message }));
  });
}

export function hidePanel() {
  document.getElementById('rm-panel').hidden = true;
}

function enterpriseView(id, e) {
  const g = gradeOf(e.grade);
  const industry = e.industry && typeof e.industry === 'object' ? e.industry.name
    : (e.industry_name || e.industry || e.industry_code || '');
  const dl = el('dl', { className: 'rm-facts' });
  [['统一社会信用代码', e.credit_code], ['行业领域', industry],
   ['地址', e.address], ['法定代表人', e.legal_rep], ['联系电话', e.contact_phone]]
    .forEach(function (row) {
      dl.appendChild(el('dt', { text: row[0] }));
      dl.appendChild(el('dd', { text: row[1] || '—' }));
    });
  const points = (e.risk_points || []).map(function (rp) {
    const rg = gradeOf(rp.grade);
    return el('li', {}, [
      el('span', { className: 'rm-badge', style: 'background:' + (rg ? rg.color : '#999'),
                   text: rg ? rg.colour_name : '—' }),
      ' ' + (rp.name || ''),
      rp.accident_type ? el('span', { className: 'rm-muted', text: '（' + rp.accident_type + '）' }) : null,
    ]);
  });
  const hazards = (e.open_hazards || []).map(function (h) {
    const major = h.level === 'major';
    const overdue = Number(h.overdue_days) > 0;
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

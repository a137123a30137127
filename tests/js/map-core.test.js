// Unit tests of the map's pure functions (static/js/map-core.js), run by
// Node's built-in test runner: `node --test tests/js/` (part of `make test`).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as core from '../../static/js/map-core.js';

const FILTERS = ['region', 'industry', 'grade', 'hazard_level', 'hazard_state', 'overdue', 'month'];

test('integer class breaks never share a value', () => {
  assert.deepEqual(core.classLabels([5, 8, 12]), ['≤ 5', '6 – 8', '9 – 12']);
  assert.deepEqual(core.classLabels([0, 1, 4]), ['≤ 0', '1', '2 – 4']);
  assert.deepEqual(core.classLabels([1200, 35000]), ['≤ 1,200', '1,201 – 35,000']);
});

test('fractional class breaks are open below', () => {
  assert.deepEqual(core.classLabels([2.5, 7.25]), ['≤ 2.5', '> 2.5 – 7.3']);
});

test('the URL state: filters, metric, focus and view', () => {
  const st = core.readState('?region=532502&grade=1&grade=2&metric=overdue_hazards&focus=7&center=103.4,23.6&zoom=12&x=1',
                            FILTERS, '532500');
  assert.deepEqual(st.filters, { region: '532502', grade: '1,2' });
  assert.equal(st.metric, 'overdue_hazards');
  assert.equal(st.focus, '7');
  assert.equal(st.hasView, true);
  const bare = core.readState('', FILTERS, '532500');
  assert.deepEqual(bare, { filters: { region: '532500' }, metric: null, focus: null, hasView: false });
  assert.equal(core.readState('?center=103,23', FILTERS, null).hasView, false);  // a centre without a zoom
});

test('the URL state round-trips through the query string', () => {
  const filters = { region: '532500', industry: 'hazchem', overdue: 'true' };
  const q = core.stateQuery(filters, 'weighted_risk', { lng: 103.123456, lat: 23.654321, zoom: 11 }, null);
  assert.equal(q, '?region=532500&industry=hazchem&overdue=true&metric=weighted_risk&center=103.12346%2C23.65432&zoom=11');
  const back = core.readState(q, FILTERS, null);
  assert.deepEqual(back.filters, filters);
  assert.equal(back.hasView, true);
  assert.equal(core.stateQuery({}, null, null, null), '');
});

const ENTERPRISES = {
  kind: 'vector_tiles',
  params: {},
  style: { color_by: 'grade', colors: { 1: '#e60012', 2: '#ff8c00', 3: '#ffd700', 4: '#1e6fd9' } },
  legend: { labels: [['1', '重大风险（红）'], ['2', '较大风险（橙）'], ['3', '一般风险（黄）'], ['4', '低风险（蓝）']] },
};

test('a layer\'s parameters: the filters win, except the field the layer colours by', () => {
  const hazards = { kind: 'vector_tiles', params: { hazard_state: 'registered,rectifying,rectified' },
                    style: { color_by: 'level' } };
  assert.deepEqual(core.layerParams(hazards, { hazard_level: 'major', grade: '1' }),
                   { hazard_state: 'registered,rectifying,rectified', hazard_level: 'major', grade: '1' });
  assert.deepEqual(core.layerParams(hazards, { hazard_state: 'closed' }), { hazard_state: 'closed' });
  // The enterprises' tiles are the same whatever grades are shown: one URL, no new request.
  assert.deepEqual(core.layerParams(ENTERPRISES, { region: '532500', grade: '1,3', as_of: '2026-01' }),
                   { region: '532500', as_of: '2026-01' });
  assert.equal(core.query(core.layerParams(ENTERPRISES, { region: '532500', industry: '', grade: '2' })),
               '?region=532500');
  // Another kind of layer coloured by grade (the risk zones) keeps the filter: it is the enterprises' grade.
  assert.deepEqual(core.layerParams({ kind: 'zones', style: { color_by: 'grade' } }, { grade: '1' }), { grade: '1' });
});

test('the grade filter chooses the classes shown, in the legend\'s order', () => {
  assert.deepEqual(core.classOrder(ENTERPRISES), ['1', '2', '3', '4']);
  assert.deepEqual(core.shownClasses(ENTERPRISES, {}), ['1', '2', '3', '4']);
  assert.deepEqual(core.shownClasses(ENTERPRISES, { grade: '3,1' }), ['1', '3']);
  assert.equal(core.classFilter(ENTERPRISES, ['3', '1']), '1,3');
  assert.equal(core.classFilter(ENTERPRISES, ['4', '3', '2', '1']), null);
  // without legend entries, the colours' order
  assert.deepEqual(core.classOrder({ style: { colors: { major: '#7b1fa2', general: '#00897b' } } }), ['major', 'general']);
});

test('a point or a cell shows what the shown classes leave of it', () => {
  const all = ['1', '2', '3', '4'];
  // one enterprise: its grade, or nothing when its grade is off
  assert.deepEqual(core.visibleClass({ grade: 2, count: 1 }, ENTERPRISES, all), { value: '2', count: 1 });
  assert.equal(core.visibleClass({ grade: 2, count: 1 }, ENTERPRISES, ['1', '3']), null);
  // a cell of 7 (1 红, 0 橙, 2 黄, 3 蓝 and 1 unrated): coloured by its first shown grade, counted by the shown
  const cell = { grade: 1, count: 7, count_1: 1, count_2: 0, count_3: 2, count_4: 3 };
  assert.deepEqual(core.visibleClass(cell, ENTERPRISES, all), { value: '1', count: 6 });
  assert.deepEqual(core.visibleClass(cell, ENTERPRISES, ['2', '4']), { value: '4', count: 3 });
  assert.equal(core.visibleClass(cell, ENTERPRISES, ['2']), null);
  // an unrated enterprise is not drawn
  assert.equal(core.visibleClass({ grade: undefined, count: 1 }, ENTERPRISES, all), null);
});

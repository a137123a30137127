// Unit tests of the map's pure functions (static/js/map-core.js), run by
// Node's built-in test runner: `node --test tests/js/` (part of `make test`).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const core = require('../../static/js/map-core.js');

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

test('filter to layer query: the user wins, a per-grade layer keeps its grade', () => {
  const red = { params: { grade: 1 } };
  const hazards = { params: { hazard_state: 'registered,rectifying,rectified' } };
  assert.deepEqual(core.layerParams(red, { region: '532500', grade: '1,3' }), { grade: 1, region: '532500' });
  assert.deepEqual(core.layerParams(hazards, { hazard_level: 'major' }),
                   { hazard_state: 'registered,rectifying,rectified', hazard_level: 'major' });
  assert.deepEqual(core.layerParams(hazards, { hazard_state: 'closed' }), { hazard_state: 'closed' });
  assert.equal(core.query(core.layerParams(red, { region: '532500', industry: '' })), '?grade=1&region=532500');
});

test('the grade filter leaves other grades\' layers out', () => {
  const red = { params: { grade: 1 } }, blue = { params: { grade: 4 } }, heat = { params: {} };
  assert.equal(core.gradeExcluded(red, { grade: '1,2' }), false);
  assert.equal(core.gradeExcluded(blue, { grade: '1,2' }), true);
  assert.equal(core.gradeExcluded(blue, {}), false);
  assert.equal(core.gradeExcluded(heat, { grade: '1' }), false);
});

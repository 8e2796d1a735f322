import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderPartitions } from './lab-faults.js';

test('partition script: both directions between each cut port and the control plane, nothing else; heal empties it', () => {
  const s = renderPartitions('sw-etcd', ['sw-node-2']);
  const rules = s.split('\n').filter((l) => l.includes(' drop '));
  assert.deepEqual(
    rules.map((r) => r.trim().split(' comment')[0]),
    ['iifname "sw-node-2" oifname "sw-etcd" drop', 'iifname "sw-etcd" oifname "sw-node-2" drop'],
  );
  assert.match(s, /^table bridge podnet_lab_faults \{\}\nflush table bridge podnet_lab_faults\n/);
  assert.equal(renderPartitions('sw-etcd', []).includes(' drop '), false);
});

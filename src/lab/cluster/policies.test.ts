import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNetworkPolicy } from '../../model/policy/parse.js';
import { SCENARIOS } from '../../plan/policy/scenarios.js';
import { policyManifest } from './policies.js';

test('policyManifest: every scenario policy, written out and parsed again, is the same policy', () => {
  let n = 0;
  for (const s of SCENARIOS)
    for (const doc of s.policies) {
      const p = parseNetworkPolicy(doc, '', [])!;
      const issues: never[] = [];
      const again = parseNetworkPolicy(policyManifest(p), '', issues);
      assert.deepEqual(issues, [], s.name);
      assert.deepEqual(JSON.parse(JSON.stringify(again)), JSON.parse(JSON.stringify(p)), s.name);
      n++;
    }
  assert.ok(n > 20);
});

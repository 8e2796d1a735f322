import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommandError } from '../errors.js';
import { BatchSession } from './batch-session.js';

// Read-only lines only (this runs in the test's own namespace): `link show`, of lo and of a missing device.
for (const tool of ['ip', 'bridge'] as const) {
  test(`${tool} batch session: requests in order, failures numbered as a one-shot -batch numbers them`, async () => {
    const s = new BatchSession(tool);
    try {
      const show = tool === 'ip' ? 'link show dev lo' : 'fdb show dev lo';
      const missing = tool === 'ip' ? 'link show dev pn-none-0' : 'fdb show dev pn-none-0';
      assert.equal((await s.run(`${show}\n`)).exitCode, 0);
      const bad = s.run(`${show}\n${show}\n${missing}\n${show}\n`);
      const after = s.run(`${show}\n`);
      const e = await bad.then(
        () => assert.fail('a missing device must fail'),
        (x: unknown) => x,
      );
      assert.ok(e instanceof CommandError);
      assert.match(e.stderr, /Command failed -:3\n/);
      assert.doesNotMatch(e.stderr, /podnet-end-of-request/);
      assert.equal((await after).exitCode, 0, 'the session goes on after a failed request');
      assert.ok(s.alive);
    } finally {
      s.close();
    }
  });
}

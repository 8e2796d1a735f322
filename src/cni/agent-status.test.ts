import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cmdStatus } from './check-gc.js';
import { parseConfig } from './config.js';
import { CNI_ERR, CniError } from './errors.js';
import type { PluginDeps } from './plugin.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-status-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('STATUS under the node agent: not ready (50) until the agent holds a lease, ready while it does', async () => {
  const leaseFile = join(dir, 'lease.json');
  const conf = parseConfig({
    cniVersion: '1.1.0',
    name: 'podnet',
    type: 'podnet',
    subnet: '10.200.1.0/24',
    agentLeaseFile: leaseFile,
  });
  const deps = { store: () => ({ ensureDir() {}, usedIps: () => new Set() }) } as unknown as PluginDeps;
  const code = async () => {
    try {
      await cmdStatus(conf, deps);
      return 0;
    } catch (e) {
      assert.ok(e instanceof CniError);
      return e.cniCode;
    }
  };
  assert.equal(await code(), CNI_ERR.NOT_AVAILABLE);
  writeFileSync(leaseFile, JSON.stringify({ subnet: '10.200.1.0/24', expiresAt: Date.now() - 1000 }));
  assert.equal(await code(), CNI_ERR.NOT_AVAILABLE);
  writeFileSync(leaseFile, JSON.stringify({ subnet: '10.200.1.0/24', expiresAt: Date.now() + 60_000 }));
  assert.equal(await code(), 0);
});

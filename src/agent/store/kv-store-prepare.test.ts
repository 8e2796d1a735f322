import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryStore } from './memory.js';
import { MemoryKv } from './memory-kv.js';
import { SUITE_CONFIG } from './store-suite.js';

// prepareLease: the grant a joining agent starts alongside its list, taken by its acquireSubnet.
const attrs = {
  node: 'node-0',
  publicIP: '192.168.64.4',
  backendType: 'vxlan' as const,
  backendData: { vtepMAC: '02:00:00:00:00:01' },
};

/** A memory Kv that records its grant, revoke and range calls in the order they are made, and granted ids. */
function recording() {
  const kv = new MemoryKv();
  const calls: string[] = [];
  const granted: string[] = [];
  const grant = kv.grant.bind(kv);
  const revoke = kv.revoke.bind(kv);
  const range = kv.range.bind(kv);
  kv.grant = async (ttl) => {
    calls.push('grant');
    const g = await grant(ttl);
    granted.push(g.id);
    return g;
  };
  kv.revoke = async (id) => {
    calls.push(`revoke ${id}`);
    return revoke(id);
  };
  kv.range = async (...a) => {
    calls.push('range');
    return range(...a);
  };
  return { kv, calls, granted, store: memoryStore({ kv }).store };
}

test('a prepared grant is started before the list and is the lease the subnet is held with (no second grant)', async () => {
  const { kv, calls, granted, store } = recording();
  await store.putNetworkConfig(SUITE_CONFIG);
  calls.length = 0;
  store.prepareLease(30);
  const known = await store.list();
  const held = await store.acquireSubnet({ attrs, ttlSeconds: 30, known });
  assert.deepEqual(granted, [held.leaseId]);
  assert.deepEqual(calls.slice(0, 2), ['grant', 'range']);
  assert.equal(held.ttlSeconds, 30);
  // The next acquire (a lease lost later) grants anew: the prepared grant is used once.
  const again = await store.acquireSubnet({ attrs, ttlSeconds: 30 });
  assert.notEqual(again.leaseId, held.leaseId);
  assert.equal(again.subnet, held.subnet);
  await kv.close();
});

test('a prepared grant of another TTL is revoked and a grant of the asked TTL taken', async () => {
  const { kv, calls, granted: grants, store } = recording();
  await store.putNetworkConfig(SUITE_CONFIG);
  store.prepareLease(30);
  const held = await store.acquireSubnet({ attrs, ttlSeconds: 60 });
  assert.equal(grants.length, 2);
  assert.equal(held.leaseId, grants[1]);
  assert.equal(held.ttlSeconds, 60);
  for (let i = 0; i < 20 && !calls.includes(`revoke ${grants[0]}`); i++)
    await new Promise((r) => setImmediate(r));
  assert.ok(calls.includes(`revoke ${grants[0]}`), calls.join(', '));
  await kv.close();
});

test('a prepared grant that failed (store down then) does not fail the acquire once the store is back', async () => {
  const { kv, store } = recording();
  await store.putNetworkConfig(SUITE_CONFIG);
  kv.down = true;
  store.prepareLease(30);
  await new Promise((r) => setImmediate(r));
  kv.down = false;
  const held = await store.acquireSubnet({ attrs, ttlSeconds: 30 });
  assert.equal(held.subnet, '10.200.0.0/24');
  await kv.close();
});

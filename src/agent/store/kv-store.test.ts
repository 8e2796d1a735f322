import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { memoryStore } from './memory.js';
import { MemoryKv } from './memory-kv.js';
import { type LeaseAttrs, type NetworkConfig, StoreError, type WatchEvent } from './store.js';

// Two /24 subnets in a /23: small enough to run out.
const CONFIG: NetworkConfig = {
  network: '10.200.0.0/23',
  subnetLen: 24,
  serviceNetwork: '10.96.0.0/12',
  backend: { type: 'vxlan', vni: 1 },
};
const attrs = (node: string, publicIP: string): LeaseAttrs => ({
  node,
  publicIP,
  backendType: 'vxlan',
  backendData: { vtepMAC: '02:00:00:00:00:01' },
});

let kvs: MemoryKv[] = [];
afterEach(async () => {
  for (const kv of kvs) await kv.close();
  kvs = [];
});

function fresh(now: () => number = Date.now) {
  const kv = new MemoryKv(now);
  kvs.push(kv);
  return memoryStore({ kv }).store;
}

test('two agents racing for the last free subnet: exactly one gets it, the other is told none is free', async () => {
  const store = fresh();
  await store.putNetworkConfig(CONFIG);
  const first = await store.acquireSubnet({ attrs: attrs('node-0', '192.168.64.4') });
  const results = await Promise.allSettled([
    store.acquireSubnet({ attrs: attrs('node-1', '192.168.64.5') }),
    store.acquireSubnet({ attrs: attrs('node-2', '192.168.64.6') }),
  ]);
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r) => r.status === 'rejected');
  assert.equal(won.length, 1);
  assert.equal(lost.length, 1);
  const err = (lost[0] as PromiseRejectedResult).reason;
  assert.ok(err instanceof StoreError);
  assert.equal(err.reason, 'no-free-subnet');
  assert.match(err.message, /no free \/24 left in 10\.200\.0\.0\/23/);
  assert.notEqual((won[0] as PromiseFulfilledResult<{ subnet: string }>).value.subnet, first.subnet);
  const { subnets } = await store.list();
  assert.deepEqual(
    subnets.map((s) => s.subnet),
    ['10.200.0.0/24', '10.200.1.0/24'],
  );
});

test('an agent that restarts gets the same subnet back', async () => {
  const store = fresh();
  await store.putNetworkConfig(CONFIG);
  const a = await store.acquireSubnet({ attrs: attrs('node-1', '192.168.64.5') });
  await store.acquireSubnet({ attrs: attrs('node-0', '192.168.64.4') });
  const again = await store.acquireSubnet({ attrs: attrs('node-1', '192.168.64.5') });
  assert.equal(again.subnet, a.subnet);
  assert.equal((await store.list()).subnets.length, 2);
});

test('a lease not renewed within its TTL expires: renew says lease-lost and the subnet is free again', async () => {
  let t = 1_000_000;
  const store = fresh(() => t);
  await store.putNetworkConfig(CONFIG);
  const held = await store.acquireSubnet({ attrs: attrs('node-0', '192.168.64.4'), ttlSeconds: 10 });
  t += 5_000;
  await store.renewSubnet(held); // within the TTL: extended to t + 10 s
  t += 9_000;
  assert.equal((await store.list()).subnets.length, 1);
  t += 2_000;
  await assert.rejects(
    store.renewSubnet(held),
    (e: unknown) => e instanceof StoreError && e.reason === 'lease-lost',
  );
  assert.equal((await store.list()).subnets.length, 0);
});

test('watch from the list revision delivers every later change; after compaction it asks for a re-list', async () => {
  const store = fresh();
  await store.putNetworkConfig(CONFIG);
  const snap = await store.list();
  const events: WatchEvent[] = [];
  const w = store.watch(snap.revision, {
    onEvents: (evs) => events.push(...evs),
    onRelist: () => assert.fail('no re-list expected'),
    onError: (e) => assert.fail(e),
  });
  const held = await store.acquireSubnet({ attrs: attrs('node-0', '192.168.64.4') });
  await store.revokeSubnet(held);
  await new Promise((r) => setTimeout(r, 20));
  w.stop();
  assert.deepEqual(
    events.map((e) => (e.type === 'put' ? `put ${e.object.kind}` : `delete ${e.ref.kind} ${e.ref.id}`)),
    ['put subnet', `delete subnet ${held.subnet}`],
  );

  const kv = kvs[0]!;
  kv.compact();
  const relist = await new Promise<string>((resolve) => {
    store.watch(snap.revision, {
      onEvents: () => {},
      onRelist: resolve,
      onError: (e) => assert.fail(e),
    });
  });
  assert.match(relist, /compacted/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type LeaseAttrs, type NetworkConfig, type Store, StoreError, type WatchEvent } from './store.js';

/**
 * The Store contract as tests, run against every implementation: the in-memory Kv (kv-store.test.ts) and a
 * real etcd (etcd-kv.test.ts). A harness gives a fresh, empty store, moves time on (a fake clock, or real
 * waiting) and compacts the history.
 */
export interface StoreHarness {
  /** A store over an empty key space. */
  fresh(): Promise<Store>;
  /** Lets `ms` pass for leases (memory: the fake clock; etcd: real time). */
  advance(ms: number): Promise<void>;
  /** Compacts the key space's history up to now. */
  compact(): Promise<void>;
  /** The smallest TTL the store honours exactly (etcd raises tiny TTLs). */
  readonly ttlSeconds: number;
}

// Two /24 subnets in a /23: small enough to run out.
export const SUITE_CONFIG: NetworkConfig = {
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

/** Polls `f` until it returns true or `ms` pass (etcd expires leases on its own schedule). */
async function eventually(f: () => Promise<boolean>, ms: number, h: StoreHarness): Promise<boolean> {
  for (let waited = 0; waited <= ms; waited += 100) {
    if (await f()) return true;
    await h.advance(100);
  }
  return false;
}

export function storeSuite(name: string, h: StoreHarness): void {
  test(`${name}: two agents racing for the last free subnet: exactly one gets it, the other is told none is free`, async () => {
    const store = await h.fresh();
    await store.putNetworkConfig(SUITE_CONFIG);
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
    assert.ok(err instanceof StoreError, String(err));
    assert.equal(err.reason, 'no-free-subnet');
    assert.match(err.message, /no free \/24 left in 10\.200\.0\.0\/23/);
    assert.notEqual((won[0] as PromiseFulfilledResult<{ subnet: string }>).value.subnet, first.subnet);
    const { subnets } = await store.list();
    assert.deepEqual(
      subnets.map((s) => s.subnet),
      ['10.200.0.0/24', '10.200.1.0/24'],
    );
  });

  test(`${name}: an agent that restarts gets the same subnet back, and its old lease is gone`, async () => {
    const store = await h.fresh();
    await store.putNetworkConfig(SUITE_CONFIG);
    const a = await store.acquireSubnet({ attrs: attrs('node-1', '192.168.64.5') });
    await store.acquireSubnet({ attrs: attrs('node-0', '192.168.64.4') });
    const again = await store.acquireSubnet({ attrs: attrs('node-1', '192.168.64.5') });
    assert.equal(again.subnet, a.subnet);
    assert.notEqual(again.leaseId, a.leaseId);
    assert.equal((await store.list()).subnets.length, 2);
    await assert.rejects(
      store.renewSubnet(a),
      (e: unknown) => e instanceof StoreError && e.reason === 'lease-lost',
    );
    await store.renewSubnet(again);
  });

  test(`${name}: a previous subnet (persisted by the agent) is preferred when free`, async () => {
    const store = await h.fresh();
    await store.putNetworkConfig(SUITE_CONFIG);
    const a = await store.acquireSubnet({
      attrs: attrs('node-1', '192.168.64.5'),
      previous: '10.200.1.0/24',
    });
    assert.equal(a.subnet, '10.200.1.0/24');
  });

  test(`${name}: a lease not renewed within its TTL expires: renew says lease-lost and the subnet is free again`, async () => {
    const store = await h.fresh();
    await store.putNetworkConfig(SUITE_CONFIG);
    const ttl = h.ttlSeconds;
    const held = await store.acquireSubnet({ attrs: attrs('node-0', '192.168.64.4'), ttlSeconds: ttl });
    assert.equal(held.ttlSeconds, ttl);
    await h.advance(ttl * 500);
    await store.renewSubnet(held); // within the TTL: extended by a whole TTL from now
    await h.advance(ttl * 700); // past the first TTL, within the renewed one
    assert.equal((await store.list()).subnets.length, 1);
    const gone = await eventually(
      async () => (await store.list()).subnets.length === 0,
      ttl * 1000 + 3000,
      h,
    );
    assert.ok(gone, 'the lease expired and took its key along');
    await assert.rejects(
      store.renewSubnet(held),
      (e: unknown) => e instanceof StoreError && e.reason === 'lease-lost',
    );
  });

  test(`${name}: a revoked lease frees its subnet at once`, async () => {
    const store = await h.fresh();
    await store.putNetworkConfig(SUITE_CONFIG);
    const held = await store.acquireSubnet({ attrs: attrs('node-0', '192.168.64.4') });
    await store.revokeSubnet(held);
    await store.revokeSubnet(held); // already gone: not an error
    assert.equal((await store.list()).subnets.length, 0);
  });

  test(`${name}: watch from the list revision delivers every later change; after compaction it asks for a re-list`, async () => {
    const store = await h.fresh();
    await store.putNetworkConfig(SUITE_CONFIG);
    const snap = await store.list();
    assert.equal(snap.config?.network, SUITE_CONFIG.network);
    const events: WatchEvent[] = [];
    const w = store.watch(snap.revision, {
      onEvents: (evs) => events.push(...evs),
      onRelist: () => assert.fail('no re-list expected'),
      onError: (e) => assert.fail(e),
    });
    // Written before the watch is necessarily established: still delivered (watch starts at the revision).
    const held = await store.acquireSubnet({ attrs: attrs('node-0', '192.168.64.4') });
    await store.putService({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
    });
    await store.revokeSubnet(held);
    const seen = () =>
      events.map((e) => (e.type === 'put' ? `put ${e.object.kind}` : `delete ${e.ref.kind} ${e.ref.id}`));
    const all = ['put subnet', 'put service', `delete subnet ${held.subnet}`];
    for (let i = 0; i < 50 && seen().length < all.length; i++) await new Promise((r) => setTimeout(r, 20));
    w.stop();
    assert.deepEqual(seen(), all);

    await h.compact();
    const relist = await new Promise<string>((resolve) => {
      const w2 = store.watch(snap.revision, {
        onEvents: () => {},
        onRelist: (why) => {
          w2.stop();
          resolve(why);
        },
        onError: (e) => assert.fail(e),
      });
    });
    assert.match(relist, /compacted/);
  });
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Rng, rng } from '../../test/helpers/rng.js';
import { named } from '../plan/ops.js';
import { derivedIds } from '../plan/services/derived.js';
import type { ProxyModel, ProxyServicePort } from '../plan/services/model.js';
import { planProxyChange } from '../plan/services/plan.js';
import { StoreCache } from './cache.js';
import { clusterOfSnapshot, proxyOfStore, type SelfView } from './desired.js';
import { ProxyBuilder } from './proxy-builder.js';
import type { EndpointSliceObject, NetworkConfig, ServiceObject, WatchEvent } from './store/store.js';

/**
 * The agent's change-by-change proxy model against its definition (proxyOfStore over the whole store), on
 * random watch events; and what makes planning O(changed): every port that did not change is the very object
 * the previous model held.
 */

const CONFIG: NetworkConfig = {
  network: '10.200.0.0/16',
  subnetLen: 24,
  serviceNetwork: '10.96.0.0/12',
  backend: { type: 'host-gw' },
};
const SELF: SelfView = {
  node: 'n1',
  subnet: '10.200.1.0/24',
  publicIP: '192.168.64.4',
  underlay: '192.168.64.0/24',
  iface: 'eth0',
  underlayMtu: 1500,
  proxy: 'nftables',
  bridge: 'podnet0',
};
const cluster = clusterOfSnapshot(CONFIG, [], SELF);
const copy = (m: ProxyModel): ProxyModel => ({ ...m, services: m.services.map((p) => structuredClone(p)) });

const NAMES = Array.from({ length: 24 }, (_, i) => `s${String(i).padStart(2, '0')}`);

function service(r: Rng, name: string): ServiceObject {
  const ports = [{ name: 'a', port: 80, targetPort: 8080 }];
  if (r(3) === 0) ports.push({ name: 'b', port: 81, targetPort: 8081 });
  const nodePort = r(4) === 0;
  return {
    namespace: 'default',
    name,
    manifest: {
      metadata: { name, namespace: 'default' },
      spec: {
        // one in ten has no ClusterIP (skipped); ClusterIPs move now and then
        ...(r(10) ? { clusterIP: `10.96.0.${NAMES.indexOf(name) + 10 + 100 * r(2)}` } : {}),
        ...(nodePort ? { type: 'NodePort', externalTrafficPolicy: r(2) ? 'Local' : 'Cluster' } : {}),
        ...(r(4) === 0 ? { internalTrafficPolicy: 'Local' } : {}),
        ports: ports.map((p, i) => (nodePort ? { ...p, nodePort: 30000 + NAMES.indexOf(name) * 2 + i } : p)),
      },
    },
  } as ServiceObject;
}

function slice(r: Rng, service: string, k: number): EndpointSliceObject {
  const name = `${service}-${k}`;
  const endpoints = Array.from({ length: r(5) }, () => {
    const p = r(30);
    return {
      addresses: [`10.200.${1 + (p % 2)}.${p + 2}`] as [string],
      conditions: { ready: r(4) !== 0, serving: true, terminating: r(3) === 0 },
      nodeName: p % 2 ? 'n2' : 'n1',
      targetRef: { kind: 'Pod', name: `p${p}` },
    };
  });
  return {
    namespace: 'default',
    name,
    slice: {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
      addressType: 'IPv4',
      ports: [
        { name: 'a', protocol: 'TCP', port: 8080 + r(2) },
        { name: 'b', protocol: 'TCP', port: 9090 },
      ],
      endpoints,
    },
  } as EndpointSliceObject;
}

function events(r: Rng, n: number): WatchEvent[] {
  return Array.from({ length: n }, (): WatchEvent => {
    const name = NAMES[r(NAMES.length)]!;
    const k = r(2);
    switch (r(5)) {
      case 0:
        return { type: 'put', revision: '1', object: { kind: 'service', service: service(r, name) } };
      case 1:
        return { type: 'delete', revision: '1', ref: { kind: 'service', id: `default/${name}` } };
      case 2:
        return { type: 'delete', revision: '1', ref: { kind: 'endpointslice', id: `default/${name}-${k}` } };
      default:
        return { type: 'put', revision: '1', object: { kind: 'endpointslice', slice: slice(r, name, k) } };
    }
  });
}

test('built change by change, the proxy model is the one built whole, and unchanged ports stay the same objects', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const r = rng(seed);
    const cache = new StoreCache();
    cache.reset({
      revision: '1',
      config: CONFIG,
      subnets: [],
      services: NAMES.slice(0, 16).map((n) => service(r, n)),
      endpointSlices: NAMES.slice(0, 16).map((n) => slice(r, n, 0)),
    });
    const builder = new ProxyBuilder();
    let prev: readonly ProxyServicePort[] = [];
    let last: ProxyModel | undefined;
    let shared = 0;
    let hinted = 0;
    for (let step = 0; step < 40; step++) {
      if (step === 20)
        cache.reset(cache.snapshot()); // a relist: everything may have changed
      else cache.apply(events(r, 1 + r(3)), String(step));
      const got = builder.build(cache, cluster, 'n1', 'nftables');
      const want = proxyOfStore(cache.snapshot(), cluster, 'n1', 'nftables');
      assert.deepEqual(got, want, `seed ${seed} step ${step}`);
      // Planned from the builder's note of what it touched, or by walking copies of both lists: the same.
      if (last) {
        const walked = planProxyChange(named('n'), copy(last), copy(got.proxy));
        assert.deepEqual(
          planProxyChange(named('n'), last, got.proxy),
          walked,
          `seed ${seed} step ${step}: plan`,
        );
        hinted += derivedIds(last.services, got.proxy.services) ? 1 : 0;
      }
      last = got.proxy;
      const before = new Map(prev.map((p) => [p.id, p]));
      for (const p of got.proxy.services) {
        const old = before.get(p.id);
        if (old && JSON.stringify(old) === JSON.stringify(p)) {
          assert.equal(p, old, `seed ${seed} step ${step}: unchanged port ${p.id} is a new object`);
          shared++;
        }
      }
      prev = got.proxy.services;
    }
    assert.ok(shared > 0, 'some ports were unchanged');
    assert.ok(hinted > 10, 'most changes were planned from the builder note');
  }
});

test('an event that changes nothing the proxy uses leaves the same model object', () => {
  const r = rng(99);
  const cache = new StoreCache();
  const svc = service(r, 's00');
  cache.reset({ revision: '1', config: CONFIG, subnets: [], services: [svc], endpointSlices: [] });
  const builder = new ProxyBuilder();
  const first = builder.build(cache, cluster, 'n1', 'nftables').proxy;
  cache.apply([{ type: 'put', revision: '2', object: { kind: 'service', service: { ...svc } } }], '2');
  assert.equal(builder.build(cache, cluster, 'n1', 'nftables').proxy, first);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreCache } from './cache.js';
import { desiredModel, type SelfView } from './desired.js';
import type { NetworkConfig, Snapshot, SubnetLease } from './store/store.js';

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
const lease = (node: string, subnet: string, ip: string): SubnetLease => ({
  subnet,
  revision: '1',
  attrs: { node, publicIP: ip, backendType: 'host-gw', backendData: {} },
});

function snapshot(extra: Partial<Snapshot> = {}): Snapshot {
  return {
    revision: '7',
    config: CONFIG,
    subnets: [lease('n1', '10.200.1.0/24', '192.168.64.4'), lease('n2', '10.200.2.0/24', '192.168.64.5')],
    services: [],
    endpointSlices: [],
    ...extra,
  };
}

test('desired model: a route per live lease via its public IP; a vanished lease takes its route along', () => {
  const { model } = desiredModel(snapshot(), CONFIG, SELF);
  const peers = model.routes.filter((r) => r.peer);
  assert.deepEqual(
    peers.map((r) => `${r.dst} via ${r.via} dev ${r.dev}`),
    ['10.200.2.0/24 via 192.168.64.5 dev eth0'],
  );
  assert.equal(model.bridge?.address, '10.200.1.1/24');
  const alone = desiredModel(
    snapshot({ subnets: [lease('n1', '10.200.1.0/24', '192.168.64.4')] }),
    CONFIG,
    SELF,
  );
  assert.deepEqual(
    alone.model.routes.filter((r) => r.peer),
    [],
  );
});

test('desired model: a lease claiming our public IP or overlapping our subnet is not a peer', () => {
  const snap = snapshot({
    subnets: [lease('ghost', '10.200.9.0/24', '192.168.64.4'), lease('dup', '10.200.1.0/24', '192.168.64.9')],
  });
  assert.deepEqual(
    desiredModel(snap, CONFIG, SELF).model.routes.filter((r) => r.peer),
    [],
  );
});

test('desired model: the proxy comes from stored Services and EndpointSlices, ready endpoints only', () => {
  const snap = snapshot({
    services: [
      {
        namespace: 'default',
        name: 'web',
        manifest: {
          metadata: { name: 'web', namespace: 'default' },
          spec: {
            clusterIP: '10.96.0.10',
            selector: { app: 'web' },
            ports: [{ name: 'http', port: 80, targetPort: 8080 }],
          },
        },
      },
      {
        namespace: 'default',
        name: 'noip',
        manifest: { metadata: { name: 'noip' }, spec: { ports: [{ port: 1 }] } },
      },
    ],
    endpointSlices: [
      {
        namespace: 'default',
        name: 'web-abc',
        slice: {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {
            name: 'web-abc',
            namespace: 'default',
            labels: { 'kubernetes.io/service-name': 'web' },
          },
          addressType: 'IPv4',
          ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
          endpoints: [
            {
              addresses: ['10.200.2.5'],
              conditions: { ready: true },
              nodeName: 'n2',
              targetRef: { kind: 'Pod', name: 'b' },
            },
            {
              addresses: ['10.200.1.5'],
              conditions: { ready: true },
              nodeName: 'n1',
              targetRef: { kind: 'Pod', name: 'a' },
            },
            {
              addresses: ['10.200.1.6'],
              conditions: { ready: false },
              nodeName: 'n1',
              targetRef: { kind: 'Pod', name: 'c' },
            },
          ],
        },
      },
    ],
  });
  const { model, skipped } = desiredModel(snap, CONFIG, SELF);
  assert.deepEqual(
    skipped.map((s) => s.key),
    ['default/noip'],
  );
  const svc = model.proxy?.services;
  assert.equal(svc?.length, 1);
  assert.equal(svc?.[0]?.clusterIP, '10.96.0.10');
  assert.deepEqual(
    svc?.[0]?.endpoints.map((e) => `${e.pod} ${e.ip}:${e.port} ${e.local ? 'local' : 'remote'}`),
    ['a 10.200.1.5:8080 local', 'b 10.200.2.5:8080 remote'],
  );
  assert.equal(desiredModel(snap, CONFIG, { ...SELF, proxy: 'none' }).model.proxy, undefined);
});

test('store cache: a list then watch events give the snapshot a fresh list would', () => {
  const cache = new StoreCache();
  cache.reset(snapshot());
  cache.apply(
    [
      {
        type: 'put',
        revision: '8',
        object: { kind: 'subnet', lease: lease('n3', '10.200.3.0/24', '192.168.64.6') },
      },
      { type: 'delete', revision: '9', ref: { kind: 'subnet', id: '10.200.2.0/24' } },
    ],
    '9',
  );
  const s = cache.snapshot();
  assert.equal(s.revision, '9');
  assert.deepEqual(
    s.subnets.map((l) => `${l.attrs.node} ${l.subnet}`),
    ['n1 10.200.1.0/24', 'n3 10.200.3.0/24'],
  );
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredModel, type SelfView } from './desired.js';
import { usableEndpoints } from './endpoints.js';
import { sliceOfServed } from './store/kube-codec.js';
import type { NetworkConfig, Snapshot } from './store/store.js';

const ep = (name: string, ready?: boolean, serving?: boolean, terminating?: boolean) => ({
  name,
  conditions: {
    ...(ready !== undefined ? { ready } : {}),
    ...(serving !== undefined ? { serving } : {}),
    ...(terminating !== undefined ? { terminating } : {}),
  },
});
const names = (xs: { name: string }[]) => xs.map((x) => x.name);

test('endpoints: ready ones win; not-ready, and serving-terminating ones are left out while any is ready', () => {
  assert.deepEqual(names(usableEndpoints([ep('a', true), ep('b', false), ep('c', false, true, true)])), [
    'a',
  ]);
  // unset ready means ready (the API's meaning)
  assert.deepEqual(names(usableEndpoints([ep('a'), ep('b', false, false, false)])), ['a']);
});

test('endpoints: with none ready, the serving and terminating ones carry traffic (kube-proxy fallback)', () => {
  assert.deepEqual(
    names(
      usableEndpoints([ep('a', false, true, true), ep('b', false, false, true), ep('c', false, true, false)]),
    ),
    ['a'],
  );
  assert.deepEqual(names(usableEndpoints([ep('a', false, false, false)])), []);
});

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

test('endpoints: an API EndpointSlice drives the proxy model per traffic policy, with the fallback applied to each set', () => {
  const slice = sliceOfServed({
    metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: [
      // the only local endpoint is terminating but serving; the remote one is ready
      {
        addresses: ['10.200.1.5'],
        nodeName: 'n1',
        conditions: { ready: false, serving: true, terminating: true },
        targetRef: { name: 'local' },
      },
      {
        addresses: ['10.200.2.5'],
        nodeName: 'n2',
        conditions: { ready: true },
        targetRef: { name: 'remote' },
      },
      {
        addresses: ['10.200.2.6'],
        nodeName: 'n2',
        conditions: { ready: false },
        targetRef: { name: 'starting' },
      },
    ],
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  })!;
  const snap: Snapshot = {
    revision: '1',
    config: CONFIG,
    subnets: [],
    services: [
      {
        namespace: 'default',
        name: 'web',
        manifest: {
          metadata: { name: 'web', namespace: 'default', uid: 'u', resourceVersion: '9' },
          spec: {
            type: 'NodePort',
            clusterIP: '10.96.0.2',
            clusterIPs: ['10.96.0.2'],
            selector: { app: 'web' },
            ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }],
            internalTrafficPolicy: 'Cluster',
            externalTrafficPolicy: 'Local',
          },
          status: { loadBalancer: {} },
        } as never,
      },
    ],
    endpointSlices: [{ namespace: 'default', name: 'web-1', slice }],
  };
  const { model, skipped } = desiredModel(snap, CONFIG, SELF);
  assert.deepEqual(skipped, []);
  const svc = model.proxy!.services[0]!;
  assert.deepEqual(
    svc.endpoints.map((e) => e.pod),
    ['remote'],
  );
  assert.deepEqual(
    svc.nodePortEndpoints?.map((e) => e.pod),
    ['local'],
  );
  assert.equal(svc.nodePortLocal, true);
});

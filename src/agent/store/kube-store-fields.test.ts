import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredModel, type SelfView } from '../desired.js';
import type { KubeClient } from './kube-client.js';
import { KubeStore } from './kube-store.js';
import type { NetworkConfig } from './store.js';

/**
 * The fields the lab's v1.20 API server cannot serve (docs/kubernetes.md, "What v1.20 cannot test"), as a
 * current server (v1.29-like) serves them: discovery.k8s.io/v1 slices with `nodeName` and `serving`/
 * `terminating`, a Service with `internalTrafficPolicy` and the dual-stack and `trafficDistribution` fields.
 * The KubeStore lists them through a canned client (pure logic: no server here), the agent's model must honour
 * them.
 */

const CONFIG: NetworkConfig = {
  network: '10.200.0.0/16',
  subnetLen: 24,
  serviceNetwork: '10.96.0.0/12',
  backend: { type: 'host-gw' },
};
const self = (node: string): SelfView => ({
  node,
  subnet: node === 'n1' ? '10.200.1.0/24' : '10.200.2.0/24',
  publicIP: node === 'n1' ? '192.168.64.4' : '192.168.64.5',
  underlay: '192.168.64.0/24',
  iface: 'eth0',
  underlayMtu: 1500,
  proxy: 'nftables',
  bridge: 'podnet0',
});

const list = (rv: string, items: unknown[]) => ({ metadata: { resourceVersion: rv }, items });

/** A Service exactly as a v1.29 server returns it (server-set metadata, defaults filled in). */
const service = (name: string, ip: string, itp: 'Cluster' | 'Local') => ({
  metadata: {
    name,
    namespace: 'default',
    uid: `uid-${name}`,
    resourceVersion: '812',
    creationTimestamp: '2026-01-01T00:00:00Z',
    managedFields: [{ manager: 'kubectl', operation: 'Update', apiVersion: 'v1' }],
  },
  spec: {
    type: 'ClusterIP',
    clusterIP: ip,
    clusterIPs: [ip],
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    internalTrafficPolicy: itp,
    trafficDistribution: 'PreferClose',
    sessionAffinity: 'None',
    selector: { app: 'web' },
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, appProtocol: 'http' }],
  },
  status: { loadBalancer: {} },
});

/** A discovery.k8s.io/v1 slice: `nodeName` (no topology map), `zone`, `hints`, all three conditions. */
const slice = (service: string, endpoints: [string, string, string, boolean, boolean, boolean][]) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: {
    name: `${service}-x1`,
    namespace: 'default',
    labels: {
      'kubernetes.io/service-name': service,
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
    },
  },
  addressType: 'IPv4',
  endpoints: endpoints.map(([pod, ip, nodeName, ready, serving, terminating]) => ({
    addresses: [ip],
    conditions: { ready, serving, terminating },
    nodeName,
    zone: 'z1',
    hints: { forZones: [{ name: 'z1' }] },
    targetRef: { kind: 'Pod', namespace: 'default', name: pod, uid: `uid-${pod}` },
  })),
  ports: [{ name: 'http', protocol: 'TCP', port: 8080, appProtocol: 'http' }],
});

function currentServer(): { client: KubeClient; asked: string[] } {
  const asked: string[] = [];
  const answers: Record<string, unknown> = {
    '/apis/discovery.k8s.io': { versions: [{ version: 'v1' }] },
    '/api/v1/namespaces/kube-system/configmaps?fieldSelector=metadata.name%3Dpodnet-config': list('5', []),
    '/api/v1/nodes': list('7', []),
    '/api/v1/services': list('9', [
      service('local', '10.96.0.6', 'Local'),
      service('cluster', '10.96.0.2', 'Cluster'),
      service('drain', '10.96.0.7', 'Local'),
    ]),
    '/apis/discovery.k8s.io/v1/endpointslices': list('11', [
      // local: one ready endpoint on n1, one on n2
      slice('local', [
        ['a', '10.200.1.5', 'n1', true, true, false],
        ['b', '10.200.2.5', 'n2', true, true, false],
      ]),
      // cluster: the n1 endpoint is terminating but serving, the n2 one ready, a third one not ready at all
      slice('cluster', [
        ['old', '10.200.1.6', 'n1', false, true, true],
        ['new', '10.200.2.6', 'n2', true, true, false],
        ['gone', '10.200.2.7', 'n2', false, false, true],
      ]),
      // drain: the same endpoints behind a Local Service
      slice('drain', [
        ['old', '10.200.1.6', 'n1', false, true, true],
        ['new', '10.200.2.6', 'n2', true, true, false],
        ['gone', '10.200.2.7', 'n2', false, false, true],
      ]),
    ]),
  };
  const client = {
    server: 'https://api.example:6443',
    get: async (path: string) => {
      asked.push(path);
      if (!(path in answers)) throw new Error(`unexpected GET ${path}`);
      return answers[path];
    },
  } as unknown as KubeClient;
  return { client, asked };
}

const endpointsOn = async (node: string) => {
  const { client, asked } = currentServer();
  const snap = await new KubeStore(client).list();
  const { model, skipped } = desiredModel(snap, CONFIG, self(node));
  assert.deepEqual(skipped, [], 'every field of the served Services is understood');
  const by = Object.fromEntries(
    (model.proxy?.services ?? []).map((s) => [s.clusterIP, s.endpoints.map((e) => e.pod)]),
  );
  return { by, asked };
};

test('a current server: the v1 slices are listed (not v1beta1), with nodeName deciding which endpoints are local', async () => {
  const { asked } = await endpointsOn('n1');
  assert.ok(asked.includes('/apis/discovery.k8s.io/v1/endpointslices'), asked.join(', '));
  assert.ok(!asked.some((p) => p.includes('v1beta1')));
});

test('internalTrafficPolicy Local as served: each node sends only to its own endpoints', async () => {
  assert.deepEqual((await endpointsOn('n1')).by['10.96.0.6'], ['a']);
  assert.deepEqual((await endpointsOn('n2')).by['10.96.0.6'], ['b']);
  // a node with no endpoint of its own has none for that Service (kube-proxy drops the traffic)
  assert.deepEqual((await endpointsOn('n3')).by['10.96.0.6'] ?? [], []);
});

test('serving and terminating as served: ready ones win cluster-wide; the node-local set falls back to serving-terminating', async () => {
  // Cluster policy: the ready endpoint only, from every node
  assert.deepEqual((await endpointsOn('n1')).by['10.96.0.2'], ['new']);
  assert.deepEqual((await endpointsOn('n3')).by['10.96.0.2'], ['new']);
  // Local policy: n1's only endpoint is terminating but serving, so it keeps carrying n1's traffic (drain);
  // n2 has a ready one, so its serving-terminating peer 'gone' (not serving) is never used
  assert.deepEqual((await endpointsOn('n1')).by['10.96.0.7'], ['old']);
  assert.deepEqual((await endpointsOn('n2')).by['10.96.0.7'], ['new']);
});

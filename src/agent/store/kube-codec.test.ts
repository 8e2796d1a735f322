import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ANNOTATION,
  annotationsOf,
  decodeRevision,
  encodeRevision,
  endpointSliceVersion,
  hasAnnotations,
  type KubeNode,
  leaseOfNode,
  networkAvailable,
  networkAvailablePatch,
  podCidrOf,
  revisionNumber,
  sliceOfServed,
} from './kube-codec.js';
import type { LeaseAttrs } from './store.js';

const ATTRS: LeaseAttrs = {
  node: 'node-1',
  publicIP: '192.168.64.5',
  backendType: 'vxlan',
  backendData: { vtepMAC: '0a:58:c0:a8:40:05' },
};
const node = (spec: KubeNode['spec'], annotations?: Record<string, string>): KubeNode => ({
  metadata: { name: 'node-1', resourceVersion: '42', ...(annotations ? { annotations } : {}) },
  ...(spec ? { spec } : {}),
});

test('kube codec: a Node with a pod CIDR and the agent annotations is a lease; the annotations round-trip', () => {
  const a = annotationsOf(ATTRS);
  assert.deepEqual(a, {
    'podnet.dev/backend-type': 'vxlan',
    'podnet.dev/backend-data': '{"VtepMAC":"0a:58:c0:a8:40:05"}',
    'podnet.dev/public-ip': '192.168.64.5',
  });
  const n = node({ podCIDR: '10.200.1.0/24', podCIDRs: ['10.200.1.0/24'] }, { ...a, other: 'x' });
  assert.deepEqual(leaseOfNode(n), { lease: { subnet: '10.200.1.0/24', attrs: ATTRS, revision: '42' } });
  assert.equal(hasAnnotations(n, ATTRS), true);
  assert.equal(hasAnnotations(n, { ...ATTRS, publicIP: '192.168.64.6' }), false);
  // host-gw carries no backend data
  assert.equal(
    annotationsOf({ ...ATTRS, backendType: 'host-gw', backendData: {} })[ANNOTATION.backendData],
    '{}',
  );
});

test('kube codec: no pod CIDR yet or no annotations yet is no lease; bad annotations name the Node and value', () => {
  assert.deepEqual(leaseOfNode(node(undefined, annotationsOf(ATTRS))), {});
  assert.deepEqual(leaseOfNode(node({ podCIDR: '10.200.1.0/24' })), {});
  const bad = (k: string, v: string) =>
    leaseOfNode(node({ podCIDR: '10.200.1.0/24' }, { ...annotationsOf(ATTRS), [k]: v })).problem;
  assert.equal(
    bad(ANNOTATION.backendType, 'udp'),
    "Node node-1: podnet.dev/backend-type 'udp' is not one of host-gw, vxlan, ipip",
  );
  assert.equal(
    bad(ANNOTATION.publicIP, '10.1'),
    "Node node-1: podnet.dev/public-ip '10.1' is not an IPv4 address",
  );
  assert.equal(bad(ANNOTATION.backendData, '{'), 'Node node-1: podnet.dev/backend-data is not JSON');
  assert.equal(
    bad(ANNOTATION.backendData, '{"VtepMAC":"zz"}'),
    "Node node-1: podnet.dev/backend-data VtepMAC 'zz' is not a MAC address",
  );
});

test('kube codec: the IPv4 pod CIDR of a dual-stack node is picked from podCIDRs', () => {
  assert.equal(podCidrOf(node({ podCIDRs: ['fd00:10::/64', '10.200.7.0/24'] })), '10.200.7.0/24');
  assert.equal(podCidrOf(node({ podCIDR: '10.200.3.0/24' })), '10.200.3.0/24');
  assert.equal(podCidrOf(node({})), undefined);
});

test('kube codec: NetworkUnavailable False is a strategic-merge patch of one condition, and is read back', () => {
  const p = networkAvailablePatch(new Date('2026-01-02T03:04:05.678Z')) as {
    status: { conditions: { type: string; status: string; lastTransitionTime: string }[] };
  };
  assert.equal(p.status.conditions.length, 1);
  assert.deepEqual(
    [
      p.status.conditions[0]!.type,
      p.status.conditions[0]!.status,
      p.status.conditions[0]!.lastTransitionTime,
    ],
    ['NetworkUnavailable', 'False', '2026-01-02T03:04:05Z'],
  );
  const with_ = (status: string): KubeNode => ({
    metadata: { name: 'n' },
    status: {
      conditions: [
        { type: 'Ready', status: 'False' },
        { type: 'NetworkUnavailable', status },
      ],
    },
  });
  assert.equal(networkAvailable(with_('False')), true);
  assert.equal(networkAvailable(with_('True')), false);
  assert.equal(networkAvailable({ metadata: { name: 'n' } }), false);
});

test('kube codec: a v1beta1 slice (node in topology, no serving/terminating) reads as v1 with API defaults', () => {
  const s = sliceOfServed({
    apiVersion: 'discovery.k8s.io/v1beta1',
    metadata: { name: 'web-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: ['10.200.1.2'],
        conditions: { ready: true },
        topology: { 'kubernetes.io/hostname': 'node-1' },
        targetRef: { kind: 'Pod', name: 'b' },
      },
      {
        addresses: ['10.200.0.2'],
        conditions: { ready: false },
        topology: { 'kubernetes.io/hostname': 'node-0' },
        targetRef: { kind: 'Pod', name: 'a0' },
      },
      { addresses: ['10.200.0.3'], conditions: {}, topology: { 'kubernetes.io/hostname': 'node-0' } },
      { conditions: { ready: true } },
    ],
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  });
  assert.ok(s);
  assert.equal(s.metadata.labels['kubernetes.io/service-name'], 'web');
  assert.deepEqual(
    s.endpoints.map((e) => [e.addresses[0], e.nodeName, e.targetRef.name, JSON.stringify(e.conditions)]),
    [
      ['10.200.1.2', 'node-1', 'b', '{"ready":true,"serving":true,"terminating":false}'],
      ['10.200.0.2', 'node-0', 'a0', '{"ready":false,"serving":false,"terminating":false}'],
      ['10.200.0.3', 'node-0', '10.200.0.3', '{"ready":true,"serving":true,"terminating":false}'],
    ],
  );
  assert.deepEqual(s.ports, [{ name: 'http', protocol: 'TCP', port: 8080 }]);
});

test('kube codec: a v1 slice keeps nodeName and serving/terminating; IPv6 slices and null lists are handled', () => {
  const s = sliceOfServed({
    metadata: { name: 'web-x', namespace: 'shop' },
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: ['10.200.2.2'],
        nodeName: 'node-2',
        conditions: { ready: false, serving: true, terminating: true },
      },
    ],
    ports: null,
  });
  assert.deepEqual(s?.endpoints[0]?.conditions, { ready: false, serving: true, terminating: true });
  assert.equal(s?.endpoints[0]?.nodeName, 'node-2');
  assert.deepEqual(s?.ports, []);
  assert.equal(sliceOfServed({ metadata: { name: 'v6' }, addressType: 'IPv6', endpoints: [] }), undefined);
  assert.deepEqual(
    sliceOfServed({ metadata: { name: 'e' }, addressType: 'IPv4', endpoints: null })?.endpoints,
    [],
  );
});

test('kube codec: EndpointSlice version discovery prefers v1, falls back to v1beta1, else none', () => {
  assert.equal(endpointSliceVersion({ versions: [{ version: 'v1' }, { version: 'v1beta1' }] }), 'v1');
  assert.equal(endpointSliceVersion({ versions: [{ version: 'v1beta1' }] }), 'v1beta1');
  assert.equal(endpointSliceVersion({ versions: [{ version: 'v1' }] }), 'v1');
  assert.equal(endpointSliceVersion({ versions: [] }), undefined);
  assert.equal(endpointSliceVersion(undefined), undefined);
});

test('kube codec: the store revision carries each list resourceVersion and leads with the highest', () => {
  const r = encodeRevision({ config: '5', nodes: '120', services: '98', slices: '130' });
  assert.equal(r, '130/5,120,98,130');
  assert.deepEqual(decodeRevision(r), { config: '5', nodes: '120', services: '98', slices: '130' });
  assert.equal(revisionNumber(r), 130);
  assert.equal(decodeRevision('17'), undefined);
  assert.equal(decodeRevision('1/2,3'), undefined);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../errors.js';
import { parseClusterFile } from '../parse.js';

const CLUSTER = `apiVersion: podnet.dev/v1alpha1
kind: Cluster
spec:
  nodes: [{name: node-0, ip: 192.168.64.4}]
`;
const POD = (ns: string, extra = '') => `---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: ${ns}, labels: {pod: a}}
spec:
  nodeName: node-0
  containers:
    - name: server
      command: [sleep, infinity]
      ports: [{name: serve-80-tcp, containerPort: 80${extra}}, {containerPort: 81, protocol: UDP, hostPort: 81}]
`;

test('a cluster file holds Namespaces, NetworkPolicies and Pods with a namespace and named container ports', () => {
  const spec = parseClusterFile(
    `${CLUSTER}---
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}}
${POD('x')}${POD('y')}---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: x, annotations: {podnet.dev/log-denied: "true"}}
spec: {podSelector: {}}
`,
  );
  assert.deepEqual(spec.namespaces, [{ name: 'x', labels: { ns: 'x', 'kubernetes.io/metadata.name': 'x' } }]);
  assert.deepEqual(
    spec.pods.map((p) => [p.name, p.namespace]),
    [
      ['x-a', 'x'],
      ['y-a', 'y'],
    ],
  );
  assert.deepEqual(spec.pods[0]!.ports, [
    { containerPort: 80, protocol: 'TCP', name: 'serve-80-tcp' },
    { containerPort: 81, protocol: 'UDP' },
  ]);
  assert.equal(spec.networkPolicies?.[0]?.name, 'deny');
  assert.equal(spec.networkPolicies?.[0]?.log, true);
  assert.deepEqual(spec.networkPolicies?.[0]?.policyTypes, ['Ingress']);
});

test('unknown fields and bad values in every new kind are listed together, with their positions', () => {
  const text = `${CLUSTER}---
apiVersion: v1
kind: Namespace
metadata: {name: x, lables: {ns: x}}
${POD('x', ', protocl: TCP')}---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: x}
spec:
  podSelector: {}
  ingres: []
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/8]}}], ports: [{port: http, endPort: 90}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: q, namespace: x}
spec: {podSelector: {}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: q, namespace: x}
spec: {podSelector: {}}
`;
  const e = (() => {
    try {
      parseClusterFile(text);
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  assert.ok(e instanceof ConfigError);
  const paths = e.issues.map((i) => i.path);
  for (const want of [
    'document 2 (Namespace x): metadata.lables',
    'document 3 (Pod a): spec.containers[0].ports[0].protocl',
    'document 4 (NetworkPolicy p): spec.ingres',
    'document 4 (NetworkPolicy p): spec.egress[0].to[0].ipBlock.except[0]',
    'document 4 (NetworkPolicy p): spec.egress[0].ports[0].endPort',
  ])
    assert.ok(paths.includes(want), `${want} in ${paths.join(' | ')}`);
  assert.ok(e.issues.some((i) => /already defined/.test(i.message)));
  assert.match(e.issues.find((i) => i.path.endsWith('spec.ingres'))!.message, /did you mean 'ingress'/);
  assert.ok(e.issues.filter((i) => i.path.startsWith('document 4')).every((i) => i.line !== undefined));
});

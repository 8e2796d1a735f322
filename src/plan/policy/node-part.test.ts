import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClusterFile } from '../../model/parse.js';
import { resolveCluster } from '../../model/resolve.js';
import { buildNodeModel } from '../node/build.js';
import { emptyNodeState } from '../node/model.js';
import { planNodeSync } from '../node/sync.js';
import { named } from '../ops.js';

const FILE = `apiVersion: podnet.dev/v1alpha1
kind: Cluster
spec:
  crossNode: vxlan
  nodes: [{name: node-0, ip: 192.168.64.4}, {name: node-1, ip: 192.168.64.5}]
  pods: [{name: a, node: node-0, labels: {app: a}}, {name: b, node: node-1, labels: {app: b}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-b, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}]}]
`;

test("the node model's policy part: a full table from nothing, nothing when applied, removal when gone", () => {
  const cluster = resolveCluster(parseClusterFile(FILE));
  const desired = buildNodeModel(cluster, 'node-0');
  assert.ok(desired.policy);
  assert.deepEqual(desired.policy.ingressPods, { '10.200.0.2': 'ingress-a' });
  const target = { netns: named('n0') };
  const first = planNodeSync(emptyNodeState('node-0'), desired, target);
  assert.ok(first.some((op) => op.kind === 'nft.policy' && !op.prev && op.next));
  assert.deepEqual(planNodeSync(desired, desired, target), []);
  const { policy: _, ...without } = desired;
  const gone = planNodeSync(desired, without, target);
  assert.deepEqual(
    gone.map((op) => [op.kind, op.kind === 'nft.policy' ? Boolean(op.next) : undefined]),
    [['nft.policy', false]],
  );
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveCluster } from '../model/resolve.js';
import { overheadOf, parseBridgeFdb, parseIpNeigh, parseWire } from '../observe/cross-node-json.js';
import { buildNodeModel } from '../plan/node/build.js';
import { planNodeSync } from '../plan/node/sync.js';
import { flatten, type Op } from '../plan/ops.js';
import { labDelta, nextNodeIp, planLabChange } from './change-plan.js';
import type { SpecEdit } from './edits.js';
import { LabNames } from './names.js';
import { labHostVeth } from './plan.js';
import { loadSpec } from './spec-source.js';
import { LabState } from './state.js';
import { labPaths } from './up.js';

process.env.PODNET_STATE_DIR = '/run/podnet/labs';
const names = new LabNames('t');
const paths = labPaths(new LabState('t'));
const lab = (edits: SpecEdit[], crossNode = 'vxlan') =>
  resolveCluster(loadSpec(undefined, 'default', { crossNode }, edits));
const nsOf = (op: Op) => ('netns' in op && op.netns.kind === 'named' ? op.netns.name : undefined);

describe('lab changes (pure)', () => {
  const add3: SpecEdit = { op: 'node.add', node: { name: 'node-3', ip: '192.168.64.7' } };

  test('edits replay over the spec: node add, pod add, node remove takes its pods', () => {
    const c = lab([
      add3,
      { op: 'pod.add', pod: { name: 'd', node: 'node-3' } },
      { op: 'node.remove', name: 'node-1' },
    ]);
    assert.deepEqual(
      c.nodes.map((n) => n.name),
      ['node-0', 'node-2', 'node-3'],
    );
    assert.deepEqual(
      c.pods.map((p) => p.name),
      ['a0', 'a1', 'c', 'd'],
    );
  });

  const syncOf = (prev: ReturnType<typeof lab>, next: ReturnType<typeof lab>, node: string) =>
    planNodeSync(buildNodeModel(prev, node), buildNodeModel(next, node), { netns: names.node(node) });

  test('adding a node: it is built whole, others get only its cross-node entries', () => {
    const prev = lab([]);
    const next = lab([add3]);
    assert.deepEqual(labDelta(prev, next).addedNodes, ['node-3']);
    const ops = flatten(planLabChange(prev, next, names, paths).build);
    assert.deepEqual(
      ops.filter((o) => ['t-node-0', 't-node-1', 't-node-2'].includes(nsOf(o) ?? '')),
      [],
      'the lab change itself touches no existing node',
    );
    // The nodes that stay are synced to their new model: exactly the new peer's three entries each.
    for (const n of ['node-0', 'node-1', 'node-2'])
      assert.deepEqual(
        syncOf(prev, next, n).map((o) => o.kind),
        ['fdb.replace', 'neigh.replace', 'route.replace'],
        n,
      );
    assert.ok(ops.some((o) => o.kind === 'netns.add' && o.name === 't-node-3'));
    assert.ok(ops.some((o) => o.kind === 'link.add-bridge' && nsOf(o) === 't-node-3'));
    assert.ok(
      ops.some((o) => o.kind === 'link.add-veth' && nsOf(o) === 't-switch' && o.name === 'sw-node-3'),
    );
    assert.ok(!ops.some((o) => o.kind === 'link.add-bridge' && nsOf(o) === 't-switch'), 'the switch stays');
    assert.ok(!ops.some((o) => o.kind === 'netns.add' && o.name !== 't-node-3'));
  });

  test('adding a pod touches only its namespace and its cable on its node', () => {
    const prev = lab([]);
    const next = lab([{ op: 'pod.add', pod: { name: 'e', node: 'node-1' } }]);
    const veth = labHostVeth(next, 'e');
    const ops = flatten(planLabChange(prev, next, names, paths).build);
    for (const o of ops) {
      const ns = nsOf(o);
      if (ns === 't-node-1')
        assert.ok(('name' in o && o.name === veth) || ('dev' in o && o.dev === veth), o.kind);
      else if (ns) assert.equal(ns, 't-pod-e');
    }
    assert.ok(ops.some((o) => o.kind === 'pod.pause' && o.pod === 'e'));
    // No cross-node change on any node; only endpoints may move (none select pod e in the default lab).
    for (const n of ['node-0', 'node-1', 'node-2']) assert.deepEqual(syncOf(prev, next, n), [], n);
  });

  test('removing a node: its entries go from the others, its namespace and pods are deleted', () => {
    const prev = lab([], 'host-gw');
    const next = lab([{ op: 'node.remove', name: 'node-2' }], 'host-gw');
    const plan = planLabChange(prev, next, names, paths);
    assert.deepEqual(flatten(plan.build), []);
    assert.deepEqual(
      ['node-0', 'node-1'].flatMap((n) =>
        syncOf(prev, next, n)
          .filter((o) => o.kind !== 'nft.tx')
          .map((o) => `${nsOf(o)} ${o.kind} ${'dst' in o ? o.dst : ''}`),
      ),
      ['t-node-0 route.del 10.200.2.0/24', 't-node-1 route.del 10.200.2.0/24'],
    );
    assert.deepEqual(
      flatten(plan.remove).map((o) => ('name' in o ? o.name : '')),
      ['t-pod-c', 't-node-2'],
    );
  });

  test('a new node gets the next free underlay address', () => {
    assert.equal(nextNodeIp(lab([])).toString(), '192.168.64.7');
  });
});

describe('observe parsers', () => {
  test('bridge -j fdb and ip -j neigh', () => {
    const fdb = parseBridgeFdb(
      '[{"mac":"02:00:00:00:00:01","dst":"192.168.64.5","flags":["self"],"state":"permanent"},{"mac":"aa:bb:cc:dd:ee:ff","master":"cni0","flags":[],"state":""}]',
    );
    assert.deepEqual(fdb[0], {
      mac: '02:00:00:00:00:01',
      dst: '192.168.64.5',
      flags: ['self'],
      state: 'permanent',
    });
    assert.equal(fdb[1]!.master, 'cni0');
    const n = parseIpNeigh(
      '[{"dst":"10.200.1.0","dev":"vxlan.1","lladdr":"c6:6f:01:69:73:55","state":["PERMANENT"]}]',
    );
    assert.deepEqual(n, [
      { ip: '10.200.1.0', dev: 'vxlan.1', mac: 'c6:6f:01:69:73:55', state: ['PERMANENT'] },
    ]);
  });

  test('tshark fields: a VXLAN packet has two IP headers 50 bytes apart', () => {
    const [p] = parseWire(
      '1092\t1078,1028\t192.168.64.4,10.200.0.2\t192.168.64.5,10.200.1.2\t17,1\t4789\t1\n',
    );
    assert.equal(p!.vni, 1);
    assert.equal(p!.udpDstPort, 4789);
    assert.equal(overheadOf(p!), 50);
    const [q] = parseWire('1042\t1028\t10.200.0.2\t10.200.1.2\t1\t\t\n');
    assert.equal(overheadOf(q!), 0);
  });
});

describe('edits over a file with plain Kubernetes Pods', () => {
  test('pod remove drops the Pod document; node remove drops the Pods scheduled on it', () => {
    const text = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec: {nodeName: node-1, containers: [{name: c, command: [sleep, '1']}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db}
spec: {nodeName: node-2, containers: [{name: c, command: [sleep, '1']}]}
`;
    const names = (edits: SpecEdit[]) => loadSpec(text, 'pods.yaml', {}, edits).pods.map((p) => p.name);
    // Edits keep whatever the lab was built from: here the default pods plus the file's.
    assert.deepEqual(names([]), ['a0', 'a1', 'b', 'c', 'web', 'db']);
    assert.deepEqual(names([{ op: 'pod.remove', name: 'web' }]), ['a0', 'a1', 'b', 'c', 'db']);
    assert.deepEqual(names([{ op: 'node.remove', name: 'node-2' }]), ['a0', 'a1', 'b', 'web']);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveCluster } from '../../model/resolve.js';
import { loadSpec } from '../spec-source.js';
import { anchorOf, topologyGraph } from './graph.js';
import { diagramSvg } from './index.js';

const SPEC = `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: d}
spec:
  crossNode: vxlan
  outside: true
  nodes:
    - {name: node-0, ip: 192.168.64.4}
    - {name: node-1, ip: 192.168.64.5}
  pods:
    - {name: a0, node: node-0, labels: {app: web}}
    - {name: b, node: node-1, labels: {app: web}}
  services:
    - metadata: {name: web}
      spec: {clusterIP: 10.96.0.2, selector: {app: web}, ports: [{name: http, port: 8080}]}
`;
const cluster = resolveCluster(loadSpec(SPEC, 'test'));

test('the topology graph: nodes holding uplink, bridge, tunnel and pods; cables, veths, tunnels, endpoints', () => {
  const g = topologyGraph(cluster, 'lab');
  assert.deepEqual(
    g.boxes.map((b) => b.id),
    ['switch', 'node:node-0', 'node:node-1', 'router', 'outside', 'svc:default/web:http'],
  );
  assert.deepEqual(
    g.boxes[1]!.children!.map((c) => `${c.id} ${c.lines.join(' ')}`),
    [
      'uplink:node-0 eth0 192.168.64.4',
      'bridge:node-0 cni0 10.200.0.1/24',
      'tunnel:node-0 vxlan.1 VNI 1, VTEP 10.200.0.0',
      'pod:a0 pod a0 10.200.0.2/24',
    ],
  );
  const kinds = (k: string) => g.links.filter((l) => l.kind === k).map((l) => `${l.from}>${l.to}`);
  assert.deepEqual(kinds('veth'), ['pod:a0>bridge:node-0', 'pod:b>bridge:node-1']);
  assert.ok(kinds('tunnel').includes('tunnel:node-0>tunnel:node-1'));
  assert.deepEqual(kinds('service'), ['svc:default/web:http>pod:a0', 'svc:default/web:http>pod:b']);
  assert.equal(anchorOf(cluster, 'node-1', 'outer'), 'tunnel:node-1');
  assert.equal(anchorOf(cluster, 'pod b', 'inner'), 'pod:b');
});

test('the SVG: laid out by elkjs, every box and edge drawn, a trace as numbered badges in order', async () => {
  const hop = (n: number, place: string, layer: 'inner' | 'outer' = 'inner') => ({
    n,
    place,
    ns: '',
    layer,
    seen: true,
    actions: [`hop ${n}`],
    expected: '',
    onPath: true,
  });
  const svg = await diagramSvg(cluster, 'lab', {
    from: 'a0',
    to: 'b',
    probe: { verdict: 'answered' },
    request: [
      hop(1, 'pod a0'),
      hop(2, 'node-0'),
      hop(3, 'node-0', 'outer'),
      hop(4, 'switch', 'outer'),
      hop(5, 'node-1', 'outer'),
      hop(6, 'node-1'),
      hop(7, 'pod b'),
    ],
    reply: [],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal((svg.match(/<g class="box /g) ?? []).length, 2 + 2 * 4 + 4);
  for (const t of [
    'pod a0',
    '10.200.0.2/24',
    'pod b',
    '10.200.1.2/24',
    'switch sw0',
    'service default/web:http',
  ])
    assert.ok(svg.includes(t), t);
  assert.equal(
    (svg.match(/<polyline class="edge /g) ?? []).length,
    topologyGraph(cluster, 'lab').links.length,
  );
  assert.deepEqual(
    [...svg.matchAll(/<g class="hop request" data-n="(\d+)"/g)].map((m) => Number(m[1])),
    [1, 2, 3, 4, 5, 6, 7],
  );
  assert.match(svg, /trace a0 → b: answered/);
  // Every coordinate is a number (no NaN from the layout).
  assert.doesNotMatch(svg, /NaN|undefined/);
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../errors.js';
import { parseClusterDocs, parseClusterFile } from './parse.js';
import { resolveCluster } from './resolve.js';

const base = (spec: string) => `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: t}
spec:
${spec}`;

const nodes3 = `  nodes:
    - {name: node-0, ip: 192.168.64.4}
    - {name: node-1, ip: 192.168.64.5}
`;

/** Parses and resolves; returns the ConfigError's issues (or fails if there is none). */
function issuesOf(text: string): { path: string; message: string }[] {
  try {
    resolveCluster(parseClusterFile(text, 'test'));
  } catch (e) {
    if (e instanceof ConfigError) return [...e.issues];
    throw e;
  }
  assert.fail('expected a ConfigError');
}

describe('cluster spec validation: every bad input gets a ConfigError naming path and value', () => {
  const table: { name: string; text: string; path: RegExp; message: RegExp }[] = [
    {
      name: 'invalid CIDR',
      text: base(`  clusterCIDR: 10.200.0.0/33\n${nodes3}`),
      path: /spec\.clusterCIDR/,
      message: /'10\.200\.0\.0\/33' is not a valid IPv4 CIDR/,
    },
    {
      name: 'CIDR with host bits',
      text: base(`  clusterCIDR: 10.200.0.1/16\n${nodes3}`),
      path: /spec\.clusterCIDR/,
      message: /not a valid IPv4 CIDR/,
    },
    {
      name: 'service CIDR overlaps cluster CIDR',
      text: base(`  serviceCIDR: 10.200.128.0/20\n${nodes3}`),
      path: /spec\.serviceCIDR/,
      message: /overlaps spec\.clusterCIDR/,
    },
    {
      name: 'underlay overlaps cluster CIDR',
      text: base(`  underlay: {subnet: 10.200.64.0/24}\n  nodes: [{name: n, ip: 10.200.64.4}]\n`),
      path: /spec\.underlay\.subnet/,
      message: /overlaps spec\.clusterCIDR/,
    },
    {
      name: 'duplicate node name',
      text: base(`  nodes: [{name: n, ip: 192.168.64.4}, {name: n, ip: 192.168.64.5}]\n`),
      path: /spec\.nodes\[1\]\.name/,
      message: /'n' is used by another node/,
    },
    {
      name: 'duplicate node IP',
      text: base(`  nodes: [{name: a, ip: 192.168.64.4}, {name: b, ip: 192.168.64.4}]\n`),
      path: /spec\.nodes\[1\]\.ip/,
      message: /already the address of node 'a'/,
    },
    {
      name: 'node IP outside the underlay',
      text: base(`  nodes: [{name: a, ip: 192.168.65.4}]\n`),
      path: /spec\.nodes\[0\]\.ip/,
      message: /outside the underlay subnet/,
    },
    {
      name: 'pod on an unknown node',
      text: base(`${nodes3}  pods: [{name: p, node: node-9}]\n`),
      path: /spec\.pods\[0\]\.node/,
      message: /'node-9' is not a node/,
    },
    {
      name: 'duplicate pod name',
      text: base(`${nodes3}  pods: [{name: p, node: node-0}, {name: p, node: node-1}]\n`),
      path: /spec\.pods\[1\]\.name/,
      message: /used by another pod/,
    },
    {
      name: 'duplicate pinned pod IP',
      text: base(
        `${nodes3}  pods: [{name: p, node: node-0, ip: 10.200.0.9}, {name: q, node: node-0, ip: 10.200.0.9}]\n`,
      ),
      path: /spec\.pods\[1\]\.ip/,
      message: /already the address of pod 'p'/,
    },
    {
      name: 'pinned pod IP is the gateway',
      text: base(`${nodes3}  pods: [{name: p, node: node-0, ip: 10.200.0.1}]\n`),
      path: /spec\.pods\[0\]\.ip/,
      message: /'10\.200\.0\.1' is not a usable address/,
    },
    {
      name: 'subnet too small for its pods',
      text: base(
        `  nodeCIDRMaskSize: 30\n${nodes3}  pods: [{name: p, node: node-0}, {name: q, node: node-0}]\n`,
      ),
      path: /spec\.nodes\[0\]/,
      message: /has 2 pods but its pod CIDR '10\.200\.0\.0\/30' holds only 1/,
    },
    {
      name: 'cluster CIDR too small for the nodes',
      text: base(`  clusterCIDR: 10.200.0.0/24\n${nodes3}`),
      path: /spec\.nodes\[1\]/,
      message: /gets no pod CIDR/,
    },
    {
      name: 'interface name over 15 characters',
      text: base(`  bridge: averyverylongbridge\n${nodes3}`),
      path: /spec\.bridge/,
      message: /at most 15/,
    },
    {
      name: 'shell metacharacters in a name',
      text: base(`${nodes3}  pods: [{name: 'a;rm -rf /', node: node-0}]\n`),
      path: /spec\.pods\[0\]\.name/,
      message: /"a;rm -rf \/".*DNS label/,
    },
    {
      name: 'path separator in a name',
      text: base(`  nodes: [{name: ../etc, ip: 192.168.64.4}]\n`),
      path: /spec\.nodes\[0\]\.name/,
      message: /"\.\.\/etc".*DNS label/,
    },
    {
      name: 'unknown field',
      text: base(`  clusterCidr: 10.1.0.0/16\n${nodes3}`),
      path: /spec/,
      message: /unknown field; did you mean 'clusterCIDR'/,
    },
    { name: 'invalid YAML', text: 'spec: [unclosed', path: /document 1/, message: /not valid YAML/ },
    {
      name: 'unsupported kind',
      text: 'apiVersion: v1\nkind: Deployment\nmetadata: {name: x}\n',
      path: /kind/,
      message: /"Deployment" is not supported/,
    },
    {
      name: 'Kubernetes Pod without a node',
      text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c, command: [sleep, "1"]}]}\n',
      path: /spec\.nodeName/,
      message: /is missing/,
    },
  ];
  for (const row of table) {
    test(row.name, () => {
      const issues = issuesOf(row.text);
      assert.ok(
        issues.some((i) => row.path.test(i.path) && row.message.test(i.message)),
        `expected an issue at ${row.path} matching ${row.message}, got:\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`,
      );
    });
  }

  test('all problems are reported at once', () => {
    const issues = issuesOf(
      base(`  clusterCIDR: 10.200.0.0/99
  bridge: averyverylongbridge
  nodes: [{name: n, ip: 192.168.64.4}, {name: n, ip: 300.1.1.1}]
  pods: [{name: p, node: nowhere}]
`),
    );
    assert.ok(issues.length >= 4, issues.map((i) => i.path).join(', '));
    const text = new ConfigError(issues).message;
    assert.match(text, /has \d+ problem\(s\)/);
  });
});

describe('cluster spec: good inputs', () => {
  test('Kubernetes Pod documents join the default (seed) cluster', () => {
    const spec = parseClusterFile(`apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: node-1
  containers:
    - {name: nginx, image: nginx, command: [busybox, httpd], args: [-f, -p, "80"], ports: [{containerPort: 80}]}
`);
    const pod = spec.pods.find((p) => p.name === 'web');
    assert.ok(pod);
    assert.equal(pod.node, 'node-1');
    assert.deepEqual(pod.containers[0]!.command, ['busybox', 'httpd', '-f', '-p', '80']);
    assert.deepEqual(pod.labels, { app: 'web' });
    assert.deepEqual(
      spec.pods.map((p) => p.name),
      ['a0', 'a1', 'b', 'c', 'web'],
      "the file's pods are added to the seed's",
    );
    assert.deepEqual(
      spec.nodes.map((n) => n.name),
      ['node-0', 'node-1', 'node-2'],
    );
  });

  test('JSON is accepted as well as YAML', () => {
    const spec = parseClusterFile(
      JSON.stringify({
        apiVersion: 'podnet.dev/v1alpha1',
        kind: 'Cluster',
        spec: { nodes: [{ name: 'n', ip: '192.168.64.9' }], pods: [{ name: 'p', node: 'n' }] },
      }),
    );
    const c = resolveCluster(spec);
    assert.equal(c.pods[0]!.ip.toString(), '10.200.0.2');
  });

  test("the default cluster is the seed's: nodes .4/.5/.6, pods at the seed's addresses", () => {
    const c = resolveCluster(parseClusterDocs([]));
    assert.deepEqual(
      c.nodes.map((n) => `${n.name} ${n.ip} ${n.podCIDR}`),
      [
        'node-0 192.168.64.4 10.200.0.0/24',
        'node-1 192.168.64.5 10.200.1.0/24',
        'node-2 192.168.64.6 10.200.2.0/24',
      ],
    );
    assert.deepEqual(
      c.pods.map((p) => `${p.name} ${p.ip}`),
      ['a0 10.200.0.2', 'a1 10.200.0.3', 'b 10.200.1.2', 'c 10.200.2.2'],
    );
  });

  test('explicit pod IPs are honoured and the others fill around them', () => {
    const c = resolveCluster(
      parseClusterFile(
        base(`${nodes3}  pods: [{name: p, node: node-0}, {name: q, node: node-0, ip: 10.200.0.2}]\n`),
      ),
    );
    assert.equal(c.pods.find((p) => p.name === 'q')!.ip.toString(), '10.200.0.2');
    assert.equal(c.pods.find((p) => p.name === 'p')!.ip.toString(), '10.200.0.3');
  });
});

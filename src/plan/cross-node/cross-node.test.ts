import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { expectGolden } from '../../../test/helpers/golden.js';
import { apply } from '../../apply/apply.js';
import { ConfigError, PlanError, UnsupportedError } from '../../errors.js';
import { PrintRunner } from '../../exec/print-runner.js';
import { requireCrossNodeSupport } from '../../lab/preflight.js';
import { parseClusterFile } from '../../model/parse.js';
import { type Cluster, resolveCluster } from '../../model/resolve.js';
import { kernelHasModule } from '../../observe/kernel.js';
import { planMtu } from '../mtu.js';
import { buildNodeModel } from '../node/build.js';
import { emptyNodeState } from '../node/model.js';
import { planNodeSync } from '../node/sync.js';
import { named, type Op } from '../ops.js';

/**
 * The cross-node part of a node's sync (its tunnel device and per-peer entries), through the node model like
 * every front door: from an empty node, or from the model of `prev` (a node set change).
 */
const CROSS = new Set([
  'link.add-vxlan',
  'link.add-ipip',
  'neigh.replace',
  'neigh.del',
  'fdb.replace',
  'fdb.del',
]);
const crossOps = (ops: Op[], c: Cluster): Op[] => {
  const dev = c.spec.crossNode === 'ipip' ? 'pnipip0' : `vxlan.${c.spec.vxlan.vni}`;
  return ops.filter(
    (o) =>
      CROSS.has(o.kind) ||
      (o.kind === 'route.replace' && o.dst !== c.spec.serviceCIDR.toString()) ||
      o.kind === 'route.del' ||
      (o.kind === 'sysctl.set' && o.key.endsWith('send_redirects')) ||
      ((o.kind === 'addr.add' || o.kind === 'link.set') && ('dev' in o ? o.dev : o.name) === dev),
  );
};
function planCrossNode(c: Cluster, node: { name: string }): Op[] {
  const m = buildNodeModel(c, node.name);
  return crossOps(planNodeSync(emptyNodeState(node.name), m, { netns: named(`t-${node.name}`) }), c);
}
function planCrossNodeChange(prev: Cluster, next: Cluster): Map<string, Op[]> {
  const out = new Map<string, Op[]>();
  for (const n of next.nodes) {
    const had = prev.nodes.some((p) => p.name === n.name);
    const ops = had
      ? crossOps(
          planNodeSync(buildNodeModel(prev, n.name), buildNodeModel(next, n.name), {
            netns: named(`t-${n.name}`),
          }),
          next,
        )
      : planCrossNode(next, n);
    if (ops.length) out.set(n.name, ops);
  }
  return out;
}

/** A cluster of `n` nodes (192.168.64.4, .5, …) with the given cross-node settings. */
function cluster(n: number, extra: string, nodeExtra: (i: number) => string = () => ''): Cluster {
  const nodes = Array.from(
    { length: n },
    (_, i) => `    - {name: node-${i}, ip: 192.168.64.${4 + i}${nodeExtra(i)}}`,
  ).join('\n');
  return resolveCluster(
    parseClusterFile(
      `apiVersion: podnet.dev/v1alpha1
kind: Cluster
metadata: {name: t}
spec:
${extra}
  nodes:
${nodes}
`,
      'test',
    ),
  );
}

async function script(ops: Op[]): Promise<string> {
  const p = new PrintRunner();
  await apply([{ title: 'x', ops }], p);
  return p.script();
}

const allNodes = (c: Cluster) => c.nodes.flatMap((n) => planCrossNode(c, n));

describe('cross-node planners (pure, golden)', () => {
  const cases: [string, string][] = [
    ['host-gw', '  crossNode: host-gw'],
    ['vxlan-unicast', '  crossNode: vxlan'],
    ['vxlan-multicast', '  crossNode: vxlan\n  vxlan: {learning: multicast, vni: 100}'],
    ['ipip', '  crossNode: ipip'],
  ];
  for (const [name, extra] of cases) {
    test(`${name} on 3 nodes matches test/golden/cross-node/${name}.sh`, async () => {
      expectGolden(await script(allNodes(cluster(3, extra))), `cross-node/${name}.sh`);
    });
  }

  test('routes per node: O(N) for host-gw, ipip and unicast vxlan, O(1) for multicast vxlan', () => {
    const routes = (extra: string, n: number) => {
      const c = cluster(n, extra);
      return planCrossNode(c, c.nodes[0]!).filter((o) => o.kind === 'route.replace').length;
    };
    for (const extra of ['  crossNode: host-gw', '  crossNode: ipip', '  crossNode: vxlan']) {
      assert.equal(routes(extra, 3), 2, extra);
      assert.equal(routes(extra, 20), 19, extra);
    }
    const mc = '  crossNode: vxlan\n  vxlan: {learning: multicast}';
    assert.equal(routes(mc, 3), 1);
    assert.equal(routes(mc, 20), 1);
  });

  test('unicast vxlan programs the FDB and neighbour entries before the route that needs them', () => {
    const c = cluster(3, '  crossNode: vxlan');
    const kinds = planCrossNode(c, c.nodes[1]!).map((o) => o.kind);
    assert.deepEqual(kinds, [
      'link.add-vxlan',
      'addr.add',
      'link.set',
      'fdb.replace',
      'fdb.replace',
      'neigh.replace',
      'neigh.replace',
      'route.replace',
      'route.replace',
    ]);
  });

  test('VTEP MACs are stable, derived from node names, and distinct', () => {
    const a = planCrossNode(cluster(3, '  crossNode: vxlan'), cluster(3, '  crossNode: vxlan').nodes[0]!);
    const b = planCrossNode(cluster(3, '  crossNode: vxlan'), cluster(3, '  crossNode: vxlan').nodes[0]!);
    assert.deepEqual(a, b);
    const macs = a.flatMap((o) => (o.kind === 'neigh.replace' ? [o.mac] : []));
    assert.equal(new Set(macs).size, 2);
    for (const m of macs) assert.match(m, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  });
});

describe('MTU', () => {
  test('pod MTU is the underlay MTU minus the encapsulation overhead', () => {
    const mtu = (crossNode: 'none' | 'host-gw' | 'vxlan' | 'ipip', u = 1500) =>
      planMtu({ crossNode, underlay: { mtu: u, subnet: undefined as never } });
    assert.deepEqual(mtu('vxlan'), { underlay: 1500, pod: 1450, overhead: 50 });
    assert.deepEqual(mtu('ipip'), { underlay: 1500, pod: 1480, overhead: 20 });
    assert.deepEqual(mtu('host-gw'), { underlay: 1500, pod: 1500, overhead: 0 });
    assert.equal(mtu('vxlan', 9000).pod, 8950);
  });

  test('tunnel devices get the pod MTU', () => {
    for (const [extra, want] of [
      ['  crossNode: vxlan', 1450],
      ['  crossNode: ipip', 1480],
      ['  crossNode: vxlan\n  vxlan: {learning: multicast}', 1450],
    ] as const) {
      const c = cluster(2, extra);
      const dev = planCrossNode(c, c.nodes[0]!).find(
        (o) => o.kind === 'link.add-vxlan' || o.kind === 'link.add-ipip',
      );
      assert.equal(dev && 'mtu' in dev ? dev.mtu : undefined, want, extra);
    }
  });
});

describe('node changes (diff of desired states)', () => {
  const grow = (extra: string) => [cluster(3, extra), cluster(4, extra)] as const;

  test('adding a node to unicast vxlan: one neighbour, FDB entry and route on each existing node', () => {
    const [before, after] = grow('  crossNode: vxlan');
    const change = planCrossNodeChange(before, after);
    for (const n of ['node-0', 'node-1', 'node-2']) {
      const ops = change.get(n)!;
      assert.deepEqual(
        ops.map((o) => o.kind),
        ['fdb.replace', 'neigh.replace', 'route.replace'],
      );
      assert.ok(
        ops.every((o) => o.note?.includes('node-3')),
        ops.map((o) => o.note).join('\n'),
      );
    }
    assert.deepEqual(change.get('node-3'), planCrossNode(after, after.nodes[3]!));
  });

  test('adding a node to multicast vxlan touches no existing node', () => {
    const [before, after] = grow('  crossNode: vxlan\n  vxlan: {learning: multicast}');
    const change = planCrossNodeChange(before, after);
    assert.deepEqual([...change.keys()], ['node-3']);
  });

  test('removing a node: its routes/FDB/neighbours go from every other node, route first', () => {
    const [small, big] = grow('  crossNode: vxlan');
    const change = planCrossNodeChange(big, small);
    for (const n of ['node-0', 'node-1', 'node-2']) {
      assert.deepEqual(
        change.get(n)!.map((o) => o.kind),
        ['route.del', 'neigh.del', 'fdb.del'],
      );
    }
    const hg = grow('  crossNode: host-gw');
    const c2 = planCrossNodeChange(hg[1], hg[0]);
    assert.deepEqual(
      c2.get('node-0')!.map((o) => o.kind === 'route.del' && o.dst),
      [big.nodes[3]!.podCIDR.toString()],
    );
  });

  test('no change, no ops', () => {
    const c = cluster(3, '  crossNode: host-gw');
    assert.equal(planCrossNodeChange(c, c).size, 0);
  });
});

describe('refusals', () => {
  test('host-gw refuses nodes on different L2 segments (ConfigError naming the segments)', () => {
    assert.throws(
      () => cluster(3, '  crossNode: host-gw', (i) => (i === 2 ? ', segment: rack-b' : '')),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues.some(
          (i) =>
            i.path.endsWith(': spec.crossNode') &&
            /rack-b \(node-2\)/.test(i.message) &&
            /node-0, node-1/.test(i.message),
        ),
    );
    // vxlan crosses segments fine.
    cluster(3, '  crossNode: vxlan', (i) => (i === 2 ? ', segment: rack-b' : ''));
  });

  test('the host-gw planner refuses too (PlanError), whatever built the spec', () => {
    const c = cluster(3, '  crossNode: vxlan', (i) => (i === 2 ? ', segment: rack-b' : ''));
    const hg: Cluster = { ...c, spec: { ...c.spec, crossNode: 'host-gw' } };
    assert.throws(() => planCrossNode(hg, hg.nodes[0]!), PlanError);
  });

  test('a vxlan group must be a multicast address', () => {
    assert.throws(
      () => cluster(2, '  crossNode: vxlan\n  vxlan: {learning: multicast, group: 10.1.1.1}'),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path.endsWith(': spec.vxlan.group')),
    );
  });
});

describe('kernel support', () => {
  // Fake /sys/module and /lib/modules trees, all under one directory removed at the end.
  const top = mkdtempSync(join(tmpdir(), 'pn-kernel-'));
  after(() => rmSync(top, { recursive: true, force: true }));
  const fake = (files: Record<string, string>, loaded: string[] = []) => {
    const root = mkdtempSync(join(top, 'k-'));
    for (const m of loaded) mkdirSync(join(root, 'sys', m), { recursive: true });
    mkdirSync(join(root, 'lib', '6.1.0-test'), { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(root, 'lib', '6.1.0-test', f), text);
    return { sysModule: join(root, 'sys'), modules: join(root, 'lib'), release: '6.1.0-test' };
  };

  test('a module counts when loaded, built in, or loadable', () => {
    assert.ok(kernelHasModule('ipip', fake({}, ['ipip'])));
    assert.ok(kernelHasModule('ipip', fake({ 'modules.builtin': 'kernel/net/ipv4/ipip.ko\n' })));
    assert.ok(
      kernelHasModule(
        'ipip',
        fake({ 'modules.dep': 'kernel/net/ipv4/ipip.ko.xz: kernel/net/ipv4/ip_tunnel.ko.xz\n' }),
      ),
    );
    assert.ok(!kernelHasModule('ipip', fake({ 'modules.dep': 'kernel/net/ipv4/ip_tunnel.ko.xz:\n' })));
    assert.ok(!kernelHasModule('ipip', fake({})));
  });

  test('ipip on a kernel without it: UnsupportedError naming the alternatives', () => {
    const k = fake({}, ['vxlan']);
    assert.throws(
      () => requireCrossNodeSupport({ crossNode: 'ipip' }, k),
      (e: unknown) =>
        e instanceof UnsupportedError &&
        /'ipip' module/.test(e.message) &&
        /--cross-node host-gw, --cross-node vxlan/.test(e.message) &&
        /--dry-run/.test(e.message),
    );
    requireCrossNodeSupport({ crossNode: 'host-gw' }, k);
    requireCrossNodeSupport({ crossNode: 'vxlan' }, k);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadSpec } from '../../lab/spec-source.js';
import { type Cluster, resolveCluster } from '../../model/resolve.js';
import { named } from '../ops.js';
import { expectedProxyState } from '../services/proxy-state.js';
import { buildNodeModel } from './build.js';
import { emptyNodeState, type NodeModel, type NodeState, type ProxyState } from './model.js';
import { diffNode, planNodeSync } from './sync.js';

/** The seed lab (3 nodes, 4 pods, one service) with the given backend and proxy mode. */
const lab = (
  crossNode: string,
  proxy: string,
  learning?: string,
  edits = [] as Parameters<typeof loadSpec>[3],
) =>
  resolveCluster(
    loadSpec(
      undefined,
      'default',
      { crossNode, proxy, ...(learning ? { 'vxlan.learning': learning } : {}) },
      edits,
    ),
  );
const target = { netns: named('t-node-1') };

/** What observe reads from a node that is exactly in its model: the proxy as kernel objects. */
function observedOf(m: NodeModel): NodeState {
  return { ...m, ...(m.proxy ? { proxy: expectedProxyState(m.proxy) } : {}) };
}

const BACKENDS = [
  ['host-gw', undefined],
  ['vxlan', undefined],
  ['vxlan', 'multicast'],
  ['ipip', undefined],
] as const;
const PROXIES = ['nftables', 'iptables', 'none'] as const;

for (const [backend, learning] of BACKENDS)
  for (const proxy of PROXIES)
    describe(`planNodeSync, ${backend}${learning ? ` ${learning}` : ''}, proxy ${proxy}`, () => {
      const c: Cluster = lab(backend, proxy, learning);
      const want = buildNodeModel(c, 'node-1');
      const seen = observedOf(want);

      test('empty -> full: the bridge first, every route, the proxy when there is one', () => {
        const ops = planNodeSync(emptyNodeState('node-1'), want, target);
        assert.equal(ops[0]!.kind, 'link.add-bridge');
        const routes = ops.filter((o) => o.kind === 'route.replace');
        assert.equal(routes.length, want.routes.length);
        assert.ok(routes.every((o) => o.kind === 'route.replace' && o.proto === 112));
        const proxyOps = ops.filter((o) => o.kind === 'nft.tx' || o.kind === 'iptables.restore');
        assert.equal(proxyOps.length, proxy === 'none' ? 0 : 1);
        if (want.tunnel)
          assert.ok(ops.some((o) => o.kind.startsWith('link.add-') && o.kind !== 'link.add-bridge'));
      });

      test('full -> same: zero ops, observed or as the model applied last', () => {
        assert.deepEqual(planNodeSync(seen, want, target), []);
        assert.deepEqual(planNodeSync(want, want, target), []);
      });

      test('each single-object drift -> one repair', () => {
        const cases: [string, NodeState][] = [
          ['route', { ...seen, routes: seen.routes.slice(1) }],
          ['sysctl', { ...seen, sysctls: { ...seen.sysctls, 'net.ipv4.ip_forward': '0' } }],
          ['bridge down', { ...seen, linksDown: [want.bridge!.name] }],
        ];
        if (seen.fdb.length) cases.push(['fdb', { ...seen, fdb: seen.fdb.slice(1) }]);
        if (seen.neighbours.length)
          cases.push(['neighbour', { ...seen, neighbours: seen.neighbours.slice(1) }]);
        const p = seen.proxy as ProxyState | undefined;
        if (p?.kind === 'nftables') {
          const endpoints = { ...p.maps.endpoints };
          delete endpoints[Object.keys(endpoints)[0]!];
          cases.push(['map element', { ...seen, proxy: { ...p, maps: { ...p.maps, endpoints } } }]);
          cases.push([
            'masquerade rule',
            {
              ...seen,
              proxy: { ...p, chains: { ...p.chains, postrouting: p.chains.postrouting!.slice(0, -1) } },
            },
          ]);
        }
        if (p?.kind === 'iptables')
          cases.push([
            'masquerade rule',
            {
              ...seen,
              proxy: {
                ...p,
                chains: {
                  ...p.chains,
                  'nat/PODNET-POSTROUTING': p.chains['nat/PODNET-POSTROUTING']!.slice(0, 1),
                },
              },
            },
          ]);
        for (const [what, drifted] of cases) {
          const d = diffNode(drifted, want, target);
          assert.equal(d.length, 1, `${what}: ${d.map((x) => x.what).join(' | ')}`);
          assert.equal(d[0]!.ops.length, 1, `${what}: one op`);
          assert.deepEqual(planNodeSync({ ...seen }, want, target), [], 'and nothing else');
        }
      });

      test('a removed peer: only its entries go', () => {
        const next = lab(backend, proxy, learning, [{ op: 'node.remove', name: 'node-2' }]);
        const ops = planNodeSync(seen, buildNodeModel(next, 'node-1'), target);
        const entries = ops.filter(
          (o) => !['nft.tx', 'iptables.restore', 'conntrack.delete'].includes(o.kind),
        );
        const peerEntries = [...want.routes, ...want.fdb, ...want.neighbours].filter(
          (e) => e.peer === 'node-2',
        );
        assert.equal(entries.length, peerEntries.length);
        assert.ok(
          entries.every((o) => o.kind.endsWith('.del')),
          entries.map((o) => o.kind).join(', '),
        );
        // node-2: pods 10.200.2.0/24, underlay 192.168.64.6, VTEP 10.200.2.0.
        const ofNode2 = (o: (typeof entries)[number]) =>
          ('dst' in o && ['10.200.2.0/24', '192.168.64.6'].includes(String(o.dst))) ||
          ('ip' in o && o.ip === '10.200.2.0');
        assert.ok(entries.every(ofNode2), entries.map((o) => JSON.stringify(o)).join('\n'));
      });

      test('foreign objects are never in the observed state, so never touched', () => {
        // observe reads only podnet's (proto 112 routes, its devices, its table): what is not read stays.
        const ops = planNodeSync(
          { ...seen, routes: seen.routes.filter((r) => r.dst !== '10.99.0.0/24') },
          want,
          target,
        );
        assert.deepEqual(ops, []);
        assert.ok(
          planNodeSync(emptyNodeState('node-1'), want, target).every(
            (o) => !('name' in o) || !['eth0', 'lo'].includes(String(o.name)),
          ),
          'the uplink and loopback are not the node model',
        );
      });
    });

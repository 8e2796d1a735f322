import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSpec } from '../../lab/spec-source.js';
import { resolveCluster } from '../../model/resolve.js';
import { render } from '../../render/index.js';
import { named } from '../ops.js';
import { buildNodeModel } from './build.js';
import { BR_NETFILTER_ALL } from './devices.js';
import { emptyNodeState, type NodeModel, type NodeState } from './model.js';
import { diffNode, planNodeSync } from './sync.js';

/** br_netfilter paid only where a feature needs it: the bridge's own switch, the namespace's off (lab). */

const cluster = (proxy: string, docs?: string) =>
  resolveCluster(loadSpec(docs, 'default', { crossNode: 'vxlan', proxy }));
const target = { netns: named('t-node-0') };
const cmds = (ops: ReturnType<typeof planNodeSync>) => ops.map((o) => render(o).argv.join(' '));

test('the bridge asks for the IP hooks only with the service proxy or NetworkPolicy', () => {
  assert.equal(buildNodeModel(cluster('none'), 'node-0').bridge?.nfCallIptables, undefined);
  assert.equal(buildNodeModel(cluster('nftables'), 'node-0').bridge?.nfCallIptables, true);
  assert.equal(buildNodeModel(cluster('iptables'), 'node-0').bridge?.nfCallIptables, true);
  const policy = JSON.stringify({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'deny', namespace: 'default' },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  });
  const policed = buildNodeModel(cluster('none', policy), 'node-0');
  assert.equal(policed.bridge?.nfCallIptables, true);
  assert.equal(policed.sysctls['net.netfilter.nf_conntrack_tcp_loose'], '0');
});

test("the namespace-wide switch is set (off) only where the namespace is podnet's alone", () => {
  for (const proxy of ['none', 'nftables']) {
    assert.equal(buildNodeModel(cluster(proxy), 'node-0').sysctls[BR_NETFILTER_ALL], undefined, proxy);
    const own = buildNodeModel(cluster(proxy), 'node-0', { ownsNamespace: true });
    assert.equal(own.sysctls[BR_NETFILTER_ALL], '0', proxy);
  }
});

test('first sync: the bridge is created with its switch; the namespace-wide one is skipped where absent', () => {
  const m = buildNodeModel(cluster('nftables'), 'node-0', { ownsNamespace: true });
  const c = cmds(planNodeSync(emptyNodeState('node-0'), m, target));
  assert.ok(
    c.some((x) => /link add cni0 .*type bridge nf_call_iptables 1$/.test(x)),
    c.join('\n'),
  );
  assert.ok(c.includes('ip netns exec t-node-0 sysctl -q -e -w net.bridge.bridge-nf-call-iptables=0'));
  const none = cmds(
    planNodeSync(emptyNodeState('node-0'), buildNodeModel(cluster('none'), 'node-0'), target),
  );
  assert.ok(
    none.some((x) => /link add cni0 .*type bridge$/.test(x)),
    none.join('\n'),
  );
});

test("drift: the bridge's switch is set in place, either way; an absent br_netfilter key is no drift", () => {
  const m = buildNodeModel(cluster('nftables'), 'node-0', { ownsNamespace: true });
  const seen = (bridge: Partial<NonNullable<NodeModel['bridge']>>, all: string): NodeState => ({
    ...m,
    proxy: undefined,
    bridge: { ...m.bridge!, ...bridge },
    sysctls: { ...m.sysctls, [BR_NETFILTER_ALL]: all },
  });
  const want = { ...m, proxy: undefined };
  const off = diffNode(seen({ nfCallIptables: undefined }, '0'), want, target);
  assert.deepEqual(
    off.map((d) => [d.what, ...cmds([...d.ops])]),
    [
      [
        'bridge cni0: nf_call_iptables 0, want 1',
        'ip -n t-node-0 link set cni0 type bridge nf_call_iptables 1',
      ],
    ],
  );
  const noHooks = buildNodeModel(cluster('none'), 'node-0', { ownsNamespace: true });
  const on = diffNode({ ...noHooks, bridge: { ...noHooks.bridge!, nfCallIptables: true } }, noHooks, target);
  assert.deepEqual(cmds(on.flatMap((d) => [...d.ops])), [
    'ip -n t-node-0 link set cni0 type bridge nf_call_iptables 0',
  ]);
  // observe reads `sysctl -e`: '' is a key the kernel lacks (br_netfilter not loaded): already off.
  assert.deepEqual(diffNode(seen({}, ''), want, target), []);
  const global = diffNode(seen({}, '1'), want, target);
  assert.deepEqual(
    global.map((d) => d.what),
    ['sysctl net.bridge.bridge-nf-call-iptables = 1, want 0'],
  );
});

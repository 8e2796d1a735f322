import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ConfigIssue } from '../errors.js';
import { parseClusterFile } from '../model/parse.js';
import { resolveCluster } from '../model/resolve.js';
import { buildNodeModel } from '../plan/node/build.js';
import { AgentPolicy, decodePod } from './policy.js';
import { KubePolicyFeed, type ObjectFeed, type PolicyKind } from './policy-feeds.js';
import type { KubeClient } from './store/kube-client.js';

const CLUSTER = resolveCluster(
  parseClusterFile(`apiVersion: podnet.dev/v1alpha1
kind: Cluster
spec:
  nodes: [{name: node-0, ip: 192.168.64.4}, {name: node-1, ip: 192.168.64.5}]
  pods: []
`),
);

const pod = (name: string, node: string, ip: string, labels: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels, resourceVersion: '7' },
  spec: { nodeName: node, containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] },
  status: { phase: 'Running', podIP: ip },
});
const WEB_ONLY = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'web-only', namespace: 'default', uid: 'u1', resourceVersion: '9' },
  spec: {
    podSelector: { matchLabels: { app: 'web' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http' }] }],
  },
};

/** A feed whose objects the test sets. */
class FakeFeed implements ObjectFeed {
  maps: Record<PolicyKind, Map<string, unknown>> = {
    networkpolicy: new Map(),
    namespace: new Map(),
    pod: new Map(),
  };
  rev = 0;
  async start(): Promise<void> {}
  objects() {
    return this.maps;
  }
  revision() {
    return this.rev;
  }
  stop() {}
}

const quiet = () => {};

describe('agent NetworkPolicy', () => {
  test('decodePod: scheduled pods with their own address count; others do not; ports default to TCP', () => {
    const issues: ConfigIssue[] = [];
    const p = decodePod(pod('a', 'node-0', '10.200.0.2', { app: 'web' }), issues);
    assert.deepEqual(issues, []);
    assert.equal(p?.ip.toString(), '10.200.0.2');
    assert.deepEqual(p?.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    const base = pod('a', 'node-0', '10.200.0.2', {});
    assert.equal(decodePod({ ...base, status: { phase: 'Pending' } }, issues), undefined);
    assert.equal(decodePod({ ...base, spec: { ...base.spec, hostNetwork: true } }, issues), undefined);
    assert.equal(
      decodePod({ ...base, status: { phase: 'Succeeded', podIP: '10.200.0.2' } }, issues),
      undefined,
    );
    assert.deepEqual(issues, []);
    const bad: ConfigIssue[] = [];
    decodePod({ metadata: {} }, bad);
    assert.equal(bad[0]?.path, 'metadata.name');
  });

  test('no policy: the node model is left as it is (no table, nothing on the packet path)', () => {
    const feed = new FakeFeed();
    feed.maps.pod.set('default/a', pod('a', 'node-0', '10.200.0.2', { app: 'web' }));
    const model = buildNodeModel(CLUSTER, 'node-0');
    assert.equal(new AgentPolicy('node-0', feed, quiet).apply(model, CLUSTER), model);
  });

  test('a policy from the API: this node gets the chain of its own selected pod, peers from every node', () => {
    const feed = new FakeFeed();
    feed.maps.pod.set('default/a', pod('a', 'node-0', '10.200.0.2', { app: 'web' }));
    feed.maps.pod.set('default/b', pod('b', 'node-1', '10.200.1.2', { app: 'web' }));
    feed.maps.pod.set('default/c', pod('c', 'node-1', '10.200.1.3', { app: 'client' }));
    feed.maps.networkpolicy.set('default/web-only', WEB_ONLY);
    const ap = new AgentPolicy('node-0', feed, quiet);
    const m = ap.apply(buildNodeModel(CLUSTER, 'node-0'), CLUSTER);
    assert.deepEqual(m.policy?.ingressPods, { '10.200.0.2': 'ingress-a' });
    assert.deepEqual(m.policy?.sets['ingress-a-ports'], [
      '10.200.0.2 . tcp . 8080',
      '10.200.1.2 . tcp . 8080',
    ]);
    assert.equal(m.bridge?.nfCallIptables, true);
    assert.equal(m.sysctls['net.netfilter.nf_conntrack_tcp_loose'], '0');
    // node-1's agent: b is its own; a is a peer.
    const m1 = new AgentPolicy('node-1', feed, quiet).apply(buildNodeModel(CLUSTER, 'node-1'), CLUSTER);
    assert.deepEqual(m1.policy?.ingressPods, { '10.200.1.2': 'ingress-b' });
    // The same objects again (a resync): same sets, nothing recomputed; a relabel of c: b's chain only.
    const again = ap.apply(buildNodeModel(CLUSTER, 'node-0'), CLUSTER);
    assert.equal(again.policy, m.policy);
    feed.maps.pod.set('default/c', pod('c', 'node-1', '10.200.1.3', { app: 'web' }));
    const relabelled = ap.apply(buildNodeModel(CLUSTER, 'node-0'), CLUSTER);
    assert.deepEqual(relabelled.policy?.sets['ingress-a-ports'], [
      '10.200.0.2 . tcp . 8080',
      '10.200.1.2/31 . tcp . 8080',
    ]);
  });

  test('an unreadable policy is skipped with a warning naming it; the others still apply', () => {
    const feed = new FakeFeed();
    feed.maps.pod.set('default/a', pod('a', 'node-0', '10.200.0.2', { app: 'web' }));
    feed.maps.networkpolicy.set('default/web-only', WEB_ONLY);
    feed.maps.networkpolicy.set('default/bad', {
      ...WEB_ONLY,
      metadata: { name: 'bad', namespace: 'default' },
      spec: { podSelector: { matchExpressions: [{ key: 'app', operator: 'Near' }] } },
    });
    const logged: string[] = [];
    const ap = new AgentPolicy('node-0', feed, (_l, msg, f) => logged.push(`${msg} ${JSON.stringify(f)}`));
    const m = ap.apply(buildNodeModel(CLUSTER, 'node-0'), CLUSTER);
    assert.deepEqual(Object.keys(m.policy!.chains), ['ingress-a']);
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /unreadable object skipped.*networkpolicy default\/bad/);
  });

  test("revision: the feed's when later than the store's (etcd), the store's otherwise", () => {
    const feed = new FakeFeed();
    const ap = new AgentPolicy('node-0', feed, quiet);
    feed.rev = 42;
    ap.apply(buildNodeModel(CLUSTER, 'node-0'), CLUSTER);
    assert.equal(ap.revision('40'), '42');
    assert.equal(ap.revision('45'), '45');
    assert.equal(ap.revision('abc'), 'abc');
  });
});

test("KubePolicyFeed: a list's items (no apiVersion or kind of their own) decode like watched objects", async () => {
  const lists: Record<string, unknown> = {
    '/apis/networking.k8s.io/v1/networkpolicies': { metadata: { resourceVersion: '5' }, items: [] },
    '/api/v1/namespaces': {
      metadata: { resourceVersion: '5' },
      items: [
        {
          metadata: { name: 'x', labels: { team: 'a' }, resourceVersion: '3', uid: 'u' },
          spec: { finalizers: ['kubernetes'] },
          status: { phase: 'Active' },
        },
      ],
    },
    '/api/v1/pods': { metadata: { resourceVersion: '5' }, items: [] },
  };
  const api = {
    get: async (path: string) => lists[path],
    watch: () => ({ stop() {} }),
  } as unknown as KubeClient;
  const feed = new KubePolicyFeed(api);
  await feed.start(() => {});
  const logged: string[] = [];
  const policy = new AgentPolicy('node-0', feed, (_l, msg, f) => logged.push(`${msg} ${JSON.stringify(f)}`));
  const world = policy.world(CLUSTER);
  feed.stop();
  assert.deepEqual(logged, []);
  assert.deepEqual(
    world.namespaces.map((n) => [n.name, n.labels]),
    [['x', { team: 'a', 'kubernetes.io/metadata.name': 'x' }]],
  );
});

import { policyKeys } from '../../agent/policy-feeds.js';
import type { Runner } from '../../exec/runner.js';
import type { LabelSelector, NetworkPolicy, Peer, PolicyRule } from '../../model/policy/types.js';
import { LOG_ANNOTATION } from '../../model/policy/types.js';
import type { Cluster } from '../../model/resolve.js';
import { worldOf } from '../../plan/policy/world.js';
import { LabNames } from '../names.js';
import { hostRunner } from '../runners.js';
import type { LabState } from '../state.js';
import { type ClusterRecord, etcdctl, etcdDel, etcdPut, livePid, readCluster } from './record.js';
import { waitForAgents } from './up.js';

/**
 * NetworkPolicy in an agent lab: the lab plays the API server's part and writes the cluster's NetworkPolicy,
 * Namespace and Pod objects (Kubernetes JSON) under `<prefix>/policy/`, which every agent watches and
 * enforces on its own node. Only keys whose content changed are written.
 */

const selector = (s: LabelSelector) => ({
  ...(Object.keys(s.matchLabels).length ? { matchLabels: { ...s.matchLabels } } : {}),
  ...(s.matchExpressions.length
    ? {
        matchExpressions: s.matchExpressions.map((e) => ({
          key: e.key,
          operator: e.operator,
          ...(e.operator === 'In' || e.operator === 'NotIn' ? { values: [...e.values] } : {}),
        })),
      }
    : {}),
});

const peer = (p: Peer) =>
  p.kind === 'ipBlock'
    ? { ipBlock: { cidr: p.ipBlock.cidr.toString(), except: p.ipBlock.except.map(String) } }
    : {
        ...(p.podSelector ? { podSelector: selector(p.podSelector) } : {}),
        ...(p.namespaceSelector ? { namespaceSelector: selector(p.namespaceSelector) } : {}),
      };

const rule = (r: PolicyRule, side: 'from' | 'to') => ({
  ...(r.peers ? { [side]: r.peers.map(peer) } : {}),
  ...(r.ports
    ? {
        ports: r.ports.map((x) => ({
          protocol: x.protocol,
          ...(x.port !== undefined ? { port: x.port } : {}),
          ...(x.endPort !== undefined ? { endPort: x.endPort } : {}),
        })),
      }
    : {}),
});

/** A parsed NetworkPolicy as the `networking.k8s.io/v1` object it came from (defaults written out). */
export function policyManifest(p: NetworkPolicy): Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: p.name,
      namespace: p.namespace,
      ...(p.log ? { annotations: { [LOG_ANNOTATION]: 'true' } } : {}),
    },
    spec: {
      podSelector: selector(p.podSelector),
      policyTypes: [...p.policyTypes],
      ...(p.policyTypes.includes('Ingress') ? { ingress: p.ingress.map((r) => rule(r, 'from')) } : {}),
      ...(p.policyTypes.includes('Egress') ? { egress: p.egress.map((r) => rule(r, 'to')) } : {}),
    },
  };
}

/** Every policy input of the cluster by etcd key, as the JSON the agents read (pure). */
export function policyObjects(cluster: Cluster, prefix: string): Map<string, string> {
  const keys = policyKeys(prefix);
  const world = worldOf(cluster);
  const out = new Map<string, string>();
  for (const p of world.policies)
    out.set(keys.networkpolicy(p.namespace, p.name), JSON.stringify(policyManifest(p)));
  for (const n of world.namespaces)
    out.set(
      keys.namespace(n.name),
      JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.name, labels: n.labels } }),
    );
  for (const q of world.pods)
    out.set(
      keys.pod(q.namespace, q.name),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: q.name, namespace: q.namespace, labels: q.labels },
        spec: { nodeName: q.node, containers: [{ name: 'main', ports: q.ports }] },
        status: { phase: 'Running', podIP: q.ip.toString() },
      }),
    );
  return out;
}

/** Writes what differs from etcd's `<prefix>/policy/` keys; resolves with the revision after the last write. */
export async function publishPolicies(
  runner: Runner,
  names: LabNames,
  rec: ClusterRecord,
  cluster: Cluster,
): Promise<number> {
  const want = policyObjects(cluster, rec.prefix);
  const raw = await etcdctl(runner, names, rec, [
    'get',
    '--prefix',
    '-w',
    'json',
    policyKeys(rec.prefix).root,
  ]);
  const got = JSON.parse(raw) as { header: { revision: number }; kvs?: { key: string; value: string }[] };
  const have = new Map(
    (got.kvs ?? []).map((kv) => [
      Buffer.from(kv.key, 'base64').toString(),
      Buffer.from(kv.value, 'base64').toString(),
    ]),
  );
  let revision = Number(got.header.revision);
  for (const [k, v] of want) if (have.get(k) !== v) revision = await etcdPut(runner, names, rec, k, v);
  for (const k of have.keys()) if (!want.has(k)) revision = await etcdDel(runner, names, rec, k);
  return revision;
}

/** After pods come or go: publishes the policy inputs when the cluster has policies (else 0, nothing written). */
export async function publishIfPolicies(
  runner: Runner,
  names: LabNames,
  rec: ClusterRecord,
  cluster: Cluster,
): Promise<number> {
  return cluster.spec.networkPolicies?.length ? publishPolicies(runner, names, rec, cluster) : 0;
}

/** `lab policy|pod label|namespace label` in an etcd agent lab: publish, then wait until every agent synced. */
export async function syncClusterPolicies(
  cluster: Cluster,
  state: LabState,
): Promise<{ ops: never[]; cuts: number; ms: number; appliedMs: number }> {
  const started = performance.now();
  const rec = readCluster(state)!;
  const names = new LabNames(state.lab);
  const revision = await publishPolicies(hostRunner(), names, rec, cluster);
  const running = Object.keys(rec.nodes).filter((n) => livePid(state, n, 'agent') !== undefined);
  await waitForAgents(state, running, revision);
  const ms = performance.now() - started;
  return { ops: [], cuts: 0, ms, appliedMs: ms };
}

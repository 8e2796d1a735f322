import { NAMESPACE_NAME_LABEL, type NamespaceSpec } from '../../model/policy/types.js';
import type { Cluster } from '../../model/resolve.js';
import type { PolicyPod, PolicyWorld } from './evaluate.js';

/**
 * What NetworkPolicy sees of a cluster (pure): namespaces (declared, or implied by a pod's namespace with the
 * well-known label only), pods with namespace, labels and container ports, policies, and each node's own
 * addresses (underlay and bridge gateway).
 */
export function worldOf(cluster: Cluster): PolicyWorld {
  const declared = cluster.spec.namespaces ?? [];
  const names = new Set(declared.map((n) => n.name));
  const implied: NamespaceSpec[] = [];
  for (const ns of ['default', ...cluster.pods.map((p) => p.namespace ?? 'default')]) {
    if (names.has(ns)) continue;
    names.add(ns);
    implied.push({ name: ns, labels: { [NAMESPACE_NAME_LABEL]: ns } });
  }
  return {
    namespaces: [...declared, ...implied],
    pods: cluster.pods.map((p) => podOf(p)),
    policies: cluster.spec.networkPolicies ?? [],
    nodes: cluster.nodes.map((n) => ({ name: n.name, ips: [n.ip, n.gateway] })),
  };
}

function podOf(p: Cluster['pods'][number]): PolicyPod {
  const namespace = p.namespace ?? 'default';
  const prefix = `${namespace}-`;
  return {
    // The lab's name is `<namespace>-<name>` outside 'default' (model/policy/cluster-docs.ts podId).
    name: namespace !== 'default' && p.name.startsWith(prefix) ? p.name.slice(prefix.length) : p.name,
    namespace,
    node: p.node,
    ip: p.ip,
    labels: p.labels,
    ports: p.ports ?? [],
  };
}

/** A pod of the world by `namespace/name`, by its lab name, or by bare name when that is unambiguous. */
export function findPod(world: PolicyWorld, ref: string): PolicyPod | undefined {
  const [a, b] = ref.split('/', 2);
  if (b !== undefined) return world.pods.find((p) => p.namespace === a && p.name === b);
  const lab = world.pods.find(
    (p) => (p.namespace === 'default' ? p.name : `${p.namespace}-${p.name}`) === ref,
  );
  if (lab) return lab;
  const bare = world.pods.filter((p) => p.name === ref);
  return bare.length === 1 ? bare[0] : undefined;
}

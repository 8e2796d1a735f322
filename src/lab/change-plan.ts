import { ConfigError } from '../errors.js';
import type { Cluster } from '../model/resolve.js';
import { Ip } from '../net/ip.js';
import type { Op, Plan } from '../plan/ops.js';
import type { LabNames } from './names.js';
import { type LabPaths, planLabTopology, withNodeSync } from './plan.js';

/** What changed between two states of a lab, by name. */
export interface LabDelta {
  readonly addedNodes: readonly string[];
  readonly removedNodes: readonly string[];
  readonly addedPods: readonly string[];
  readonly removedPods: readonly string[];
}

export function labDelta(prev: Cluster, next: Cluster): LabDelta {
  const names = (xs: readonly { name: string }[]) => new Set(xs.map((x) => x.name));
  const [pn, nn, pp, np] = [names(prev.nodes), names(next.nodes), names(prev.pods), names(next.pods)];
  return {
    addedNodes: [...nn].filter((n) => !pn.has(n)),
    removedNodes: [...pn].filter((n) => !nn.has(n)),
    addedPods: [...np].filter((n) => !pp.has(n)),
    removedPods: [...pp].filter((n) => !np.has(n)),
  };
}

/** What a change runs besides syncing the nodes that stay: the new topology, and what goes. */
export interface LabChangePlan {
  /** New nodes (namespace, cable, uplink, their model synced from scratch) and new pods, as `lab up` builds them. */
  readonly build: Plan;
  /** Removed pods' and nodes' namespaces (a namespace takes its veths, bridge, tunnel and routes along). */
  readonly remove: Plan;
}

/**
 * The lab's own part of a change from `prev` to `next` (pure): the topology of what was added, built by the
 * same planner as `lab up` for just those nodes and pods, and the namespaces of what was removed. The nodes
 * that stay are not planned here: the caller observes and syncs them to their new models (node-sync.ts),
 * which adds the new peers' entries, forgets the removed ones and updates the service proxy.
 */
export function planLabChange(prev: Cluster, next: Cluster, names: LabNames, paths: LabPaths): LabChangePlan {
  const d = labDelta(prev, next);
  const added = new Set(d.addedNodes);
  const addedPods = new Set(d.addedPods);
  const nodes = next.nodes.filter((n) => added.has(n.name));
  const topology = planLabTopology(next, names, paths, {
    nodes,
    pods: next.pods.filter((p) => addedPods.has(p.name)),
    whole: false,
  });
  const gone = [
    ...d.removedPods.map((p) => names.podNs(p)),
    ...d.removedNodes.map((n) => names.nodeNs(n)),
  ].map((name): Op => ({ kind: 'netns.del', name, note: `remove ${name} and every interface in it` }));
  return {
    build: withNodeSync(topology, next, names, nodes),
    remove: gone.length ? [{ title: 'remove namespaces', ops: gone }] : [],
  };
}

/**
 * The underlay address for a new node: the first free one after the highest node address, else the lowest
 * free one (.1 stays the lab's router, as parse requires). Throws ConfigError when the subnet is full.
 */
export function nextNodeIp(c: Cluster): Ip {
  const subnet = c.spec.underlay.subnet;
  const used = new Set(c.nodes.map((n) => n.ip.value));
  const first = subnet.network.value + 2;
  const last = subnet.broadcast.value - 1;
  const start = Math.max(first - 1, ...c.nodes.map((n) => n.ip.value)) + 1;
  for (let k = 0; k <= last - first; k++) {
    const v = first + ((start - first + k) % (last - first + 1));
    if (!used.has(v)) return Ip.fromNumber(v);
  }
  throw new ConfigError(
    [{ path: '--ip', message: `the underlay subnet '${subnet}' has no free address for another node` }],
    'command line',
  );
}

import { ConfigError } from '../errors.js';
import type { Cluster } from '../model/resolve.js';
import { hostVethName } from '../net/ifname.js';
import { Ip } from '../net/ip.js';
import { planCrossNodeChange } from '../plan/cross-node/index.js';
import type { Op, Phase, Plan } from '../plan/ops.js';
import type { LabNames } from './names.js';
import { IDENTITY_PORTS, type LabPaths, labCrossNodeEnv, planLabUp } from './plan.js';

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

/**
 * The plan that takes a running lab from `prev` to `next` (pure), touching nothing that stays:
 * 1. on every remaining node, the cross-node entries for nodes that left go (backend's planPeerRemoval);
 * 2. removed pods' and nodes' namespaces are deleted (their processes are stopped by the caller first; a
 *    namespace takes its veths, bridge, tunnel device and routes along);
 * 3. new nodes and pods are built with exactly the ops `lab up` would run for them (the lab's own plan for
 *    `next`, restricted to what acts on their namespaces, their switch ports, their processes and files);
 * 4. on every existing node, the cross-node entries for new nodes are added (none for multicast vxlan).
 */
export function planLabChange(prev: Cluster, next: Cluster, names: LabNames, paths: LabPaths): Plan {
  const d = labDelta(prev, next);
  const env = labCrossNodeEnv(names);
  const crossNode = planCrossNodeChange(prev, next, env);
  const removals: Op[] = [];
  const additions: Op[] = [];
  for (const [node, ops] of crossNode) {
    if (d.addedNodes.includes(node)) continue; // built whole below
    for (const op of ops) (op.kind.endsWith('.del') ? removals : additions).push(op);
  }

  const newNs = new Set([
    ...d.addedNodes.map((n) => names.nodeNs(n)),
    ...d.addedPods.map((p) => names.podNs(p)),
  ]);
  const newPorts = new Set(d.addedNodes.map((n) => names.switchPort(n)));
  const newPids = new Set(d.addedPods.map((p) => names.pidVar(p)));
  // A new pod's cable ends on its node's bridge: the node-side veth carries the pod's name.
  const newVeths = new Set(d.addedPods.map((p) => hostVethName(`${next.spec.name}/${p}`, p)));
  const nodeNs = new Set(next.nodes.map((n) => names.nodeNs(n.name)));
  const newFiles = new Set(
    d.addedPods.flatMap((p) => Object.keys(IDENTITY_PORTS).map((c) => `${paths.www(p, c)}/index.html`)),
  );
  const owned = (op: Op): boolean => {
    if (op.kind === 'netns.add' || op.kind === 'netns.attach') return newNs.has(op.name);
    if ('netns' in op) {
      const ns = op.netns.kind === 'named' ? op.netns.name : undefined;
      if (ns && newNs.has(ns)) return true;
      if (ns && nodeNs.has(ns))
        return (
          ('name' in op && newVeths.has(op.name)) ||
          ('dev' in op && op.dev !== undefined && newVeths.has(op.dev))
        );
      if (ns === names.switchNs)
        return (op.kind === 'link.add-veth' || op.kind === 'link.set') && newPorts.has(op.name);
      return false;
    }
    if ('pid' in op) return newPids.has(op.pid);
    if (op.kind === 'file.write') return newFiles.has(op.path);
    return false;
  };

  const plan: Phase[] = [];
  if (removals.length) plan.push({ title: 'forget removed nodes', ops: removals });
  const gone = [
    ...d.removedPods.map((p) => names.podNs(p)),
    ...d.removedNodes.map((n) => names.nodeNs(n)),
  ].map((name): Op => ({ kind: 'netns.del', name, note: `remove ${name} and every interface in it` }));
  if (gone.length) plan.push({ title: 'remove namespaces', ops: gone });
  for (const phase of planLabUp(next, names, paths)) {
    const ops = phase.ops.filter(owned);
    if (ops.length) plan.push({ title: phase.title, ops });
  }
  if (additions.length) plan.push({ title: 'reach new nodes', ops: additions });
  return plan;
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

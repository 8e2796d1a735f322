import type { Cluster, NodeView, PodView } from '../model/resolve.js';
import { hostVethName } from '../net/ifname.js';
import { planMtu } from '../plan/mtu.js';
import { buildNodeModel, type NodeModelOptions } from '../plan/node/build.js';
import { emptyNodeState } from '../plan/node/model.js';
import { planNodeSync } from '../plan/node/sync.js';
import type { ContainerLaunch, Op, Phase, Plan } from '../plan/ops.js';
import { planPodAttach, planVethPair } from '../plan/pod.js';
import { planContainers, planOverlay, planPause, planSandboxNames } from '../plan/sandbox.js';
import { planSwitchBridge, planSwitchPorts, planUplink } from '../plan/underlay.js';
import type { LabNames } from './names.js';
import { planOutside, planOutsideRoute } from './outside.js';

/** Where the lab keeps per-pod files; all paths are under the lab's state directory. */
export interface LabPaths {
  readonly log: (pod: string, role: string) => string;
  readonly www: (pod: string, container: string) => string;
  readonly lowerDir: string;
  readonly overlay: (pod: string, container: string) => { upper: string; work: string; merged: string };
}

/** The identity containers every pod runs unless its spec names its own: they tell verify who answered. */
export const IDENTITY_PORTS = { web: 8080, sidecar: 8081 } as const;

/** The page an identity container serves: one line naming pod, container, node and IP. */
export function identityLine(pod: PodView, container: string): string {
  return `pod=${pod.name} container=${container} node=${pod.node} ip=${pod.ip}\n`;
}

/** The phase titles of a lab plan, in order. */
export const PHASES = [
  'namespaces',
  'underlay',
  'nodes',
  'pause',
  'sandboxes',
  'cables',
  'pod interfaces',
  'containers',
] as const;
type PhaseTitle = (typeof PHASES)[number];

/** Which of a cluster's nodes and pods a topology plan builds (all of them for `lab up`, the new ones for a change). */
export interface TopologyScope {
  readonly nodes: readonly NodeView[];
  readonly pods: readonly PodView[];
  /** Build the switch itself and the outside world (only `lab up`). */
  readonly whole: boolean;
}

/**
 * The lab's own topology for some nodes and pods (pure): namespaces, switch cables, uplinks, pause processes,
 * sandboxes, pod cables and interfaces, containers, and the outside world. No node state: that is the node
 * model's (src/plan/node/), synced by the caller. Each phase's work on different namespaces is independent.
 */
export function planLabTopology(
  cluster: Cluster,
  names: LabNames,
  paths: LabPaths,
  scope: TopologyScope,
): Plan {
  const { spec } = cluster;
  const podMtu = planMtu(spec).pod;
  const out = new Map<PhaseTitle, Op[]>(PHASES.map((t) => [t, []]));
  const add = (title: PhaseTitle, ...ops: Op[]) => out.get(title)!.push(...ops);

  if (scope.whole)
    add('namespaces', {
      kind: 'netns.add',
      name: names.switchNs,
      note: 'underlay: a namespace standing for the LAN switch',
    });
  for (const n of scope.nodes)
    add('namespaces', {
      kind: 'netns.add',
      name: names.nodeNs(n.name),
      note: `${n.name}: a namespace standing for the node (a machine)`,
    });
  const underlay = {
    switchNs: { kind: 'named' as const, name: names.switchNs },
    switchBridge: 'sw0',
    subnet: spec.underlay.subnet,
    mtu: spec.underlay.mtu,
    nodes: scope.nodes.map((n) => ({
      name: n.name,
      ns: names.node(n.name),
      ip: n.ip,
      port: names.switchPort(n.name),
    })),
  };
  if (scope.whole) add('underlay', ...planSwitchBridge(underlay));
  add('underlay', ...planSwitchPorts(underlay));
  for (const n of scope.nodes)
    add('nodes', ...planUplink({ name: n.name, ns: names.node(n.name), ip: n.ip }, spec.underlay.subnet));
  for (const p of scope.pods) {
    if (p.containers.length > 0) continue;
    for (const c of Object.keys(IDENTITY_PORTS))
      add('nodes', {
        kind: 'file.write',
        path: `${paths.www(p.name, c)}/index.html`,
        content: identityLine(p, c),
        note: `${p.name}/${c}: the identity page this container serves`,
      });
  }
  for (const p of scope.pods)
    add('pause', ...planPause(p.name, names.pidVar(p.name), paths.log(p.name, 'pause')));
  for (const p of scope.pods)
    add(
      'sandboxes',
      ...planSandboxNames(p.name, names.pidVar(p.name), names.podNs(p.name)),
      ...p.containers
        .filter((c) => c.rootfs === 'busybox')
        .flatMap((c) =>
          planOverlay(p.name, c.name, names.pidVar(p.name), {
            lower: paths.lowerDir,
            ...paths.overlay(p.name, c.name),
          }),
        ),
    );

  // Pod networking: first the cables (node side), then each pod's own interface (pod side).
  if (spec.sameNode === 'bridge') {
    for (const p of scope.pods) {
      const node = cluster.nodes.find((n) => n.name === p.node)!;
      const ns = names.node(node.name);
      for (const op of planPodAttach({
        pod: p.name,
        nodeNs: ns,
        podNs: names.pod(p.name),
        bridge: spec.bridge,
        hostIf: labHostVeth(cluster, p.name),
        podIf: 'eth0',
        ip: p.ip,
        prefix: p.prefix,
        gateway: node.gateway,
        mtu: podMtu,
        // Only a pod reaching itself through a service needs its frames sent back out of its own port.
        hairpin: spec.proxy !== 'none',
      }))
        add(
          'netns' in op && op.netns.kind === 'named' && op.netns.name === names.nodeNs(node.name)
            ? 'cables'
            : 'pod interfaces',
          op,
        );
    }
  } else if (scope.whole) {
    const [a, b] = cluster.pods as [PodView, PodView];
    const end = (p: PodView) => ({
      pod: p.name,
      ns: names.pod(p.name),
      ifname: `veth-${p.name}`.slice(0, 15),
      ip: p.ip,
      prefix: p.prefix,
    });
    const pair = planVethPair(end(a), end(b), podMtu);
    add('cables', ...pair.create);
    add('pod interfaces', ...pair.configure);
  }
  for (const p of scope.pods)
    add('containers', ...planContainers(p.name, names.pidVar(p.name), containersOf(p, paths)));

  if (spec.outside) {
    if (scope.whole) planOutside(cluster, names, paths, (title, ...ops) => add(title as PhaseTitle, ...ops));
    for (const n of scope.nodes) add('pod interfaces', planOutsideRoute(cluster, names, n.name));
  }
  const phases = PHASES.map((title) => ({ title, ops: out.get(title)! })).filter(
    (p) => p.ops.length > 0 || scope.whole,
  );
  // The pause processes make their own namespaces and need nothing of the phases before them, so they start
  // beside the switch and node work; naming them (sandboxes) waits only for /run/netns (namespaces) and them.
  const present = new Set(phases.map((p) => p.title));
  return phases.map((p) => {
    const after = PHASE_NEEDS[p.title];
    return after ? { ...p, after: after.filter((t) => present.has(t)) } : p;
  });
}

/** The phases that need fewer than all earlier ones (Phase.after); the others wait for every earlier phase. */
const PHASE_NEEDS: Partial<Record<PhaseTitle, readonly PhaseTitle[]>> = {
  pause: [],
  sandboxes: ['namespaces', 'pause'],
};

/** A lab node's namespace is podnet's alone: namespace-wide settings (br_netfilter off) are the lab's to set. */
export const LAB_NODE: NodeModelOptions = { ownsNamespace: true };

/** A lab node's state from scratch: its namespace was just created, so nothing of podnet's is in it yet. */
export function planLabNodeFromScratch(cluster: Cluster, names: LabNames, node: string): Op[] {
  const desired = buildNodeModel(cluster, node, LAB_NODE);
  return planNodeSync(emptyNodeState(node, desired.podCIDR), desired, { netns: names.node(node) });
}

/**
 * The whole lab (pure): the topology, and in the `nodes` phase each node's model synced from an empty
 * namespace: exactly what `lab reconcile` would run on a node with nothing on it.
 */
export function planLabUp(cluster: Cluster, names: LabNames, paths: LabPaths): Plan {
  const topology = planLabTopology(cluster, names, paths, {
    nodes: cluster.nodes,
    pods: cluster.pods,
    whole: true,
  });
  return withNodeSync(topology, cluster, names, cluster.nodes);
}

/** Inserts each node's from-scratch sync into the `nodes` phase, right after that node's uplink. */
export function withNodeSync(
  plan: Plan,
  cluster: Cluster,
  names: LabNames,
  nodes: readonly NodeView[],
): Plan {
  if (!nodes.length) return plan;
  const inNs = (o: Op, ns: string) => 'netns' in o && o.netns.kind === 'named' && o.netns.name === ns;
  return plan.map((p): Phase => {
    if (p.title !== 'nodes') return p;
    const perNode = nodes.flatMap((n) => [
      ...p.ops.filter((o) => inNs(o, names.nodeNs(n.name))),
      ...planLabNodeFromScratch(cluster, names, n.name),
    ]);
    const rest = p.ops.filter((o) => !nodes.some((n) => inNs(o, names.nodeNs(n.name))));
    return { ...p, ops: [...perNode, ...rest] };
  });
}

/** The host-side veth of a lab pod (net/ifname.ts: one scheme for the lab and the CNI plugin). */
export const labHostVeth = (cluster: Cluster, pod: string): string =>
  hostVethName(`lab/${cluster.spec.name}/${pod}/eth0`);

/** The processes a pod runs: its spec's containers, or the two identity servers. */
export function containersOf(p: PodView, paths: LabPaths): ContainerLaunch[] {
  if (p.containers.length === 0) {
    return Object.entries(IDENTITY_PORTS).map(([name, port]) => ({
      name,
      command: ['busybox', 'httpd', '-f', '-p', String(port), '-h', paths.www(p.name, name)],
      log: paths.log(p.name, name),
    }));
  }
  return p.containers.map((c) => ({
    name: c.name,
    command: c.command,
    log: paths.log(p.name, c.name),
    ...(c.rootfs === 'busybox' ? { chroot: paths.overlay(p.name, c.name).merged } : {}),
  }));
}

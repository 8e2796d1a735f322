import type { Cluster, PodView } from '../model/resolve.js';
import { hostVethName } from '../net/ifname.js';
import { type CrossNodeEnv, planCrossNode } from '../plan/cross-node/index.js';
import { planMtu } from '../plan/mtu.js';
import { planNodeBridge, planNodeSysctls } from '../plan/node.js';
import type { ContainerLaunch, Netns, Op, Phase, Plan } from '../plan/ops.js';
import { planPodAttach, planVethPair } from '../plan/pod.js';
import { planContainers, planOverlay, planPause, planSandboxNames } from '../plan/sandbox.js';
import { planSwitch, planUplink } from '../plan/underlay.js';
import type { LabNames } from './names.js';
import { withPolicies } from './policy.js';
import { withServices } from './services.js';

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

/**
 * The whole lab as phases (pure): namespaces, the switch, nodes, pause processes, sandboxes, pod networking,
 * containers. Each phase's work on different namespaces is independent, so apply can batch and overlap it.
 */
export function planLabUp(cluster: Cluster, names: LabNames, paths: LabPaths): Plan {
  const { spec } = cluster;
  const mtu = spec.underlay.mtu;
  // Bridge, pod veths and tunnel devices: the underlay MTU minus the cross-node backend's overhead.
  const podMtu = planMtu(spec).pod;
  const nodeNs = (n: string) => names.node(n);
  const phases: Phase[] = [];

  phases.push({
    title: 'namespaces',
    ops: [
      { kind: 'netns.add', name: names.switchNs, note: 'underlay: a namespace standing for the LAN switch' },
      ...cluster.nodes.map(
        (n): Op => ({
          kind: 'netns.add',
          name: names.nodeNs(n.name),
          note: `${n.name}: a namespace standing for the node (a machine)`,
        }),
      ),
    ],
  });
  phases.push({
    title: 'underlay',
    ops: planSwitch({
      switchNs: { kind: 'named', name: names.switchNs },
      switchBridge: 'sw0',
      subnet: spec.underlay.subnet,
      mtu,
      nodes: cluster.nodes.map((n) => ({
        name: n.name,
        ns: nodeNs(n.name),
        ip: n.ip,
        port: names.switchPort(n.name),
      })),
    }),
  });

  const nodeOps: Op[] = [];
  for (const n of cluster.nodes) {
    const ns = nodeNs(n.name);
    nodeOps.push(...planUplink({ name: n.name, ns, ip: n.ip }, spec.underlay.subnet));
    if (spec.sameNode === 'bridge') {
      nodeOps.push(
        ...planNodeBridge({
          ns,
          node: n.name,
          bridge: spec.bridge,
          podCIDR: n.podCIDR,
          gateway: n.gateway,
          mtu: podMtu,
        }),
      );
    }
    nodeOps.push(...planNodeSysctls(ns, n.name));
    if (spec.sameNode === 'bridge') nodeOps.push(...planCrossNode(cluster, n, labCrossNodeEnv(names)));
  }
  for (const p of cluster.pods) {
    if (p.containers.length > 0) continue;
    for (const c of Object.keys(IDENTITY_PORTS)) {
      nodeOps.push({
        kind: 'file.write',
        path: `${paths.www(p.name, c)}/index.html`,
        content: identityLine(p, c),
        note: `${p.name}/${c}: the identity page this container serves`,
      });
    }
  }
  phases.push({ title: 'nodes', ops: nodeOps });

  phases.push({
    title: 'pause',
    ops: cluster.pods.flatMap((p) => planPause(p.name, names.pidVar(p.name), paths.log(p.name, 'pause'))),
  });
  phases.push({
    title: 'sandboxes',
    ops: cluster.pods.flatMap((p) => [
      ...planSandboxNames(p.name, names.pidVar(p.name), names.podNs(p.name)),
      ...p.containers
        .filter((c) => c.rootfs === 'busybox')
        .flatMap((c) =>
          planOverlay(p.name, c.name, names.pidVar(p.name), {
            lower: paths.lowerDir,
            ...paths.overlay(p.name, c.name),
          }),
        ),
    ]),
  });

  // Pod networking: first the cables (node side), then each pod's own interface (pod side).
  const cables: Op[] = [];
  const inside: Op[] = [];
  if (spec.sameNode === 'bridge') {
    for (const p of cluster.pods) {
      const node = cluster.nodes.find((n) => n.name === p.node)!;
      const ns = nodeNs(node.name);
      const ops = planPodAttach({
        pod: p.name,
        nodeNs: ns,
        podNs: names.pod(p.name),
        bridge: spec.bridge,
        hostIf: hostVethName(`${spec.name}/${p.name}`, p.name),
        podIf: 'eth0',
        ip: p.ip,
        prefix: p.prefix,
        gateway: node.gateway,
        mtu: podMtu,
        hairpin: true,
      });
      for (const op of ops) (sameNs(op, ns) ? cables : inside).push(op);
    }
  } else {
    const [a, b] = cluster.pods as [PodView, PodView];
    const end = (p: PodView) => ({
      pod: p.name,
      ns: names.pod(p.name),
      ifname: `veth-${p.name}`.slice(0, 15),
      ip: p.ip,
      prefix: p.prefix,
    });
    const pair = planVethPair(end(a), end(b), podMtu);
    cables.push(...pair.create);
    inside.push(...pair.configure);
  }
  phases.push({ title: 'cables', ops: cables });
  phases.push({ title: 'pod interfaces', ops: inside });

  phases.push({
    title: 'containers',
    ops: cluster.pods.flatMap((p) => planContainers(p.name, names.pidVar(p.name), containersOf(p, paths))),
  });
  return withPolicies(withServices(phases, cluster, names, paths), cluster, names);
}

/** Cross-node planners' view of the lab: nodes are namespaces, each cabled to the switch by its eth0. */
export function labCrossNodeEnv(names: LabNames): CrossNodeEnv {
  return { ns: (n) => names.node(n), uplink: () => 'eth0' };
}

function sameNs(op: Op, ns: Netns): boolean {
  return 'netns' in op && op.netns.kind === 'named' && ns.kind === 'named' && op.netns.name === ns.name;
}

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

import type { Ip } from '../net/ip.js';
import type { Netns, Op } from './ops.js';

/** Everything needed to plug one pod into its node's bridge. */
export interface PodAttachParams {
  /** Pod name, for explanations. */
  readonly pod: string;
  readonly nodeNs: Netns;
  readonly podNs: Netns;
  readonly bridge: string;
  /** Host-side veth name (in the node namespace). */
  readonly hostIf: string;
  /** Pod-side interface name, usually eth0. */
  readonly podIf: string;
  readonly ip: Ip;
  readonly prefix: number;
  readonly gateway: Ip;
  readonly mtu: number;
  /** Let traffic leave and re-enter the same bridge port (a pod reaching itself through a service). */
  readonly hairpin?: boolean;
  /** MAC of the pod's interface (CNI reports it in its result); the kernel picks one when absent. */
  readonly podMac?: string;
  /** Route everything via the gateway (CNI `isDefaultGateway`). @default true */
  readonly defaultRoute?: boolean;
}

/**
 * Bridge + veth attachment of one pod (seed §3.2 and §4.1): the same planner serves the lab, the CNI plugin's
 * ADD and the agent, so they never drift.
 */
export function planPodAttach(p: PodAttachParams): Op[] {
  const ops: Op[] = [
    {
      kind: 'link.add-veth',
      netns: p.nodeNs,
      name: p.hostIf,
      peer: p.podIf,
      peerNetns: p.podNs,
      mtu: p.mtu,
      ...(p.podMac ? { peerMac: p.podMac } : {}),
      note: `${p.pod}: create a veth pair, a virtual cable: ${p.hostIf} stays on the node, ${p.podIf} goes into the pod`,
    },
    {
      kind: 'link.set',
      netns: p.nodeNs,
      name: p.hostIf,
      master: p.bridge,
      up: true,
      note: `${p.pod}: plug the node end into bridge ${p.bridge} and bring it up`,
    },
  ];
  if (p.hairpin) {
    ops.push({
      kind: 'bridge.port',
      netns: p.nodeNs,
      dev: p.hostIf,
      hairpin: true,
      note: `${p.pod}: hairpin mode, so the bridge may send a frame back out of the port it came in on`,
    });
  }
  ops.push(...planPodInterface(p));
  if (p.defaultRoute !== false) {
    ops.push({
      kind: 'route.replace',
      netns: p.podNs,
      dst: 'default',
      via: p.gateway.toString(),
      dev: p.podIf,
      note: `${p.pod}: send everything outside the pod subnet to the bridge's gateway address`,
    });
  }
  return ops;
}

/** Inside the pod: loopback up, the pod's address, the interface up. */
export function planPodInterface(p: {
  pod: string;
  podNs: Netns;
  podIf: string;
  ip: Ip;
  prefix: number;
}): Op[] {
  return [
    {
      kind: 'link.set',
      netns: p.podNs,
      name: 'lo',
      up: true,
      note: `${p.pod}: bring loopback up, so containers of the pod reach each other on localhost`,
    },
    {
      kind: 'addr.add',
      netns: p.podNs,
      dev: p.podIf,
      cidr: `${p.ip}/${p.prefix}`,
      note: `${p.pod}: assign the pod its IP address`,
    },
    {
      kind: 'link.set',
      netns: p.podNs,
      name: p.podIf,
      up: true,
      note: `${p.pod}: bring the pod's interface up`,
    },
  ];
}

/**
 * The seed's §3.1: two pods joined by one direct veth pair, no bridge. Only ever connects exactly two pods.
 */
export function planVethPair(
  a: { pod: string; ns: Netns; ifname: string; ip: Ip; prefix: number },
  b: { pod: string; ns: Netns; ifname: string; ip: Ip; prefix: number },
  mtu: number,
): { create: Op[]; configure: Op[] } {
  return {
    create: [
      {
        kind: 'link.add-veth',
        netns: a.ns,
        name: a.ifname,
        peer: b.ifname,
        peerNetns: b.ns,
        mtu,
        note: `create a veth pair: ${a.ifname} in ${a.pod}, ${b.ifname} in ${b.pod}, a direct virtual cable between the two pods`,
      },
    ],
    configure: [
      ...planPodInterface({ pod: a.pod, podNs: a.ns, podIf: a.ifname, ip: a.ip, prefix: a.prefix }),
      ...planPodInterface({ pod: b.pod, podNs: b.ns, podIf: b.ifname, ip: b.ip, prefix: b.prefix }),
    ],
  };
}

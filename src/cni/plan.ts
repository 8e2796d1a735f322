import { shortHash } from '../net/ifname.js';
import { Ip } from '../net/ip.js';
import { macFromName } from '../net/mac.js';
import { planNodeBridge, planNodeSysctls } from '../plan/node.js';
import { HOST, type Netns, type Op, type Plan } from '../plan/ops.js';
import { planPodAttach } from '../plan/pod.js';
import type { NetConf, PodRange } from './config.js';

/**
 * What CNI ADD/DEL change, composed from the planners the lab uses (planNodeBridge, planPodAttach): the plugin
 * only decides names and which parts apply. Pure.
 */

/** The host-side veth of an attachment: `pn` + 8 hex of sha256(containerID/ifname), always ≤ 15 characters. */
export const hostIfName = (containerId: string, ifname: string): string =>
  `pn${shortHash(`${containerId}/${ifname}`)}`;

/** Recognises our host-side veth names (GC only touches these). */
export const HOST_IF_RE = /^pn[0-9a-f]{8}$/;

/** A deterministic, locally administered MAC for the pod's interface, so the result can report it. */
export const podMacOf = (containerId: string, ifname: string): string =>
  macFromName(`cni/${containerId}/${ifname}`);

/** The nftables table that masquerades one network's pods (ipMasq). */
export const masqTable = (network: string): string => `podnet_cni_${shortHash(network)}`;

function bridgeOps(conf: NetConf, ns: Netns): Op[] {
  const ops: Op[] = [];
  for (const [i, r] of conf.ranges.entries()) {
    for (const op of planNodeBridge({
      ns,
      node: `network ${conf.name}`,
      bridge: conf.bridge,
      podCIDR: r.subnet,
      gateway: r.gateway,
      mtu: conf.mtu,
    })) {
      if (op.kind === 'addr.add' && !conf.isGateway) continue;
      if (i > 0 && op.kind !== 'addr.add') continue;
      ops.push(op);
    }
  }
  return ops;
}

/** First ADD on a node: the bridge (with gateway addresses), forwarding, and masquerading when asked. */
export function planCniNode(conf: NetConf): Plan {
  const ops = [...bridgeOps(conf, HOST)];
  if (conf.isGateway) ops.push(...planNodeSysctls(HOST, `network ${conf.name}`));
  if (conf.ipMasq) {
    const t = masqTable(conf.name);
    const rules = conf.ranges
      .map(
        (r) =>
          `    ip saddr ${r.subnet} ip daddr != ${r.subnet} masquerade comment "podnet cni ${conf.name}: pods leaving ${r.subnet}"`,
      )
      .join('\n');
    ops.push({
      kind: 'nft.apply',
      netns: HOST,
      script: `table ip ${t} {}\nflush table ip ${t}\ntable ip ${t} {\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n${rules}\n  }\n}\n`,
      note: `network ${conf.name}: masquerade pod traffic that leaves the pod subnet (ipMasq)`,
    });
  }
  return [{ title: 'node', ops }];
}

export interface AttachParams {
  readonly containerId: string;
  readonly ifname: string;
  readonly netns: string;
  readonly ip: Ip;
  readonly range: PodRange;
  /** Pod name for notes (K8S_POD_NAME, or the container ID). */
  readonly pod: string;
}

/**
 * One attachment: the node side (bridge asserted again, veth created with its pod end moved into CNI_NETNS,
 * plugged into the bridge) as one phase, then the pod side (loopback, address, default route) as a second:
 * with batching that is one `ip -batch` in the node namespace and one in the pod's.
 */
export function planCniAttach(conf: NetConf, a: AttachParams): Plan {
  const podNs: Netns = { kind: 'path', path: a.netns };
  const attach = planPodAttach({
    pod: a.pod,
    nodeNs: HOST,
    podNs,
    bridge: conf.bridge,
    hostIf: hostIfName(a.containerId, a.ifname),
    podIf: a.ifname,
    ip: a.ip,
    prefix: a.range.subnet.prefix,
    gateway: a.range.gateway,
    mtu: conf.mtu,
    hairpin: conf.hairpinMode,
    podMac: podMacOf(a.containerId, a.ifname),
    defaultRoute: conf.isDefaultGateway,
  });
  const onNode = (op: Op) => 'netns' in op && op.netns.kind === 'host';
  return [
    {
      title: 'node side',
      ops: [...bridgeOps(conf, HOST).filter((op) => op.kind !== 'link.add-bridge'), ...attach.filter(onNode)],
    },
    { title: 'pod side', ops: attach.filter((op) => !onNode(op)) },
  ];
}

/** DEL: removing the host end removes the pair, and with it the pod's interface and its addresses/routes. */
export function planCniDetach(hostIf: string): Op {
  return {
    kind: 'link.del',
    netns: HOST,
    name: hostIf,
    note: `remove veth pair ${hostIf} (and its pod end)`,
  };
}

export { Ip };

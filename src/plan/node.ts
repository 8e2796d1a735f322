import type { Cidr, Ip } from '../net/ip.js';
import { macFromName } from '../net/mac.js';
import type { Netns, Op } from './ops.js';

/** What a node needs to host pods: where it is, its bridge, and its pod CIDR. */
export interface NodeBaseParams {
  readonly ns: Netns;
  /** Node name, for explanations. */
  readonly node: string;
  readonly bridge: string;
  readonly podCIDR: Cidr;
  readonly gateway: Ip;
  readonly mtu: number;
}

/**
 * Per-node setup shared by the lab, the CNI plugin and the agent (seed §3.2, §4.1): a bridge holding the
 * pod CIDR's gateway address, so pods can route through the node, and IPv4 forwarding on.
 */
export function planNodeBridge(p: NodeBaseParams): Op[] {
  return [
    {
      kind: 'link.add-bridge',
      netns: p.ns,
      name: p.bridge,
      mtu: p.mtu,
      // A bridge without its own address takes the lowest MAC of its ports and changes it when that port
      // leaves: every pod's ARP entry for the gateway then points nowhere until it expires. Fix it, stably.
      mac: macFromName(`bridge/${p.bridge}/${p.gateway}`),
      note: `${p.node}: create bridge ${p.bridge} with a fixed MAC, the virtual switch every pod on this node plugs into`,
    },
    {
      kind: 'addr.add',
      netns: p.ns,
      dev: p.bridge,
      cidr: `${p.gateway}/${p.podCIDR.prefix}`,
      note: `${p.node}: give the bridge the pod CIDR's gateway address, pods' next hop off the node`,
    },
    { kind: 'link.set', netns: p.ns, name: p.bridge, up: true, note: `${p.node}: bring the bridge up` },
  ];
}

/** IPv4 forwarding, so the node routes between its bridge and its uplink (seed §4.1). */
export function planNodeSysctls(ns: Netns, node: string): Op[] {
  return [
    {
      kind: 'sysctl.set',
      netns: ns,
      key: 'net.ipv4.ip_forward',
      value: '1',
      note: `${node}: forward packets between interfaces (bridge <-> uplink)`,
    },
  ];
}

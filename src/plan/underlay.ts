import type { Cidr, Ip } from '../net/ip.js';
import type { Netns, Op } from './ops.js';

/** The lab's emulated LAN: a switch namespace holding a bridge, and one uplink per node. */
export interface UnderlayParams {
  readonly switchNs: Netns;
  readonly switchBridge: string;
  readonly subnet: Cidr;
  readonly mtu: number;
  readonly nodes: readonly { name: string; ns: Netns; ip: Ip; port: string }[];
}

/** The switch: a bridge, one port per node, each cabled to the node's eth0. */
export function planSwitch(p: UnderlayParams): Op[] {
  return [...planSwitchBridge(p), ...planSwitchPorts(p)];
}

/** The switch's bridge alone (made once, when the lab comes up). */
export function planSwitchBridge(p: UnderlayParams): Op[] {
  return [
    {
      kind: 'link.add-bridge',
      netns: p.switchNs,
      name: p.switchBridge,
      mtu: p.mtu,
      note: `underlay: the LAN switch every node is cabled to`,
    },
    { kind: 'link.set', netns: p.switchNs, name: p.switchBridge, up: true, note: 'underlay: switch on' },
  ];
}

/** One switch port per node, cabled to the node's eth0. */
export function planSwitchPorts(p: UnderlayParams): Op[] {
  const ops: Op[] = [];
  for (const n of p.nodes) {
    ops.push(
      {
        kind: 'link.add-veth',
        netns: p.switchNs,
        name: n.port,
        peer: 'eth0',
        peerNetns: n.ns,
        mtu: p.mtu,
        note: `underlay: cable ${n.name}'s eth0 to switch port ${n.port}`,
      },
      {
        kind: 'link.set',
        netns: p.switchNs,
        name: n.port,
        master: p.switchBridge,
        up: true,
        note: `underlay: plug port ${n.port} into the switch`,
      },
    );
  }
  return ops;
}

/** A node's uplink: loopback, its underlay address on eth0. */
export function planUplink(node: { name: string; ns: Netns; ip: Ip }, subnet: Cidr): Op[] {
  return [
    { kind: 'link.set', netns: node.ns, name: 'lo', up: true, note: `${node.name}: bring loopback up` },
    {
      kind: 'addr.add',
      netns: node.ns,
      dev: 'eth0',
      cidr: `${node.ip}/${subnet.prefix}`,
      note: `${node.name}: the node's address on the LAN`,
    },
    { kind: 'link.set', netns: node.ns, name: 'eth0', up: true, note: `${node.name}: bring the uplink up` },
  ];
}

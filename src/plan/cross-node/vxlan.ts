import type { Cluster, NodeView } from '../../model/resolve.js';
import { macFromName } from '../../net/mac.js';
import type { CrossNodeBackend } from './types.js';

/** The VXLAN device of every node: `vxlan.<vni>` (flannel names its `flannel.<vni>`). */
export const vxlanDevice = (c: Cluster): string => `vxlan.${c.spec.vxlan.vni}`;

/** A node's VTEP MAC: derived from its name, so peers' FDB and neighbour entries survive restarts. */
export const vtepMac = (node: string): string => macFromName(`podnet-vtep/${node}`);

/** A node's VTEP address: the network address of its pod CIDR (flannel's choice; never given to a pod). */
export const vtepIp = (n: NodeView): string => n.podCIDR.network.toString();

/**
 * VXLAN (the node model's entries: src/plan/node/build.ts). Two ways to find which node holds a MAC:
 * - unicast (flannel, Calico): no learning. Per remote node a permanent neighbour entry (its VTEP IP → VTEP
 *   MAC), an FDB entry (VTEP MAC → its underlay IP) and an onlink route for its pod CIDR via its VTEP IP. The
 *   route goes last, so the kernel never has to ARP. Routes are O(N) per node.
 * - multicast (seed §4.3): the device is a port of the node bridge, unknown MACs flood to a multicast group,
 *   the FDB learns from replies; one route for the whole cluster CIDR, nothing per peer. Needs multicast on the
 *   underlay, which clouds do not offer.
 */
export const vxlan: CrossNodeBackend = { mode: 'vxlan', device: vxlanDevice };

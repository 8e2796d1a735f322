import type { Cluster, NodeView } from '../../model/resolve.js';
import { macFromName } from '../../net/mac.js';
import { planMtu } from '../mtu.js';
import type { Op } from '../ops.js';
import type { CrossNodeBackend } from './types.js';

/** The VXLAN device of every node: `vxlan.<vni>` (flannel names its `flannel.<vni>`). */
export const vxlanDevice = (c: Cluster): string => `vxlan.${c.spec.vxlan.vni}`;

/** A node's VTEP MAC: derived from its name, so peers' FDB and neighbour entries survive restarts. */
export const vtepMac = (node: string): string => macFromName(`podnet-vtep/${node}`);

/** A node's VTEP address: the network address of its pod CIDR (flannel's choice; never given to a pod). */
export const vtepIp = (n: NodeView): string => n.podCIDR.network.toString();

/**
 * VXLAN. Two ways to find which node holds a MAC:
 * - unicast (flannel, Calico): no learning. Per remote node a permanent neighbour entry (its VTEP IP → VTEP
 *   MAC), an FDB entry (VTEP MAC → its underlay IP) and an onlink route for its pod CIDR via its VTEP IP. The
 *   route goes last, so the kernel never has to ARP. Routes are O(N) per node.
 * - multicast (seed §4.3): the device is a port of the node bridge, unknown MACs flood to a multicast group,
 *   the FDB learns from replies; one route for the whole cluster CIDR, nothing per peer. Needs multicast on the
 *   underlay, which clouds do not offer.
 */
export const vxlan: CrossNodeBackend = {
  mode: 'vxlan',
  device: vxlanDevice,
  planLocal(c, node, env) {
    const ns = env.ns(node.name);
    const dev = vxlanDevice(c);
    const v = c.spec.vxlan;
    const mtu = planMtu(c.spec).pod;
    if (v.learning === 'multicast') {
      return [
        {
          kind: 'link.add-vxlan',
          netns: ns,
          name: dev,
          vni: v.vni,
          local: node.ip.toString(),
          dev: env.uplink(node.name),
          port: v.port,
          group: v.group.toString(),
          learning: true,
          mtu,
          note: `${node.name}: VXLAN device (VNI ${v.vni}, UDP ${v.port}) that floods unknown MACs to group ${v.group} and learns where each MAC lives`,
        },
        {
          kind: 'link.set',
          netns: ns,
          name: dev,
          master: c.spec.bridge,
          up: true,
          note: `${node.name}: plug the VXLAN device into bridge ${c.spec.bridge}: all nodes' bridges form one L2 segment`,
        },
        {
          kind: 'route.replace',
          netns: ns,
          dst: c.spec.clusterCIDR.toString(),
          dev: c.spec.bridge,
          note: `${node.name}: the whole cluster CIDR is on the bridge: one route, whatever the number of nodes`,
        },
        // A pod's packet to a remote pod enters and leaves the node by the same bridge, so the node would send
        // the pod an ICMP redirect ("talk to it directly"), which pods accept (shared_media): they then ARP for
        // remote pods themselves. Keep the node as their only next hop. The kernel ORs `all` and the device.
        ...['all', c.spec.bridge].map(
          (scope): Op => ({
            kind: 'sysctl.set',
            netns: ns,
            key: `net.ipv4.conf.${scope}.send_redirects`,
            value: '0',
            note: `${node.name}: no ICMP redirects from ${scope === 'all' ? 'any interface' : `bridge ${scope}`}: pods keep routing through their gateway`,
          }),
        ),
      ];
    }
    return [
      {
        kind: 'link.add-vxlan',
        netns: ns,
        name: dev,
        vni: v.vni,
        local: node.ip.toString(),
        dev: env.uplink(node.name),
        port: v.port,
        learning: false,
        mac: vtepMac(node.name),
        mtu,
        note: `${node.name}: VXLAN device (VNI ${v.vni}, UDP ${v.port}), no learning: peers are programmed, one entry each`,
      },
      {
        kind: 'addr.add',
        netns: ns,
        dev,
        cidr: `${vtepIp(node)}/32`,
        note: `${node.name}: the VTEP address, the network address of the node's pod CIDR`,
      },
      { kind: 'link.set', netns: ns, name: dev, up: true, note: `${node.name}: bring the VXLAN device up` },
    ];
  },
  planPeer(c, node, peer, env) {
    if (c.spec.vxlan.learning === 'multicast') return [];
    const ns = env.ns(node.name);
    const dev = vxlanDevice(c);
    return [
      {
        kind: 'neigh.replace',
        netns: ns,
        dev,
        ip: vtepIp(peer),
        mac: vtepMac(peer.name),
        note: `${node.name}: ${peer.name}'s VTEP ${vtepIp(peer)} has MAC ${vtepMac(peer.name)} (permanent, no ARP)`,
      },
      {
        kind: 'fdb.replace',
        netns: ns,
        dev,
        mac: vtepMac(peer.name),
        dst: peer.ip.toString(),
        note: `${node.name}: frames for ${peer.name}'s VTEP MAC are tunnelled to ${peer.ip}`,
      },
      {
        kind: 'route.replace',
        netns: ns,
        dst: peer.podCIDR.toString(),
        via: vtepIp(peer),
        dev,
        onlink: true,
        note: `${node.name}: ${peer.name}'s pods (${peer.podCIDR}) via its VTEP, on the VXLAN device`,
      },
    ];
  },
  planPeerRemoval(c, node, peer, env) {
    if (c.spec.vxlan.learning === 'multicast') return [];
    const ns = env.ns(node.name);
    const dev = vxlanDevice(c);
    return [
      {
        kind: 'route.del',
        netns: ns,
        dst: peer.podCIDR.toString(),
        dev,
        note: `${node.name}: forget the route to ${peer.name}'s pods`,
      },
      {
        kind: 'fdb.del',
        netns: ns,
        dev,
        mac: vtepMac(peer.name),
        dst: peer.ip.toString(),
        note: `${node.name}: forget ${peer.name}'s VTEP in the FDB`,
      },
      {
        kind: 'neigh.del',
        netns: ns,
        dev,
        ip: vtepIp(peer),
        note: `${node.name}: forget ${peer.name}'s VTEP neighbour entry`,
      },
    ];
  },
};

import type { Cluster } from '../../model/resolve.js';
import { planMtu } from '../mtu.js';
import type { CrossNodeBackend } from './types.js';

/** The IP-in-IP device of every node. Not `tunl0`: the ipip module creates that one as a catch-all. */
export const IPIP_DEVICE = 'pnipip0';

/**
 * IP-in-IP, N-node form (Calico's IPIP mode, flannel's ipip): one NBMA tunnel device per node, with a local
 * address and no fixed remote, and an onlink route per remote pod CIDR via that node's underlay IP, which
 * becomes the outer destination. The seed's §4.2 tunnel has a fixed `remote` and only ever joins two nodes.
 */
export const ipip: CrossNodeBackend = {
  mode: 'ipip',
  device: (_c: Cluster) => IPIP_DEVICE,
  planLocal(c, node, env) {
    const ns = env.ns(node.name);
    return [
      {
        kind: 'link.add-ipip',
        netns: ns,
        name: IPIP_DEVICE,
        local: node.ip.toString(),
        mtu: planMtu(c.spec).pod,
        note: `${node.name}: IP-in-IP device with local ${node.ip} and no remote: one device reaches every node`,
      },
      {
        kind: 'addr.add',
        netns: ns,
        dev: IPIP_DEVICE,
        cidr: `${node.podCIDR.network}/32`,
        note: `${node.name}: the tunnel's own address (the pod CIDR's network address), used when the node itself talks to remote pods`,
      },
      { kind: 'link.set', netns: ns, name: IPIP_DEVICE, up: true, note: `${node.name}: bring the tunnel up` },
    ];
  },
  planPeer(_c, node, peer, env) {
    return [
      {
        kind: 'route.replace',
        netns: env.ns(node.name),
        dst: peer.podCIDR.toString(),
        via: peer.ip.toString(),
        dev: IPIP_DEVICE,
        onlink: true,
        note: `${node.name}: ${peer.name}'s pods (${peer.podCIDR}) inside an outer IP header to ${peer.ip}`,
      },
    ];
  },
  planPeerRemoval(_c, node, peer, env) {
    return [
      {
        kind: 'route.del',
        netns: env.ns(node.name),
        dst: peer.podCIDR.toString(),
        dev: IPIP_DEVICE,
        note: `${node.name}: forget the tunnel route to ${peer.name}'s pods`,
      },
    ];
  },
};

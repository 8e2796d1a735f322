import { PlanError } from '../../errors.js';
import type { Cluster } from '../../model/resolve.js';
import type { CrossNodeBackend } from './types.js';

/** The nodes of a cluster grouped by L2 segment (nodes without one share the underlay's). */
export function segmentsOf(c: Cluster): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const n of c.spec.nodes) {
    const seg = n.segment ?? '(underlay)';
    out.set(seg, [...(out.get(seg) ?? []), n.name]);
  }
  return out;
}

/**
 * host-gw (seed §4.1, flannel's host-gw): every node routes each other node's pod CIDR via that node's
 * underlay address. No encapsulation, no tunnel device; needs every node on one L2 segment, because the next
 * hop must be reachable without a router.
 */
export const hostGw: CrossNodeBackend = {
  mode: 'host-gw',
  device: () => undefined,
  planLocal(c) {
    const segments = segmentsOf(c);
    if (segments.size > 1)
      throw new PlanError(
        `host-gw needs every node on one L2 segment, but the nodes are on ${segments.size}: ${[...segments].map(([k, v]) => `${k} (${v.join(', ')})`).join('; ')}; use vxlan or ipip across segments`,
      );
    return [];
  },
  planPeer(_c, node, peer, env) {
    return [
      {
        kind: 'route.replace',
        netns: env.ns(node.name),
        dst: peer.podCIDR.toString(),
        via: peer.ip.toString(),
        dev: env.uplink(node.name),
        note: `${node.name}: pods of ${peer.name} (${peer.podCIDR}) are reached through ${peer.name} itself (${peer.ip}), a plain routed hop`,
      },
    ];
  },
  planPeerRemoval(_c, node, peer, env) {
    return [
      {
        kind: 'route.del',
        netns: env.ns(node.name),
        dst: peer.podCIDR.toString(),
        dev: env.uplink(node.name),
        note: `${node.name}: forget the route to ${peer.name}'s pods`,
      },
    ];
  },
};

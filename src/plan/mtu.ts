import type { ClusterSpec, CrossNodeMode } from '../model/cluster.js';

/**
 * Bytes each cross-node backend adds to a packet on the underlay:
 * - vxlan: outer IPv4 (20) + UDP (8) + VXLAN header (8) + the inner Ethernet header (14) = 50;
 * - ipip: one outer IPv4 header = 20;
 * - host-gw (and none): 0, packets are routed as they are.
 */
export const ENCAP_OVERHEAD: Readonly<Record<CrossNodeMode, number>> = {
  none: 0,
  'host-gw': 0,
  vxlan: 50,
  ipip: 20,
};

/** The MTU every pod-facing interface gets: the underlay MTU minus the backend's overhead. */
export interface MtuPlan {
  /** The underlay (node uplinks, the switch). */
  readonly underlay: number;
  /** Bridge, both ends of each pod veth, and the tunnel device: underlay − overhead. */
  readonly pod: number;
  readonly overhead: number;
}

/**
 * Decides the MTUs of a cluster (pure). A pod whose MTU is larger than the tunnel's only works while nodes
 * send ICMP "fragmentation needed" and nothing filters it; with the right MTU, full-size packets never
 * fragment (see docs/backends/*.md).
 */
export function planMtu(spec: Pick<ClusterSpec, 'underlay' | 'crossNode'>): MtuPlan {
  const overhead = ENCAP_OVERHEAD[spec.crossNode];
  return { underlay: spec.underlay.mtu, pod: spec.underlay.mtu - overhead, overhead };
}

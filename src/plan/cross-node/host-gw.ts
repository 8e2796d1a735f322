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
 * hop must be reachable without a router (the node model's routes: src/plan/node/build.ts).
 */
export const hostGw: CrossNodeBackend = { mode: 'host-gw', device: () => undefined };

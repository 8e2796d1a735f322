import type { Cluster } from '../../model/resolve.js';
import type { CrossNodeBackend } from './types.js';

/** The IP-in-IP device of every node. Not `tunl0`: the ipip module creates that one as a catch-all. */
export const IPIP_DEVICE = 'pnipip0';

/**
 * IP-in-IP, N-node form (Calico's IPIP mode, flannel's ipip): one NBMA tunnel device per node, with a local
 * address and no fixed remote, and an onlink route per remote pod CIDR via that node's underlay IP, which
 * becomes the outer destination (the node model's entries: src/plan/node/build.ts). The seed's §4.2 tunnel has a fixed `remote` and only ever joins two nodes.
 */
export const ipip: CrossNodeBackend = { mode: 'ipip', device: (_c: Cluster) => IPIP_DEVICE };

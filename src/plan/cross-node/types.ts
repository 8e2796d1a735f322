import type { CrossNodeMode } from '../../model/cluster.js';
import type { Cluster } from '../../model/resolve.js';

/**
 * One cross-node backend, as the front doors need to name it. What each backend puts on a node (device,
 * per-peer neighbour, FDB and route entries) is part of the node model: src/plan/node/build.ts.
 */
export interface CrossNodeBackend {
  readonly mode: CrossNodeMode;
  /** Name of the tunnel device on every node, if the backend has one. */
  device(c: Cluster): string | undefined;
}

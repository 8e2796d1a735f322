import type { CrossNodeMode } from '../../model/cluster.js';
import type { Cluster, NodeView } from '../../model/resolve.js';
import type { Netns, Op } from '../ops.js';

/** Where a node's commands run and which interface is its uplink: the lab's namespaces, or the agent's host. */
export interface CrossNodeEnv {
  readonly ns: (node: string) => Netns;
  readonly uplink: (node: string) => string;
}

/**
 * One cross-node backend: pure planners over the resolved cluster, per node. `planLocal` is what a node needs
 * whatever its peers are; `planPeer`/`planPeerRemoval` are the per-remote-node entries (O(N) backends) that
 * node add/remove changes on every other node. The node agent runs exactly these.
 */
export interface CrossNodeBackend {
  readonly mode: CrossNodeMode;
  /** Name of the tunnel device on every node, if the backend has one. */
  device(c: Cluster): string | undefined;
  planLocal(c: Cluster, node: NodeView, env: CrossNodeEnv): Op[];
  planPeer(c: Cluster, node: NodeView, peer: NodeView, env: CrossNodeEnv): Op[];
  planPeerRemoval(c: Cluster, node: NodeView, peer: NodeView, env: CrossNodeEnv): Op[];
}

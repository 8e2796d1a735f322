import type { PolicyWorld } from './evaluate.js';
import { PolicyPlanner } from './planner.js';

export { chainName, denyCounter } from './chain.js';

/**
 * One node's NetworkPolicy enforcement as plain data (what src/render/policy-nft.ts turns into nftables): for
 * each of the node's own pods that a policy isolates, per direction, a chain reached through a verdict map
 * keyed by the pod's address, and two sets holding everything the pod's policies allow. A new connection
 * costs one map lookup per direction and at most two set lookups, whatever the number of policies or pods.
 */
export interface PolicyNodeModel {
  readonly node: string;
  /** Own isolated pod address -> the chain deciding its ingress (`ip daddr vmap`). */
  readonly ingressPods: Readonly<Record<string, string>>;
  /** Own isolated pod address -> the chain deciding its egress (`ip saddr vmap`). */
  readonly egressPods: Readonly<Record<string, string>>;
  /** Chain name -> what its last rule counts and logs when nothing allowed the connection. */
  readonly chains: Readonly<Record<string, PolicyChain>>;
  /**
   * Set name -> elements in canonical text, sorted. `<chain>-any`: peer address ranges allowed on every
   * protocol and port; `<chain>-ports`: `address . protocol . port` boxes, disjoint.
   */
  readonly sets: Readonly<Record<string, readonly string[]>>;
  /** Named counters, one per policy and direction that isolates one of the node's pods, sorted. */
  readonly counters: readonly string[];
}

export interface PolicyChain {
  /** `namespace/name` of the pod. */
  readonly pod: string;
  readonly direction: 'ingress' | 'egress';
  /** The counters the deny rule increments: every policy isolating the pod in this direction. */
  readonly counters: readonly string[];
  /** `log prefix` of the deny rule, when one of those policies asks for logging. */
  readonly log?: string;
}

/** The enforcement model of one node (pure): everything computed afresh (planner.ts keeps it up to date). */
export function buildPolicyModel(world: PolicyWorld, node: string): PolicyNodeModel {
  return new PolicyPlanner(node).update(world);
}

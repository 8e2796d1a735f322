import type { Netns, Op } from '../ops.js';
import { planPolicySync, policyDiffSummary } from '../policy/plan.js';
import type { ProxyModel } from '../services/model.js';
import { planProxyChange } from '../services/plan.js';
import { fullProxy, planProxyRepair, removeProxy } from '../services/proxy-state.js';
import type { NodeModel, NodeState, ProxyState } from './model.js';
import { type NodeDrift, type NodeSyncTarget, networkDrift, RANK, sortDrift } from './network-drift.js';

export type { NodeDrift, NodeSyncTarget } from './network-drift.js';

/**
 * The ops that turn `observed` into `desired` (pure), minimal and ordered add-before-delete. Zero ops when
 * they agree. The same function serves a first sync (observed: emptyNodeState), a periodic resync (observed:
 * the kernel, see src/observe/node.ts) and an incremental change (observed: the model applied last).
 */
export function planNodeSync(observed: NodeState, desired: NodeModel, target: NodeSyncTarget): Op[] {
  return diffNode(observed, desired, target).flatMap((d) => d.ops);
}

/** The differences, each with its repair, in sync order: what `lab verify` lists and `lab reconcile` runs. */
export function diffNode(observed: NodeState, desired: NodeModel, target: NodeSyncTarget): NodeDrift[] {
  const ns = target.netns;
  const node = desired.node;
  const out = networkDrift(observed, desired, target);
  const drift = (rank: number, what: string, ...ops: Op[]) => out.push({ rank, what, ops });

  // Service proxy.
  // One drift line per difference; a shared repair (one nft or iptables transaction) goes with the first.
  for (const d of proxyDrift(node, ns, observed.proxy, desired.proxy)) {
    const [first, ...rest] = d.what.split('; ');
    drift(RANK.proxy, first!, ...d.ops);
    for (const w of rest) drift(RANK.proxy, w);
  }

  // NetworkPolicy: the observed table as a model (a damaged or missing one is replaced whole, atomically).
  if (desired.policy) {
    const ops = planPolicySync({
      netns: ns,
      ...(observed.policy ? { prev: observed.policy } : {}),
      next: desired.policy,
    }).filter((o) => o.kind !== 'sysctl.set'); // its sysctls are among the node's, compared above
    const what = observed.policy
      ? `policy table differs (${policyDiffSummary(observed.policy, desired.policy)})`
      : observed.policyDamaged
        ? `policy table damaged (${observed.policyDamaged})`
        : 'policy table missing';
    if (ops.length) drift(RANK.policy, what, ...ops);
  } else if (observed.policy || observed.policyDamaged)
    drift(RANK.policy, 'policy table not desired', { kind: 'nft.policy', netns: ns });

  return sortDrift(out);
}

function proxyDrift(
  node: string,
  ns: Netns,
  seen: ProxyModel | ProxyState | undefined,
  want: ProxyModel | undefined,
): { what: string; ops: readonly Op[] }[] {
  if (!want) return seen ? [{ what: 'service proxy not desired', ops: removeProxy(node, ns, seen) }] : [];
  if (!seen) return [{ what: 'service proxy missing', ops: fullProxy(node, ns, want) }];
  if ('services' in seen) {
    const ops = planProxyChange(ns, seen, want);
    return ops.length ? [{ what: 'service proxy changed', ops }] : [];
  }
  return planProxyRepair(node, ns, seen, want);
}

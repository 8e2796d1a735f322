import type { CrossNodeMode } from '../../model/cluster.js';
import type { Cluster, NodeView } from '../../model/resolve.js';
import type { Op } from '../ops.js';
import { hostGw } from './host-gw.js';
import { ipip } from './ipip.js';
import type { CrossNodeBackend, CrossNodeEnv } from './types.js';
import { vxlan } from './vxlan.js';

export type { CrossNodeBackend, CrossNodeEnv } from './types.js';

/** The backends by mode: an explicit map, no registration by import side effect. */
const BACKENDS: Readonly<Record<Exclude<CrossNodeMode, 'none'>, CrossNodeBackend>> = {
  'host-gw': hostGw,
  vxlan,
  ipip,
};

/** The backend a cluster uses, or undefined for crossNode: none. */
export function backendOf(c: Cluster): CrossNodeBackend | undefined {
  return c.spec.crossNode === 'none' ? undefined : BACKENDS[c.spec.crossNode];
}

/**
 * Per-peer entries in the order that never leaves a window where the kernel has to guess: all neighbour
 * entries, then all FDB entries, then the routes that use them (flannel adds the route last). Grouping by kind
 * also lets apply batch them (`ip -batch`, `bridge -batch`).
 */
const RANK: Partial<Record<Op['kind'], number>> = {
  'neigh.replace': 0,
  'fdb.replace': 1,
  'route.replace': 2,
  'route.del': 0,
  'fdb.del': 1,
  'neigh.del': 2,
};
const byRank = (ops: Op[]): Op[] =>
  ops
    .map((op, i) => ({ op, i }))
    .sort((a, b) => (RANK[a.op.kind] ?? 9) - (RANK[b.op.kind] ?? 9) || a.i - b.i)
    .map((x) => x.op);

/** Everything `node` needs so its pods reach every other node's pods (pure): device, then one entry set per peer. */
export function planCrossNode(c: Cluster, node: NodeView, env: CrossNodeEnv): Op[] {
  const b = backendOf(c);
  if (!b) return [];
  const peers = c.nodes.filter((p) => p.name !== node.name);
  return [...b.planLocal(c, node, env), ...byRank(peers.flatMap((p) => b.planPeer(c, node, p, env)))];
}

const samePeer = (a: NodeView, b: NodeView) => a.ip.equals(b.ip) && a.podCIDR.equals(b.podCIDR);

/**
 * What a change of node set costs (pure): for every node present before and after, the entries for peers that
 * left (or changed address) are removed and those for peers that joined are added; new nodes get their full
 * plan. Nothing else is touched, so traffic between unchanged nodes never stops. Removed nodes get no ops
 * (the caller deletes them whole). Keys are node names, in the order of `next.nodes`.
 */
export function planCrossNodeChange(prev: Cluster, next: Cluster, env: CrossNodeEnv): Map<string, Op[]> {
  const out = new Map<string, Op[]>();
  const b = backendOf(next);
  if (!b) return out;
  const before = new Map(prev.nodes.map((n) => [n.name, n]));
  const after = new Map(next.nodes.map((n) => [n.name, n]));
  for (const node of next.nodes) {
    const old = before.get(node.name);
    if (!old || !samePeer(old, node)) {
      out.set(node.name, planCrossNode(next, node, env));
      continue;
    }
    const removals: Op[] = [];
    const additions: Op[] = [];
    for (const p of prev.nodes) {
      if (p.name === node.name) continue;
      const now = after.get(p.name);
      if (!now || !samePeer(p, now)) removals.push(...b.planPeerRemoval(prev, node, p, env));
    }
    for (const p of next.nodes) {
      if (p.name === node.name) continue;
      const was = before.get(p.name);
      if (!was || !samePeer(was, p)) additions.push(...b.planPeer(next, node, p, env));
    }
    const ops = [...byRank(removals), ...byRank(additions)];
    if (ops.length) out.set(node.name, ops);
  }
  return out;
}

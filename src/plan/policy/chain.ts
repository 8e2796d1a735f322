import { matches } from '../../model/policy/selector.js';
import { type NetworkPolicy, type Peer, type PolicyRule, policyKey } from '../../model/policy/types.js';
import { namedPort, type PolicyPod } from './evaluate.js';
import {
  type Box,
  boxText,
  cidrRange,
  disjointBoxes,
  mergeRanges,
  type Range,
  rangeText,
  subtract,
} from './intervals.js';
import type { PolicyChain } from './model.js';

/**
 * One isolated pod direction of a node's policy table (pure, given the planner's indexes): its chain, its two
 * sets, and what it was computed from, so the planner (planner.ts) recomputes it only when one of those changes.
 */

export type Direction = 'ingress' | 'egress';
export type PodPeer = Extract<Peer, { kind: 'pods' }>;

/** The counter that counts a policy's denials in one direction, on each node. */
export const denyCounter = (dir: Direction, policy: string): string => `deny-${dir}-${policy}`;

/** The lab name of a pod (see model/policy/cluster-docs.ts podId). */
const idOf = (p: PolicyPod) => (p.namespace === 'default' ? p.name : `${p.namespace}-${p.name}`);
export const chainName = (dir: Direction, p: PolicyPod): string => `${dir}-${idOf(p)}`;
export const podKeyOf = (p: PolicyPod): string => `${p.namespace}/${p.name}`;

/** The pods one `podSelector`/`namespaceSelector` peer of a policy's namespace selects, kept up to date. */
export interface PeerEntry {
  readonly key: string;
  readonly policyNs: string;
  readonly peer: PodPeer;
  /** Member pods by `namespace/name`. */
  readonly members: Map<string, PolicyPod>;
  /** Their merged addresses (undefined: to compute again). */
  ranges?: Range[];
}

/** What a chain computation reads: the planner's indexes (planner.ts). */
export interface ChainContext {
  readonly pods: ReadonlyMap<string, PolicyPod>;
  readonly policiesByNs: ReadonlyMap<string, readonly NetworkPolicy[]>;
  /** The peer's entry, created (members computed over every pod) when first asked for. */
  peer(policyNs: string, peer: PodPeer): PeerEntry;
}

export interface ChainResult {
  readonly name: string;
  readonly chain: PolicyChain;
  /** `<name>-any` and `<name>-ports` elements, canonical and sorted. */
  readonly any: readonly string[];
  readonly ports: readonly string[];
  /** Keys of the policies isolating the pod in this direction. */
  readonly policies: readonly string[];
  /** Keys of the peer entries read; `*` when every pod's address and ports were (an egress named port). */
  readonly peers: ReadonlySet<string>;
}

const peerText = new WeakMap<PodPeer, string>();

/**
 * The key under which a peer's entry is shared by every policy naming the same peer (of the same namespace,
 * unless a namespaceSelector makes the policy's namespace irrelevant).
 */
export function peerKey(policyNs: string, peer: PodPeer): string {
  let t = peerText.get(peer);
  if (t === undefined) {
    t = JSON.stringify(peer);
    peerText.set(peer, t);
  }
  return peer.namespaceSelector ? `*|${t}` : `${policyNs}|${t}`;
}

/** Whether a pod is one of a peer's, given its namespace's labels (as evaluate.ts peerMatches). */
export function inPeer(
  e: Pick<PeerEntry, 'policyNs' | 'peer'>,
  pod: PolicyPod,
  nsLabels: Readonly<Record<string, string>>,
): boolean {
  const nsOk = e.peer.namespaceSelector
    ? matches(e.peer.namespaceSelector, nsLabels)
    : pod.namespace === e.policyNs;
  return nsOk && (!e.peer.podSelector || matches(e.peer.podSelector, pod.labels));
}

const ALL: Range = [0, 0xffffffff];
const ALL_PORTS: Range = [0, 65535];
/** nft's `log prefix` holds at most 127 characters. */
const LOG_PREFIX_MAX = 127;

/** The chain of one own pod and direction; undefined when no policy isolates it there. */
export function computeChain(ctx: ChainContext, pod: PolicyPod, dir: Direction): ChainResult | undefined {
  const type = dir === 'ingress' ? 'Ingress' : 'Egress';
  // As the evaluator's isolating(), over the pod's namespace's policies only.
  const pols = (ctx.policiesByNs.get(pod.namespace) ?? []).filter(
    (p) => p.policyTypes.includes(type) && matches(p.podSelector, pod.labels),
  );
  if (pols.length === 0) return undefined;
  const name = chainName(dir, pod);
  const peers = new Set<string>();
  const any: Range[] = [];
  const boxes: Box[] = [];
  for (const p of pols)
    for (const r of dir === 'ingress' ? p.ingress : p.egress) addRule(ctx, pod, dir, p, r, any, boxes, peers);
  // A pod can always reach itself (through a ClusterIP, too).
  any.push([pod.ip.value, pod.ip.value]);
  const keys = pols.map(policyKey).sort();
  const logged = pols
    .filter((p) => p.log)
    .map(policyKey)
    .sort();
  let log: string | undefined;
  if (logged.length) {
    const full = `podnet-policy deny ${dir} ${pod.namespace}/${pod.name} by ${logged.join(',')}: `;
    log = full.length <= LOG_PREFIX_MAX ? full : `${full.slice(0, LOG_PREFIX_MAX - 5)}...: `;
  }
  return {
    name,
    chain: {
      pod: `${pod.namespace}/${pod.name}`,
      direction: dir,
      counters: keys.map((k) => denyCounter(dir, k)),
      ...(log ? { log } : {}),
    },
    any: mergeRanges(any).map(rangeText),
    ports: disjointBoxes(boxes).map(boxText),
    policies: keys,
    peers,
  };
}

/** One rule's contribution: its peers on every port, or its (peer, port) boxes. */
function addRule(
  ctx: ChainContext,
  pod: PolicyPod,
  dir: Direction,
  p: NetworkPolicy,
  r: PolicyRule,
  any: Range[],
  boxes: Box[],
  deps: Set<string>,
): void {
  const ranges = ruleRanges(ctx, p, r, deps);
  if (r.ports === undefined) {
    any.push(...ranges);
    return;
  }
  for (const x of r.ports) {
    const proto = x.protocol.toLowerCase();
    if (typeof x.port !== 'string') {
      const ports: Range = x.port === undefined ? ALL_PORTS : [x.port, x.endPort ?? x.port];
      for (const ips of ranges) boxes.push({ ips, proto, ports });
    } else if (dir === 'ingress') {
      // Resolved against this pod's own containers.
      const n = namedPort(pod, x.port, x.protocol);
      if (n !== undefined) for (const ips of ranges) boxes.push({ ips, proto, ports: [n, n] });
    }
    // Resolved per destination pod: each peer pod's own port of that name.
    else
      for (const q of peerPods(ctx, p, r, deps)) {
        const n = namedPort(q, x.port, x.protocol);
        if (n !== undefined) boxes.push({ ips: [q.ip.value, q.ip.value], proto, ports: [n, n] });
      }
  }
}

/** The address ranges of a rule's peers (every address when it names none). */
function ruleRanges(ctx: ChainContext, p: NetworkPolicy, r: PolicyRule, deps: Set<string>): Range[] {
  if (r.peers === undefined) return [ALL];
  const out: Range[] = [];
  for (const peer of r.peers) {
    if (peer.kind === 'ipBlock') {
      out.push(...subtract(cidrRange(peer.ipBlock.cidr), peer.ipBlock.except.map(cidrRange)));
      continue;
    }
    const e = ctx.peer(p.namespace, peer);
    deps.add(e.key);
    e.ranges ??= mergeRanges([...e.members.values()].map((q) => [q.ip.value, q.ip.value] as const));
    out.push(...e.ranges);
  }
  return mergeRanges(out);
}

/** The pods among a rule's peers (an ipBlock peer, or none, makes every pod's address count). */
function peerPods(ctx: ChainContext, p: NetworkPolicy, r: PolicyRule, deps: Set<string>): PolicyPod[] {
  const blocks = (r.peers ?? []).filter((x) => x.kind === 'ipBlock');
  const entries = (r.peers ?? []).filter((x) => x.kind === 'pods').map((x) => ctx.peer(p.namespace, x));
  for (const e of entries) deps.add(e.key);
  if (r.peers !== undefined && blocks.length === 0) {
    const found = new Map<string, PolicyPod>();
    for (const e of entries) for (const [k, q] of e.members) found.set(k, q);
    return [...found.values()];
  }
  deps.add('*');
  return [...ctx.pods.values()].filter(
    (q) =>
      r.peers === undefined ||
      entries.some((e) => e.members.has(podKeyOf(q))) ||
      blocks.some((b) => b.ipBlock.cidr.contains(q.ip) && !b.ipBlock.except.some((x) => x.contains(q.ip))),
  );
}

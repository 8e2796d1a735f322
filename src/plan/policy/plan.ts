import type { Netns, Op } from '../ops.js';
import { type Range, rangeOfText } from './intervals.js';
import type { PolicyNodeModel } from './model.js';

/** Where one node's policy table lives and what it held last. */
export interface PolicySyncParams {
  readonly netns: Netns;
  /** The model applied last on this node (absent: nothing of ours there yet, or a full resync). */
  readonly prev?: PolicyNodeModel;
  readonly next: PolicyNodeModel;
}

/**
 * One sync of one node's NetworkPolicy enforcement (pure): a full table the first time (with the sysctl that
 * keeps a cut connection cut), afterwards only the changed elements, sets and chains; nothing when the models
 * are equal. Bridged same-node traffic reaches the forward hook by the bridge's own br_netfilter switch, part
 * of the node model (BridgeModel.nfCallIptables).
 */
export function planPolicySync(p: PolicySyncParams): Op[] {
  const node = p.next.node;
  if (p.prev && samePolicyModel(p.prev, p.next)) return [];
  if (!p.prev)
    return [
      {
        kind: 'sysctl.set',
        netns: p.netns,
        key: 'net.netfilter.nf_conntrack_tcp_loose',
        value: '0',
        note: `${node}: no mid-stream TCP pickup: a connection whose conntrack entry a policy change deleted stays cut in both directions`,
      },
      {
        kind: 'nft.policy',
        netns: p.netns,
        next: p.next,
        note: `${node}: NetworkPolicy table podnet-policy (${Object.keys(p.next.chains).length} isolated pod direction(s))`,
      },
    ];
  return [
    {
      kind: 'nft.policy',
      netns: p.netns,
      prev: p.prev,
      next: p.next,
      note: `${node}: NetworkPolicy changes only (elements, sets, chains that differ)`,
    },
  ];
}

/**
 * Equal as tables: key order, element order, and a set declared empty or not listed, do not count. A set
 * array shared by both models (the incremental planner keeps unchanged ones) is equal without a look.
 */
export function samePolicyModel(a: PolicyNodeModel, b: PolicyNodeModel): boolean {
  if (a === b) return true;
  if (!sameRecord(a.ingressPods, b.ingressPods) || !sameRecord(a.egressPods, b.egressPods)) return false;
  const ca = Object.keys(a.chains);
  if (ca.length !== Object.keys(b.chains).length) return false;
  for (const k of ca)
    if (
      a.chains[k] !== b.chains[k] &&
      (!b.chains[k] || JSON.stringify(sortedKeys(a.chains[k]!)) !== JSON.stringify(sortedKeys(b.chains[k]!)))
    )
      return false;
  if (a.counters.length !== b.counters.length) return false;
  const counters = new Set(a.counters);
  if (b.counters.some((c) => !counters.has(c))) return false;
  const nonEmpty = (m: PolicyNodeModel) => Object.keys(m.sets).filter((k) => m.sets[k]!.length > 0);
  const sa = nonEmpty(a);
  if (sa.length !== nonEmpty(b).length) return false;
  return sa.every((k) => sameElements(a.sets[k]!, b.sets[k]));
}

const sameRecord = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

const sortedKeys = (o: object) =>
  Object.fromEntries(Object.entries(o).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));

/** The same elements, whatever their order (`b` undefined: no set). */
export function sameElements(a: readonly string[], b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (!b || a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((e, i) => e === y[i]);
}

/** What differs between an observed table and the model, in a few words (`lab verify`'s drift line). */
export function policyDiffSummary(observed: PolicyNodeModel, desired: PolicyNodeModel): string {
  const out: string[] = [];
  const keys = (a: object, b: object) => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const m of ['ingressPods', 'egressPods'] as const)
    for (const k of keys(observed[m], desired[m]))
      if (observed[m][k] !== desired[m][k])
        out.push(`${m === 'ingressPods' ? 'ingress' : 'egress'}-pods ${k}`);
  for (const k of keys(observed.chains, desired.chains))
    if (
      observed.chains[k] !== desired.chains[k] &&
      JSON.stringify(observed.chains[k]) !== JSON.stringify(desired.chains[k])
    )
      out.push(`chain ${k}`);
  for (const k of keys(observed.sets, desired.sets)) {
    if (observed.sets[k] === desired.sets[k]) continue;
    const a = new Set(observed.sets[k] ?? []);
    const b = new Set(desired.sets[k] ?? []);
    const missing = [...b].filter((e) => !a.has(e));
    const extra = [...a].filter((e) => !b.has(e));
    if (missing.length) out.push(`set ${k} missing ${missing.join(', ')}`);
    if (extra.length) out.push(`set ${k} extra ${extra.join(', ')}`);
  }
  const had = new Set(observed.counters);
  const want = new Set(desired.counters);
  for (const c of desired.counters) if (!had.has(c)) out.push(`counter ${c} missing`);
  for (const c of observed.counters) if (!want.has(c)) out.push(`counter ${c} extra`);
  return out.length > 4 ? `${out.slice(0, 4).join('; ')}; ${out.length - 4} more` : out.join('; ');
}

/**
 * Whether `next` may deny something `prev` allowed: a newly isolated pod direction, an address range no longer
 * allowed on every port, or a port box gone (compared as text: a re-cut box counts, which only costs a look).
 */
export function stricter(prev: PolicyNodeModel, next: PolicyNodeModel): boolean {
  for (const name of Object.keys(next.chains)) if (!prev.chains[name]) return true;
  for (const [set, els] of Object.entries(prev.sets)) {
    const now = next.sets[set];
    if (!now || now === els) continue;
    if (set.endsWith('-any')) {
      const cover: Range[] = now.map(rangeOfText);
      if (els.map(rangeOfText).some(([lo, hi]) => !cover.some(([a, b]) => a <= lo && hi <= b))) return true;
    } else {
      const have = new Set(now);
      if (els.some((e) => !have.has(e))) return true;
    }
  }
  return false;
}

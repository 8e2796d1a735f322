import type { NftCmd, NftSet, NftTableRef } from '../nft.js';
import type { PolicyChain, PolicyNodeModel } from './model.js';

/**
 * The `podnet-policy` nftables table from a PolicyNodeModel as transactions (pure, plan/nft.ts data): a full
 * sync (the table recreated in one transaction), a diff (only the counters, sets, chains and elements that
 * changed), or its removal. render/policy-nft.ts prints them as `nft -f` text; render/nft-netlink/ sends them
 * as one netlink batch. See docs/network-policy.md for the layout and the packet walk.
 */

export const POLICY_TABLE = { family: 'inet', name: 'podnet-policy', forward: 'pod-forward' } as const;
const T: NftTableRef = { family: POLICY_TABLE.family, table: POLICY_TABLE.name };

/** The declaration of a set or map of the policy table, by its name (a chain's `-any` / `-ports`, or a pod map). */
export function policySet(name: string): NftSet | undefined {
  if (name === 'egress-pods' || name === 'ingress-pods')
    return { ...T, set: name, key: 'ipv4_addr', value: 'verdict' };
  if (name.endsWith('-any')) return { ...T, set: name, key: 'ipv4_addr', flags: ['interval'] };
  if (name.endsWith('-ports'))
    return { ...T, set: name, key: 'ipv4_addr . inet_proto . inet_service', flags: ['interval'] };
  return undefined;
}

const rule = (chain: string, expr: string, comment: string): NftCmd => ({
  verb: 'add',
  rule: { ...T, chain, expr, comment },
});
const chain = (verb: 'add' | 'flush' | 'delete', name: string): NftCmd => ({
  verb,
  chain: { ...T, chain: name },
});
const counter = (verb: 'add' | 'delete', name: string): NftCmd => ({
  verb,
  counter: { ...T, counter: name },
});
const setCmd = (verb: 'add' | 'delete', name: string): NftCmd => ({ verb, set: policySet(name)! });

/** The base chain: replies first, then the source pod's egress chain, then the destination pod's ingress. */
function baseCmds(): NftCmd[] {
  const f = POLICY_TABLE.forward;
  return [
    setCmd('add', 'egress-pods'),
    setCmd('add', 'ingress-pods'),
    // Priority filter: after the service proxy's DNAT (prerouting), so policies see the endpoint pod.
    {
      verb: 'add',
      chain: {
        ...T,
        chain: f,
        base: { type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' },
      },
    },
    rule(f, 'ct state established,related accept', 'replies and related: no policy lookup'),
    // With nf_conntrack_tcp_loose=0 (plan.ts), a TCP segment of a cut connection is invalid, not a new
    // connection picked up mid-stream (which the server's side could otherwise re-open in reverse).
    rule(f, 'ct state invalid drop', 'cut or untracked mid-stream TCP: not a new connection'),
    rule(f, 'ip saddr vmap @egress-pods', 'an isolated own pod sends: its egress chain'),
    rule(f, 'ip daddr vmap @ingress-pods', 'an isolated own pod receives: its ingress chain'),
  ];
}

// Counter names are identifiers: "deny-", then a direction and `namespace/name` (letters, digits, - . /).
function chainRules(name: string, c: PolicyChain): NftCmd[] {
  const peer = c.direction === 'ingress' ? 'saddr' : 'daddr';
  const deny = [
    ...c.counters.map((x) => `counter name ${x}`),
    ...(c.log ? [`log prefix "${c.log}"`] : []),
    'drop',
  ];
  return [
    rule(name, `ip ${peer} @${name}-any return`, 'allowed on every port'),
    rule(name, `ip ${peer} . meta l4proto . th dport @${name}-ports return`, 'allowed port'),
    rule(name, deny.join(' '), `${c.direction} of ${c.pod}: no policy allows it`),
  ];
}

const declareChain = (name: string): NftCmd[] => [
  setCmd('add', `${name}-any`),
  setCmd('add', `${name}-ports`),
  chain('add', name),
];

/** Elements in commands of at most 500 (each one line of `nft -f` text, short enough for nft's parser). */
function elements(
  verb: 'add' | 'delete',
  set: string,
  els: readonly { key: string; value?: string }[],
): NftCmd[] {
  const out: NftCmd[] = [];
  for (let i = 0; i < els.length; i += 500)
    out.push({ verb, elements: { ...T, set, elements: els.slice(i, i + 500) } });
  return out;
}
const keys = (ks: readonly string[]) => ks.map((key) => ({ key }));
const mapEls = (m: Readonly<Record<string, string>>, ks: readonly string[]) =>
  ks.map((key) => ({ key, value: `jump ${m[key]}` }));

/** The whole table, created afresh (an atomic replace when it exists). */
export function policyFullTx(m: PolicyNodeModel): NftCmd[] {
  const out: NftCmd[] = [
    { verb: 'add', table: T },
    { verb: 'delete', table: T },
    { verb: 'add', table: T },
  ];
  for (const c of m.counters) out.push(counter('add', c));
  out.push(...baseCmds());
  for (const [name, c] of Object.entries(m.chains)) out.push(...declareChain(name), ...chainRules(name, c));
  for (const [set, els] of Object.entries(m.sets)) out.push(...elements('add', set, keys(els)));
  out.push(...elements('add', 'egress-pods', mapEls(m.egressPods, Object.keys(m.egressPods))));
  out.push(...elements('add', 'ingress-pods', mapEls(m.ingressPods, Object.keys(m.ingressPods))));
  return out;
}

/** Removes the table and everything in it. */
export const policyRemoveTx = (): NftCmd[] => [
  { verb: 'add', table: T },
  { verb: 'delete', table: T },
];

const sameChain = (a: PolicyChain, b: PolicyChain) => a === b || JSON.stringify(a) === JSON.stringify(b);

/** Only what changed from `prev` to `next`, as one transaction; empty when nothing did. */
export function policyDiffTx(prev: PolicyNodeModel, next: PolicyNodeModel): NftCmd[] {
  const out: NftCmd[] = [];
  const has = (o: object, k: string) => Object.hasOwn(o, k);
  // 1. New counters, sets and chains.
  const had = new Set(prev.counters);
  const keep = new Set(next.counters);
  for (const c of next.counters) if (!had.has(c)) out.push(counter('add', c));
  for (const name of Object.keys(next.chains)) if (!has(prev.chains, name)) out.push(...declareChain(name));
  // 2. Rules of new chains and of chains whose deny rule changed.
  for (const [name, c] of Object.entries(next.chains)) {
    const old = prev.chains[name];
    if (old && sameChain(old, c)) continue;
    if (old) out.push(chain('flush', name));
    out.push(...chainRules(name, c));
  }
  // 3. Set elements: deletions before additions (a merged range may be re-cut).
  for (const [set, els] of Object.entries(next.sets)) {
    if (prev.sets[set] === els) continue; // unchanged (the planner shares unchanged sets)
    const before = new Set(prev.sets[set] ?? []);
    const now = new Set(els);
    out.push(...elements('delete', set, keys([...before].filter((e) => !now.has(e)))));
    out.push(...elements('add', set, keys(els.filter((e) => !before.has(e)))));
  }
  // 4. Verdict maps: changed or removed entries out, new entries in.
  for (const map of ['egressPods', 'ingressPods'] as const) {
    const set = map === 'egressPods' ? 'egress-pods' : 'ingress-pods';
    const a = prev[map];
    const b = next[map];
    out.push(...elements('delete', set, keys(Object.keys(a).filter((k) => a[k] !== b[k]))));
    out.push(
      ...elements(
        'add',
        set,
        mapEls(
          b,
          Object.keys(b).filter((k) => a[k] !== b[k]),
        ),
      ),
    );
  }
  // 5. Chains, sets and counters no longer used (after the map entries that jumped to them).
  for (const name of Object.keys(prev.chains))
    if (!has(next.chains, name))
      out.push(
        chain('flush', name),
        chain('delete', name),
        setCmd('delete', `${name}-any`),
        setCmd('delete', `${name}-ports`),
      );
  for (const c of prev.counters) if (!keep.has(c)) out.push(counter('delete', c));
  return out;
}

import type { PolicyChain, PolicyNodeModel } from '../plan/policy/model.js';

/**
 * Reads `nft -j list table inet podnet-policy` back into the PolicyNodeModel shape (src/plan/policy/model.ts),
 * elements in the same canonical text, so planNodeSync diffs a node's enforcement element by element. A table
 * not in podnet's layout (a base rule, a chain's rule, a set or a map gone) is reported as damaged instead:
 * the sync then replaces it whole.
 */
export type ObservedPolicy = { readonly policy: PolicyNodeModel } | { readonly damaged: string };

/** Rule comments of the base chain, in order (render/policy-nft.ts baseLines). */
const BASE = [
  'replies and related: no policy lookup',
  'cut or untracked mid-stream TCP: not a new connection',
  'an isolated own pod sends: its egress chain',
  'an isolated own pod receives: its ingress chain',
];
const ALLOW = ['allowed on every port', 'allowed port'];
const DENY_RE = /^(ingress|egress) of (\S+): no policy allows it$/;

interface NftObj {
  [kind: string]: Record<string, unknown>;
}

export function parsePolicyTable(json: string, node: string): ObservedPolicy {
  const objs = (JSON.parse(json) as { nftables: NftObj[] }).nftables;
  const counters: string[] = [];
  const maps: Record<string, unknown[]> = {};
  const sets: Record<string, string[]> = {};
  const rules = new Map<string, { comment: string; expr: Record<string, unknown>[] }[]>();
  const chainNames: string[] = [];
  for (const o of objs) {
    if (o.counter) counters.push(String(o.counter.name));
    else if (o.map) maps[String(o.map.name)] = (o.map.elem as unknown[]) ?? [];
    else if (o.set) sets[String(o.set.name)] = ((o.set.elem as unknown[]) ?? []).map(elemText);
    else if (o.chain) chainNames.push(String(o.chain.name));
    else if (o.rule) {
      const c = String(o.rule.chain);
      rules.set(c, [
        ...(rules.get(c) ?? []),
        {
          comment: String(o.rule.comment ?? ''),
          expr: (o.rule.expr as Record<string, unknown>[]) ?? [],
        },
      ]);
    }
  }
  const base = (rules.get('pod-forward') ?? []).map((r) => r.comment);
  if (!chainNames.includes('pod-forward') || base.join('\n') !== BASE.join('\n'))
    return { damaged: 'base chain pod-forward differs' };
  for (const m of ['egress-pods', 'ingress-pods']) if (!maps[m]) return { damaged: `map ${m} missing` };

  const chains: Record<string, PolicyChain> = {};
  for (const name of chainNames) {
    if (name === 'pod-forward') continue;
    const rs = rules.get(name) ?? [];
    const deny = DENY_RE.exec(rs[2]?.comment ?? '');
    if (rs.length !== 3 || rs[0]!.comment !== ALLOW[0] || rs[1]!.comment !== ALLOW[1] || !deny)
      return { damaged: `chain ${name} differs` };
    if (!sets[`${name}-any`] || !sets[`${name}-ports`]) return { damaged: `a set of chain ${name} missing` };
    const log = rs[2]!.expr.find((e) => e.log) as { log: { prefix?: string } } | undefined;
    chains[name] = {
      pod: deny[2]!,
      direction: deny[1] as 'ingress' | 'egress',
      counters: rs[2]!.expr.filter((e) => typeof e.counter === 'string').map((e) => String(e.counter)),
      ...(log?.log.prefix ? { log: log.log.prefix } : {}),
    };
  }
  const verdicts = (m: string) =>
    Object.fromEntries(
      (maps[m] as [unknown, { jump?: { target: string } }][]).map(([k, v]) => [
        elemText(k),
        v.jump?.target ?? '?',
      ]),
    );
  return {
    policy: {
      node,
      ingressPods: verdicts('ingress-pods'),
      egressPods: verdicts('egress-pods'),
      chains,
      sets: Object.fromEntries(Object.entries(sets).map(([k, v]) => [k, v.sort()])),
      counters: counters.sort(),
    },
  };
}

/** An element in nft's text form: `10.0.0.0/24`, `a-b`, `a . tcp . 80-81`. */
function elemText(e: unknown): string {
  if (typeof e === 'string' || typeof e === 'number') return String(e);
  const o = e as Record<string, unknown>;
  if (o.elem) return elemText((o.elem as { val: unknown }).val);
  if (o.prefix) {
    const p = o.prefix as { addr: string; len: number };
    return `${p.addr}/${p.len}`;
  }
  if (o.range) {
    const [a, b] = o.range as [unknown, unknown];
    return `${elemText(a)}-${elemText(b)}`;
  }
  if (o.concat) return (o.concat as unknown[]).map(elemText).join(' . ');
  return JSON.stringify(e);
}

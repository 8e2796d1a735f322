import type { PolicyChain, PolicyNodeModel } from '../plan/policy/model.js';

/**
 * The `podnet-policy` nftables table from a PolicyNodeModel (pure): a full sync (the table recreated in one
 * transaction), a diff (only the counters, sets, chains and elements that changed, in one transaction), or its
 * removal. See docs/network-policy.md for the layout and the packet walk.
 */

export const POLICY_TABLE = { family: 'inet', name: 'podnet-policy', forward: 'pod-forward' } as const;
const T = `${POLICY_TABLE.family} ${POLICY_TABLE.name}`;

// Counter names are identifiers: "deny-", then a direction and `namespace/name` (letters, digits, - . /).
const q = (name: string) => name;

/** The base chain: replies first, then the source pod's egress chain, then the destination pod's ingress. */
function baseLines(): string[] {
  const f = POLICY_TABLE.forward;
  return [
    `add map ${T} egress-pods { type ipv4_addr : verdict; }`,
    `add map ${T} ingress-pods { type ipv4_addr : verdict; }`,
    // Priority filter: after the service proxy's DNAT (prerouting), so policies see the endpoint pod.
    `add chain ${T} ${f} { type filter hook forward priority filter; policy accept; }`,
    `add rule ${T} ${f} ct state established,related accept comment "replies and related: no policy lookup"`,
    // With nf_conntrack_tcp_loose=0 (plan.ts), a TCP segment of a cut connection is invalid, not a new
    // connection picked up mid-stream (which the server's side could otherwise re-open in reverse).
    `add rule ${T} ${f} ct state invalid drop comment "cut or untracked mid-stream TCP: not a new connection"`,
    `add rule ${T} ${f} ip saddr vmap @egress-pods comment "an isolated own pod sends: its egress chain"`,
    `add rule ${T} ${f} ip daddr vmap @ingress-pods comment "an isolated own pod receives: its ingress chain"`,
  ];
}

function chainLines(name: string, c: PolicyChain): string[] {
  const peer = c.direction === 'ingress' ? 'saddr' : 'daddr';
  const deny = [
    ...c.counters.map((x) => `counter name ${q(x)}`),
    ...(c.log ? [`log prefix "${c.log}"`] : []),
    'drop',
  ].join(' ');
  return [
    `add rule ${T} ${name} ip ${peer} @${name}-any return comment "allowed on every port"`,
    `add rule ${T} ${name} ip ${peer} . meta l4proto . th dport @${name}-ports return comment "allowed port"`,
    `add rule ${T} ${name} ${deny} comment "${c.direction} of ${c.pod}: no policy allows it"`,
  ];
}

function setDecl(name: string): string {
  return name.endsWith('-any')
    ? `add set ${T} ${name} { type ipv4_addr; flags interval; }`
    : `add set ${T} ${name} { type ipv4_addr . inet_proto . inet_service; flags interval; }`;
}

function elements(verb: 'add' | 'delete', set: string, els: readonly string[]): string[] {
  if (els.length === 0) return [];
  // Chunks keep each line short enough for nft's parser on large sets.
  const out: string[] = [];
  for (let i = 0; i < els.length; i += 500)
    out.push(`${verb} element ${T} ${set} { ${els.slice(i, i + 500).join(', ')} }`);
  return out;
}

const mapEls = (m: Readonly<Record<string, string>>, keys: readonly string[]) =>
  keys.map((k) => `${k} : jump ${m[k]}`);

/** The whole table, created afresh (an atomic replace when it exists). */
export function renderPolicyFull(m: PolicyNodeModel): string {
  const lines = [`add table ${T}`, `delete table ${T}`, `add table ${T}`];
  for (const c of m.counters) lines.push(`add counter ${T} ${q(c)}`);
  lines.push(...baseLines());
  for (const [name, c] of Object.entries(m.chains)) {
    lines.push(setDecl(`${name}-any`), setDecl(`${name}-ports`), `add chain ${T} ${name}`);
    lines.push(...chainLines(name, c));
  }
  for (const [set, els] of Object.entries(m.sets)) lines.push(...elements('add', set, els));
  lines.push(...elements('add', 'egress-pods', mapEls(m.egressPods, Object.keys(m.egressPods))));
  lines.push(...elements('add', 'ingress-pods', mapEls(m.ingressPods, Object.keys(m.ingressPods))));
  return `${lines.join('\n')}\n`;
}

/** Removes the table and everything in it. */
export function renderPolicyRemove(): string {
  return `add table ${T}\ndelete table ${T}\n`;
}

const sameChain = (a: PolicyChain, b: PolicyChain) => a === b || JSON.stringify(a) === JSON.stringify(b);

/** Only what changed from `prev` to `next`, as one transaction; undefined when nothing did. */
export function renderPolicyDiff(prev: PolicyNodeModel, next: PolicyNodeModel): string | undefined {
  const out: string[] = [];
  const has = (o: object, k: string) => Object.hasOwn(o, k);
  // 1. New counters, sets and chains.
  const had = new Set(prev.counters);
  const keep = new Set(next.counters);
  for (const c of next.counters) if (!had.has(c)) out.push(`add counter ${T} ${q(c)}`);
  for (const name of Object.keys(next.chains))
    if (!has(prev.chains, name))
      out.push(setDecl(`${name}-any`), setDecl(`${name}-ports`), `add chain ${T} ${name}`);
  // 2. Rules of new chains and of chains whose deny rule changed.
  for (const [name, c] of Object.entries(next.chains)) {
    const old = prev.chains[name];
    if (old && sameChain(old, c)) continue;
    if (old) out.push(`flush chain ${T} ${name}`);
    out.push(...chainLines(name, c));
  }
  // 3. Set elements: deletions before additions (a merged range may be re-cut).
  for (const [set, els] of Object.entries(next.sets)) {
    if (prev.sets[set] === els) continue; // unchanged (the planner shares unchanged sets)
    const before = new Set(prev.sets[set] ?? []);
    const now = new Set(els);
    out.push(
      ...elements(
        'delete',
        set,
        [...before].filter((e) => !now.has(e)),
      ),
    );
    out.push(
      ...elements(
        'add',
        set,
        els.filter((e) => !before.has(e)),
      ),
    );
  }
  // 4. Verdict maps: changed or removed entries out, new entries in.
  for (const map of ['egressPods', 'ingressPods'] as const) {
    const set = map === 'egressPods' ? 'egress-pods' : 'ingress-pods';
    const a = prev[map];
    const b = next[map];
    out.push(
      ...elements(
        'delete',
        set,
        Object.keys(a).filter((k) => a[k] !== b[k]),
      ),
    );
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
        `flush chain ${T} ${name}`,
        `delete chain ${T} ${name}`,
        `delete set ${T} ${name}-any`,
        `delete set ${T} ${name}-ports`,
      );
  for (const c of prev.counters) if (!keep.has(c)) out.push(`delete counter ${T} ${q(c)}`);
  return out.length ? `${out.join('\n')}\n` : undefined;
}

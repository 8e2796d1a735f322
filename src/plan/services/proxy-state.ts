import type { ProxyState } from '../node/model.js';
import type { Netns, Op } from '../ops.js';
import { iptablesJumps, renderIptables, renderIptablesRemove } from './iptables.js';
import type { ProxyModel } from './model.js';
import { NFT, renderNftFull, renderNftRemove } from './nftables.js';

/**
 * The proxy's kernel objects compared at element level: what a ProxyModel should leave in the kernel (derived
 * from the rendered full sync, so the renderers stay the one source of truth) against what observe found.
 */

/** Canonical element text: fields joined by ' . ', numbers in decimal (nft -j prints them so). */
export function canonicalElement(text: string): string {
  return text
    .split(' . ')
    .map((t) => (/^0x[0-9a-f]+$/i.test(t) ? String(Number.parseInt(t, 16)) : t))
    .join(' . ');
}

/** Maps whose elements the kernel changes by itself (dynamic, with timeouts): never compared. */
const DYNAMIC = new Set<string>([NFT.affinity]);

const stateCache = new WeakMap<ProxyModel, ProxyState>();

/** The ProxyState a model leaves in the kernel (pure, remembered per model object). */
export function expectedProxyState(m: ProxyModel): ProxyState {
  const known = stateCache.get(m);
  if (known) return known;
  const s = m.mode === 'nftables' ? nftStateOfScript(renderNftFull(m)) : iptStateOfScript(renderIptables(m));
  stateCache.set(m, s);
  return s;
}

const T = `${NFT.family} ${NFT.table}`;
const commentOf = (rule: string) => /comment "([^"]*)"\s*$/.exec(rule)?.[1] ?? '';

/** Chains, rule comments and elements of an `nft -f` script of the podnet-services table. */
function nftStateOfScript(script: string): ProxyState {
  const chains: Record<string, string[]> = {};
  const maps: Record<string, Record<string, string>> = {};
  for (const line of script.split('\n')) {
    if (line.startsWith(`add chain ${T} `)) chains[line.split(' ')[4]!] = [];
    else if (line.startsWith(`add map ${T} `) || line.startsWith(`add set ${T} `)) {
      const name = line.split(' ')[4]!;
      if (!DYNAMIC.has(name)) maps[name] = {};
    } else if (line.startsWith(`add rule ${T} `)) {
      const chain = line.split(' ')[4]!;
      chains[chain]!.push(commentOf(line));
    } else if (line.startsWith(`add element ${T} `)) {
      const name = line.split(' ')[4]!;
      const body = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
      const into = maps[name]!;
      for (const e of body.split(', ')) {
        const [k, v] = e.trim().split(' : ');
        into[canonicalElement(k!)] = v === undefined ? '' : canonicalElement(v);
      }
    }
  }
  return { kind: 'nftables', chains, maps };
}

const iptComment = (rule: string) => /--comment (?:"([^"]*)"|(\S+))/.exec(rule)?.slice(1).find(Boolean) ?? '';

/** Rules (by comment) of every chain an iptables-restore script declares or appends to. */
export function iptStateOfScript(script: string): ProxyState {
  const chains: Record<string, string[]> = {};
  let table = '';
  for (const line of script.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) chains[`${table}/${line.slice(1).split(' ')[0]}`] ??= [];
    else if (line.startsWith('-A ')) {
      const key = `${table}/${line.split(' ')[1]}`;
      const rules = chains[key] ?? [];
      rules.push(iptComment(line));
      chains[key] = rules;
    }
  }
  return { kind: 'iptables', chains };
}

/** A difference between the observed proxy objects and the desired ones, with the ops that repair it. */
export interface ProxyDrift {
  readonly what: string;
  readonly ops: readonly Op[];
}

const same = (a: readonly string[] = [], b: readonly string[] = []) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The repair of an observed proxy (pure): missing or changed chains or rules resync the table in full (one
 * atomic transaction); otherwise only the elements that differ are added or deleted, in one transaction.
 */
export function planProxyRepair(
  node: string,
  netns: Netns,
  seen: ProxyState,
  want: ProxyModel,
): ProxyDrift[] {
  const exp = expectedProxyState(want);
  if (exp.kind === 'nftables' && seen.kind === 'nftables') {
    const broken = Object.keys(exp.chains).filter((c) => !same(seen.chains[c], exp.chains[c]));
    const missingMaps = Object.keys(exp.maps).filter((m) => !seen.maps[m]);
    const out: ProxyDrift[] = [];
    if (broken.length || missingMaps.length) {
      const what = [
        ...broken.map((c) =>
          seen.chains[c]
            ? `nft chain ${c} has ${seen.chains[c]!.length} rule(s), want ${exp.chains[c]!.length}${missingComment(seen.chains[c]!, exp.chains[c]!)}`
            : `nft chain ${c} missing`,
        ),
        ...missingMaps.map((m) => `nft map ${m} missing`),
      ].join('; ');
      out.push({ what, ops: [nftChainRepair(node, netns, want, broken, missingMaps)] });
    }
    const lines: string[] = [];
    const what: string[] = [];
    // Deletions first, then additions: a changed element is deleted and added in the same transaction.
    const adds: string[] = [];
    const gone: { map: string; key: string; value: string }[] = [];
    for (const [map, want] of Object.entries(exp.maps)) {
      const have = seen.maps[map];
      if (!have) continue; // re-declared whole above
      const del = Object.keys(have).filter((k) => want[k] !== have[k]);
      const add = Object.keys(want).filter((k) => want[k] !== have[k]);
      if (del.length) lines.push(`delete element ${T} ${map} { ${del.map(nftKey).join(', ')} }`);
      if (add.length)
        adds.push(`add element ${T} ${map} { ${add.map((k) => nftEntry(k, want[k]!)).join(', ')} }`);
      for (const k of del) if (!(k in want)) what.push(`nft ${map} element ${k} not desired`);
      for (const k of add) what.push(`nft ${map} element ${k}${k in have ? ' changed' : ' missing'}`);
      for (const k of del) gone.push({ map, key: k, value: have[k]! });
    }
    if (what.length)
      out.push({
        what: what.join('; '),
        ops: [
          {
            kind: 'nft.apply',
            netns,
            script: `${[...lines, ...adds].join('\n')}\n`,
            note: `${node}: service proxy: restore exactly the map elements that differ, one atomic transaction`,
          },
          ...staleUdpFlows(node, netns, seen, exp, gone),
        ],
      });
    return out;
  }
  if (exp.kind === 'iptables' && seen.kind === 'iptables') {
    const bad = Object.keys(exp.chains).filter((c) => !same(seen.chains[c], exp.chains[c]));
    const extra = Object.keys(seen.chains).filter((c) => !(c in exp.chains));
    if (!bad.length && !extra.length) return [];
    const what = [
      ...bad.map((c) =>
        seen.chains[c]
          ? `iptables chain ${c} has ${seen.chains[c]!.length} podnet rule(s), want ${exp.chains[c]!.length}${missingComment(seen.chains[c]!, exp.chains[c]!)}`
          : `iptables chain ${c} missing`,
      ),
      ...extra.map((c) => `iptables chain ${c} not desired`),
    ].join('; ');
    return [{ what, ops: [iptRepair(node, netns, seen, want)] }];
  }
  // The other mode's objects are there: remove them, then sync this mode in full.
  return [
    {
      what: `service proxy in ${seen.kind} mode, want ${want.mode}`,
      ops: [...removeProxy(node, netns, seen), ...fullProxy(node, netns, want)],
    },
  ];
}

/**
 * Re-declares exactly the broken chains (flushed, their rules added again) and the missing maps (with their
 * elements), taken from the full script, in one transaction: map declarations, chains, then elements.
 */
function nftChainRepair(
  node: string,
  netns: Netns,
  want: ProxyModel,
  chains: readonly string[],
  maps: readonly string[],
): Op {
  const full = renderNftFull(want).split('\n');
  const nameOf = (l: string) => l.split(' ')[4]?.replace(/;$/, '') ?? '';
  const decl = full.filter(
    (l) => (l.startsWith(`add map ${T} `) || l.startsWith(`add set ${T} `)) && maps.includes(nameOf(l)),
  );
  const body = chains.flatMap((c) => [
    ...full.filter((l) => l.startsWith(`add chain ${T} `) && nameOf(l) === c),
    `flush chain ${T} ${c}`,
    ...full.filter((l) => l.startsWith(`add rule ${T} `) && nameOf(l) === c),
  ]);
  const elems = full.filter((l) => l.startsWith(`add element ${T} `) && maps.includes(nameOf(l)));
  const what = [...chains.map((c) => `chain ${c}`), ...maps.map((m) => `map ${m}`)].join(', ');
  return {
    kind: 'nft.apply',
    netns,
    script: `${[...decl, ...body, ...elems].join('\n')}\n`,
    note: `${node}: service proxy: re-declare ${what} as the model has it, one atomic transaction`,
  };
}

/**
 * UDP flows to endpoints whose elements a repair deletes: their conntrack entries are flushed, or clients
 * keep sending to the old endpoint (UDP has no connection to reset). Read from the observed elements alone:
 * a ClusterIP is UDP when an observed portal of it is, a NodePort element names its protocol.
 */
function staleUdpFlows(
  node: string,
  netns: Netns,
  seen: Extract<ProxyState, { kind: 'nftables' }>,
  exp: Extract<ProxyState, { kind: 'nftables' }>,
  gone: readonly { map: string; key: string; value: string }[],
): Op[] {
  const udpIps = new Set(
    Object.keys(seen.maps[NFT.serviceClasses] ?? {})
      .map((k) => k.split(' . '))
      .filter((f) => f[1] === 'udp')
      .map((f) => f[0]!),
  );
  const still = (map: string, prefix: string, ip: string) =>
    Object.entries(exp.maps[map] ?? {}).some(([k, v]) => k.startsWith(prefix) && v.split(' . ')[0] === ip);
  const ops: Op[] = [];
  const seenOp = new Set<string>();
  for (const g of gone) {
    const ip = g.value.split(' . ')[0]!;
    const f = g.key.split(' . ');
    let op: Op | undefined;
    if (g.map === NFT.endpoints && udpIps.has(f[0]!) && !still(g.map, `${f[0]} . `, ip))
      op = {
        kind: 'conntrack.delete',
        netns,
        protocol: 'udp',
        origDst: f[0]!,
        replySrc: ip,
        note: `${node}: forget UDP flows from ${f[0]} to removed endpoint ${ip}, or clients keep sending into the void`,
      };
    else if (g.map === NFT.nodeportEndpoints && f[0] === 'udp' && !still(g.map, `udp . ${f[1]} . `, ip))
      op = {
        kind: 'conntrack.delete',
        netns,
        protocol: 'udp',
        origDstPort: Number(f[1]),
        replySrc: ip,
        note: `${node}: forget UDP flows from node port ${f[1]} to removed endpoint ${ip}`,
      };
    const key = op ? JSON.stringify(op) : '';
    if (op && !seenOp.has(key)) {
      seenOp.add(key);
      ops.push(op);
    }
  }
  return ops;
}

function missingComment(seen: readonly string[], want: readonly string[]): string {
  const gone = want.filter((c) => c && !seen.includes(c));
  return gone.length ? ` (missing: ${gone.map((c) => `'${c}'`).join(', ')})` : '';
}

/** Back from canonical decimal to what nft accepts: marks and indices are fine as decimal numbers. */
const nftKey = (k: string) => k;
const nftEntry = (k: string, v: string) => (v ? `${k} : ${v}` : k);

function nftFull(node: string, netns: Netns, m: ProxyModel, why: 'sync' | 'repair'): Op {
  return {
    kind: 'nft.apply',
    netns,
    script: renderNftFull(m),
    note: `${node}: service proxy, full ${why}: table ip podnet-services with ${m.services.length} service port(s), one atomic transaction`,
  };
}

/** The proxy from nothing. */
export function fullProxy(node: string, netns: Netns, m: ProxyModel): Op[] {
  if (m.mode === 'nftables') return [nftFull(node, netns, m, 'sync')];
  return [
    {
      kind: 'iptables.restore',
      netns,
      script: renderIptables(m),
      note: `${node}: service proxy (kube-proxy's iptables layout, PODNET- chains), full sync with one iptables-restore --noflush`,
    },
  ];
}

/** Removes whatever of the proxy was observed. */
export function removeProxy(node: string, netns: Netns, seen: ProxyState | ProxyModel): Op[] {
  const mode = 'kind' in seen ? seen.kind : seen.mode;
  if (mode === 'nftables')
    return [
      {
        kind: 'nft.apply',
        netns,
        script: renderNftRemove(),
        note: `${node}: no service proxy in nftables mode: remove table ip podnet-services`,
      },
    ];
  const script = 'kind' in seen ? iptRemoveObserved(seen) : renderIptablesRemove(seen);
  return [
    {
      kind: 'iptables.restore',
      netns,
      script,
      note: `${node}: no service proxy in iptables mode: remove every PODNET- chain and the jumps to them`,
    },
  ];
}

const BUILTIN = new Set(['PREROUTING', 'OUTPUT', 'POSTROUTING', 'INPUT', 'FORWARD']);

/** A full iptables sync over what is there: chains redeclared (flushed), jumps added only where missing. */
function iptRepair(node: string, netns: Netns, seen: ProxyState, want: ProxyModel): Op {
  const exp = expectedProxyState(want);
  const full = renderIptables(want).split('\n');
  const out: string[] = [];
  let table = '';
  for (const line of full) {
    if (line.startsWith('*')) table = line.slice(1);
    if (line === 'COMMIT') {
      for (const c of Object.keys(seen.chains))
        if (c.startsWith(`${table}/`) && !(c in exp.chains)) {
          const name = c.slice(table.length + 1);
          out.push(`:${name} - [0:0]`, `-X ${name}`);
        }
    }
    if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1]!;
      if (BUILTIN.has(chain) && (seen.chains[`${table}/${chain}`] ?? []).includes(iptComment(line))) continue;
    }
    out.push(line);
  }
  return {
    kind: 'iptables.restore',
    netns,
    script: out.join('\n'),
    note: `${node}: service proxy (kube-proxy's iptables layout, PODNET- chains), full repair with one iptables-restore --noflush`,
  };
}

function iptRemoveObserved(seen: ProxyState): string {
  const byTable = new Map<string, string[]>();
  for (const c of Object.keys(seen.chains)) {
    const [table, name] = c.split('/') as [string, string];
    if (!byTable.has(table)) byTable.set(table, []);
    if (!BUILTIN.has(name)) byTable.get(table)!.push(name);
  }
  const out: string[] = [];
  for (const [table, chains] of byTable) {
    out.push(`*${table}`);
    for (const j of iptablesJumps())
      if (j.table === table && (seen.chains[`${table}/${j.chain}`] ?? []).includes(iptComment(j.rule)))
        out.push(j.rule.replace(/^-A /, '-D '));
    out.push(...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT');
  }
  return `${out.join('\n')}\n`;
}

import type { NftCmd } from '../nft.js';
import type { ProxyState } from '../node/model.js';
import type { Netns, Op } from '../ops.js';
import { iptablesJumps, renderIptables, renderIptablesRemove } from './iptables.js';
import type { ProxyModel } from './model.js';
import { nftChainRepair, staleUdpFlows } from './nft-repair.js';
import { NFT, planNftFull, planNftRemove } from './nftables.js';

/**
 * The proxy's kernel objects compared at element level: what a ProxyModel should leave in the kernel (derived
 * from the full sync's transaction or script, so the planners stay the one source of truth) against what
 * observe found.
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
  const s = m.mode === 'nftables' ? nftStateOfTx(planNftFull(m)) : iptStateOfScript(renderIptables(m));
  stateCache.set(m, s);
  return s;
}

/** Chains, rule comments and elements a transaction of the podnet-services table leaves. */
function nftStateOfTx(tx: readonly NftCmd[]): ProxyState {
  const chains: Record<string, string[]> = {};
  const maps: Record<string, Record<string, string>> = {};
  for (const c of tx) {
    if (c.verb !== 'add') continue;
    if ('chain' in c) chains[c.chain.chain] ??= [];
    else if ('set' in c) {
      if (!DYNAMIC.has(c.set.set)) maps[c.set.set] = {};
    } else if ('rule' in c) chains[c.rule.chain]!.push(c.rule.comment ?? '');
    else if ('elements' in c) {
      const into = maps[c.elements.set]!;
      for (const e of c.elements.elements)
        into[canonicalElement(e.key)] = e.value === undefined ? '' : canonicalElement(e.value);
    }
  }
  return { kind: 'nftables', chains, maps };
}

const iptComment = (rule: string) => /--comment (?:"([^"]*)"|(\S+))/.exec(rule)?.slice(1).find(Boolean) ?? '';

/** Rules (by comment) of every chain an iptables-restore script declares or appends to. */
export function iptStateOfScript(script: string): ProxyState {
  const chains: Record<string, string[]> = {};
  // UDP DNAT targets by service id, and ClusterIPs by service id (comments `<id> -> pod`, `<id> cluster IP`).
  const udpTargets: { id: string; endpoint: string }[] = [];
  const clusterIPs = new Map<string, string>();
  let table = '';
  for (const line of script.split('\n')) {
    const c = iptComment(line).replace(/^podnet: /, '');
    const dnat = / -p udp .*-j DNAT --to-destination ([\d.]+):\d+/.exec(line);
    if (dnat && c.includes(' -> ')) udpTargets.push({ id: c.split(' -> ')[0]!, endpoint: dnat[1]! });
    const vip = / -d ([\d.]+)\/32 /.exec(line);
    if (vip && c.endsWith(' cluster IP')) clusterIPs.set(c.slice(0, -' cluster IP'.length), vip[1]!);
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) chains[`${table}/${line.slice(1).split(' ')[0]}`] ??= [];
    else if (line.startsWith('-A ')) {
      const key = `${table}/${line.split(' ')[1]}`;
      const rules = chains[key] ?? [];
      rules.push(iptComment(line));
      chains[key] = rules;
    }
  }
  const udp = udpTargets.flatMap((u) =>
    clusterIPs.has(u.id) ? [{ clusterIP: clusterIPs.get(u.id)!, endpoint: u.endpoint }] : [],
  );
  return { kind: 'iptables', chains, ...(udp.length ? { udp } : {}) };
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
    const dels: NftCmd[] = [];
    const what: string[] = [];
    // Deletions first, then additions: a changed element is deleted and added in the same transaction.
    const adds: NftCmd[] = [];
    const table = { family: NFT.family, table: NFT.table };
    const gone: { map: string; key: string; value: string }[] = [];
    for (const [map, want] of Object.entries(exp.maps)) {
      const have = seen.maps[map];
      if (!have) continue; // re-declared whole above
      const del = Object.keys(have).filter((k) => want[k] !== have[k]);
      const add = Object.keys(want).filter((k) => want[k] !== have[k]);
      if (del.length)
        dels.push({
          verb: 'delete',
          elements: { ...table, set: map, elements: del.map((key) => ({ key })) },
        });
      if (add.length)
        adds.push({
          verb: 'add',
          elements: {
            ...table,
            set: map,
            elements: add.map((key) => (want[key] ? { key, value: want[key]! } : { key })),
          },
        });
      for (const k of del) if (!(k in want)) what.push(`nft ${map} element ${k} not desired`);
      for (const k of add) what.push(`nft ${map} element ${k}${k in have ? ' changed' : ' missing'}`);
      for (const k of del) gone.push({ map, key: k, value: have[k]! });
    }
    if (what.length)
      out.push({
        what: what.join('; '),
        ops: [
          {
            kind: 'nft.tx',
            netns,
            tx: [...dels, ...adds],
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
    return [
      { what, ops: [iptRepair(node, netns, seen, want), ...staleUdpIptables(node, netns, seen, want)] },
    ];
  }
  // The other mode's objects are there: remove them, then sync this mode in full.
  return [
    {
      what: `service proxy in ${seen.kind} mode, want ${want.mode}`,
      ops: [...removeProxy(node, netns, seen), ...fullProxy(node, netns, want)],
    },
  ];
}

/** UDP flows to endpoints the observed iptables rules DNAT to but the model no longer has: flushed. */
function staleUdpIptables(node: string, netns: Netns, seen: ProxyState, want: ProxyModel): Op[] {
  if (seen.kind !== 'iptables' || !seen.udp?.length) return [];
  const keep = new Set(
    want.services
      .filter((s) => s.protocol === 'udp')
      .flatMap((s) => s.endpoints.map((e) => `${s.clusterIP} ${e.ip}`)),
  );
  return seen.udp
    .filter((u) => !keep.has(`${u.clusterIP} ${u.endpoint}`))
    .map(
      (u): Op => ({
        kind: 'conntrack.delete',
        netns,
        protocol: 'udp',
        origDst: u.clusterIP,
        replySrc: u.endpoint,
        note: `${node}: forget UDP flows from ${u.clusterIP} to removed endpoint ${u.endpoint}, or clients keep sending into the void`,
      }),
    );
}

function missingComment(seen: readonly string[], want: readonly string[]): string {
  const gone = want.filter((c) => c && !seen.includes(c));
  return gone.length ? ` (missing: ${gone.map((c) => `'${c}'`).join(', ')})` : '';
}

function nftFull(node: string, netns: Netns, m: ProxyModel, why: 'sync' | 'repair'): Op {
  return {
    kind: 'nft.tx',
    netns,
    tx: planNftFull(m),
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
        kind: 'nft.tx',
        netns,
        tx: planNftRemove(),
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
      // Chains not desired: all flushed first, then deleted (one may still jump to another until flushed).
      const gone = Object.keys(seen.chains)
        .filter((c) => c.startsWith(`${table}/`) && !(c in exp.chains))
        .map((c) => c.slice(table.length + 1));
      out.push(...gone.map((n) => `:${n} - [0:0]`), ...gone.map((n) => `-X ${n}`));
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

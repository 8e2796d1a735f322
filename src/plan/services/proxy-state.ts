import type { NftCmd } from '../nft.js';
import type { ProxyState } from '../node/model.js';
import type { Netns, Op } from '../ops.js';
import { iptDrift, iptRemoveObserved, iptStateOfScript, missingComment, same } from './ipt-state.js';
import { renderIptables, renderIptablesRemove } from './iptables.js';
import type { ProxyModel } from './model.js';
import { nftChainRepair, staleUdpFlows } from './nft-repair.js';
import { NFT, planNftFull, planNftRemove } from './nftables.js';

/**
 * The proxy's kernel objects compared at element level: what a ProxyModel should leave in the kernel (derived
 * from the full sync's transaction or script, so the planners stay the one source of truth) against what
 * observe found.
 */

/** Canonical element text: fields joined by ' . ', numbers in decimal (nft -j prints them so). */
function canonicalElement(text: string): string {
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

/** A difference between the observed proxy objects and the desired ones, with the ops that repair it. */
export interface ProxyDrift {
  readonly what: string;
  readonly ops: readonly Op[];
}

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
  if (exp.kind === 'iptables' && seen.kind === 'iptables') return iptDrift(node, netns, seen, want, exp);
  // The other mode's objects are there: remove them, then sync this mode in full.
  return [
    {
      what: `service proxy in ${seen.kind} mode, want ${want.mode}`,
      ops: [...removeProxy(node, netns, seen), ...fullProxy(node, netns, want)],
    },
  ];
}

function nftFull(node: string, netns: Netns, m: ProxyModel): Op {
  return {
    kind: 'nft.tx',
    netns,
    tx: planNftFull(m),
    note: `${node}: service proxy, full sync: table ip podnet-services with ${m.services.length} service port(s), one atomic transaction`,
  };
}

/** The proxy from nothing. */
export function fullProxy(node: string, netns: Netns, m: ProxyModel): Op[] {
  if (m.mode === 'nftables') return [nftFull(node, netns, m)];
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
